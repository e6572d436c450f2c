#include "io/fs/fs_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/btrfs_tree.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <utility>
#include <vector>

#include "io/base/errno.h"
#include "io/base/unique_dir.h"
#include "io/base/unique_fd.h"
#include "io/fs/tree_walk.h"

namespace strata {
namespace {

// XFS's struct xfs_fsop_geom_v1 (xfs_fs.h, not shipped with the kernel's
// uapi headers; only the leading fields are read).
struct XfsGeometryV1 {
  uint32_t blocksize, rtextsize, agblocks, agcount, logblocks, sectsize,
      inodesize, imaxpct;
  uint64_t datablocks, rtblocks, rtextents, logstart;
  unsigned char uuid[16];
  uint32_t sunit, swidth;
  int32_t version;
  uint32_t flags, logsectsize, rtsectsize, dirblocksize;
};
static_assert(sizeof(XfsGeometryV1) == 112, "xfs_fsop_geom_v1 layout");
constexpr unsigned long kXfsIocFsGeometryV1 = _IOR('X', 100, XfsGeometryV1);

// What one inode of `st` costs besides shared data (see UsageMode).
int64_t InodeCost(const struct stat& st, int64_t overhead) {
  int64_t cost = overhead;
  if (S_ISDIR(st.st_mode) && st.st_blocks == 0) cost += st.st_size;
  return cost;
}

}  // namespace

Status RemoveAll(const std::string& path) {
  if (unlink(path.c_str()) == 0) return Status::Ok();
  if (errno == ENOENT) return Status::Ok();
  if (errno != EISDIR && errno != EPERM)
    return PosixError("unlink " + path, errno);
  UniqueFd fd(
      open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return Status::Ok();
    return PosixError("open " + path, errno);
  }
  STRATA_RETURN_IF_ERROR(RemoveTree(fd.get()).WithContext("remove " + path));
  fd.reset();
  if (rmdir(path.c_str()) != 0 && errno != ENOENT) {
    return PosixError("rmdir " + path, errno);
  }
  return Status::Ok();
}

Status SyncDir(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return PosixError("open " + path, errno);
  if (fsync(fd.get()) != 0) return PosixError("fsync " + path, errno);
  return Status::Ok();
}

Status SyncFs(int fd) {
  if (syncfs(fd) == 0) return Status::Ok();
  if (errno != EBADF) return PosixError("syncfs", errno);
  UniqueFd reopened(open(("/proc/self/fd/" + std::to_string(fd)).c_str(),
                         O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!reopened.valid()) return PosixError("reopen for syncfs", errno);
  if (syncfs(reopened.get()) != 0) return PosixError("syncfs", errno);
  return Status::Ok();
}

Result<FileIdentity> IdentityOf(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return PosixError("stat", errno);
  if (!S_ISREG(st.st_mode)) return FailedPrecondition("not a regular file");
  FileIdentity id;
  id.size = st.st_size;
  id.ino = st.st_ino;
  id.ctime_ns = st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
  int gen = 0;
  if (ioctl(fd, FS_IOC_GETVERSION, &gen) == 0)
    id.generation = static_cast<uint32_t>(gen);
  return id;
}

std::string FileHandleOf(int fd) { return FileHandleAt(fd, ""); }

std::string FileHandleAt(int dirfd, const char* name) {
  union {
    file_handle fh;
    char bytes[sizeof(file_handle) + MAX_HANDLE_SZ];
  } h;
  h.fh.handle_bytes = MAX_HANDLE_SZ;
  int mount_id = 0;
  if (name_to_handle_at(dirfd, name, &h.fh, &mount_id,
                        name[0] == '\0' ? AT_EMPTY_PATH : 0) != 0) {
    return "";
  }
  std::string out(sizeof(int32_t), '\0');
  std::memcpy(out.data(), &h.fh.handle_type, sizeof(int32_t));
  out.append(reinterpret_cast<const char*>(h.fh.f_handle), h.fh.handle_bytes);
  return out;
}

Result<UniqueFd> OpenFileHandle(int mount_fd, std::string_view handle) {
  if (handle.size() <= sizeof(int32_t) ||
      handle.size() - sizeof(int32_t) > MAX_HANDLE_SZ) {
    return InvalidArgument("bad file handle");
  }
  union {
    file_handle fh;
    char bytes[sizeof(file_handle) + MAX_HANDLE_SZ];
  } h;
  h.fh.handle_bytes = static_cast<unsigned>(handle.size() - sizeof(int32_t));
  std::memcpy(&h.fh.handle_type, handle.data(), sizeof(int32_t));
  std::memcpy(h.fh.f_handle, handle.data() + sizeof(int32_t),
              h.fh.handle_bytes);
  UniqueFd path(open_by_handle_at(mount_fd, &h.fh, O_PATH | O_CLOEXEC));
  if (!path.valid()) return PosixError("open by handle", errno);
  struct stat st;
  if (fstat(path.get(), &st) != 0) return PosixError("stat", errno);
  if (!S_ISREG(st.st_mode)) return FailedPrecondition("not a regular file");
  UniqueFd fd(
      open_by_handle_at(mount_fd, &h.fh, O_RDONLY | O_NOCTTY | O_CLOEXEC));
  if (!fd.valid()) return PosixError("open by handle", errno);
  return fd;
}

Result<std::vector<std::string>> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  UniqueDir d(opendir(dir.c_str()));
  if (!d.valid()) {
    if (errno == ENOENT) return names;
    return PosixError("opendir " + dir, errno);
  }
  errno = 0;
  while (dirent* e = readdir(d.get())) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
    errno = 0;
  }
  if (errno != 0) return PosixError("readdir " + dir, errno);
  return names;
}

