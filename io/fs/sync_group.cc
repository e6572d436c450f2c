#include "io/fs/sync_group.h"

namespace strata {

Status SyncGroup::Sync() {
  std::unique_lock<std::mutex> l(mu_);
  // A syncfs numbered `need` or later starts after this point.
  const uint64_t need = started_ + 1;
  while (finished_ < need) {
    if (running_) {
      cv_.wait(l);
      continue;
    }
    running_ = true;
    const uint64_t mine = ++started_;
    l.unlock();
    Status s = fs_.SyncFs(fd_);
    l.lock();
    running_ = false;
    finished_ = mine;
    if (!s.ok()) {
      error_ = s;
      error_at_ = mine;
    }
    cv_.notify_all();
  }
  // Any syncfs from `need` on covers this caller; if one of them failed, the
  // caller's data may be what was lost (a writeback error is reported once).
  if (error_at_ >= need) return error_;
  return Status::Ok();
}

}  // namespace strata
