#include "io/fs/walk_util.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "io/base/errno.h"
#include "io/base/unique_fd.h"

namespace strata {
namespace {

void ToStat(const struct statx& x, struct stat* st) {
  *st = {};
  st->st_dev = makedev(x.stx_dev_major, x.stx_dev_minor);
  st->st_ino = x.stx_ino;
  st->st_mode = x.stx_mode;
  st->st_nlink = x.stx_nlink;
  st->st_uid = x.stx_uid;
  st->st_gid = x.stx_gid;
  st->st_rdev = makedev(x.stx_rdev_major, x.stx_rdev_minor);
  st->st_size = static_cast<off_t>(x.stx_size);
  st->st_blksize = x.stx_blksize;
  st->st_blocks = static_cast<blkcnt_t>(x.stx_blocks);
  st->st_atim = {x.stx_atime.tv_sec, x.stx_atime.tv_nsec};
  st->st_mtim = {x.stx_mtime.tv_sec, x.stx_mtime.tv_nsec};
  st->st_ctim = {x.stx_ctime.tv_sec, x.stx_ctime.tv_nsec};
}

}  // namespace

Status StatAt(int dirfd, const char* name, EntryStat* out) {
  struct statx x;
  int flags = AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_STATX_SYNC_AS_STAT;
  if (name[0] == '\0') flags |= AT_EMPTY_PATH;
  if (statx(dirfd, name, flags, STATX_BASIC_STATS | STATX_MNT_ID, &x) != 0) {
    return PosixError("stat", errno);
  }
  ToStat(x, &out->st);
  out->mnt_id = (x.stx_mask & STATX_MNT_ID) ? x.stx_mnt_id : 0;
  out->mount_root = (x.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
                    (x.stx_attributes & STATX_ATTR_MOUNT_ROOT);
  return Status::Ok();
}

bool IsMountPoint(const EntryStat& entry, const EntryStat& dir) {
  if (entry.mnt_id != 0 && dir.mnt_id != 0) return entry.mnt_id != dir.mnt_id;
  // Before Linux 5.8: the mount-root attribute (5.8 too) or, last, st_dev.
  return entry.mount_root || entry.st.st_dev != dir.st.st_dev;
}

Status DetachMount(int dirfd, const char* name, std::string_view what) {
  const std::string proc =
      "/proc/self/fd/" + std::to_string(dirfd) + "/" + name;
  EntryStat parent;
  STRATA_RETURN_IF_ERROR(StatAt(dirfd, "", &parent).WithContext(what));
  // Mounts can be stacked on one name; each umount2 takes off the top one.
  // The bound only stops a loop against someone mounting as fast as we
  // detach.
  for (int i = 0; i < 64; ++i) {
    EntryStat e;
    Status s = StatAt(dirfd, name, &e);
    if (s.code() == Code::kNotFound) return Status::Ok();
    STRATA_RETURN_IF_ERROR(std::move(s).WithContext(what));
    if (!IsMountPoint(e, parent)) return Status::Ok();
    if (umount2(proc.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0) {
      return PosixError("detach the mount on " + std::string(what), errno);
    }
  }
  return Internal("detach the mount on " + std::string(what) +
                  ": still mounted after 64 detaches");
}

UniqueDir OpenDirAt(int dirfd, const char* name) {
  int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return UniqueDir();
  DIR* d = fdopendir(fd);
  if (d == nullptr) {
    int err = errno;
    ::close(fd);
    errno = err;
  }
  return UniqueDir(d);
}

}  // namespace strata
