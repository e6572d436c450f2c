#include "bench/harness/loop.h"

#include <fcntl.h>
#include <linux/loop.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <thread>
#include <vector>

#include "bench/harness/proc.h"
#include "io/base/errno.h"
#include "io/base/unique_fd.h"

namespace strata {

Status EnterPrivateMountNs() {
  if (unshare(CLONE_NEWNS) != 0)
    return PosixError("unshare(CLONE_NEWNS)", errno);
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return PosixError("make / a private mount", errno);
  }
  return Status::Ok();
}

namespace {

std::vector<std::string> MkfsArgs(const std::string& type,
                                  const std::string& dev) {
  if (type == "xfs") return {"mkfs.xfs", "-q", "-f", "-m", "reflink=1", dev};
  if (type == "btrfs") return {"mkfs.btrfs", "-q", "-f", dev};
  return {"mkfs." + type, "-q", "-F", dev};
}

// A free loop device bound to image_fd with autoclear and direct I/O (the
// kernel quietly falls back to buffered I/O when it cannot). Retries when
// another process takes the device between GET_FREE and CONFIGURE.
Result<UniqueFd> Attach(int image_fd, std::string& device) {
  UniqueFd ctl(open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (!ctl.valid()) return PosixError("open /dev/loop-control", errno);
  for (int attempt = 0; attempt < 20; ++attempt) {
    int n = ioctl(ctl.get(), LOOP_CTL_GET_FREE);
    if (n < 0) return PosixError("LOOP_CTL_GET_FREE", errno);
    device = "/dev/loop" + std::to_string(n);
    UniqueFd dev(open(device.c_str(), O_RDWR | O_CLOEXEC));
    if (!dev.valid()) return PosixError("open " + device, errno);
    loop_config cfg{};
    cfg.fd = static_cast<__u32>(image_fd);
    cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO;
    if (ioctl(dev.get(), LOOP_CONFIGURE, &cfg) == 0) return dev;
    if (errno != EBUSY) return PosixError("LOOP_CONFIGURE " + device, errno);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status(Code::kUnavailable, "no free loop device (20 attempts)");
}

}  // namespace

Result<std::unique_ptr<LoopMount>> LoopMount::Make(const std::string& type,
                                                   const std::string& image,
                                                   uint64_t bytes,
                                                   const std::string& mnt,
                                                   const std::string& log) {
  unlink(image.c_str());
  UniqueFd img(
      open(image.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!img.valid()) return PosixError("create image " + image, errno);
  if (ftruncate(img.get(), static_cast<off_t>(bytes)) != 0) {
    Status s = PosixError("size image " + image, errno);
    unlink(image.c_str());
    return s;
  }
  std::unique_ptr<LoopMount> m(new LoopMount());
  auto dev = Attach(img.get(), m->device_);
  // The loop device holds its own reference to the image from here on.
  unlink(image.c_str());
  if (!dev.ok()) return dev.status().WithContext("loop device for " + image);
  if (Status s = RunCommand(MkfsArgs(type, m->device_), log); !s.ok()) {
    return s.WithContext("mkfs." + type + " on " + m->device_);
  }
  if (mkdir(mnt.c_str(), 0755) != 0 && errno != EEXIST)
    return PosixError("mkdir " + mnt, errno);
  if (mount(m->device_.c_str(), mnt.c_str(), type.c_str(), 0, nullptr) != 0) {
    return PosixError("mount " + type + " " + m->device_ + " on " + mnt, errno);
  }
  m->mnt_ = mnt;
  std::ifstream dio("/sys/block/" + m->device_.substr(5) + "/loop/dio");
  int v = 0;
  m->direct_io_ = static_cast<bool>(dio >> v) && v == 1;
  // Closing our descriptor leaves the mount as the last user: autoclear
  // detaches the device at unmount.
  return m;
}

LoopMount::~LoopMount() {
  if (mnt_.empty()) return;
  if (umount2(mnt_.c_str(), 0) != 0) umount2(mnt_.c_str(), MNT_DETACH);
  rmdir(mnt_.c_str());
}

}  // namespace strata
