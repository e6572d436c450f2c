// LayerStream: a layer's uncompressed tar as the extractor reads it,
// digested on the way (its DiffID) and, when a second thread pays, with
// decompression and digest moved to a prefetch thread.
//
// A thread pays when the raw stream is compressed (inflate overlaps file
// creation, as `gzip -dc | tar -x` overlaps two processes) or slow to arrive
// (a gRPC blob). For a plain file it does not: a read is one copy, and every
// hand-off between threads is a wake-up that a busy host delays.
//
// Thread-safety: one consumer thread; bytes() may be read from any thread.
#ifndef STRATA_IO_EXTRACT_LAYER_STREAM_H_
#define STRATA_IO_EXTRACT_LAYER_STREAM_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "io/base/sha256.h"
#include "io/decompress/prefetch_source.h"
#include "io/decompress/source.h"

namespace strata {

class LayerStream final : public Source {
 public:
  // plain: the uncompressed stream (from OpenDecompressed).
  LayerStream(std::unique_ptr<Source> plain, bool prefetch)
      : plain_(std::move(plain)), digest_(*this) {
    if (prefetch)
      prefetch_ =
          std::make_unique<PrefetchSource>(std::make_unique<Lend>(digest_));
  }

  Result<size_t> Read(char* buf, size_t n) override {
    return prefetch_ ? prefetch_->Read(buf, n) : digest_.Read(buf, n);
  }

  // Reads what is left (tar padding after the end marker); then the digest
  // of every byte, "sha256:<hex>". The prefetch thread has finished once
  // its EOF reached us, so the hash is complete.
  Result<std::string> Finish() {
    char buf[64 << 10];
    while (true) {
      STRATA_ASSIGN_OR_RETURN(size_t n, Read(buf, sizeof(buf)));
      if (n == 0) break;
    }
    return digest_.hash.Digest();
  }

  int64_t bytes() const {
    return digest_.bytes.load(std::memory_order_relaxed);
  }

 private:
  // Digests what it reads from the plain stream (on whichever thread reads).
  struct Digest final : Source {
    explicit Digest(LayerStream& s) : stream(s) {}
    Result<size_t> Read(char* buf, size_t n) override {
      STRATA_ASSIGN_OR_RETURN(size_t got, stream.plain_->Read(buf, n));
      hash.Update(std::string_view(buf, got));
      bytes.fetch_add(static_cast<int64_t>(got), std::memory_order_relaxed);
      return got;
    }
    LayerStream& stream;
    Sha256 hash;
    std::atomic<int64_t> bytes{0};
  };
  // Lends the digest stage to PrefetchSource, which wants to own its input.
  struct Lend final : Source {
    explicit Lend(Source& s) : s(s) {}
    Result<size_t> Read(char* buf, size_t n) override { return s.Read(buf, n); }
    Source& s;
  };

  std::unique_ptr<Source> plain_;
  Digest digest_;
  std::unique_ptr<PrefetchSource> prefetch_;  // last: its thread stops first
};

}  // namespace strata

#endif  // STRATA_IO_EXTRACT_LAYER_STREAM_H_