Status MakeDirs(const std::string& path, unsigned mode) {
  if (path.empty()) return InvalidArgument("mkdir: empty path");
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty()) continue;
    if (mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) {
      return PosixError("mkdir " + cur, errno);
    }
  }
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return PosixError("stat " + path, errno);
  if (!S_ISDIR(st.st_mode))
    return FailedPrecondition(path + " is not a directory");
  return Status::Ok();
}

int64_t InodeOverhead(int fd) {
  struct statfs sf;
  if (fstatfs(fd, &sf) == 0) {
    if (sf.f_type == XFS_SUPER_MAGIC) {
      XfsGeometryV1 geo{};
      if (ioctl(fd, kXfsIocFsGeometryV1, &geo) == 0 && geo.inodesize > 0)
        return geo.inodesize;
      return 512;
    }
    if (sf.f_type == BTRFS_SUPER_MAGIC) return sizeof(btrfs_inode_item);
  }
  return 256;
}

Status ForEachExtent(int fd, const std::function<void(const FileExtent&)>& fn) {
  // Fetch extents in batches; the kernel fills fm_mapped_extents each call.
  constexpr unsigned kBatch = 128;
  std::vector<char> buf(sizeof(fiemap) + kBatch * sizeof(fiemap_extent));
  auto* fm = reinterpret_cast<fiemap*>(buf.data());
  constexpr uint32_t kUnlocated =
      FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC |
      FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_DATA_TAIL |
      FIEMAP_EXTENT_ENCODED;
  uint64_t start = 0;
  for (;;) {
    std::memset(buf.data(), 0, buf.size());
    fm->fm_start = start;
    fm->fm_length = FIEMAP_MAX_OFFSET - start;
    fm->fm_extent_count = kBatch;
    if (ioctl(fd, FS_IOC_FIEMAP, fm) != 0) return PosixError("FIEMAP", errno);
    if (fm->fm_mapped_extents == 0) break;
    bool last = false;
    for (unsigned i = 0; i < fm->fm_mapped_extents; ++i) {
      const fiemap_extent& e = fm->fm_extents[i];
      fn(FileExtent{.logical = e.fe_logical,
                    .physical = e.fe_physical,
                    .length = e.fe_length,
                    .shared = (e.fe_flags & FIEMAP_EXTENT_SHARED) != 0,
                    .located = (e.fe_flags & kUnlocated) == 0});
      start = e.fe_logical + e.fe_length;
      if (e.fe_flags & FIEMAP_EXTENT_LAST) last = true;
    }
    if (last || fm->fm_mapped_extents < kBatch) break;
  }
  return Status::Ok();
}

Result<int64_t> ExclusiveBytes(int fd) {
  int64_t exclusive = 0;
  STRATA_RETURN_IF_ERROR(ForEachExtent(fd, [&](const FileExtent& e) {
    if (!e.shared) exclusive += static_cast<int64_t>(e.length);
  }));
  return exclusive;
}

Result<DiskUsage> MeasureDiskUsage(const std::string& path, UsageMode mode,
                                   int64_t max_inodes) {
  UniqueFd fd(
      open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return PosixError("open " + path, errno);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return PosixError("stat " + path, errno);
  DiskUsage usage;
  usage.inodes = 1;
  usage.bytes = static_cast<int64_t>(st.st_blocks) * 512;
  int64_t overhead = 0;
  if (mode == UsageMode::kExclusiveExtents) {
    overhead = InodeOverhead(fd.get());
    usage.bytes += InodeCost(st, overhead);
  }
  // Only inodes with other names can come again: the set stays small.
  std::set<InodeKey> seen;
  Status s = WalkTree(
      fd.get(), [&](int dir, const char* name, const struct stat& e) -> Status {
        if (!S_ISDIR(e.st_mode) && e.st_nlink > 1 &&
            !seen.insert({e.st_dev, e.st_ino}).second) {
          return Status::Ok();
        }
        if (++usage.inodes > max_inodes) {
          return ResourceExhausted("more than " + std::to_string(max_inodes) +
                                   " inodes");
        }
        if (mode == UsageMode::kExclusiveExtents)
          usage.bytes += InodeCost(e, overhead);
        if (mode == UsageMode::kExclusiveExtents && S_ISREG(e.st_mode) &&
            e.st_size > 0) {
          UniqueFd f(openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
          if (!f.valid()) {
            if (errno == ENOENT) return Status::Ok();
            return PosixError(std::string("open \"") + name + "\"", errno);
          }
          STRATA_ASSIGN_OR_RETURN(int64_t bytes, ExclusiveBytes(f.get()));
          usage.bytes += bytes;
        } else {
          usage.bytes += static_cast<int64_t>(e.st_blocks) * 512;
        }
        return Status::Ok();
      });
  if (!s.ok()) return s.WithContext("measure " + path);
  return usage;
}

}  // namespace strata
