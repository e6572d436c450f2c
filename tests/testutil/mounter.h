// Performs the mounts a snapshotter returned, the way containerd's
// mount.All does for bind and overlay mounts, so tests check that the mounts
// really work. Requires root.
#ifndef STRATA_TESTS_TESTUTIL_MOUNTER_H_
#define STRATA_TESTS_TESTUTIL_MOUNTER_H_

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "io/base/errno.h"
#include "snapshotter/types.h"

namespace strata {

inline Status MountAll(const std::vector<Mount>& mounts,
                       const std::string& target) {
  for (const Mount& m : mounts) {
    unsigned long flags = 0;
    std::string data;
    bool ro = false;
    for (const std::string& o : m.options) {
      if (o == "ro")
        ro = true;
      else if (o == "rw") {
      } else if (o == "rbind")
        flags |= MS_BIND | MS_REC;
      else if (o == "bind")
        flags |= MS_BIND;
      else
        data += (data.empty() ? "" : ",") + o;
    }
    if (m.type == "bind") flags |= MS_BIND;
    if (mount(m.source.c_str(), target.c_str(),
              m.type == "bind" ? "" : m.type.c_str(),
              flags | (ro && !(flags & MS_BIND) ? MS_RDONLY : 0),
              data.c_str()) != 0) {
      return PosixError("mount " + m.type + " " + m.source + " on " + target +
                            " (" + data + ")",
                        errno);
    }
    if (ro && (flags & MS_BIND) &&
        mount("", target.c_str(), "", MS_REMOUNT | MS_BIND | MS_RDONLY,
              nullptr) != 0) {
      return PosixError("remount ro " + target, errno);
    }
  }
  return Status::Ok();
}

inline void Unmount(const std::string& target) {
  umount2(target.c_str(), MNT_DETACH);
}

}  // namespace strata

#endif  // STRATA_TESTS_TESTUTIL_MOUNTER_H_
