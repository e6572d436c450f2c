// FsOps: the filesystem calls through which the engine and its backends change
// a Strata root (leveldb's Env, narrowed to what a snapshot's lifecycle does):
// make a directory, rename, remove a tree, unlink, write a small file, and the
// two durability barriers, fsync of a directory and syncfs of a filesystem.
//
// Production code uses RealFs(). Tests substitute an implementation that fails
// the Nth call with a chosen errno, or that remembers which changes are not yet
// durable and forgets them at a simulated crash (tests/testutil/fault_fs.h), so
// every step of the crash-safety protocol (README "Crash safety") is checked.
// Work inside a snapshot's own tree (extraction, clones, usage walks) does not
// go through FsOps: it is covered by the one SyncFs that Commit makes.
//
// Errors carry the class PosixError gives the errno (ENOSPC and EDQUOT are
// ResourceExhausted, ENOENT NotFound).
//
// Thread-safety: implementations are thread-safe.
#ifndef STRATA_IO_FS_FS_OPS_H_
#define STRATA_IO_FS_FS_OPS_H_

#include <string>
#include <string_view>

#include "io/base/status.h"

namespace strata {

class FsOps {
 public:
  virtual ~FsOps() = default;

  virtual Status MakeDir(const std::string& path, unsigned mode) = 0;
  // mkdtemp(3): `tmpl` ends in "XXXXXX", replaced in place by the name made.
  virtual Status MakeTempDir(std::string& tmpl) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // Removes path and everything below it (RemoveAll); a missing path is OK.
  virtual Status RemoveTree(const std::string& path) = 0;
  virtual Status Unlink(const std::string& path) = 0;
  // Creates (or replaces) a regular file holding `data`; not synced.
  virtual Status WriteFile(const std::string& path, std::string_view data,
                           unsigned mode) = 0;
  // fsync(2) of a directory: its entries (creations, renames, removals).
  virtual Status SyncDir(const std::string& path) = 0;
  // syncfs(2) of the filesystem holding `fd`: every dirty page and entry on
  // it. Also reports a writeback error the filesystem met since `fd` last
  // reported one (EIO, ENOSPC of delayed allocation).
  virtual Status SyncFs(int fd) = 0;
};

// The real thing: plain system calls.
FsOps& RealFs();

}  // namespace strata

#endif  // STRATA_IO_FS_FS_OPS_H_
