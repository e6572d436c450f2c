// OverlayBackend: each snapshot is an overlayfs layer; the parent chain becomes
// lowerdir= (nearest parent first), as in containerd's overlayfs snapshotter.
//
// Mount shapes: active without parents -> rw rbind of fs; active with parents
// -> overlay (workdir, upperdir, lowerdir); view of one layer -> ro rbind of
// the parent's fs; view of several -> overlay with lowerdir only; view without
// parent -> ro rbind of its own empty fs.
//
// Mount data is limited to one page. When full lowerdir paths overflow it, the
// backend switches to short links (<root>/l/<id>): with a root as short as
// /var/lib/strata they fit a page verbatim up to ~150 layers, so any consumer
// (runc, BuildKit) can mount them. Longer chains still mount through
// containerd, whose mount code chdirs into the links' common directory and
// passes bare ids. Only when even that form overflows a page, or the chain
// exceeds overlayfs's 500 layers, Mounts fails with FailedPrecondition instead
// of returning a mount the kernel would reject.
//
// Thread-safety: thread-safe (link creation is idempotent via rename).
#ifndef STRATA_SNAPSHOTTER_BACKEND_OVERLAY_BACKEND_H_
#define STRATA_SNAPSHOTTER_BACKEND_OVERLAY_BACKEND_H_

#include <string>

#include "snapshotter/backend/backend.h"
#include "snapshotter/layout.h"

namespace strata {

struct OverlayOptions {
  // Add index=off (containerd does when /sys/module/overlay/parameters/index
  // exists). Decided once at startup by the caller.
  bool index_off = false;
  // Add metacopy=on to every overlay mount, so chmod/chown in a container
  // copy up metadata only (no data). REQUIRES: KernelHasMetacopy(). Safe
  // only while no layer can carry trusted.overlay.* xattrs (README).
  bool metacopy = false;
};

class OverlayBackend final : public Backend {
 public:
  // The most bytes of mount data overlayfs accepts (one page, minus the NUL).
  static constexpr size_t kMaxMountData = 4095;
  static constexpr size_t kMaxLayers = 500;

  OverlayBackend(const Layout& layout, OverlayOptions opts)
      : layout_(layout), opts_(opts) {}

  // Whether this kernel has index= (decides OverlayOptions::index_off).
  static bool KernelHasIndexParam();
  // Whether this kernel's overlayfs has metacopy= (its module parameter).
  static bool KernelHasMetacopy();

  std::string_view Name() const override { return "overlay"; }
  bool BuildWritesData(Kind, const std::vector<uint64_t>&) const override {
    return false;  // empty fs/ and work/ only
  }
  Status BuildDir(FsOps& fs, const std::string& dir, Kind kind,
                  const std::vector<uint64_t>& parent_ids) override;
  Result<std::vector<Mount>> Mounts(
      uint64_t id, Kind kind, const std::vector<uint64_t>& parent_ids) override;
  Result<Usage> MeasureUsage(uint64_t id, int64_t max_inodes) override;
  WhiteoutMode Whiteouts() const override { return WhiteoutMode::kOverlay; }
  // Layers are never copied: any depth the kernel takes.
  int MaxLayerDepth() const override { return 0; }
  // An upperdir is self-contained (whiteouts are overlay whiteouts), so any
  // chain works whose views stay within kMaxLayers lowerdirs.
  Status CheckRebase(uint64_t id,
                     const std::vector<uint64_t>& parent_ids) const override;
  // The short links are overlay's derived data.
  Status Open() override;
  void Forget(FsOps& fs, uint64_t id) override;
  Result<int> Prune(FsOps& fs,
                    const std::function<bool(uint64_t)>& keep) override;

 private:
  Status EnsureLink(uint64_t id);
  Layout layout_;
  OverlayOptions opts_;
};

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_BACKEND_OVERLAY_BACKEND_H_
