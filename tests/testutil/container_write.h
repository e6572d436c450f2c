// WriteAsContainer: writes a file the way a container's process would,
// without CAP_SYS_RESOURCE (no container runtime grants it by default), which
// lets root exceed quota limits. A forked child drops the capability, writes
// `bytes` to `path` (created or truncated) and fsyncs it; WriteFilesAsContainer
// writes many files in one child.
#ifndef STRATA_TESTS_TESTUTIL_CONTAINER_WRITE_H_
#define STRATA_TESTS_TESTUTIL_CONTAINER_WRITE_H_

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <utility>
#include <vector>

namespace strata {

// Runs `body` (returning 0 or an errno) in a forked child that has dropped
// CAP_SYS_RESOURCE; its result, or -1 if the child could not drop it.
template <typename Body>
int RunAsContainer(Body&& body) {
  pid_t pid = fork();
  if (pid == 0) {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    if (syscall(SYS_capget, &hdr, data) != 0) _exit(255);
    const int word = CAP_SYS_RESOURCE / 32;
    const unsigned bit = 1u << (CAP_SYS_RESOURCE % 32);
    data[word].effective &= ~bit;
    data[word].permitted &= ~bit;
    data[word].inheritable &= ~bit;
    if (syscall(SYS_capset, &hdr, data) != 0) _exit(255);
    _exit(body());
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
    return -1;
  int code = WEXITSTATUS(status);
  return code == 255 ? -1 : code;
}

// Writes `bytes` of `fill` to `path` (created or truncated); 0 or the errno.
// `sync`: fsync it, since delayed allocation may report an overrun only at
// writeback.
inline int WriteFileBytes(const std::string& path, size_t bytes, char fill,
                          bool sync) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  std::vector<char> block(std::min<size_t>(bytes, 64 << 10), fill);
  int err = 0;
  while (bytes > 0 && err == 0) {
    ssize_t w = write(fd, block.data(), std::min(bytes, block.size()));
    if (w < 0)
      err = errno;
    else
      bytes -= static_cast<size_t>(w);
  }
  if (err == 0 && sync && fsync(fd) != 0) err = errno;
  close(fd);
  return err;
}

// 0, or the errno that stopped the write (or the sync); -1 if the child
// could not drop the capability.
inline int WriteAsContainer(const std::string& path, size_t bytes,
                            char fill = 'w') {
  return RunAsContainer(
      [&] { return WriteFileBytes(path, bytes, fill, true); });
}

// Many files (path, bytes) in one child, then one syncfs: a fork and an fsync
// per file cost seconds for hundreds of files under an emulated CPU.
inline int WriteFilesAsContainer(
    const std::vector<std::pair<std::string, size_t>>& files) {
  return RunAsContainer([&] {
    for (const auto& [path, bytes] : files) {
      if (int err = WriteFileBytes(path, bytes, 'w', false)) return err;
    }
    if (files.empty()) return 0;
    int fd = open(files.front().first.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    int err = syncfs(fd) == 0 ? 0 : errno;
    close(fd);
    return err;
  });
}

}  // namespace strata

#endif  // STRATA_TESTS_TESTUTIL_CONTAINER_WRITE_H_
