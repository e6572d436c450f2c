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
// Aliases: `l -> .` makes "l/x" and "x" the same entry. OpenDir tells when a
// lookup went through a symlink and gives the directory's canonical path
// (the one without symlinks), so callers key what they know about entries
// by canonical paths only.
//
// Thread-safety: RootDir is used by one extraction at a time.
#ifndef STRATA_IO_FS_ROOT_DIR_H_
#define STRATA_IO_FS_ROOT_DIR_H_

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

// A directory inside the root, as OpenDir found it.
struct ResolvedDir {
  SharedFd fd;  // O_PATH|O_DIRECTORY
  // The canonical clean path ("" is the root); when !known, the path asked
  // for, which still resolves to it but may be an alias.
  std::string path;
  bool aliased = false;  // the lookup followed at least one symlink
  bool known = true;     // path is canonical (false: the kernel could not say)
};

// Opens regular-file path `rel` under the directory open at dirfd for
// reading, following no symlink at all (and no mount crossing): what a path
// recorded from an archive may name later, whatever the tree became.
Result<UniqueFd> OpenFileNoSymlinks(int dirfd, const std::string& rel);
// The same for directory `rel` ("" is dirfd's own), opened O_PATH.
Result<UniqueFd> OpenDirNoSymlinks(int dirfd, const std::string& rel);

class RootDir {
 public:
  // Resolves inside the directory open at `root` (dup'ed; the caller keeps
  // its descriptor).
  static Result<RootDir> Open(int root);

  int fd() const { return root_->get(); }

  // Directory `rel` (a clean path) resolved inside the root; "" is the root.
  // A few recent answers are cached; Invalidate() drops them after anything
  // was removed or replaced. NotFound if it is missing, FailedPrecondition if
  // it is not a directory.
  Result<ResolvedDir> OpenDir(const std::string& rel);
  void Invalidate() { cache_.clear(); }

 private:
  RootDir(SharedFd root, std::string real)
      : root_(std::move(root)), real_(std::move(real)) {}
  // The canonical path of `dir` relative to the root, from the kernel's name
  // for the descriptor; false when it has none under the root's.
  bool Canonical(int dir, std::string* out) const;

  SharedFd root_;
  std::string real_;  // the root's absolute path when opened ("" if unknown)
  std::vector<std::pair<std::string, ResolvedDir>> cache_;  // most recent last
};

}  // namespace strata

#endif  // STRATA_IO_FS_ROOT_DIR_H_
