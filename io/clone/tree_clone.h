// CloneTree: makes dst a copy of the directory tree src, with file data
// shared through FICLONE where the filesystem can (reflink.h).
//
// Preserved: directories, regular files (holes kept on the copy path),
// symlinks (never followed), hardlink groups (same inode -> links in the
// clone), character/block devices, fifos, sockets, xattrs (user.*, trusted.*,
// security.* incl. security.capability), ownership, modes (setuid/setgid kept:
// chown comes before chmod, capabilities after chown), timestamps (atime and
// mtime; directories after their contents). Ownership, trusted.* xattrs and
// device nodes need CAP_CHOWN/CAP_SYS_ADMIN/CAP_MKNOD: the daemon runs as root.
// Other filesystems mounted below src are not crossed.
//
// The walk itself runs on a small pool of worker threads: each directory is
// listed by one job and its entries are cloned in chunks of 64 (stat, create,
// FICLONE, metadata, close) by as many jobs, so both the namespace work and
// the FICLONE ioctls overlap across directories and within big ones. Jobs run
// depth first and hold a directory's fds only while its chunks run, so open
// fds stay proportional to the workers. A directory's own metadata (times) is
// applied when everything below it is done. Per file the clone skips what
// would change nothing: chown/chmod when the new file already has the owner
// and mode, xattr reads when flistxattr finds none, FICLONE of empty files.
//
// The first error stops the clone and is returned naming the path; dst is
// left partial, the caller removes it.
//
// Thread-safety: CloneTree is reentrant; calls share nothing.
#ifndef STRATA_IO_CLONE_TREE_CLONE_H_
#define STRATA_IO_CLONE_TREE_CLONE_H_

#include <cstdint>
#include <string>

#include "io/base/result.h"
#include "io/clone/reflink.h"

namespace strata {

struct CloneOptions {
  DataMode data = DataMode::kAuto;
  int workers = 3;  // threads walking and cloning; 0: the caller alone
};

struct CloneStats {
  int64_t dirs = 0;
  int64_t files = 0;      // regular file inodes
  int64_t cloned = 0;     // of those, data shared by FICLONE
  int64_t copied = 0;     // of those, data copied
  int64_t hardlinks = 0;  // extra names of an inode already cloned
  int64_t symlinks = 0;
  int64_t specials = 0;   // devices, fifos, sockets
  int64_t bytes = 0;      // logical size of regular files
};

// REQUIRES: src is a directory; dst does not exist (its parent does). dst is
// created with src's metadata.
Result<CloneStats> CloneTree(const std::string& src, const std::string& dst,
                             const CloneOptions& opts = {});

}  // namespace strata

#endif  // STRATA_IO_CLONE_TREE_CLONE_H_
