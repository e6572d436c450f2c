// PrefetchSource: pulls an inner Source on a background thread into a small
// queue of chunks, so decompression runs on one core while the consumer
// (tar parsing and extraction) runs on another — what GNU tar gets by
// piping through a separate gzip process. Memory is bounded by
// depth x chunk bytes (2 x depth + 2 with a tap); buffers are reused.
//
// A tap (optional) sees every chunk, in order, on a third thread while the
// consumer reads it: the layer's SHA-256 (1.8 GB/s with SHA-NI, as slow as
// the kernel's copies) then overlaps reading and writing instead of adding
// to them. The consumer sees the end of the stream only after the tap has
// seen every byte.
//
// Thread-safety: Read is called from one thread; the inner Source is used
// only by the background thread from construction until the destructor.
#ifndef STRATA_IO_DECOMPRESS_PREFETCH_SOURCE_H_
#define STRATA_IO_DECOMPRESS_PREFETCH_SOURCE_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "io/decompress/source.h"

namespace strata {

class PrefetchSource final : public Source {
 public:
  using Tap = std::function<void(std::string_view chunk)>;
  explicit PrefetchSource(std::unique_ptr<Source> inner, size_t chunk = 1 << 20,
                          size_t depth = 4, Tap tap = nullptr);
  ~PrefetchSource() override;  // stops and joins the threads
  PrefetchSource(const PrefetchSource&) = delete;
  PrefetchSource& operator=(const PrefetchSource&) = delete;

  // Returns the inner stream's bytes in order; its error after the bytes
  // that preceded it.
  Result<size_t> Read(char* buf, size_t n) override;

 private:
  struct Buffer {
    std::unique_ptr<char[]> bytes;  // chunk_ bytes
    size_t len = 0;                 // filled
  };
  using Chunk = std::shared_ptr<Buffer>;  // shared by consumer and tap
  void Run();
  void RunTap();
  // A holder is done with chunk; the last one returns it to spare_.
  // REQUIRES: mu_ held.
  void Release(Chunk chunk);

  std::unique_ptr<Source> inner_;
  const size_t chunk_;
  const size_t depth_;
  const Tap tap_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Chunk> ready_;     // GUARDED_BY(mu_): for the consumer
  std::deque<Chunk> untapped_;  // GUARDED_BY(mu_): for the tap
  std::vector<Chunk> spare_;    // GUARDED_BY(mu_): buffers to reuse
  Status error_;                // GUARDED_BY(mu_)
  bool done_ = false;           // GUARDED_BY(mu_): inner at EOF or failed
  bool tapped_all_;             // GUARDED_BY(mu_): no tap, or it saw the end
  bool stop_ = false;           // GUARDED_BY(mu_)
  Chunk current_;               // consumer side only
  size_t pos_ = 0;
  std::thread thread_;
  std::thread tap_thread_;
};

}  // namespace strata

#endif  // STRATA_IO_DECOMPRESS_PREFETCH_SOURCE_H_
