// File data cloning: FICLONE (the whole file shares the source's extents, on
// XFS with reflink=1, btrfs, bcachefs) with a copy fallback that keeps holes:
// SEEK_DATA/SEEK_HOLE segments through copy_file_range, then read/write.
//
// Nothing here knows about snapshots or trees (tree_clone.h walks).
//
// Thread-safety: stateless functions; callers own the fds.
#ifndef STRATA_IO_CLONE_REFLINK_H_
#define STRATA_IO_CLONE_REFLINK_H_

#include <cstdint>
#include <string>

#include "io/base/result.h"

namespace strata {

enum class DataMode {
  kAuto,     // FICLONE; copy only when the filesystem cannot clone this file
  kReflink,  // FICLONE or fail (Unimplemented): never copy
  kCopy,     // never FICLONE: copy_file_range, then read/write
};

enum class DataOutcome { kCloned, kCopied };

// Makes dst_fd's data equal src_fd's (size bytes). REQUIRES: dst_fd is an
// empty regular file opened for writing; src_fd is open for reading.
// FICLONE errors that mean "cannot clone here" (EOPNOTSUPP, EXDEV, EINVAL,
// ENOTTY, ENOSYS) fall back to a copy in kAuto mode.
Result<DataOutcome> CloneFileData(int src_fd, int dst_fd, int64_t size,
                                  DataMode mode);

// Copies size bytes keeping holes (SEEK_DATA/SEEK_HOLE), with copy_file_range
// and read/write when that is refused; dst ends with length size.
Status CopyFileData(int src_fd, int dst_fd, int64_t size);

// FIDEDUPERANGE: makes dst_fd's first `size` bytes share src_fd's extents
// where the kernel finds the bytes equal (it compares them under its locks,
// so a file that differs, or changes meanwhile, is never given another's
// data). Runs in chunks (btrfs caps one call at 16 MiB). Both fds are open
// for reading (root may dedupe into a read-only fd).
struct DedupeOutcome {
  int64_t bytes = 0;     // bytes now shared with src
  bool differs = false;  // the kernel found different bytes and stopped
};
Result<DedupeOutcome> DedupeFileData(int src_fd, int dst_fd, int64_t size);

// Whether FICLONE works in directory dir (two temp files, removed after).
bool CanReflink(const std::string& dir);

}  // namespace strata

#endif  // STRATA_IO_CLONE_REFLINK_H_
