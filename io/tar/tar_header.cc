#include "io/tar/tar_header.h"

#include <cstring>
#include <limits>

namespace strata {

TarFormat DetectTarFormat(const char* block) {
  std::string_view magic = FieldOf(block, kTarMagic);
  std::string_view version = FieldOf(block, kTarVersion);
  if (magic == std::string_view("ustar ", 6) &&
      version == std::string_view(" \0", 2)) {
    return TarFormat::kGnu;
  }
  // Some ustar writers put blanks or NULs in version; the magic decides.
  if (magic == std::string_view("ustar\0", 6)) return TarFormat::kUstar;
  return TarFormat::kV7;
}

std::string_view TarString(std::string_view field) {
  size_t nul = field.find('\0');
  return nul == std::string_view::npos ? field : field.substr(0, nul);
}

Result<int64_t> ParseTarNumber(std::string_view field) {
  if (!field.empty() && (static_cast<unsigned char>(field[0]) & 0x80) != 0) {
    // Base-256: big-endian two's complement, the first byte's high bit a
    // marker.
    const bool negative = (static_cast<unsigned char>(field[0]) & 0x40) != 0;
    const unsigned char fill = negative ? 0xff : 0x00;
    uint64_t v = 0;
    for (size_t i = 0; i < field.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(field[i]) ^ fill;
      if (i == 0) c &= 0x7f;
      if ((v >> 56) != 0)
        return InvalidArgument("base-256 number overflows 64 bits");
      v = (v << 8) | c;
    }
    if ((v >> 63) != 0)
      return InvalidArgument("base-256 number overflows 64 bits");
    int64_t mag = static_cast<int64_t>(v);
    // Negative: the bits are the complement of the value, i.e. -(mag + 1).
    return negative ? -mag - 1 : mag;
  }
  size_t i = 0;
  while (i < field.size() && field[i] == ' ') ++i;
  uint64_t v = 0;
  for (; i < field.size() && field[i] >= '0' && field[i] <= '7'; ++i) {
    if ((v >> 60) != 0)
      return InvalidArgument("octal number overflows 64 bits");
    v = (v << 3) | static_cast<uint64_t>(field[i] - '0');
  }
  for (; i < field.size(); ++i) {
    if (field[i] != ' ' && field[i] != '\0') {
      return InvalidArgument("not an octal number");
    }
  }
  if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return InvalidArgument("octal number overflows 64 bits");
  }
  return static_cast<int64_t>(v);
}

bool IsZeroBlock(const char* block) {
  for (size_t i = 0; i < kTarBlockSize; ++i) {
    if (block[i] != 0) return false;
  }
  return true;
}

Status VerifyTarChecksum(const char* block) {
  auto stored = ParseTarNumber(FieldOf(block, kTarChecksum));
  if (!stored.ok()) return stored.status().WithContext("bad checksum field");
  // Sums of the whole block (branch-free loops the compiler vectorizes: one
  // runs per archive entry), then the checksum field counted as spaces.
  int64_t unsigned_sum = 0;
  int64_t signed_sum = 0;
  for (size_t i = 0; i < kTarBlockSize; ++i) {
    unsigned_sum += static_cast<unsigned char>(block[i]);
    signed_sum += static_cast<signed char>(block[i]);
  }
  for (size_t i = kTarChecksum.offset;
       i < kTarChecksum.offset + kTarChecksum.size; ++i) {
    unsigned_sum += ' ' - static_cast<unsigned char>(block[i]);
    signed_sum += ' ' - static_cast<signed char>(block[i]);
  }
  if (*stored == unsigned_sum || *stored == signed_sum) return Status();
  return InvalidArgument("bad header checksum: stored " +
                         std::to_string(*stored) + ", computed " +
                         std::to_string(unsigned_sum));
}

}  // namespace strata
