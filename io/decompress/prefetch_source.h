// PrefetchSource: pulls an inner Source on a background thread into a small
// queue of chunks, so decompression runs on one core while the consumer
// (tar parsing and extraction) runs on another — what GNU tar gets by
// piping through a separate gzip process. Memory is bounded by
// depth x chunk bytes.
//
// Thread-safety: Read is called from one thread; the inner Source is used
// only by the background thread from construction until the destructor.
#ifndef STRATA_IO_DECOMPRESS_PREFETCH_SOURCE_H_
#define STRATA_IO_DECOMPRESS_PREFETCH_SOURCE_H_

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "io/decompress/source.h"

namespace strata {

class PrefetchSource final : public Source {
 public:
  explicit PrefetchSource(std::unique_ptr<Source> inner, size_t chunk = 1 << 20,
                          size_t depth = 4);
  ~PrefetchSource() override;  // stops and joins the reader thread
  PrefetchSource(const PrefetchSource&) = delete;
  PrefetchSource& operator=(const PrefetchSource&) = delete;

  // Returns the inner stream's bytes in order; its error after the bytes
  // that preceded it.
  Result<size_t> Read(char* buf, size_t n) override;

 private:
  void Run();

  std::unique_ptr<Source> inner_;
  const size_t chunk_;
  const size_t depth_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> ready_;  // GUARDED_BY(mu_)
  std::deque<std::string> spare_;  // GUARDED_BY(mu_): buffers to reuse
  Status error_;                   // GUARDED_BY(mu_)
  bool done_ = false;              // GUARDED_BY(mu_): inner at EOF or failed
  bool stop_ = false;              // GUARDED_BY(mu_)
  std::string current_;            // consumer side only
  size_t pos_ = 0;
  std::thread thread_;
};

}  // namespace strata

#endif  // STRATA_IO_DECOMPRESS_PREFETCH_SOURCE_H_
