// Test helpers for hostile trees: very deep directory chains built and read
// with fds only (no path ever longer than one component), a decoy directory
// whose every byte and piece of metadata can be snapshotted and compared, bind
// mounts, an RLIMIT_NOFILE guard and dropping one capability of the calling
// thread (to make umount2 fail for real).
#ifndef STRATA_TESTS_TESTUTIL_HOSTILE_TREE_H_
#define STRATA_TESTS_TESTUTIL_HOSTILE_TREE_H_

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "io/fs/fs_util.h"

namespace strata::testing {

inline bool IsRoot() { return geteuid() == 0; }

// Entries in /proc/self/fd: the fds the process holds.
inline int CountOpenFds() {
  auto fds = ListDir("/proc/self/fd");
  return fds.ok() ? static_cast<int>(fds->size()) - 1 : -1;  // minus the
                                                             // listing's own
}

// Lowers RLIMIT_NOFILE's soft limit while alive.
class FdLimit {
 public:
  explicit FdLimit(rlim_t soft) {
    getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit r = saved_;
    r.rlim_cur = soft;
    setrlimit(RLIMIT_NOFILE, &r);
  }
  ~FdLimit() { setrlimit(RLIMIT_NOFILE, &saved_); }

 private:
  rlimit saved_{};
};

inline bool WriteAt(int dirfd, const char* name, const std::string& data,
                    mode_t mode = 0644) {
  int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return false;
  bool ok =
      write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  close(fd);
  return ok;
}

inline std::string ReadAt(int dirfd, const char* name) {
  int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return "<" + std::string(std::strerror(errno)) + ">";
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  close(fd);
  return out;
}

// Builds top/d/d/.../d (`depth` directories below top, which must not
// exist), a file "mid" in the directory at depth/2 and "bottom" (with content
// "bottom of <depth>") plus "bottom-link" (a hardlink of it) in the deepest
// one. Only one fd is open at a time. Returns false on failure.
inline bool MakeDeepChain(const std::string& top, int depth) {
  if (mkdir(top.c_str(), 0755) != 0) return false;
  int fd = open(top.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  for (int i = 1; i <= depth; ++i) {
    if (mkdirat(fd, "d", 0755) != 0) return close(fd), false;
    int next = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close(fd);
    if (next < 0) return false;
    fd = next;
    if (i == depth / 2 && !WriteAt(fd, "mid", "middle"))
      return close(fd), false;
  }
  bool ok = WriteAt(fd, "bottom", "bottom of " + std::to_string(depth)) &&
            linkat(fd, "bottom", fd, "bottom-link", 0) == 0;
  close(fd);
  return ok;
}

struct ChainInfo {
  int depth = 0;  // directories named "d" below top
  std::string mid, bottom;
  nlink_t bottom_links = 0;
};

// Reads back what MakeDeepChain built, with fds only.
inline ChainInfo ReadDeepChain(const std::string& top) {
  ChainInfo info;
  int fd = open(top.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return info;
  for (;;) {
    int next = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) break;
    close(fd);
    fd = next;
    info.depth++;
    struct stat st;
    if (fstatat(fd, "mid", &st, AT_SYMLINK_NOFOLLOW) == 0)
      info.mid = ReadAt(fd, "mid");
  }
  info.bottom = ReadAt(fd, "bottom");
  struct stat st;
  if (fstatat(fd, "bottom", &st, AT_SYMLINK_NOFOLLOW) == 0)
    info.bottom_links = st.st_nlink;
  close(fd);
  return info;
}

// Everything about one entry of a decoy that a careless walk could change.
inline bool BindMount(const std::string& src, const std::string& target) {
  return mount(src.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) == 0;
}

// True when some mount's mount point (in /proc/self/mountinfo) is path.
inline bool IsMountedAt(const std::string& path) {
  std::ifstream f("/proc/self/mountinfo");
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream ss(line);
    std::string id, parent, devno, root, point;
    ss >> id >> parent >> devno >> root >> point;
    if (point == path) return true;
  }
  return false;
}

// Removes one capability from the calling thread's effective set while alive
// (permitted keeps it, so it comes back). Threads started meanwhile inherit
// the reduced set.
class WithoutCapability {
 public:
  explicit WithoutCapability(int cap) {
    hdr_.version = _LINUX_CAPABILITY_VERSION_3;
    hdr_.pid = 0;
    if (syscall(SYS_capget, &hdr_, saved_) != 0) return;
    __user_cap_data_struct data[2];
    std::memcpy(data, saved_, sizeof(data));
    data[cap / 32].effective &= ~(1u << (cap % 32));
    ok_ = syscall(SYS_capset, &hdr_, data) == 0;
  }
  ~WithoutCapability() {
    if (ok_) syscall(SYS_capset, &hdr_, saved_);
  }
  bool ok() const { return ok_; }

 private:
  __user_cap_header_struct hdr_{};
  __user_cap_data_struct saved_[2]{};
  bool ok_ = false;
};

}  // namespace strata::testing

#endif  // STRATA_TESTS_TESTUTIL_HOSTILE_TREE_H_
