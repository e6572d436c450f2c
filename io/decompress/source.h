// OpenDecompressed, which sniffs a layer blob's compression and returns a
// Source (io/base/source.h) of its decompressed bytes.
//
// Error classes, for every Source this module returns:
//   - a compressed stream that ends early (truncated)      -> DataLoss
//   - corrupt compressed data, trailing garbage after gzip -> InvalidArgument
//   - more output than DecompressOptions::max_output_bytes -> ResourceExhausted
//   - read(2) failures of the underlying FdSource          -> PosixError's
//   class
// Errors are sticky only where documented; after an error, stop reading.
//
// Thread-safety: a Source is used by one thread at a time.
#ifndef STRATA_IO_DECOMPRESS_SOURCE_H_
#define STRATA_IO_DECOMPRESS_SOURCE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "io/base/result.h"
#include "io/base/source.h"

namespace strata {

enum class Compression { kNone, kGzip, kZstd };
std::string_view CompressionName(Compression c);  // "none", "gzip", "zstd"

// Which inflate implementation decodes gzip. kDefault is ISA-L's igzip when
// Strata was built with it (measured faster, see io/decompress/README.md),
// else zlib. kIsal fails with Unimplemented when ISA-L was not built in.
enum class GzipEngine { kDefault, kZlib, kIsal };

struct DecompressOptions {
  // Decompression-bomb limit: reading past this many output bytes fails with
  // ResourceExhausted naming the limit. Applies to uncompressed input too.
  uint64_t max_output_bytes = 64ull << 30;
  GzipEngine gzip_engine = GzipEngine::kDefault;
};

// Sniffs magic bytes (gzip 1f 8b, zstd 28 b5 2f fd or a zstd skippable
// frame; anything else, including an empty stream, is plain tar) and returns
// a Source yielding the decompressed bytes. Takes ownership of raw. Stores the
// detected compression in *detected when it is not null. Multi-member gzip and
// multi-frame zstd streams are decoded to their end.
Result<std::unique_ptr<Source>> OpenDecompressed(
    std::unique_ptr<Source> raw, const DecompressOptions& opts = {},
    Compression* detected = nullptr);

}  // namespace strata

#endif  // STRATA_IO_DECOMPRESS_SOURCE_H_
