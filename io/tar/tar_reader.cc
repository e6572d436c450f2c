#include "io/tar/tar_reader.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <optional>

#include "io/tar/sparse.h"

namespace strata {
namespace {

constexpr size_t kReadBufferBytes = 64 << 10;

int64_t PaddingOf(int64_t size) {
  return (kTarBlockSize - static_cast<uint64_t>(size) % kTarBlockSize) %
         kTarBlockSize;
}

// Names come from untrusted input: escape what a log line must not hold and
// keep it short.
std::string Printable(std::string_view s) {
  constexpr size_t kMax = 200;
  std::string out;
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\x%02x", c);
      out += esc;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (s.size() > kMax) out += "...";
  return out;
}

// A NUL-terminated name from a GNU 'L'/'K' body: a NUL may end it, but
// nothing but NULs may follow.
std::optional<std::string> NameFromBody(std::string_view body) {
  size_t nul = body.find('\0');
  if (nul == std::string_view::npos) return std::string(body);
  if (body.find_first_not_of('\0', nul) != std::string_view::npos)
    return std::nullopt;
  return std::string(body.substr(0, nul));
}

}  // namespace

std::string_view TarEntryTypeName(TarEntry::Type type) {
  switch (type) {
    case TarEntry::Type::kFile:
      return "file";
    case TarEntry::Type::kDirectory:
      return "directory";
    case TarEntry::Type::kSymlink:
      return "symlink";
    case TarEntry::Type::kHardlink:
      return "hardlink";
    case TarEntry::Type::kCharDevice:
      return "char device";
    case TarEntry::Type::kBlockDevice:
      return "block device";
    case TarEntry::Type::kFifo:
      return "fifo";
  }
  return "unknown";
}

TarReader::TarReader(Source& in) : in_(in, kReadBufferBytes) {}

int64_t TarReader::bytes_consumed() const {
  return static_cast<int64_t>(in_.consumed());
}

std::string TarReader::Where() const {
  return "tar entry \"" + Printable(entry_name_) + "\" (header at byte " +
         std::to_string(header_offset_) + ")";
}

Status TarReader::Bad(std::string_view what) const {
  return InvalidArgument(Where() + ": " + std::string(what));
}

Status TarReader::Truncated(std::string_view what) const {
  return DataLoss(Where() + ": " + std::string(what));
}

Result<bool> TarReader::Next(TarEntry* entry) {
  if (!error_.ok()) return error_;
  if (done_) return false;
  Result<bool> r = ReadNext(entry);
  if (!r.ok()) error_ = r.status();
  return r;
}

Result<size_t> TarReader::ReadData(char* buf, size_t n) {
  if (!error_.ok()) return error_;
  if (data_remaining_ == 0 || n == 0) return size_t{0};
  const size_t want = static_cast<size_t>(
      std::min<uint64_t>(n, static_cast<uint64_t>(data_remaining_)));
  auto got = in_.ReadSome(buf, want);
  if (!got.ok()) {
    error_ = got.status().WithContext(Where());
  } else if (*got == 0) {
    error_ = Truncated("archive truncated: " + std::to_string(data_remaining_) +
                       " bytes of data missing");
  } else {
    data_remaining_ -= static_cast<int64_t>(*got);
    return *got;
  }
  return error_;
}

Status TarReader::SkipEntryRest() {
  const int64_t want = data_remaining_ + padding_;
  if (want == 0) return Status();
  auto skipped = in_.Skip(static_cast<uint64_t>(want));
  if (!skipped.ok()) return skipped.status().WithContext(Where());
  if (*skipped < static_cast<uint64_t>(want)) {
    return Truncated("archive truncated: " + std::to_string(want - *skipped) +
                     " bytes of data or padding missing");
  }
  data_remaining_ = padding_ = 0;
  return Status();
}

Result<int64_t> TarReader::HeaderNumber(const char* header, TarField field,
                                        std::string_view what) {
  auto n = ParseTarNumber(FieldOf(header, field));
  if (!n.ok())
    return Bad("bad " + std::string(what) + " field: " + n.status().message());
  return *n;
}

Status TarReader::CheckName(std::string_view name, std::string_view what) {
  if (name.empty()) return Bad("empty " + std::string(what));
  if (name.size() > kMaxTarPathBytes) {
    return Bad(std::string(what) + " is " + std::to_string(name.size()) +
               " bytes, longer than PATH_MAX allows (" +
               std::to_string(kMaxTarPathBytes) + ")");
  }
  if (name.find('\0') != std::string_view::npos) {
    return Bad(std::string(what) + " contains a NUL byte");
  }
  return Status();
}

Result<std::string> TarReader::ReadMetaBody(const char* header, size_t limit,
                                            std::string_view what) {
  STRATA_ASSIGN_OR_RETURN(int64_t size, HeaderNumber(header, kTarSize, "size"));
  if (size < 0 || static_cast<uint64_t>(size) > limit) {
    return Bad(std::string(what) + " of " + std::to_string(size) +
               " bytes is outside [0, " + std::to_string(limit) + "]");
  }
  std::string body(static_cast<size_t>(size), '\0');
  auto got = in_.ReadFull(body.data(), body.size());
  if (!got.ok()) return got.status().WithContext(Where());
  if (*got < body.size())
    return Truncated("archive truncated inside " + std::string(what));
  padding_ = PaddingOf(size);
  STRATA_RETURN_IF_ERROR(SkipEntryRest());
  return body;
}

Status TarReader::ApplyGlobal(std::string_view body) {
  std::vector<PaxRecord> records;
  STRATA_RETURN_IF_ERROR(ParsePaxRecords(body, &records));
  for (const PaxRecord& r : records) {
    STRATA_RETURN_IF_ERROR(ApplyPaxRecord(r, /*global=*/true, &global_));
  }
  DedupXattrs(&global_.xattrs);
  size_t bytes = 0;
  for (const auto& [name, value] : global_.xattrs) {
    bytes += name.size() + value.size();
  }
  if (bytes > kMaxPaxGlobalXattrBytes) {
    return InvalidArgument("global pax xattrs exceed " +
                           std::to_string(kMaxPaxGlobalXattrBytes) + " bytes");
  }
  return Status();
}

Status TarReader::ReadEndOfArchive() {
  // One zero block was read. A second one, or the end of the stream, ends
  // the archive; anything else is a damaged archive.
  char block[kTarBlockSize];
  header_offset_ = in_.consumed();
  auto got = in_.ReadFull(block, kTarBlockSize);
  if (!got.ok()) return got.status().WithContext(Where());
  if (*got != 0 && *got < kTarBlockSize)
    return Truncated("archive truncated inside a block");
  if (*got == kTarBlockSize && !IsZeroBlock(block)) {
    return Bad("a zero block is followed by a non-zero block");
  }
  // Drain the rest (the writer's record padding) so that the bytes beneath
  // are all read, e.g. by a digest.
  auto rest = in_.Skip(std::numeric_limits<uint64_t>::max());
  if (!rest.ok())
    return rest.status().WithContext("tar: after the end-of-archive marker");
  done_ = true;
  return Status();
}

Result<bool> TarReader::ReadNext(TarEntry* entry) {
  STRATA_RETURN_IF_ERROR(SkipEntryRest());
  have_long_name_ = have_long_link_ = have_local_pax_ = false;
  char header[kTarBlockSize];
  while (true) {
    const bool pending = have_long_name_ || have_long_link_ || have_local_pax_;
    header_offset_ = in_.consumed();
    if (!pending) entry_name_.clear();
    auto got = in_.ReadFull(header, kTarBlockSize);
    if (!got.ok()) return got.status().WithContext(Where());
    if (*got == 0 && !pending) {
      done_ = true;  // clean end of stream at a block boundary
      return false;
    }
    if (*got < kTarBlockSize) {
      return Truncated(*got == 0 ? "archive ends after an extended header"
                                 : "archive truncated inside a header");
    }
    if (IsZeroBlock(header)) {
      if (pending)
        return Bad("end-of-archive marker right after an extended header");
      STRATA_RETURN_IF_ERROR(ReadEndOfArchive());
      return false;
    }
    if (!pending)
      entry_name_ = std::string(TarString(FieldOf(header, kTarName)));
    if (Status s = VerifyTarChecksum(header); !s.ok()) return Bad(s.message());

    switch (header[kTarTypeflagOffset]) {
      case 'L':
      case 'K': {
        const bool is_name = header[kTarTypeflagOffset] == 'L';
        const char* what = is_name ? "GNU long name" : "GNU long link name";
        STRATA_ASSIGN_OR_RETURN(
            std::string body, ReadMetaBody(header, kMaxTarPathBytes + 1, what));
        std::optional<std::string> name = NameFromBody(body);
        if (!name) return Bad(std::string(what) + " contains a NUL byte");
        if (is_name) {
          long_name_ = std::move(*name);
          have_long_name_ = true;
          entry_name_ = long_name_;
        } else {
          long_link_ = std::move(*name);
          have_long_link_ = true;
        }
        continue;
      }
      case 'x': {
        STRATA_ASSIGN_OR_RETURN(
            local_pax_, ReadMetaBody(header, kMaxPaxHeaderBytes, "pax header"));
        have_local_pax_ = true;
        continue;
      }
      case 'g': {
        STRATA_ASSIGN_OR_RETURN(
            std::string body,
            ReadMetaBody(header, kMaxPaxHeaderBytes, "global pax header"));
        if (Status s = ApplyGlobal(body); !s.ok()) return Bad(s.message());
        continue;
      }
      default:
        STRATA_RETURN_IF_ERROR(BuildEntry(header, entry));
        return true;
    }
  }
}

// An entry's header read as a sequence of fields, each step taking pax's
// overrides (global, then this entry's) over the header's own values.
Status TarReader::BuildEntry(const char* header, TarEntry* e) {
  *e = TarEntry();
  const TarFormat format = DetectTarFormat(header);
  std::string link;
  HeaderPaths(header, format, e, &link);
  STRATA_ASSIGN_OR_RETURN(PaxOverrides pax, EntryPax());
  STRATA_RETURN_IF_ERROR(PaxPaths(pax, e, &link));
  bool old_gnu_sparse = false;
  STRATA_RETURN_IF_ERROR(ReadType(header, e, &old_gnu_sparse));
  if (e->type == TarEntry::Type::kSymlink ||
      e->type == TarEntry::Type::kHardlink) {
    STRATA_RETURN_IF_ERROR(CheckName(link, "link target"));
    e->link_target = std::move(link);
  }
  STRATA_RETURN_IF_ERROR(ReadOwnership(header, pax, e));
  STRATA_RETURN_IF_ERROR(ReadTimes(header, format, pax, e));
  STRATA_RETURN_IF_ERROR(ReadDevice(header, format, e));
  e->xattrs = std::move(pax.xattrs);
  DedupXattrs(&e->xattrs);
  return ReadSize(header, pax, old_gnu_sparse, e);
}

// The global pax overrides with this entry's own records applied on top.
Result<PaxOverrides> TarReader::EntryPax() {
  PaxOverrides pax = global_;
  if (!have_local_pax_) return pax;
  std::vector<PaxRecord> records;
  if (Status s = ParsePaxRecords(local_pax_, &records); !s.ok())
    return Bad(s.message());
  for (const PaxRecord& r : records) {
    if (Status s = ApplyPaxRecord(r, /*global=*/false, &pax); !s.ok())
      return Bad(s.message());
  }
  return pax;
}

// Path and link target from the header fields, then GNU long names; the
// entry is named by them in errors from here on.
void TarReader::HeaderPaths(const char* header, TarFormat format, TarEntry* e,
                            std::string* link) {
  std::string path(TarString(FieldOf(header, kTarName)));
  if (format == TarFormat::kUstar) {
    std::string_view prefix = TarString(FieldOf(header, kUstarPrefix));
    if (!prefix.empty()) path = std::string(prefix) + "/" + path;
  }
  *link = std::string(TarString(FieldOf(header, kTarLinkname)));
  if (have_long_name_) path = long_name_;
  if (have_long_link_) *link = long_link_;
  e->path = std::move(path);
  entry_name_ = e->path;
}

// pax's path and link path over those, and the path's checks.
Status TarReader::PaxPaths(const PaxOverrides& pax, TarEntry* e,
                           std::string* link) {
  if (pax.path) e->path = *pax.path;
  if (pax.sparse.name) e->path = *pax.sparse.name;
  if (pax.linkpath) *link = *pax.linkpath;
  entry_name_ = e->path;
  return CheckName(e->path, "path");
}

Status TarReader::ReadType(const char* header, TarEntry* e,
                           bool* old_gnu_sparse) {
  const char typeflag = header[kTarTypeflagOffset];
  switch (typeflag) {
    case '0':
    case '7':
      e->type = TarEntry::Type::kFile;
      return Status();
    case '\0':
      // Pre-POSIX archives mark directories by a trailing slash.
      e->type = e->path.back() == '/' ? TarEntry::Type::kDirectory
                                      : TarEntry::Type::kFile;
      return Status();
    case 'S':
      e->type = TarEntry::Type::kFile;
      *old_gnu_sparse = true;
      return Status();
    case '1':
      e->type = TarEntry::Type::kHardlink;
      return Status();
    case '2':
      e->type = TarEntry::Type::kSymlink;
      return Status();
    case '3':
      e->type = TarEntry::Type::kCharDevice;
      return Status();
    case '4':
      e->type = TarEntry::Type::kBlockDevice;
      return Status();
    case '5':
      e->type = TarEntry::Type::kDirectory;
      return Status();
    case '6':
      e->type = TarEntry::Type::kFifo;
      return Status();
    default: {
      char t[32];
      std::snprintf(t, sizeof t, "'%c' (0x%02x)",
                    typeflag >= 0x20 && typeflag < 0x7f ? typeflag : '?',
                    static_cast<unsigned char>(typeflag));
      return Bad(std::string("unsupported entry type ") + t);
    }
  }
}

// Mode, uid and gid (pax's uid/gid over the header's).
Status TarReader::ReadOwnership(const char* header, const PaxOverrides& pax,
                                TarEntry* e) {
  STRATA_ASSIGN_OR_RETURN(int64_t mode, HeaderNumber(header, kTarMode, "mode"));
  if (mode < 0) return Bad("negative mode");
  e->mode = static_cast<uint32_t>(mode) & 07777;
  auto id = [&](const std::optional<uint32_t>& over, TarField f,
                std::string_view what) -> Result<uint32_t> {
    if (over) return *over;
    STRATA_ASSIGN_OR_RETURN(int64_t v, HeaderNumber(header, f, what));
    if (v < 0 || v > std::numeric_limits<uint32_t>::max()) {
      return Bad(std::string(what) + " " + std::to_string(v) +
                 " does not fit 32 bits");
    }
    return static_cast<uint32_t>(v);
  };
  STRATA_ASSIGN_OR_RETURN(e->uid, id(pax.uid, kTarUid, "uid"));
  STRATA_ASSIGN_OR_RETURN(e->gid, id(pax.gid, kTarGid, "gid"));
  return Status();
}

// mtime (pax's with nanoseconds, or the header's); atime from pax, GNU's
// header field, or mtime.
Status TarReader::ReadTimes(const char* header, TarFormat format,
                            const PaxOverrides& pax, TarEntry* e) {
  if (pax.mtime) {
    e->mtime_sec = pax.mtime->sec;
    e->mtime_nsec = pax.mtime->nsec;
  } else {
    STRATA_ASSIGN_OR_RETURN(e->mtime_sec,
                            HeaderNumber(header, kTarMtime, "mtime"));
  }
  e->atime_sec = e->mtime_sec;
  e->atime_nsec = e->mtime_nsec;
  if (pax.atime) {
    e->atime_sec = pax.atime->sec;
    e->atime_nsec = pax.atime->nsec;
  } else if (format == TarFormat::kGnu &&
             FieldOf(header, kGnuAtime)[0] != '\0') {
    STRATA_ASSIGN_OR_RETURN(int64_t atime,
                            HeaderNumber(header, kGnuAtime, "atime"));
    if (atime != 0) {
      e->atime_sec = atime;
      e->atime_nsec = 0;
    }
  }
  return Status();
}

// Device numbers of a character or block device (not in V7 headers).
Status TarReader::ReadDevice(const char* header, TarFormat format,
                             TarEntry* e) {
  if ((e->type != TarEntry::Type::kCharDevice &&
       e->type != TarEntry::Type::kBlockDevice) ||
      format == TarFormat::kV7) {
    return Status();
  }
  STRATA_ASSIGN_OR_RETURN(int64_t major,
                          HeaderNumber(header, kTarDevmajor, "devmajor"));
  STRATA_ASSIGN_OR_RETURN(int64_t minor,
                          HeaderNumber(header, kTarDevminor, "devminor"));
  if (major < 0 || major > std::numeric_limits<uint32_t>::max() || minor < 0 ||
      minor > std::numeric_limits<uint32_t>::max()) {
    return Bad("device number does not fit 32 bits");
  }
  e->dev_major = static_cast<uint32_t>(major);
  e->dev_minor = static_cast<uint32_t>(minor);
  return Status();
}

// The data that follows the header: its size (bounded), padding, and a
// sparse map for GNU sparse files.
Status TarReader::ReadSize(const char* header, const PaxOverrides& pax,
                           bool old_gnu_sparse, TarEntry* e) {
  int64_t stored = 0;  // bytes following the header (before padding)
  if (pax.size) {
    stored = *pax.size;
  } else {
    STRATA_ASSIGN_OR_RETURN(stored, HeaderNumber(header, kTarSize, "size"));
  }
  if (stored < 0 || stored > kMaxTarEntryBytes) {
    return Bad("size " + std::to_string(stored) + " is outside [0, 1 TiB]");
  }
  if (e->type != TarEntry::Type::kFile) {
    if (pax.sparse.present)
      return Bad("GNU sparse metadata on a non-regular entry");
    return Status();  // header-only types carry no data
  }
  e->size = stored;
  data_remaining_ = stored;
  padding_ = PaddingOf(stored);
  if (old_gnu_sparse || pax.sparse.present) {
    return ReadSparseMap(header, old_gnu_sparse, pax.sparse, e);
  }
  return Status();
}

Status TarReader::ReadSparseMap(const char* header, bool old_gnu,
                                const PaxSparse& s, TarEntry* e) {
  SparseMap map;
  int64_t logical = 0;
  auto bad = [&](const Status& st) { return Bad(st.message()); };

  if (old_gnu) {
    // Old GNU: four entries in the header, then extension blocks of 21.
    if (Status st = AppendGnuSparseEntries(header + kGnuSparseOffset,
                                           kGnuSparseEntries, &map);
        !st.ok()) {
      return bad(st);
    }
    bool extended = header[kGnuIsExtendedOffset] != '\0';
    char block[kTarBlockSize];
    while (extended) {
      auto got = in_.ReadFull(block, kTarBlockSize);
      if (!got.ok()) return got.status().WithContext(Where());
      if (*got < kTarBlockSize)
        return Truncated("archive truncated inside a sparse header");
      if (Status st = AppendGnuSparseEntries(block, kGnuExtEntries, &map);
          !st.ok()) {
        return bad(st);
      }
      extended = block[kGnuExtIsExtendedOffset] != '\0';
    }
    STRATA_ASSIGN_OR_RETURN(
        logical, HeaderNumber(header, kGnuRealSize, "GNU sparse size"));
  } else if (s.major || s.minor) {
    if (s.major.value_or(-1) != 1 || s.minor.value_or(-1) != 0) {
      return Bad("unsupported GNU sparse format " +
                 std::to_string(s.major.value_or(-1)) + "." +
                 std::to_string(s.minor.value_or(-1)));
    }
    // 1.0: the map is at the start of the data, in whole blocks.
    if (!s.realsize) return Bad("GNU sparse 1.0 without GNU.sparse.realsize");
    logical = *s.realsize;
    SparseMapDecoder decoder;
    char block[kTarBlockSize];
    bool done = false;
    while (!done) {
      if (data_remaining_ < static_cast<int64_t>(kTarBlockSize)) {
        return Bad("GNU sparse 1.0 map runs past the entry's data");
      }
      auto got = in_.ReadFull(block, kTarBlockSize);
      if (!got.ok()) return got.status().WithContext(Where());
      if (*got < kTarBlockSize)
        return Truncated("archive truncated inside a sparse map");
      data_remaining_ -= kTarBlockSize;
      auto fed = decoder.Feed(block);
      if (!fed.ok()) return bad(fed.status());
      done = *fed;
    }
    map = decoder.Take();
  } else {
    // 0.1 (GNU.sparse.map) or 0.0 (GNU.sparse.offset/numbytes records).
    if (!s.size) return Bad("GNU sparse 0.x without GNU.sparse.size");
    logical = *s.size;
    if (s.map) {
      if (Status st = ParseSparseMapList(*s.map, &map); !st.ok())
        return bad(st);
    } else if (s.numblocks) {
      map = s.segments;
      if (!map.empty() && map.back().second < 0) {
        return Bad("GNU.sparse.offset without GNU.sparse.numbytes");
      }
    } else {
      return Bad("incomplete GNU sparse metadata");
    }
    if (s.numblocks && static_cast<size_t>(*s.numblocks) != map.size()) {
      return Bad("GNU.sparse.numblocks is " + std::to_string(*s.numblocks) +
                 " but the map has " + std::to_string(map.size()) +
                 " segments");
    }
  }
  if (Status st = ValidateSparseMap(logical, data_remaining_, &map); !st.ok())
    return bad(st);
  e->size = logical;
  e->sparse = std::move(map);
  return Status();
}

}  // namespace strata
