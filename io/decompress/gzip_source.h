// GzipSource: streaming gzip decoding (RFC 1952) of one or more members.
//
// Each member's CRC-32 and size are verified. The stream must end exactly
// after a member: a stream that ends inside a member is DataLoss; bytes after
// a member that do not start another member are InvalidArgument ("trailing
// garbage"), as is corrupt deflate data. Memory is bounded: a 128 KiB input
// buffer plus the inflater's 32 KiB window.
//
// Thread-safety: one thread at a time.
#ifndef STRATA_IO_DECOMPRESS_GZIP_SOURCE_H_
#define STRATA_IO_DECOMPRESS_GZIP_SOURCE_H_

#include <memory>

#include "io/base/result.h"
#include "io/decompress/source.h"

namespace strata {

// Takes ownership of raw. engine picks the inflater (see GzipEngine);
// kIsal without ISA-L built in is Unimplemented.
Result<std::unique_ptr<Source>> NewGzipSource(std::unique_ptr<Source> raw,
                                              GzipEngine engine);

// The engine kDefault resolves to: kIsal when built with ISA-L, else kZlib.
GzipEngine DefaultGzipEngine();

}  // namespace strata

#endif  // STRATA_IO_DECOMPRESS_GZIP_SOURCE_H_
