// Metadata changes through O_PATH descriptors, so that no call ever follows
// a symlink planted at the entry's name: the descriptor is obtained with
// O_NOFOLLOW, its type is checked, and every later call acts on that inode
// (fchownat with AT_EMPTY_PATH; chmod, setxattr and utimensat through the
// /proc/self/fd magic link, which names the descriptor's own inode and is
// never resolved again by name).
//
// Thread-safety: stateless functions.
#ifndef STRATA_IO_FS_PATH_FD_H_
#define STRATA_IO_FS_PATH_FD_H_

#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <string>

#include "io/base/result.h"
#include "io/base/unique_fd.h"

namespace strata {

// "/proc/self/fd/<fd>".
std::string FdPath(int fd);

// An O_PATH descriptor of dirfd/name itself (a symlink is not followed) and
// its stat in *st. NotFound when nothing is there.
Result<UniqueFd> OpenNoFollow(int dirfd, const std::string& name,
                              struct stat* st);

// Each acts on fd's inode. REQUIRES: fd is not a symlink (ChownFd and
// SetTimesFd accept one; the others would act on what /proc resolves).
Status ChownFd(int fd, uid_t uid, gid_t gid);
Status ChmodFd(int fd, mode_t mode);
Status SetXattrFd(int fd, const std::string& name, const std::string& value);
Status SetTimesFd(int fd, const timespec times[2]);

}  // namespace strata

#endif  // STRATA_IO_FS_PATH_FD_H_
