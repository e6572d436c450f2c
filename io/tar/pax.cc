#include "io/tar/pax.h"

#include <algorithm>
#include <limits>
#include <map>

#include "io/tar/tar_header.h"

namespace strata {
namespace {

constexpr std::string_view kSchilyXattr = "SCHILY.xattr.";
constexpr std::string_view kLibarchiveXattr = "LIBARCHIVE.xattr.";
constexpr std::string_view kGnuSparse = "GNU.sparse.";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

Result<uint32_t> ParseId(std::string_view v) {
  STRATA_ASSIGN_OR_RETURN(int64_t n, ParsePaxDecimal(v));
  if (n > std::numeric_limits<uint32_t>::max()) {
    return InvalidArgument("id " + std::string(v) + " does not fit 32 bits");
  }
  return static_cast<uint32_t>(n);
}

Result<int64_t> ParseSize(std::string_view v) {
  STRATA_ASSIGN_OR_RETURN(int64_t n, ParsePaxDecimal(v));
  if (n > kMaxTarEntryBytes) {
    return InvalidArgument("pax size " + std::to_string(n) +
                           " exceeds the 1 TiB limit");
  }
  return n;
}

// An empty value clears the keyword; anything else must parse.
template <typename T, typename Parse>
Status SetOrClear(std::string_view v, std::optional<T>* field, Parse parse) {
  if (v.empty()) {
    field->reset();
    return Status();
  }
  STRATA_ASSIGN_OR_RETURN(*field, parse(v));
  return Status();
}

Status AddXattr(std::string name, std::string value, PaxOverrides* o) {
  if (name.empty()) return InvalidArgument("empty xattr name");
  if (name.size() > kMaxXattrNameBytes) {
    return InvalidArgument("xattr name longer than " +
                           std::to_string(kMaxXattrNameBytes) + " bytes");
  }
  if (name.find('\0') != std::string::npos) {
    return InvalidArgument("xattr name contains NUL");
  }
  if (value.size() > kMaxXattrValueBytes) {
    return InvalidArgument("xattr " + name + " value longer than " +
                           std::to_string(kMaxXattrValueBytes) + " bytes");
  }
  o->xattrs.emplace_back(std::move(name), std::move(value));
  return Status();
}

Status ApplySparseRecord(std::string_view key, std::string_view value,
                         PaxSparse* s) {
  s->present = true;
  auto number = [&](std::optional<int64_t>* field) -> Status {
    STRATA_ASSIGN_OR_RETURN(int64_t n, ParsePaxDecimal(value));
    *field = n;
    return Status();
  };
  if (key == "major") return number(&s->major);
  if (key == "minor") return number(&s->minor);
  if (key == "size") return number(&s->size);
  if (key == "realsize") return number(&s->realsize);
  if (key == "numblocks") return number(&s->numblocks);
  if (key == "name") {
    s->name = std::string(value);
    return Status();
  }
  if (key == "map") {
    s->map = std::string(value);
    return Status();
  }
  if (key == "offset") {
    if (!s->segments.empty() && s->segments.back().second < 0) {
      return InvalidArgument("GNU.sparse.offset without GNU.sparse.numbytes");
    }
    if (s->segments.size() >= kMaxSparseSegments) {
      return InvalidArgument("more than " + std::to_string(kMaxSparseSegments) +
                             " sparse segments");
    }
    STRATA_ASSIGN_OR_RETURN(int64_t off, ParsePaxDecimal(value));
    s->segments.emplace_back(off, -1);
    return Status();
  }
  if (key == "numbytes") {
    if (s->segments.empty() || s->segments.back().second >= 0) {
      return InvalidArgument("GNU.sparse.numbytes without GNU.sparse.offset");
    }
    STRATA_ASSIGN_OR_RETURN(s->segments.back().second, ParsePaxDecimal(value));
    return Status();
  }
  return Status();  // other GNU.sparse keywords carry nothing we use
}

}  // namespace

std::string EncodePaxRecord(std::string_view key, std::string_view value) {
  const size_t rest = 1 + key.size() + 1 + value.size() + 1;  // " k=v\n"
  size_t len = rest + 1;
  while (std::to_string(len).size() + rest != len)
    len = std::to_string(len).size() + rest;
  std::string r = std::to_string(len);
  r += ' ';
  r.append(key);
  r += '=';
  r.append(value);
  r += '\n';
  return r;
}

Status ParsePaxRecords(std::string_view data, std::vector<PaxRecord>* out) {
  size_t pos = 0;
  while (pos < data.size()) {
    std::string_view rest = data.substr(pos);
    size_t digits = 0;
    uint64_t len = 0;
    while (digits < rest.size() && IsDigit(rest[digits])) {
      len = len * 10 + static_cast<uint64_t>(rest[digits] - '0');
      if (++digits > 9) break;  // > 1 GB: bogus, caught below
    }
    if (digits == 0 || digits > 9 || digits >= rest.size() ||
        rest[digits] != ' ') {
      return InvalidArgument("pax record at byte " + std::to_string(pos) +
                             " does not start with a length");
    }
    if (len > rest.size() || len < digits + 3) {  // "N k=\n" at least
      return InvalidArgument("pax record at byte " + std::to_string(pos) +
                             " has length " + std::to_string(len) + " but " +
                             std::to_string(rest.size()) + " bytes remain");
    }
    std::string_view record = rest.substr(0, len);
    if (record.back() != '\n') {
      return InvalidArgument("pax record at byte " + std::to_string(pos) +
                             " does not end with a newline");
    }
    std::string_view kv = record.substr(digits + 1, len - digits - 2);
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return InvalidArgument("pax record at byte " + std::to_string(pos) +
                             " has no keyword=value");
    }
    std::string_view key = kv.substr(0, eq);
    if (key.find('\0') != std::string_view::npos) {
      return InvalidArgument("pax keyword contains NUL");
    }
    out->push_back(PaxRecord{key, kv.substr(eq + 1)});
    pos += len;
  }
  return Status();
}

