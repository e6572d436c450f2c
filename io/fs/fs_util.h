// Small filesystem helpers over POSIX: recursive removal, directory fsync,
// mkdir -p and disk-usage walks.
//
// Nothing here knows about snapshots. All functions are thread-compatible:
// they touch only the paths given.
#ifndef STRATA_IO_FS_FS_UTIL_H_
#define STRATA_IO_FS_FS_UTIL_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "io/base/result.h"
#include "io/base/status.h"
#include "io/base/unique_fd.h"

namespace strata {

// Identifies an inode, to visit each hardlinked file once.
struct InodeKey {
  dev_t dev;
  ino_t ino;
  bool operator<(const InodeKey& o) const {
    return dev != o.dev ? dev < o.dev : ino < o.ino;
  }
};

// Removes path and everything below it without following symlinks, at any
// depth (tree_walk.h). A missing path is OK. A mount point below path is
// detached, never emptied.
Status RemoveAll(const std::string& path);

// fsync(2) of a directory, making renames and creations inside it durable.
Status SyncDir(const std::string& path);

// syncfs(2) of the filesystem holding `fd` (an O_PATH descriptor too: it is
// reopened through /proc, since syncfs refuses one): every dirty page and
// entry on that filesystem reaches the disk.
Status SyncFs(int fd);

// mkdir -p with the given mode for created components.
Status MakeDirs(const std::string& path, unsigned mode = 0755);

// What content sharing checks a stored file against (content_share.h): a
// regular file's size, inode number, inode generation (FS_IOC_GETVERSION: a
// reused inode number gets a new one; 0 where the filesystem has none) and
// ctime in ns (every write, truncate, chmod, link or xattr change moves it).
struct FileIdentity {
  int64_t size = 0;
  uint64_t ino = 0;
  uint64_t generation = 0;
  int64_t ctime_ns = 0;
  bool operator==(const FileIdentity&) const = default;
};
// A regular file's content (raw SHA-256 digest) at a clean path of the tree
// that holds it, with the file's identity when the digest was taken: the
// content index's unit (snapshotter/meta/content_index.h).
struct DigestedFile {
  std::string digest;
  std::string path;
  FileIdentity id;
  std::string handle;  // FileHandleOf the file; "" where there is none
};

// The identity of the regular file open at fd (not O_PATH);
// FailedPrecondition for anything else.
Result<FileIdentity> IdentityOf(int fd);

// The file handle of fd's inode (name_to_handle_at with AT_EMPTY_PATH): its
// type (4 bytes, native order), then its bytes. "" where the filesystem has
// none. A handle names one inode for its whole life (XFS, ext4 and btrfs put
// the generation in it): once the inode is freed it opens nothing.
std::string FileHandleOf(int fd);
// The same for entry `name` of the directory open at dirfd, not following a
// symlink there.
std::string FileHandleAt(int dirfd, const char* name);

// Opens for reading the regular file `handle` (FileHandleOf) names on
// mount_fd's filesystem, without any path lookup: ESTALE once that inode is
// gone. O_PATH first, so a handle naming anything but a regular file never
// opens it for real. mount_fd: any descriptor on that filesystem but an
// O_PATH one. Needs CAP_DAC_READ_SEARCH.
Result<UniqueFd> OpenFileHandle(int mount_fd, std::string_view handle);

// The names in `dir` (without . and ..), unsorted; a missing dir has none.
// For the Strata root's own small directories, not for archive trees.
Result<std::vector<std::string>> ListDir(const std::string& dir);

struct DiskUsage {
  int64_t bytes = 0;   // allocated bytes (st_blocks * 512), each inode once
  int64_t inodes = 0;  // distinct inodes, the root directory included
};

enum class UsageMode {
  kAllocated,         // st_blocks * 512 for every inode (du)
  kExclusiveExtents,  // regular files: FIEMAP extents without the SHARED flag,
                      // plus every inode's own metadata (InodeOverhead)
};

// Walks path like containerd's fs.DiskUsage: counts every distinct inode once
// (hardlinks included once) with its allocated size. Does not cross into other
// mounts, at any depth (tree_walk.h). With kExclusiveExtents a regular file
// counts only the bytes of its extents not shared with another file (reflink
// clones, btrfs/XFS), and every inode adds what it costs even when its data is
// shared: the on-disk inode (InodeOverhead) and, for a directory whose entries
// live inside its inode or the metadata tree (XFS short form, btrfs: st_blocks
// == 0), its st_size. So a fresh clone of a tree measures its directories and
// inodes, not its data, and 50 clones of one image cost 50 x that, not 50 x the
// data.
//
// max_inodes bounds the walk: past that many inodes it stops and returns
// ResourceExhausted (a caller answering inline hands bigger trees to a
// thread that may block).
inline constexpr int64_t kNoInodeLimit = INT64_MAX;
Result<DiskUsage> MeasureDiskUsage(const std::string& path,
                                   UsageMode mode = UsageMode::kAllocated,
                                   int64_t max_inodes = kNoInodeLimit);

// Bytes one inode occupies on fd's filesystem besides its data and directory
// blocks: the inode size XFS reports (XFS_IOC_FSGEOMETRY_V1, 512 by default on
// v5), sizeof(btrfs_inode_item) on btrfs, 256 (ext4's default) elsewhere.
int64_t InodeOverhead(int fd);

// Bytes of fd's extents without FIEMAP_EXTENT_SHARED (delayed-allocation
// extents count: they are the file's own new data). Unimplemented where the
// filesystem has no FIEMAP.
Result<int64_t> ExclusiveBytes(int fd);

// One FIEMAP extent of a file. `located` is false where the extent has no
// stable physical address yet or at all (delayed allocation, inline or
// encoded data, FIEMAP_EXTENT_UNKNOWN): such bytes are the file's own.
struct FileExtent {
  uint64_t logical = 0;
  uint64_t physical = 0;
  uint64_t length = 0;
  bool shared = false;  // FIEMAP_EXTENT_SHARED: another file maps it too
  bool located = true;
};

// Calls fn for each extent of the file open at fd, in logical order, fetched
// in batches (memory stays bounded whatever the file). Unimplemented where
// the filesystem has no FIEMAP.
Status ForEachExtent(int fd, const std::function<void(const FileExtent&)>& fn);

}  // namespace strata

#endif  // STRATA_IO_FS_FS_UTIL_H_
