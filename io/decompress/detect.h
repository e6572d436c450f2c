// Compression detection from a stream's first bytes; OpenDecompressed (declared
// in source.h) is defined in detect.cc on top of it.
//
// Thread-safety: pure function.
#ifndef STRATA_IO_DECOMPRESS_DETECT_H_
#define STRATA_IO_DECOMPRESS_DETECT_H_

#include <cstddef>
#include <string_view>

#include "io/decompress/source.h"

namespace strata {

// Bytes DetectCompression needs to decide; fewer only for a shorter stream.
inline constexpr size_t kCompressionMagicBytes = 4;

// gzip: 1f 8b. zstd: 28 b5 2f fd, or a skippable frame 5? 2a 4d 18.
// Anything else is kNone.
Compression DetectCompression(std::string_view head);

}  // namespace strata

#endif  // STRATA_IO_DECOMPRESS_DETECT_H_