Result<int64_t> ParsePaxDecimal(std::string_view s) {
  if (s.empty() || s.size() > 19) {
    return InvalidArgument("bad decimal number \"" +
                           std::string(s.substr(0, 32)) + "\"");
  }
  uint64_t v = 0;
  for (char c : s) {
    if (!IsDigit(c)) {
      return InvalidArgument("bad decimal number \"" +
                             std::string(s.substr(0, 32)) + "\"");
    }
    v = v * 10 + static_cast<uint64_t>(c - '0');  // 19 digits fit in uint64
  }
  if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return InvalidArgument("decimal number overflows 64 bits");
  }
  return static_cast<int64_t>(v);
}

Result<TarTime> ParsePaxTime(std::string_view s) {
  const std::string_view whole = s;
  const bool negative = !s.empty() && s[0] == '-';
  if (negative) s.remove_prefix(1);
  size_t dot = s.find('.');
  std::string_view frac =
      dot == std::string_view::npos ? "" : s.substr(dot + 1);
  auto secs = ParsePaxDecimal(s.substr(0, dot));
  if (!secs.ok()) {
    return InvalidArgument("bad time \"" + std::string(whole.substr(0, 40)) +
                           "\"");
  }
  int64_t nsec = 0;
  for (size_t i = 0; i < frac.size(); ++i) {
    if (!IsDigit(frac[i])) {
      return InvalidArgument("bad time \"" + std::string(whole.substr(0, 40)) +
                             "\"");
    }
    if (i < 9) nsec = nsec * 10 + (frac[i] - '0');
  }
  for (size_t i = frac.size(); i < 9; ++i) nsec *= 10;
  TarTime t{*secs, static_cast<int32_t>(nsec)};
  if (negative) {
    // -1.25 is 1.75 s before -1: keep nsec in [0, 1e9).
    t.sec = -t.sec;
    if (t.nsec > 0) {
      t.sec -= 1;
      t.nsec = 1000000000 - t.nsec;
    }
  }
  return t;
}

Result<std::string> DecodeBase64(std::string_view s) {
  while (!s.empty() && s.back() == '=') s.remove_suffix(1);
  std::string out;
  out.reserve(s.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (IsDigit(c)) {
      v = c - '0' + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else {
      return InvalidArgument("bad base64 value");
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (bits >= 6) return InvalidArgument("bad base64 length");
  return out;
}

Result<std::string> DecodePercentEscapes(std::string_view s) {
  auto hex = [](char c) -> int {
    if (IsDigit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size() || hex(s[i + 1]) < 0 || hex(s[i + 2]) < 0) {
      return InvalidArgument("bad %-escape in xattr name");
    }
    out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
    i += 2;
  }
  return out;
}

Status ApplyPaxRecord(const PaxRecord& r, bool global, PaxOverrides* o) {
  const std::string_view key = r.key;
  const std::string_view v = r.value;
  // path, linkpath and size describe one file: not from a global header.
  if ((key == "path" || key == "linkpath") && !global) {
    return SetOrClear(v, key == "path" ? &o->path : &o->linkpath,
                      [](std::string_view s) -> Result<std::string> {
                        return std::string(s);
                      });
  }
  if (key == "size" && !global) return SetOrClear(v, &o->size, ParseSize);
  if (key == "uid" || key == "gid") {
    return SetOrClear(v, key == "uid" ? &o->uid : &o->gid, ParseId);
  }
  if (key == "mtime" || key == "atime") {
    return SetOrClear(v, key == "mtime" ? &o->mtime : &o->atime, ParsePaxTime);
  }
  if (key.substr(0, kSchilyXattr.size()) == kSchilyXattr) {
    return AddXattr(std::string(key.substr(kSchilyXattr.size())),
                    std::string(v), o);
  }
  if (key.substr(0, kLibarchiveXattr.size()) == kLibarchiveXattr) {
    STRATA_ASSIGN_OR_RETURN(
        std::string name,
        DecodePercentEscapes(key.substr(kLibarchiveXattr.size())));
    STRATA_ASSIGN_OR_RETURN(std::string value, DecodeBase64(v));
    return AddXattr(std::move(name), std::move(value), o);
  }
  if (key.substr(0, kGnuSparse.size()) == kGnuSparse) {
    if (global) return Status();
    return ApplySparseRecord(key.substr(kGnuSparse.size()), v, &o->sparse);
  }
  return Status();
}

void DedupXattrs(std::vector<std::pair<std::string, std::string>>* xattrs) {
  std::map<std::string_view, size_t> first;  // name -> index of its first entry
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(xattrs->size());
  for (auto& [name, value] : *xattrs) {
    auto [it, inserted] = first.emplace(name, out.size());
    if (inserted) {
      out.emplace_back(name, std::move(value));
    } else {
      out[it->second].second = std::move(value);
    }
  }
  *xattrs = std::move(out);
}

}  // namespace strata
