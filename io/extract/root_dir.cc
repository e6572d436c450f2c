#include "io/extract/root_dir.h"

#include <fcntl.h>
#include <linux/openat2.h>
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

}  // namespace

Result<std::string> CleanArchivePath(std::string_view path) {
  if (path.size() > kMaxPath) {
    return InvalidArgument("path of " + std::to_string(path.size()) + " bytes is too long");
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

Result<RootDir> RootDir::Open(const std::string& root) {
  int fd = open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return PosixError("open layer root " + root, errno);
  return RootDir(std::make_shared<UniqueFd>(fd));
}

Result<SharedFd> RootDir::OpenDir(const std::string& rel) {
  if (rel.empty()) return root_;
  for (auto it = cache_.rbegin(); it != cache_.rend(); ++it) {
    if (it->first == rel) return it->second;
  }
  int fd = Openat2(root_->get(), rel.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC,
                   RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV);
  if (fd < 0) {
    int err = errno;
    if (err == ENOTDIR) return FailedPrecondition("\"" + rel + "\" is not a directory");
    if (err == ENOSYS) return Unimplemented("openat2 is not supported by this kernel");
    return PosixError("open directory \"" + rel + "\" in layer", err);
  }
  auto shared = std::make_shared<UniqueFd>(fd);
  if (cache_.size() == kCacheSize) cache_.erase(cache_.begin());
  cache_.emplace_back(rel, shared);
  return shared;
}

}  // namespace strata
