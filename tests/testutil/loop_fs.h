// LoopFs: a filesystem of the given type (xfs with reflink=1, btrfs, ext4) on
// a sparse image file, loop-mounted in a fresh temp directory, unmounted and
// deleted with the object. Tests use it to run on reflink-capable filesystems
// whatever the machine's own disk is.
//
// Needs root, mkfs.<type> and loop devices; ok() is false with a reason
// (for GTEST_SKIP) when the machine cannot, so tests skip only then.
#ifndef STRATA_TESTS_TESTUTIL_LOOP_FS_H_
#define STRATA_TESTS_TESTUTIL_LOOP_FS_H_

#include <sys/mount.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "tests/testutil/temp_dir.h"

namespace strata {

class LoopFs {
 public:
  // type: "xfs" or "btrfs" (or any mkfs.<type>). size: image bytes (sparse).
  // With `project_quotas`, xfs and ext4 are made and mounted with project
  // quotas accounted and enforced (prjquota).
  explicit LoopFs(const std::string& type, const std::string& size = "1G",
                  bool project_quotas = false) {
    if (geteuid() != 0) {
      reason_ = "loop-mounting " + type + " needs root";
      return;
    }
    std::string mkfs = "/usr/sbin/mkfs." + type;
    if (access(mkfs.c_str(), X_OK) != 0 &&
        access(("/sbin/mkfs." + type).c_str(), X_OK) != 0) {
      reason_ = "mkfs." + type + " is not installed (scripts/install-deps.sh)";
      return;
    }
    if (access("/dev/loop-control", F_OK) != 0) {
      reason_ = "no loop devices (/dev/loop-control)";
      return;
    }
    std::string img = dir_ / "img", mnt = dir_ / "mnt";
    std::string opts = type == "xfs"     ? "-q -m reflink=1"
                       : type == "btrfs" ? "-q"
                                         : "-q -F";
    std::string mount_opts = "loop";
    if (project_quotas) {
      if (type == "ext4") opts += " -O quota,project";
      mount_opts += ",prjquota";
    }
    std::string cmd = "truncate -s " + size + " " + img + " && mkfs." + type +
                      " " + opts + " " + img + " >/dev/null 2>&1 && mkdir " +
                      mnt + " && mount -o " + mount_opts + " " + img + " " +
                      mnt;
    if (std::system(cmd.c_str()) != 0) {
      reason_ = "cannot make a loop-mounted " + type + " (" + cmd + ")";
      return;
    }
    mnt_ = mnt;
  }
  ~LoopFs() {
    if (!mnt_.empty() && umount2(mnt_.c_str(), 0) != 0)
      umount2(mnt_.c_str(), MNT_DETACH);
  }
  LoopFs(const LoopFs&) = delete;
  LoopFs& operator=(const LoopFs&) = delete;

  bool ok() const { return !mnt_.empty(); }
  const std::string& reason() const { return reason_; }
  // The mount point. REQUIRES: ok().
  const std::string& path() const { return mnt_; }

 private:
  TempDir dir_;
  std::string mnt_;
  std::string reason_;
};

}  // namespace strata

#endif  // STRATA_TESTS_TESTUTIL_LOOP_FS_H_
