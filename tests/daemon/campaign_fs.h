// CampaignFs: the crash campaign's filesystem. A sparse image of one type
// (ext4 or xfs) loop-mounted on a fixed mount point, which, unlike LoopFs,
// can be shut down the way a power cut leaves it (FS_IOC_GOINGDOWN without a
// log flush), unmounted and mounted again from the same image (journal
// replay), and kept after the run.
//
// Thread-safety: none; the campaign's main thread owns it.
#ifndef STRATA_TESTS_DAEMON_CAMPAIGN_FS_H_
#define STRATA_TESTS_DAEMON_CAMPAIGN_FS_H_

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace strata {

// FS_IOC_GOINGDOWN: the same number and flag meaning as EXT4_IOC_SHUTDOWN
// (EXT4_GOING_FLAGS_NOLOGFLUSH) and XFS_IOC_GOINGDOWN
// (XFS_FSOP_GOING_FLAGS_NOLOGFLUSH). Userspace headers rarely carry them.
inline constexpr unsigned long kFsIocGoingDown = _IOR('X', 125, uint32_t);
// Stop at once: neither data nor the journal is flushed, as in a power cut.
inline constexpr uint32_t kGoingDownNoLogFlush = 2;

// Mount points in this mount namespace at or below `prefix`, deepest first
// (so unmounting them in order never meets a busy parent).
inline std::vector<std::string> MountsUnder(const std::string& prefix) {
  std::vector<std::string> out;
  std::ifstream f("/proc/self/mountinfo");
  std::string line;
  while (std::getline(f, line)) {
    // id parent major:minor root mount-point ...; octal escapes for spaces
    // cannot occur in the campaign's own paths.
    size_t p = 0;
    for (int field = 0; field < 4 && p != std::string::npos; ++field) {
      p = line.find(' ', p);
      if (p != std::string::npos) ++p;
    }
    if (p == std::string::npos) continue;
    std::string mp = line.substr(p, line.find(' ', p) - p);
    if (mp == prefix || mp.rfind(prefix + "/", 0) == 0) out.push_back(mp);
  }
  // mountinfo lists in mount order: later mounts may sit on earlier ones.
  return {out.rbegin(), out.rend()};
}

// Unmounts `target`: normally, retrying briefly while it is busy, then
// detached. Returns false only if even the lazy unmount failed.
inline bool UnmountHard(const std::string& target) {
  for (int i = 0; i < 20; ++i) {
    if (umount2(target.c_str(), 0) == 0) return true;
    if (errno != EBUSY) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return umount2(target.c_str(), MNT_DETACH) == 0;
}

class CampaignFs {
 public:
  // type: "ext4" or "xfs". dir: an existing directory for the image and the
  // mount point (dir/img, dir/mnt).
  CampaignFs(std::string type, const std::string& dir)
      : type_(std::move(type)), img_(dir + "/img"), mnt_(dir + "/mnt") {}
  ~CampaignFs() {
    if (mounted_) UnmountHard(mnt_);
  }
  CampaignFs(const CampaignFs&) = delete;
  CampaignFs& operator=(const CampaignFs&) = delete;

  // Why the machine cannot run the campaign, or "" if it looks able to:
  // root, mkfs.<type> and loop devices.
  static std::string CannotRun(const std::string& type) {
    if (geteuid() != 0) return "loop-mounting " + type + " needs root";
    if (access(("/usr/sbin/mkfs." + type).c_str(), X_OK) != 0 &&
        access(("/sbin/mkfs." + type).c_str(), X_OK) != 0) {
      return "mkfs." + type + " is not installed (scripts/install-deps.sh)";
    }
    if (access("/dev/loop-control", F_OK) != 0) {
      return "no loop devices (/dev/loop-control)";
    }
    return "";
  }

  // Makes a fresh 1 GiB sparse image and mounts it. On failure returns the
  // command that failed.
  std::string Create() {
    std::string opts = type_ == "xfs" ? "-q -m reflink=1" : "-q -F";
    std::string cmd = "truncate -s 1G " + img_ + " && mkfs." + type_ + " " +
                      opts + " " + img_ + " >/dev/null 2>&1 && mkdir -p " +
                      mnt_;
    if (std::system(cmd.c_str()) != 0) return cmd;
    return Mount();
  }

  // Mounts the image (replaying its journal if it was cut). Returns "" or
  // the failed command with mount's output.
  std::string Mount() {
    std::string cmd =
        "mount -t " + type_ + " -o loop " + img_ + " " + mnt_ + " 2>&1";
    std::string out;
    if (FILE* p = popen(cmd.c_str(), "r")) {
      char buf[512];
      while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
      if (pclose(p) == 0) {
        mounted_ = true;
        return "";
      }
    }
    return cmd + ": " + (out.empty() ? "failed" : out);
  }

  // Unmounts the filesystem, which must not be busy: a lazy unmount would
  // leave the old superblock alive beside the next mount of the image.
  // Returns "" or why not.
  std::string Unmount() {
    for (int i = 0; i < 40; ++i) {
      if (umount2(mnt_.c_str(), 0) == 0) {
        mounted_ = false;
        return "";
      }
      if (errno != EBUSY) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return "umount " + mnt_ + ": " + std::strerror(errno);
  }

  // The power cut: the filesystem stops where it is, losing whatever it had
  // not written (data and journal). Returns 0 or an errno.
  int GoingDown() {
    int fd = open(mnt_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno;
    uint32_t flags = kGoingDownNoLogFlush;
    int err = ioctl(fd, kFsIocGoingDown, &flags) == 0 ? 0 : errno;
    close(fd);
    return err;
  }

  const std::string& type() const { return type_; }
  const std::string& image() const { return img_; }
  // The mount point.
  const std::string& path() const { return mnt_; }

 private:
  std::string type_;
  std::string img_;
  std::string mnt_;
  bool mounted_ = false;
};

}  // namespace strata

#endif  // STRATA_TESTS_DAEMON_CAMPAIGN_FS_H_
