#include "snapshotter/daemon/root_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "io/base/errno.h"
#include "io/fs/fs_util.h"

namespace strata {

Result<RootLock> RootLock::Acquire(const std::string& lock_file) {
  UniqueFd fd(open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) return PosixError("open lock file " + lock_file, errno);
  if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return PosixError("lock " + lock_file, errno);
    char buf[32] = {};
    ssize_t n = pread(fd.get(), buf, sizeof(buf) - 1, 0);
    std::string holder = n > 0 ? std::string(buf, n) : "unknown";
    while (!holder.empty() && (holder.back() == '\n')) holder.pop_back();
    return Unavailable("root is in use by another strata-snapshotter (pid " +
                       holder + ", lock " + lock_file + ")");
  }
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd.get(), 0) != 0 ||
      pwrite(fd.get(), pid.data(), pid.size(), 0) < 0) {
    return PosixError("write lock file " + lock_file, errno);
  }
  return RootLock(std::move(fd));
}

Status ClaimSocketPath(const std::string& path) {
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgument("socket path \"" + path + "\" must be 1.." +
                           std::to_string(sizeof(addr.sun_path) - 1) +
                           " bytes");
  }
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    STRATA_RETURN_IF_ERROR(MakeDirs(path.substr(0, slash), 0711));
  }
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return PosixError("stat " + path, errno);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return FailedPrecondition(
        path + " exists and is not a socket; refusing to replace it");
  }
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return PosixError("socket", errno);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) ==
      0) {
    return Unavailable("another server is already listening on " + path);
  }
  if (errno != ECONNREFUSED && errno != ENOENT) {
    return PosixError("probe " + path, errno);
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return PosixError("remove stale socket " + path, errno);
  }
  return Status::Ok();
}

}  // namespace strata
