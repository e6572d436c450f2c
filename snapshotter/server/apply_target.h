// Which layer media types the diff service extracts: OCI layer tar, +gzip,
// +zstd (and their nondistributable twins), Docker rootfs diff tar and
// tar.gzip. "+encrypted" and anything unknown are Unimplemented, so
// containerd tries its next differ. Where a layer may be applied is the
// engine's to say (Engine::ResolveApplyTarget), and ApplyTarget::Apply is
// how a layer gets there.
//
// Thread-safety: plain functions.
#ifndef STRATA_SNAPSHOTTER_SERVER_APPLY_TARGET_H_
#define STRATA_SNAPSHOTTER_SERVER_APPLY_TARGET_H_

#include <string_view>

#include "io/base/status.h"

namespace strata {

// OK for the layer media types Strata extracts; Unimplemented otherwise.
Status CheckLayerMediaType(std::string_view media_type);

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_SERVER_APPLY_TARGET_H_
