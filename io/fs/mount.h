// Mount: one mount as a snapshotter answers it (containerd's mount.Mount:
// type, source, options), and the few things Strata and its tools do with a
// list of them: perform them the way containerd's mount.All does for bind
// and overlay mounts, undo them, and find the directory a client writes into.
//
// Thread-safety: free functions; a ScopedMount belongs to one thread.
#ifndef STRATA_IO_FS_MOUNT_H_
#define STRATA_IO_FS_MOUNT_H_

#include <string>
#include <string_view>
#include <vector>

#include "io/base/result.h"

namespace strata {

struct Mount {
  std::string type;
  std::string source;
  std::vector<std::string> options;
};

// The value of option `name=` in `options`; false when absent.
bool MountOptionValue(const std::vector<std::string>& options,
                      std::string_view name, std::string* out);

// Mounts `mounts` on `target` in order: bind (also any mount with a "bind" or
// "rbind" option; "ro" remounts it read-only) or a filesystem type with its
// other options as data. REQUIRES: root.
Status MountAll(const std::vector<Mount>& mounts, const std::string& target);

// Unmounts target; detaches it lazily (and still reports the error) if busy.
Status Unmount(const std::string& target);

// The directory an active snapshot's mounts write into without mounting:
// the overlay mount's upperdir= (with or without lowerdir=), or a read-write
// bind mount's source. Unimplemented for any other shape.
Result<std::string> WritableDir(const std::vector<Mount>& mounts);

// Mounts on construction (Take), unmounts on destruction: no early return of
// a test or a tool leaves a mount behind.
class ScopedMount {
 public:
  static Result<ScopedMount> Take(const std::vector<Mount>& mounts,
                                  const std::string& target);
  ScopedMount(ScopedMount&& o) noexcept;
  ScopedMount& operator=(ScopedMount&& o) noexcept;
  ScopedMount(const ScopedMount&) = delete;
  ScopedMount& operator=(const ScopedMount&) = delete;
  ~ScopedMount();

  const std::string& target() const { return target_; }
  // Unmounts now, reporting the error the destructor would swallow.
  Status Release();

 private:
  explicit ScopedMount(std::string target) : target_(std::move(target)) {}
  std::string target_;  // empty once released
};

}  // namespace strata

#endif  // STRATA_IO_FS_MOUNT_H_
