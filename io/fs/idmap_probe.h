// Whether idmapped mounts work for a directory on this host: the kernel
// (5.12+ with the filesystem's support: ext4, XFS, btrfs 5.15+, tmpfs
// 6.3+...) lets a detached copy of a mount of `dir` be idmapped with
// mount_setattr(MOUNT_ATTR_IDMAP) to a user namespace. containerd's mount
// code does exactly that for snapshots carrying uidmap=/gidmap= options, so
// a snapshotter that hands such mounts out must know first.
//
// The probe forks a child into a new user namespace (mapping 0 to 65534 for
// one ID), idmaps a detached clone of `dir`'s mount to it, and throws the
// clone away: nothing is mounted anywhere, nothing is written.
//
// Thread-safety: thread-safe; needs CAP_SYS_ADMIN.
#ifndef STRATA_IO_FS_IDMAP_PROBE_H_
#define STRATA_IO_FS_IDMAP_PROBE_H_

#include <string>

#include "io/base/status.h"

namespace strata {

// OK when `dir`'s mount can be idmapped; otherwise the reason (the failing
// step and errno), as FailedPrecondition.
Status ProbeIdmappedMount(const std::string& dir);

}  // namespace strata

#endif  // STRATA_IO_FS_IDMAP_PROBE_H_
