// Exclusive ownership of a root directory and of a unix socket address, so two
// daemons can never share either.
//
// Thread-safety: RootLock is owned by main(); not shared.
#ifndef STRATA_SNAPSHOTTER_DAEMON_ROOT_LOCK_H_
#define STRATA_SNAPSHOTTER_DAEMON_ROOT_LOCK_H_

#include <string>

#include "io/base/result.h"
#include "io/base/unique_fd.h"

namespace strata {

// Holds flock(LOCK_EX) on <root>/lock for its lifetime. Acquire fails with
// Unavailable when another process holds it (naming that process's pid).
class RootLock {
 public:
  static Result<RootLock> Acquire(const std::string& lock_file);
  RootLock(RootLock&&) = default;
  RootLock& operator=(RootLock&&) = default;

 private:
  explicit RootLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// Prepares a unix socket path for listening: creates its parent directory,
// refuses (Unavailable) when a live server accepts connections on it, and
// removes a stale socket file. A non-socket file at the path is
// FailedPrecondition.
Status ClaimSocketPath(const std::string& path);

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_DAEMON_ROOT_LOCK_H_
