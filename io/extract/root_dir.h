// Safe path handling for extraction "as if in a chroot".
//
// CleanArchivePath turns an archive path into a path relative to the layer
// root: a leading '/' is dropped and "." / ".." are resolved lexically as if
// the root were "/" (so ".." never climbs out). RootDir then opens directories
// with openat2(RESOLVE_IN_ROOT): symlinks met on the way resolve inside the
// root, as they would in a chroot, so an archive that plants `a -> /etc` and
// then writes `a/passwd` writes <root>/etc/passwd. Every final component is
// then handled with *at() calls that never follow it.
//
// Thread-safety: RootDir is used by one extraction at a time.
#ifndef STRATA_IO_EXTRACT_ROOT_DIR_H_
#define STRATA_IO_EXTRACT_ROOT_DIR_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/base/result.h"
#include "io/base/unique_fd.h"

namespace strata {

// "" is the root itself. InvalidArgument for NUL bytes or over-long paths.
Result<std::string> CleanArchivePath(std::string_view path);

// Splits a clean path into (parent dir, base name); parent "" is the root.
std::pair<std::string, std::string> SplitPath(const std::string& clean);

using SharedFd = std::shared_ptr<UniqueFd>;

class RootDir {
 public:
  // Opens root (which must be a directory) for resolution.
  static Result<RootDir> Open(const std::string& root);

  int fd() const { return root_->get(); }

  // An O_PATH descriptor of directory `rel` (a clean path) resolved inside the
  // root; "" is the root. A few recent answers are cached; Invalidate() drops
  // them after anything was removed or replaced. NotFound if it is missing,
  // FailedPrecondition if it is not a directory.
  Result<SharedFd> OpenDir(const std::string& rel);
  void Invalidate() { cache_.clear(); }

 private:
  explicit RootDir(SharedFd root) : root_(std::move(root)) {}
  SharedFd root_;
  std::vector<std::pair<std::string, SharedFd>> cache_;  // most recent last
};

}  // namespace strata

#endif  // STRATA_IO_EXTRACT_ROOT_DIR_H_
