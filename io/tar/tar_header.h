// The 512-byte tar header block: field layout (POSIX ustar, GNU), numeric
// field decoding (octal and base-256) and checksum verification. Used by
// TarReader; knows nothing about streams.
//
// Thread-safety: pure functions.
#ifndef STRATA_IO_TAR_TAR_HEADER_H_
#define STRATA_IO_TAR_TAR_HEADER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "io/base/result.h"
#include "io/base/status.h"

namespace strata {

inline constexpr size_t kTarBlockSize = 512;

// Limits of what Strata accepts; past them an archive is InvalidArgument.
// Entry data, and the logical size of a sparse file: 1 TiB.
inline constexpr int64_t kMaxTarEntryBytes = int64_t{1} << 40;
// A path or link target: PATH_MAX (4096) with its NUL.
inline constexpr size_t kMaxTarPathBytes = 4095;
// One pax 'x' or 'g' header body.
inline constexpr size_t kMaxPaxHeaderBytes = 1 << 20;
// The xattrs global 'g' headers give every later entry. Small, because each
// entry copies them: a large value would turn tiny entries into much work.
inline constexpr size_t kMaxPaxGlobalXattrBytes = 8 << 10;
// Data segments of one sparse file (16 bytes each in memory).
inline constexpr size_t kMaxSparseSegments = 1 << 18;
// Linux's XATTR_NAME_MAX and XATTR_SIZE_MAX.
inline constexpr size_t kMaxXattrNameBytes = 255;
inline constexpr size_t kMaxXattrValueBytes = 65536;

struct TarField {
  size_t offset;
  size_t size;
};

// Fields shared by every format.
inline constexpr TarField kTarName{0, 100};
inline constexpr TarField kTarMode{100, 8};
inline constexpr TarField kTarUid{108, 8};
inline constexpr TarField kTarGid{116, 8};
inline constexpr TarField kTarSize{124, 12};
inline constexpr TarField kTarMtime{136, 12};
inline constexpr TarField kTarChecksum{148, 8};
inline constexpr size_t kTarTypeflagOffset = 156;
inline constexpr TarField kTarLinkname{157, 100};
inline constexpr TarField kTarMagic{257, 6};
inline constexpr TarField kTarVersion{263, 2};
inline constexpr TarField kTarDevmajor{329, 8};
inline constexpr TarField kTarDevminor{337, 8};
// POSIX ustar only.
inline constexpr TarField kUstarPrefix{345, 155};
// GNU only: times, the old sparse map (4 entries of offset + numbytes), the
// extension flag and the logical size of a sparse file.
inline constexpr TarField kGnuAtime{345, 12};
inline constexpr size_t kGnuSparseOffset = 386;
inline constexpr size_t kGnuSparseEntries = 4;
inline constexpr size_t kGnuIsExtendedOffset = 482;
inline constexpr TarField kGnuRealSize{483, 12};
// A GNU sparse extension block: 21 entries, then the extension flag.
inline constexpr size_t kGnuExtEntries = 21;
inline constexpr size_t kGnuExtIsExtendedOffset = 504;
inline constexpr size_t kGnuSparseEntryBytes = 24;  // offset[12] numbytes[12]

enum class TarFormat {
  kV7,     // no magic: name, linkname and the numeric fields only
  kUstar,  // "ustar\0" "00": POSIX, prefix field, PAX extensions
  kGnu,    // "ustar " " \0": GNU long names, old sparse, atime in header
};

// The view of a field within a block. REQUIRES: block has kTarBlockSize bytes.
inline std::string_view FieldOf(const char* block, TarField f) {
  return std::string_view(block + f.offset, f.size);
}

TarFormat DetectTarFormat(const char* block);

// The field up to its first NUL (all of it when it has none).
std::string_view TarString(std::string_view field);

// Decodes a numeric field: octal digits with optional leading spaces and
// trailing spaces/NULs (an all-blank field is 0), or GNU base-256 when the
// first byte has its high bit set (0x80 positive, 0xff negative, two's
// complement). InvalidArgument (with a bare message; the caller names the
// field and the entry) for anything else or a value beyond int64.
Result<int64_t> ParseTarNumber(std::string_view field);

bool IsZeroBlock(const char* block);

// Checks the stored checksum against the sum of the header's bytes with the
// checksum field taken as spaces, summed as unsigned and as signed chars
// (old writers used either). InvalidArgument naming both values.
Status VerifyTarChecksum(const char* block);

}  // namespace strata

#endif  // STRATA_IO_TAR_TAR_HEADER_H_
