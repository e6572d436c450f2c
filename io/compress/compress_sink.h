// Compressing and digesting byte sinks for writing layers: gzip (ISA-L's
// igzip at level 1 when Strata is built with it, else zlib at level 1) and
// zstd (level 3, zstd's default), each a ByteSink in front of another;
// DigestSink hashes (SHA-256) and counts what passes through.
//
// Thread-safety: one sink per stream.
#ifndef STRATA_IO_COMPRESS_COMPRESS_SINK_H_
#define STRATA_IO_COMPRESS_COMPRESS_SINK_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "io/base/byte_sink.h"
#include "io/base/sha256.h"
#include "io/base/status.h"
#include "io/decompress/source.h"

namespace strata {

class CompressSink : public ByteSink {
 public:
  // Flushes the compressor's last bytes and its stream's end; no Write
  // after it.
  virtual Status Finish() = 0;
};

// A compressor writing to `out` (borrowed; must outlive it). kNone passes
// bytes through.
std::unique_ptr<CompressSink> NewCompressSink(Compression c, ByteSink& out);

class DigestSink final : public ByteSink {
 public:
  explicit DigestSink(ByteSink& out) : out_(out) {}
  Status Write(std::string_view bytes) override {
    hash_.Update(bytes);
    bytes_ += static_cast<int64_t>(bytes.size());
    return out_.Write(bytes);
  }
  // "sha256:<hex>". Ends the hash.
  std::string Digest() { return hash_.Digest(); }
  int64_t bytes() const { return bytes_; }

 private:
  ByteSink& out_;
  Sha256 hash_;
  int64_t bytes_ = 0;
};

// Discards what it gets (strata diff's listing only counts).
class NullSink final : public ByteSink {
 public:
  Status Write(std::string_view) override { return Status::Ok(); }
};

}  // namespace strata

#endif  // STRATA_IO_COMPRESS_COMPRESS_SINK_H_
