// ReflinkBackend: each snapshot is a full directory tree in snapshots/<id>/fs.
// An active child starts as a clone of its nearest parent's tree (io/clone):
// file data shares the parent's extents through FICLONE on XFS (reflink=1)
// and btrfs ("reflink" mode), or is copied where the filesystem cannot clone
// ("copy" mode: ext4, tmpfs). Parent chains have no depth limit and need no
// overlay mount; a layer extracted into such a snapshot applies whiteouts as
// deletions (WhiteoutMode::kDelete).
//
// Mount shapes: active -> rw rbind of its own fs; view with a parent -> ro
// rbind of the parent's fs (committed trees are immutable, so a view needs no
// copy, as overlay's single-layer view); view without parent -> ro rbind of its
// own empty fs.
//
// Usage of an active snapshot: "reflink" counts the bytes of extents not
// shared with another file (FIEMAP) plus every inode's metadata blocks, so a
// fresh clone measures almost nothing; "copy" is du (allocated bytes).
//
// Thread-safety: thread-safe; calls for different ids share nothing.
#ifndef STRATA_SNAPSHOTTER_BACKEND_REFLINK_BACKEND_H_
#define STRATA_SNAPSHOTTER_BACKEND_REFLINK_BACKEND_H_

#include <string>

#include "snapshotter/backend/backend.h"
#include "snapshotter/layout.h"

namespace strata {

class ReflinkBackend final : public Backend {
 public:
  enum class Mode { kReflink, kCopy };

  ReflinkBackend(const Layout& layout, Mode mode)
      : layout_(layout), mode_(mode) {}

  std::string_view Name() const override {
    return mode_ == Mode::kReflink ? "reflink" : "copy";
  }
  // Active with parents: clones parent_ids[0]'s fs into dir/fs.
  // A clone, even with FICLONE: a file the filesystem refuses to clone is
  // copied (kAuto), and FICLONE's extents are data as far as a crash goes.
  bool BuildWritesData(Kind kind,
                       const std::vector<uint64_t>& parent_ids) const override {
    return kind == Kind::kActive && !parent_ids.empty();
  }
  Status BuildDir(FsOps& fs, const std::string& dir, Kind kind,
                  const std::vector<uint64_t>& parent_ids) override;
  Result<std::vector<Mount>> Mounts(
      uint64_t id, Kind kind, const std::vector<uint64_t>& parent_ids) override;
  Result<Usage> MeasureUsage(uint64_t id, int64_t max_inodes) override;
  // Always FailedPrecondition: a tree extracted without its parent applied
  // whiteouts as deletions of nothing, so it cannot become a child.
  WhiteoutMode Whiteouts() const override { return WhiteoutMode::kDelete; }
  // A child is a clone of its parent's tree, which CloneTree opens by
  // relative paths (PATH_MAX): 1,000 levels of names up to 3 bytes fit.
  int MaxLayerDepth() const override { return 1000; }
  Status CheckRebase(uint64_t id,
                     const std::vector<uint64_t>& parent_ids) const override;

 private:
  Layout layout_;
  Mode mode_;
};

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_BACKEND_REFLINK_BACKEND_H_
