#include "io/diff/entry_read.h"

#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "io/base/errno.h"

namespace strata {

// A path short enough for an error message (gRPC metadata is bounded).
std::string ShownPath(std::string_view path) {
  if (path.size() <= 160) return "/" + std::string(path);
  return "/..." + std::string(path.substr(path.size() - 160));
}

Result<bool> XattrAt(int dirfd, const char* name, const char* key,
                     std::string* value) {
  std::string proc = "/proc/self/fd/" + std::to_string(dirfd) + "/" + name;
  char buf[4096];
  ssize_t n = lgetxattr(proc.c_str(), key, buf, sizeof(buf));
  if (n >= 0) {
    if (value != nullptr) value->assign(buf, static_cast<size_t>(n));
    return true;
  }
  if (errno == ENODATA || errno == ENOTSUP || errno == EOPNOTSUPP) return false;
  return PosixError(std::string("read xattr ") + key, errno);
}

Result<bool> XattrFd(int fd, const char* key, std::string* value) {
  char buf[4096];
  ssize_t n = fgetxattr(fd, key, buf, sizeof(buf));
  if (n >= 0) {
    if (value != nullptr) value->assign(buf, static_cast<size_t>(n));
    return true;
  }
  if (errno == ENODATA || errno == ENOTSUP || errno == EOPNOTSUPP) return false;
  return PosixError(std::string("read xattr ") + key, errno);
}

Status ChangedWhileRead(std::string_view path) {
  return FailedPrecondition(ShownPath(path) + " changed while compared; retry");
}

// dirfd/name as a directory, checked to be the inode `want` listed.
Result<UniqueFd> OpenDirChecked(int dirfd, const char* name,
                                const struct stat& want,
                                std::string_view path) {
  UniqueFd fd(
      openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
      return ChangedWhileRead(path);
    return PosixError("open " + ShownPath(path), errno);
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0)
    return PosixError("stat " + ShownPath(path), errno);
  if (st.st_ino != want.st_ino || st.st_dev != want.st_dev)
    return ChangedWhileRead(path);
  return fd;
}

// dirfd/name as a regular file for reading, checked against `want`.
Result<UniqueFd> OpenFileChecked(int dirfd, const char* name,
                                 const struct stat& want,
                                 std::string_view path) {
  UniqueFd fd(
      openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT || errno == ELOOP) return ChangedWhileRead(path);
    return PosixError("open " + ShownPath(path), errno);
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0)
    return PosixError("stat " + ShownPath(path), errno);
  if (st.st_ino != want.st_ino || st.st_dev != want.st_dev ||
      !S_ISREG(st.st_mode)) {
    return ChangedWhileRead(path);
  }
  return fd;
}

}  // namespace strata
