// ZstdSource: streaming zstd decoding (RFC 8878) of one or more frames with
// libzstd's ZSTD_decompressStream.
//
// A stream that ends inside a frame is DataLoss; corrupt data, trailing
// garbage and frames whose window exceeds libzstd's default limit (128 MiB,
// ZSTD_WINDOWLOG_LIMIT_DEFAULT) are InvalidArgument. Memory is bounded by the
// window plus a 128 KiB input buffer.
//
// Thread-safety: one thread at a time.
#ifndef STRATA_IO_DECOMPRESS_ZSTD_SOURCE_H_
#define STRATA_IO_DECOMPRESS_ZSTD_SOURCE_H_

#include <memory>

#include "io/base/result.h"
#include "io/decompress/source.h"

namespace strata {

// Takes ownership of raw.
Result<std::unique_ptr<Source>> NewZstdSource(std::unique_ptr<Source> raw);

}  // namespace strata

#endif  // STRATA_IO_DECOMPRESS_ZSTD_SOURCE_H_
