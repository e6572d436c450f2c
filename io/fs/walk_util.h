// What every walk over a directory tree needs so that no tree can crash or
// mislead it: a stat that also says which mount an entry is on, the test for
// "this entry is a mount point" (bind mounts of the same filesystem
// included), and a way to detach such a mount.
//
// Mount identity is statx(2)'s STATX_MNT_ID (Linux 5.8+), with st_dev and
// STATX_ATTR_MOUNT_ROOT as fallbacks on older kernels. st_dev alone is not
// enough: a bind mount of a directory of the same filesystem has the same
// st_dev as its parent.
//
// Thread-safety: all functions are thread-compatible; they touch only the
// descriptors and names given.
#ifndef STRATA_IO_FS_WALK_UTIL_H_
#define STRATA_IO_FS_WALK_UTIL_H_

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "io/base/status.h"
#include "io/base/unique_dir.h"

namespace strata {

// An entry's stat(2) data plus the mount it lives on.
struct EntryStat {
  struct stat st;
  uint64_t mnt_id = 0;      // 0: the kernel did not report it
  bool mount_root = false;  // STATX_ATTR_MOUNT_ROOT (only if reported)
};

// Stats dirfd/name (name "" with dirfd alone: the directory itself) without
// following a final symlink or triggering an automount. Returns errno-mapped
// errors (PosixError); ENOENT is NotFound.
Status StatAt(int dirfd, const char* name, EntryStat* out);

// True when `entry` is not on the mount `dir` (its parent directory, or the
// walk's root) is on: the root of a mount stacked on that name.
bool IsMountPoint(const EntryStat& entry, const EntryStat& dir);

// Detaches every mount stacked on dirfd/name (umount2 with MNT_DETACH and
// UMOUNT_NOFOLLOW through /proc/self/fd, so no path is resolved twice). The
// mounted filesystems are not touched: lazy detach only takes them out of the
// tree. `what` names the entry in errors. Fails (Internal for EPERM/EINVAL:
// locked or foreign mounts, no CAP_SYS_ADMIN) without touching anything.
Status DetachMount(int dirfd, const char* name, std::string_view what);

// Opens dirfd/name as a directory stream without following symlinks.
// Returns an invalid UniqueDir with errno set on failure.
UniqueDir OpenDirAt(int dirfd, const char* name);

}  // namespace strata

#endif  // STRATA_IO_FS_WALK_UTIL_H_
