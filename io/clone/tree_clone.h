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
// Nothing on another mount is cloned: a mount point below src (bind mounts
// of the same filesystem included, told by mount id; also a directory with
// another st_dev, e.g. a btrfs subvolume) is skipped, so the clone has no
// entry at that name at all (CloneStats::mounts counts them).
//
// One walker thread (the caller) lists directories depth first and creates
// subdirectories; everything else is cloned in chunks of 64 entries (stat,
// create, FICLONE, metadata, close) by a small pool of worker threads, so
// FICLONE ioctls and metadata work overlap across and within directories.
// Directories are opened from their parent's fd, never by a path. The walker
// keeps the deepest 32 levels open; a level that left that window is
// re-opened through ".." and checked (device and inode, on both sides)
// against what was recorded on the way down, and its listing resumes after
// the entry the walk went down into. Chunks waiting for a worker are bounded
// (2 per worker; beyond that the walker runs one itself), so open fds stay
// bounded independent of depth and width: 2 per window level and 2 per chunk
// in flight. A directory's own metadata (times) is applied by whoever
// finishes its last part, re-opening it from a child through ".." if
// needed.
//
// Memory: per directory on the walker's path (or with chunks in flight) one
// small record: its stat, its clone's inode and its own name, never its
// path. Per inode with several links, a file handle of its clone
// (name_to_handle_at) when the process may open handles (CAP_DAC_READ_SEARCH,
// as the daemon can); otherwise its path below dst, so without that
// capability a hardlink deeper than PATH_MAX fails with an error. Messages
// name src or dst and the last few components only. Per file the clone skips
// what would change nothing: chown/chmod when the new file already has the
// owner and mode, xattr reads when flistxattr finds none, FICLONE of empty
// files.
//
// The first error stops the clone and is returned naming the path; dst is
// left partial, the caller removes it. If src changes under the clone so that
// ".." no longer leads back the way the walk came, the clone fails (Internal)
// rather than read outside src or write outside dst.
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
  int workers = 3;  // threads cloning entries besides the walker; 0: none
};

struct CloneStats {
  int64_t dirs = 0;
  int64_t files = 0;      // regular file inodes
  int64_t cloned = 0;     // of those, data shared by FICLONE
  int64_t copied = 0;     // of those, data copied
  int64_t hardlinks = 0;  // extra names of an inode already cloned
  int64_t symlinks = 0;
  int64_t specials = 0;  // devices, fifos, sockets
  int64_t bytes = 0;     // logical size of regular files
  int64_t mounts = 0;    // mount points in src, skipped (not in the clone)
};

// REQUIRES: src is a directory; dst does not exist (its parent does). dst is
// created with src's metadata.
Result<CloneStats> CloneTree(const std::string& src, const std::string& dst,
                             const CloneOptions& opts = {});

}  // namespace strata

#endif  // STRATA_IO_CLONE_TREE_CLONE_H_
