// Small filesystem helpers over POSIX: recursive removal, directory fsync,
// mkdir -p and disk-usage walks.
//
// Nothing here knows about snapshots. All functions are thread-compatible:
// they touch only the paths given.
#ifndef STRATA_IO_FS_FS_UTIL_H_
#define STRATA_IO_FS_FS_UTIL_H_

#include <cstdint>
#include <string>

#include "io/base/result.h"
#include "io/base/status.h"

namespace strata {

// Removes path and everything below it without following symlinks. A missing
// path is OK. Mount points below path are not crossed (EXDEV-safe: unlinkat on
// a busy mount fails with EBUSY, which is returned).
Status RemoveAll(const std::string& path);

// fsync(2) of a directory, making renames and creations inside it durable.
Status SyncDir(const std::string& path);

// mkdir -p with the given mode for created components.
Status MakeDirs(const std::string& path, unsigned mode = 0755);

struct DiskUsage {
  int64_t bytes = 0;   // allocated bytes (st_blocks * 512), each inode once
  int64_t inodes = 0;  // distinct inodes, the root directory included
};

enum class UsageMode {
  kAllocated,         // st_blocks * 512 for every inode (du)
  kExclusiveExtents,  // regular files: FIEMAP extents without the SHARED flag
};

// Walks path like containerd's fs.DiskUsage: counts every distinct inode once
// (hardlinks included once) with its allocated size. Does not cross into other
// filesystems. With kExclusiveExtents a regular file counts only the bytes of
// its extents not shared with another file (reflink clones, btrfs/XFS), so a
// fresh clone of a tree measures its directories and inodes, not its data.
Result<DiskUsage> MeasureDiskUsage(const std::string& path,
                                   UsageMode mode = UsageMode::kAllocated);

// Bytes of fd's extents without FIEMAP_EXTENT_SHARED (delayed-allocation
// extents count: they are the file's own new data). Unimplemented where the
// filesystem has no FIEMAP.
Result<int64_t> ExclusiveBytes(int fd);

}  // namespace strata

#endif  // STRATA_IO_FS_FS_UTIL_H_
