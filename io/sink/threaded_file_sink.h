// ThreadedFileSink: small files written by a few worker threads with plain
// syscalls, so the kernel's per-file work (inode allocation, directory
// insertion: most of a small-file layer's cost) runs on every core while the
// extractor goes on parsing.
//
// Creating a file locks its directory, so two threads creating in one
// directory mostly wait for each other. Files are therefore routed by parent
// directory: a directory with files in flight sticks to one worker, a new
// one goes to the least-loaded worker, and the window of files in flight is
// wide (kMaxJobs, kMaxBytes) so that it spans several directories of a
// typical layer. Buffers are sized to each file; memory is bounded by
// kMaxBytes. Busy() reports files still being written, so the extractor
// flushes before replacing or removing one.
//
// Thread-safety: the FileSink calls come from one thread (the extraction).
#ifndef STRATA_IO_SINK_THREADED_FILE_SINK_H_
#define STRATA_IO_SINK_THREADED_FILE_SINK_H_

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "io/sink/file_sink.h"

namespace strata {

class ThreadedFileSink final : public FileSink {
 public:
  static constexpr size_t kMaxFile = 256 << 10;
  static constexpr size_t kMaxJobs = 2048;
  static constexpr size_t kMaxBytes = 32 << 20;
  // Files a worker takes (and retires) per lock of the sink's mutex.
  static constexpr size_t kBatch = 32;

  // workers == 0: one per CPU, at least 2, at most 8; STRATA_EXTRACT_THREADS
  // overrides.
  explicit ThreadedFileSink(unsigned workers = 0);
  ~ThreadedFileSink() override;

  const char* Name() const override { return "threads"; }
  size_t max_file_size() const override { return kMaxFile; }
  Result<char*> AcquireBuffer(size_t len) override;
  Status Submit(FileJob job, char* buf, size_t len) override;
  Status Flush() override;
  bool Busy(const std::string& path) const override;

  unsigned workers() const { return static_cast<unsigned>(workers_.size()); }

 private:
  struct Task {
    FileJob job;
    std::unique_ptr<char[]> buf;
    size_t len;
    size_t cost;  // the buffer's size, counted in inflight_bytes_
  };
  struct Worker {
    std::deque<Task> queue;
    std::condition_variable cv;  // queue non-empty or stop_
    bool idle = false;
    std::thread thread;
  };
  struct Route {
    unsigned worker;
    size_t inflight;
    SharedFd dir;  // keeps the descriptor (and so the map key) alive
  };
  void Work(Worker& w);
  unsigned RouteFor(const SharedFd& dir);  // REQUIRES: mu_ held

  mutable std::mutex mu_;
  std::condition_variable done_cv_;  // a task finished
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unordered_map<const UniqueFd*, Route> routes_;  // directories in flight
  std::unordered_multiset<std::string> busy_;
  std::unique_ptr<char[]> acquired_;  // handed out by AcquireBuffer
  size_t acquired_len_ = 0;
  size_t inflight_ = 0;        // queued or running
  size_t inflight_bytes_ = 0;  // their buffers
  Status first_error_;
  bool waiting_ = false;  // the extractor waits in AcquireBuffer or Flush
  bool stop_ = false;
};

}  // namespace strata

#endif  // STRATA_IO_SINK_THREADED_FILE_SINK_H_
