#include "io/fs/root_dir.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "io/base/errno.h"

namespace strata {
namespace {

constexpr size_t kMaxPath = 4096;
constexpr size_t kCacheSize = 8;

int Openat2(int dirfd, const char* path, uint64_t flags, uint64_t resolve) {
  open_how how{};
  how.flags = flags;
  how.resolve = resolve;
  return static_cast<int>(syscall(SYS_openat2, dirfd, path, &how, sizeof(how)));
}

// Beneath dirfd, through no symlink and no mount: a recorded path.
constexpr uint64_t kNoSymlinksBeneath = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
                                        RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;

// The kernel's name for fd ("" when it has none that fits).
std::string ReadFdLink(int fd) {
  std::string link = "/proc/self/fd/" + std::to_string(fd);
  char buf[kMaxPath];
  ssize_t n = readlink(link.c_str(), buf, sizeof(buf));
  if (n <= 0 || static_cast<size_t>(n) >= sizeof(buf)) return "";
  std::string out(buf, static_cast<size_t>(n));
  // An unlinked directory reads "<path> (deleted)": never a path to trust.
  if (out.empty() || out[0] != '/' || out.ends_with(" (deleted)")) return "";
  return out;
}

}  // namespace

Result<std::string> CleanArchivePath(std::string_view path) {
  if (path.size() > kMaxPath) {
    return InvalidArgument("path of " + std::to_string(path.size()) +
                           " bytes is too long");
  }
  if (path.find('\0') != std::string_view::npos) {
    return InvalidArgument("path contains a NUL byte");
  }
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(pos, slash - pos);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();  // never above the root
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    pos = slash + 1;
  }
  std::string out;
  for (std::string_view p : parts) {
    if (!out.empty()) out.push_back('/');
    out.append(p);
  }
  return out;
}

std::pair<std::string, std::string> SplitPath(const std::string& clean) {
  size_t slash = clean.rfind('/');
  if (slash == std::string::npos) return {"", clean};
  return {clean.substr(0, slash), clean.substr(slash + 1)};
}

Result<RootDir> RootDir::Open(int root) {
  int fd = fcntl(root, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return PosixError("dup layer root", errno);
  auto shared = std::make_shared<UniqueFd>(fd);
  struct stat st;
  if (fstat(fd, &st) != 0) return PosixError("stat layer root", errno);
  if (!S_ISDIR(st.st_mode))
    return FailedPrecondition("the layer root is not a directory");
  std::string real = ReadFdLink(fd);
  return RootDir(std::move(shared), std::move(real));
}

bool RootDir::Canonical(int dir, std::string* out) const {
  if (real_.empty()) return false;
  std::string p = ReadFdLink(dir);
  if (p == real_) {
    out->clear();
    return true;
  }
  // "/" as the root gives "/x"; any other root "<root>/x".
  std::string prefix = real_ == "/" ? "/" : real_ + "/";
  if (p.size() <= prefix.size() || p.compare(0, prefix.size(), prefix) != 0)
    return false;
  *out = p.substr(prefix.size());
  return true;
}

Result<ResolvedDir> RootDir::OpenDir(const std::string& rel) {
  if (rel.empty()) return ResolvedDir{root_, "", false, true};
  for (auto it = cache_.rbegin(); it != cache_.rend(); ++it) {
    if (it->first == rel) return it->second;
  }
  // Without symlinks first: the common case, and it proves rel canonical.
  constexpr uint64_t kBase =
      RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  constexpr uint64_t kFlags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  ResolvedDir d;
  int fd =
      Openat2(root_->get(), rel.c_str(), kFlags, kBase | RESOLVE_NO_SYMLINKS);
  if (fd < 0 && errno == ELOOP) {
    d.aliased = true;
    fd = Openat2(root_->get(), rel.c_str(), kFlags, kBase);
  }
  if (fd < 0) {
    int err = errno;
    if (err == ENOTDIR)
      return FailedPrecondition("\"" + rel + "\" is not a directory");
    if (err == ENOSYS)
      return Unimplemented("openat2 is not supported by this kernel");
    return PosixError("open directory \"" + rel + "\" in layer", err);
  }
  d.fd = std::make_shared<UniqueFd>(fd);
  // Unknown: keep the archive's path, which still resolves to it.
  d.known = !d.aliased || Canonical(fd, &d.path);
  if (!d.known || !d.aliased) d.path = rel;
  if (cache_.size() == kCacheSize) cache_.erase(cache_.begin());
  cache_.emplace_back(rel, d);
  return d;
}

Result<UniqueFd> OpenFileNoSymlinks(int dirfd, const std::string& rel) {
  // O_PATH first: a device or FIFO at rel is never opened for real (an
  // open can have side effects a tree's author chose).
  int pfd = Openat2(dirfd, rel.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC,
                    kNoSymlinksBeneath);
  if (pfd < 0) return PosixError("open", errno);
  UniqueFd path(pfd);
  struct stat st;
  if (fstat(pfd, &st) != 0) return PosixError("stat", errno);
  if (!S_ISREG(st.st_mode)) return FailedPrecondition("not a regular file");
  UniqueFd out(open(("/proc/self/fd/" + std::to_string(pfd)).c_str(),
                    O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!out.valid()) return PosixError("reopen", errno);
  struct stat again;
  if (fstat(out.get(), &again) != 0 || again.st_ino != st.st_ino ||
      again.st_dev != st.st_dev) {
    return FailedPrecondition("changed while opened");
  }
  return out;
}

Result<UniqueFd> OpenDirNoSymlinks(int dirfd, const std::string& rel) {
  int fd = Openat2(dirfd, rel.empty() ? "." : rel.c_str(),
                   O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
                   kNoSymlinksBeneath);
  if (fd < 0) return PosixError("open", errno);
  return UniqueFd(fd);
}

}  // namespace strata
