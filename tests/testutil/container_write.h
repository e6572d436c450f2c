// WriteAsContainer: writes a file the way a container's process would,
// without CAP_SYS_RESOURCE (no container runtime grants it by default), which
// lets root exceed quota limits. A forked child drops the capability, writes
// `bytes` to `path` (created or truncated) and fsyncs it.
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
#include <vector>

namespace strata {

// 0, or the errno that stopped the write (or the sync); -1 if the child
// could not drop the capability.
inline int WriteAsContainer(const std::string& path, size_t bytes,
                            char fill = 'w') {
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
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) _exit(errno);
    std::vector<char> block(64 << 10, fill);
    while (bytes > 0) {
      ssize_t w = write(fd, block.data(), std::min(bytes, block.size()));
      if (w < 0) _exit(errno);
      bytes -= static_cast<size_t>(w);
    }
    // Delayed allocation may report the overrun only at writeback.
    if (fsync(fd) != 0) _exit(errno);
    _exit(0);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
    return -1;
  int code = WEXITSTATUS(status);
  return code == 255 ? -1 : code;
}

}  // namespace strata

#endif  // STRATA_TESTS_TESTUTIL_CONTAINER_WRITE_H_
