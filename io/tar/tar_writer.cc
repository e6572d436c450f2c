#include "io/tar/tar_writer.h"

#include <cstring>
#include <string>
#include <vector>

#include "io/tar/pax.h"
#include "io/tar/tar_header.h"

namespace strata {
namespace {

// ustar's largest octal values: 7 digits for 8-byte fields, 11 for 12.
constexpr int64_t kMaxOctal8 = 07777777;
constexpr int64_t kMaxOctal12 = 077777777777;

void PutString(std::string& block, TarField f, std::string_view v) {
  if (v.empty()) return;  // an empty view may hold no pointer at all
  std::memcpy(block.data() + f.offset, v.data(), std::min(v.size(), f.size));
}

// Octal digits filling the field but its last byte (a NUL).
void PutOctal(std::string& block, TarField f, int64_t v) {
  std::string digits(f.size - 1, '0');
  for (size_t i = digits.size(); i > 0 && v > 0; --i, v >>= 3)
    digits[i - 1] = static_cast<char>('0' + (v & 7));
  PutString(block, f, digits);
}

// Splits path into ustar's prefix (<= 155) and name (<= 100) at a '/';
// false when no split fits.
bool SplitUstar(std::string_view path, std::string_view* prefix,
                std::string_view* name) {
  if (path.size() <= kTarName.size) {
    *prefix = {};
    *name = path;
    return true;
  }
  if (path.size() > kUstarPrefix.size + 1 + kTarName.size) return false;
  for (size_t slash = path.find('/'); slash != std::string_view::npos;
       slash = path.find('/', slash + 1)) {
    if (slash <= kUstarPrefix.size &&
        path.size() - slash - 1 <= kTarName.size && slash > 0 &&
        slash + 1 < path.size()) {
      *prefix = path.substr(0, slash);
      *name = path.substr(slash + 1);
      return true;
    }
  }
  return false;
}

char TypeFlag(TarEntry::Type t) {
  switch (t) {
    case TarEntry::Type::kFile:
      return '0';
    case TarEntry::Type::kHardlink:
      return '1';
    case TarEntry::Type::kSymlink:
      return '2';
    case TarEntry::Type::kCharDevice:
      return '3';
    case TarEntry::Type::kBlockDevice:
      return '4';
    case TarEntry::Type::kDirectory:
      return '5';
    case TarEntry::Type::kFifo:
      return '6';
  }
  return '0';
}

void Checksum(std::string& block) {
  std::memset(block.data() + kTarChecksum.offset, ' ', kTarChecksum.size);
  unsigned sum = 0;
  for (unsigned char c : block) sum += c;
  std::string digits(6, '0');
  for (size_t i = 6; i > 0 && sum > 0; --i, sum >>= 3)
    digits[i - 1] = static_cast<char>('0' + (sum & 7));
  PutString(block, kTarChecksum, digits);
  block[kTarChecksum.offset + 6] = '\0';  // then the space left from above
}

std::string UstarBlock(char type, std::string_view name,
                       std::string_view prefix, std::string_view linkname,
                       int64_t mode, int64_t uid, int64_t gid, int64_t size,
                       int64_t mtime, int64_t major, int64_t minor) {
  std::string block(kTarBlockSize, '\0');
  PutString(block, kTarName, name);
  PutOctal(block, kTarMode, mode);
  PutOctal(block, kTarUid, uid);
  PutOctal(block, kTarGid, gid);
  PutOctal(block, kTarSize, size);
  PutOctal(block, kTarMtime, mtime);
  block[kTarTypeflagOffset] = type;
  PutString(block, kTarLinkname, linkname);
  PutString(block, kTarMagic, std::string_view("ustar\0", 6));
  PutString(block, kTarVersion, "00");
  PutOctal(block, kTarDevmajor, major);
  PutOctal(block, kTarDevminor, minor);
  PutString(block, kUstarPrefix, prefix);
  Checksum(block);
  return block;
}

int64_t PaddingFor(int64_t size) {
  return (kTarBlockSize - size % kTarBlockSize) % kTarBlockSize;
}

}  // namespace

Status TarWriter::Emit(std::string_view bytes) {
  written_ += static_cast<int64_t>(bytes.size());
  return out_.Write(bytes);
}

Status TarWriter::Pad() {
  if (left_ != 0) {
    return FailedPrecondition("tar: " + std::to_string(left_) +
                              " data bytes of the last file missing");
  }
  if (padding_ > 0) {
    STRATA_RETURN_IF_ERROR(
        Emit(std::string(static_cast<size_t>(padding_), '\0')));
    padding_ = 0;
  }
  return Status::Ok();
}

Status TarWriter::Add(const TarEntry& e) {
  if (closed_) return FailedPrecondition("tar: add after close");
  STRATA_RETURN_IF_ERROR(Pad());
  std::string path = e.path;
  if (e.type == TarEntry::Type::kDirectory && !path.empty() &&
      path.back() != '/') {
    path += '/';
  }
  if (path.empty() || path.size() > kMaxTarPathBytes ||
      e.link_target.size() > kMaxTarPathBytes ||
      path.find('\0') != std::string::npos ||
      e.link_target.find('\0') != std::string::npos) {
    return InvalidArgument("tar: bad path or link target for \"" +
                           path.substr(0, 64) + "\"");
  }
  if (!e.sparse.empty()) return InvalidArgument("tar: sparse entries");
  const bool file = e.type == TarEntry::Type::kFile;
  if (!file && e.size != 0) return InvalidArgument("tar: data on a non-file");
  if (e.size < 0) return InvalidArgument("tar: negative size");

  std::string pax;
  std::string_view prefix, name;
  if (!SplitUstar(path, &prefix, &name)) {
    pax += EncodePaxRecord("path", path);
    prefix = {};
    name = std::string_view(path).substr(0, kTarName.size);
  }
  std::string_view link = e.link_target;
  if (link.size() > kTarLinkname.size) {
    pax += EncodePaxRecord("linkpath", link);
    link = link.substr(0, kTarLinkname.size);
  }
  auto number = [&](const char* key, int64_t v, int64_t max) {
    if (v <= max && v >= 0) return v;
    pax += EncodePaxRecord(key, std::to_string(v));
    return int64_t{0};
  };
  const int64_t uid = number("uid", e.uid, kMaxOctal8);
  const int64_t gid = number("gid", e.gid, kMaxOctal8);
  const int64_t size = number("size", e.size, kMaxOctal12);
  const int64_t mtime = number("mtime", e.mtime_sec, kMaxOctal12);
  for (const auto& [k, v] : e.xattrs) {
    pax += EncodePaxRecord("SCHILY.xattr." + k, v);
  }
  if (!pax.empty()) {
    // The 'x' header names the entry as GNU tar and Go's writer do.
    std::string xname = "PaxHeaders/" + std::string(name);
    STRATA_RETURN_IF_ERROR(Emit(UstarBlock(
        'x', std::string_view(xname).substr(0, kTarName.size), {}, {}, 0644, 0,
        0, static_cast<int64_t>(pax.size()), mtime, 0, 0)));
    STRATA_RETURN_IF_ERROR(Emit(pax));
    STRATA_RETURN_IF_ERROR(Emit(std::string(
        static_cast<size_t>(PaddingFor(static_cast<int64_t>(pax.size()))),
        '\0')));
  }
  STRATA_RETURN_IF_ERROR(
      Emit(UstarBlock(TypeFlag(e.type), name, prefix, link, e.mode & 07777, uid,
                      gid, size, mtime, e.dev_major, e.dev_minor)));
  left_ = file ? e.size : 0;
  padding_ = file ? PaddingFor(e.size) : 0;
  return Status::Ok();
}

Status TarWriter::Data(std::string_view bytes) {
  if (static_cast<int64_t>(bytes.size()) > left_) {
    return FailedPrecondition("tar: more data than the file's size");
  }
  left_ -= static_cast<int64_t>(bytes.size());
  return Emit(bytes);
}

Status TarWriter::Close() {
  if (closed_) return Status::Ok();
  STRATA_RETURN_IF_ERROR(Pad());
  closed_ = true;
  return Emit(std::string(2 * kTarBlockSize, '\0'));
}

}  // namespace strata
