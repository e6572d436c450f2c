// Compressing and digesting byte sinks for writing layers: gzip (ISA-L's
// igzip at level 1 when Strata is built with it, else zlib at level 1) and
// zstd (level 3, zstd's default, with an 8 MiB window and long-distance
// matching), each a ByteSink in front of another;
// DigestSink hashes (SHA-256) and counts what passes through; AsyncSink
// moves the next stage to a thread of its own.
//
// Thread-safety: one sink per stream.
#ifndef STRATA_IO_COMPRESS_COMPRESS_SINK_H_
#define STRATA_IO_COMPRESS_COMPRESS_SINK_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

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

// Hands what it gets, in chunks of `chunk` bytes, to a thread of its own
// that writes them to `out` (borrowed), at most `depth` chunks ahead: the
// stages of a layer (walk and read, compress, send) then run side by side.
// The first error `out` returns is sticky: later Writes and Finish return
// it, and what is still queued is dropped.
class AsyncSink final : public ByteSink {
 public:
  explicit AsyncSink(ByteSink& out, size_t chunk = size_t{1} << 20,
                     size_t depth = 4);
  // Stops the thread (dropping what is queued if Finish was not called).
  ~AsyncSink() override;
  AsyncSink(const AsyncSink&) = delete;
  AsyncSink& operator=(const AsyncSink&) = delete;

  Status Write(std::string_view bytes) override;
  // Hands over the last chunk and waits until `out` has everything.
  Status Finish();

 private:
  Status Push(std::string chunk);
  void Run();

  ByteSink& out_;
  const size_t chunk_;
  const size_t depth_;
  std::string buf_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::string> queue_;  // GUARDED_BY(mu_)
  bool closing_ = false;           // GUARDED_BY(mu_)
  bool busy_ = false;              // GUARDED_BY(mu_): out_.Write running
  Status error_;                   // GUARDED_BY(mu_)
  std::thread thread_;
};

// Discards what it gets (strata diff's listing only counts).
class NullSink final : public ByteSink {
 public:
  Status Write(std::string_view) override { return Status::Ok(); }
};

}  // namespace strata

#endif  // STRATA_IO_COMPRESS_COMPRESS_SINK_H_
