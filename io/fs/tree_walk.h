// Walks over directory trees that hostile content may have shaped: tens of
// thousands of levels deep (a layer can reach that through symlink hops with
// short names), or with another filesystem mounted inside (a container can
// leave a bind mount of a host directory in its upper directory).
//
// - No recursion and no full paths: every step is relative to an open
//   directory, so neither the stack nor the path length limits the depth.
// - Open descriptors stay bounded (kMaxOpenLevels directory streams at most,
//   whatever the depth).
// - Mounts are never crossed: a directory whose mount id (statx
//   STATX_MNT_ID; st_dev where the kernel lacks it) differs from its
//   parent's is another mount, including a bind mount of the same
//   filesystem.
//
// Memory: RemoveTree keeps at most kMaxOpenLevels levels in flight (deeper
// directories are moved up to the top of the tree being removed and removed
// from there), so it is bounded whatever the depth. WalkTree keeps 32 bytes
// of position per level (directory streams above the window are closed and
// reopened through "..", checked against the inode they had): 1.3 MiB for a
// 42,000-level tree.
//
// Thread-safety: reentrant; calls share nothing.
#ifndef STRATA_IO_FS_TREE_WALK_H_
#define STRATA_IO_FS_TREE_WALK_H_

#include <sys/stat.h>

#include <cstddef>
#include <functional>
#include <string>

#include "io/base/status.h"

namespace strata {

inline constexpr size_t kMaxOpenLevels = 64;

// Empties the directory open at dirfd (borrowed) and removes nothing outside
// it: a mount point met inside is detached (MNT_DETACH) and its now empty
// directory removed; what was mounted there is never touched. An error
// (naming the entry by its last components) if a detach fails.
Status RemoveTree(int dirfd);

// Calls visit(dirfd, name, st) for every entry below the directory open at
// dirfd (borrowed), in depth-first order, without following symlinks and
// without entering other mounts (a mount point is visited, its content is
// not). visit may open the entry relative to dirfd. A visit error stops the
// walk and is returned.
using TreeVisitor =
    std::function<Status(int dirfd, const char* name, const struct stat& st)>;
Status WalkTree(int dirfd, const TreeVisitor& visit);

}  // namespace strata

#endif  // STRATA_IO_FS_TREE_WALK_H_
