#include "io/fs/path_fd.h"

#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>

#include "io/base/errno.h"

namespace strata {

std::string FdPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

Result<UniqueFd> OpenNoFollow(int dirfd, const std::string& name,
                              struct stat* st) {
  UniqueFd fd(openat(dirfd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return PosixError("open", errno);
  if (fstat(fd.get(), st) != 0) return PosixError("stat", errno);
  return fd;
}

Status ChownFd(int fd, uid_t uid, gid_t gid) {
  if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
    return PosixError("chown", errno);
  }
  return Status::Ok();
}

Status ChmodFd(int fd, mode_t mode) {
  if (chmod(FdPath(fd).c_str(), mode) != 0) return PosixError("chmod", errno);
  return Status::Ok();
}

Status SetXattrFd(int fd, const std::string& name, const std::string& value) {
  if (setxattr(FdPath(fd).c_str(), name.c_str(), value.data(), value.size(),
               0) != 0) {
    return PosixError("set xattr " + name, errno);
  }
  return Status::Ok();
}

Status SetTimesFd(int fd, const timespec times[2]) {
  if (utimensat(fd, "", times, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
    return PosixError("set times", errno);
  }
  return Status::Ok();
}

}  // namespace strata
