// LoopMount: a scratch filesystem for benchmarks. Makes a sparse image file,
// attaches it to a free loop device (direct I/O, so the host's page cache
// does not hold a second copy of the image; autoclear, so the device
// detaches at the last unmount), runs mkfs.<type> and mounts it. The image
// is unlinked as soon as it is mounted: if the process dies, the kernel
// reclaims everything once the mount goes away, which EnterPrivateMountNs
// makes happen with the process.
//
// Needs root, loop devices and mkfs.<type> (e2fsprogs, xfsprogs, btrfs-progs).
// Thread-safety: owned by one thread.
#ifndef STRATA_BENCH_HARNESS_LOOP_H_
#define STRATA_BENCH_HARNESS_LOOP_H_

#include <cstdint>
#include <memory>
#include <string>

#include "io/base/result.h"

namespace strata {

// unshare(CLONE_NEWNS) and make every mount private, so mounts made from
// here on are invisible to the host and vanish when this process and its
// children exit. REQUIRES: no other thread exists yet (call before gRPC).
Status EnterPrivateMountNs();

class LoopMount {
 public:
  // type: "ext4", "xfs" (made with reflink=1) or "btrfs". `image` is created
  // (replaced if it exists) with `bytes` of sparse size; `mnt` is created.
  // mkfs output goes to `log`.
  static Result<std::unique_ptr<LoopMount>> Make(const std::string& type,
                                                 const std::string& image,
                                                 uint64_t bytes,
                                                 const std::string& mnt,
                                                 const std::string& log);
  // Unmounts (lazily if busy); the loop device then detaches itself.
  ~LoopMount();
  LoopMount(const LoopMount&) = delete;
  LoopMount& operator=(const LoopMount&) = delete;

  const std::string& path() const { return mnt_; }
  const std::string& device() const { return device_; }
  // Whether the loop device does direct I/O on the image.
  bool direct_io() const { return direct_io_; }

 private:
  LoopMount() = default;
  std::string mnt_;
  std::string device_;
  bool direct_io_ = false;
};

}  // namespace strata

#endif  // STRATA_BENCH_HARNESS_LOOP_H_
