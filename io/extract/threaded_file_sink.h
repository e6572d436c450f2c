// ThreadedFileSink: small files written by a few worker threads with plain
// syscalls, so the kernel's per-file work (inode allocation, directory
// insertion: most of a small-file layer's cost) runs on every core while the
// extractor goes on parsing. The io_uring sink gets the same parallelism from
// io-wq; this one needs no io_uring and keeps each file's metadata calls on
// its open descriptor.
//
// Memory is bounded by kSlots buffers of kBufferSize (allocated on demand,
// pages touched only as used). Busy() reports files still being written, so
// the extractor flushes before replacing or removing one.
//
// Thread-safety: the FileSink calls come from one thread (the extraction).
#ifndef STRATA_IO_EXTRACT_THREADED_FILE_SINK_H_
#define STRATA_IO_EXTRACT_THREADED_FILE_SINK_H_

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "io/extract/file_sink.h"

namespace strata {

class ThreadedFileSink final : public FileSink {
 public:
  static constexpr size_t kBufferSize = 256 << 10;
  static constexpr unsigned kSlots = 64;

  // workers == 0: one per CPU, at least 2, at most 8; STRATA_EXTRACT_THREADS
  // overrides.
  explicit ThreadedFileSink(unsigned workers = 0);
  ~ThreadedFileSink() override;

  const char* Name() const override { return "threads"; }
  size_t max_file_size() const override { return kBufferSize; }
  Result<char*> AcquireBuffer() override;
  Status Submit(FileJob job, char* buf, size_t len) override;
  Status Flush() override;
  bool Busy(const std::string& path) const override;

  unsigned workers() const { return static_cast<unsigned>(threads_.size()); }

 private:
  struct Task {
    FileJob job;
    char* buf;
    size_t len;
  };
  void Work();

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // queue_ non-empty or stop_
  std::condition_variable done_cv_;  // a task finished
  std::deque<Task> queue_;
  std::vector<std::unique_ptr<char[]>> buffers_;
  std::vector<char*> free_;
  char* acquired_ = nullptr;  // handed out by AcquireBuffer, not yet submitted
  std::unordered_multiset<std::string> busy_;
  size_t inflight_ = 0;  // queued or running
  Status first_error_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace strata

#endif  // STRATA_IO_EXTRACT_THREADED_FILE_SINK_H_
