// SyncGroup: makes a filesystem durable for many concurrent callers with as
// few syncfs(2) calls as possible (group commit for data, the way MetaStore
// groups metadata transactions).
//
// Sync() returns once a syncfs that *started after the call* has finished:
// everything the caller wrote before calling is durable then. A caller that
// arrives while a syncfs runs waits for it to end and shares the next one with
// everybody else who arrived meanwhile, so N concurrent callers cost about two
// syncfs calls, not N. Every caller sharing a syncfs gets its error.
//
// Thread-safety: thread-safe. The fd must stay open for the object's life.
#ifndef STRATA_IO_FS_SYNC_GROUP_H_
#define STRATA_IO_FS_SYNC_GROUP_H_

#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "io/base/status.h"
#include "io/fs/fs_ops.h"

namespace strata {

class SyncGroup {
 public:
  SyncGroup(FsOps& fs, int fd) : fs_(fs), fd_(fd) {}
  SyncGroup(const SyncGroup&) = delete;
  SyncGroup& operator=(const SyncGroup&) = delete;

  Status Sync();

  // syncfs calls made so far (tests, metrics).
  uint64_t syncs() const {
    std::lock_guard<std::mutex> l(mu_);
    return finished_;
  }

 private:
  FsOps& fs_;
  const int fd_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t started_ = 0;   // GUARDED_BY(mu_): syncfs calls begun
  uint64_t finished_ = 0;  // GUARDED_BY(mu_): syncfs calls ended
  bool running_ = false;   // GUARDED_BY(mu_)
  Status error_;           // GUARDED_BY(mu_): the last failed call's error
  uint64_t error_at_ = 0;  // GUARDED_BY(mu_): and its number
};

}  // namespace strata

#endif  // STRATA_IO_FS_SYNC_GROUP_H_
