// What the diff service may apply, and where: decides whether an Apply
// request is Strata's to serve. Anything else is Unimplemented, which makes
// containerd's diff service try its next differ (the walking differ).
//
//   - Mounts: exactly one, and Strata's own. An overlay mount whose upperdir=
//     lies under <root>/snapshots/ (with or without lowerdir=, the latter
//     being the shape containerd 2.x's parallel unpack sends), written into
//     directly with overlay whiteouts; or a read-write bind mount whose source
//     lies under <root>/snapshots/, with the caller's `bind_whiteouts`: the
//     overlay backend binds only parentless layers, which containerd 2.x's
//     parallel unpack commits onto a parent later ("rebase"), so their
//     whiteouts must stay overlay whiteouts; full-tree backends delete.
//     Paths are checked with realpath(3) against realpath(root), so symlinks
//     cannot lead out.
//   - Media types: OCI layer tar, +gzip, +zstd (and their nondistributable
//     twins), Docker rootfs diff tar and tar.gzip. "+encrypted" and anything
//     unknown are Unimplemented.
//
// Thread-safety: plain functions.
#ifndef STRATA_SNAPSHOTTER_SERVER_APPLY_TARGET_H_
#define STRATA_SNAPSHOTTER_SERVER_APPLY_TARGET_H_

#include <string>
#include <string_view>
#include <vector>

#include "io/base/result.h"
#include "io/extract/extractor.h"
#include "snapshotter/types.h"

namespace strata {

struct ApplyTarget {
  std::string dir;  // resolved directory to extract into
  WhiteoutMode whiteouts = WhiteoutMode::kOverlay;
};

// Unimplemented (naming why) unless `mounts` are Strata's own under `root`.
Result<ApplyTarget> ClassifyMounts(const std::vector<Mount>& mounts, const std::string& root,
                                   WhiteoutMode bind_whiteouts = WhiteoutMode::kDelete);

// OK for the layer media types Strata extracts; Unimplemented otherwise.
Status CheckLayerMediaType(std::string_view media_type);

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_SERVER_APPLY_TARGET_H_
