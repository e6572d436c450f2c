// Backend choice: names, and the startup probe behind `--backend auto`.
//
// auto: overlay if an overlayfs with lower/upper/work on the root's
// filesystem really mounts (tried in a temp dir under the root, unmounted and
// removed); else reflink if FICLONE works between two temp files there; else
// copy.
//
// Thread-safety: stateless functions.
#ifndef STRATA_SNAPSHOTTER_BACKEND_PROBE_H_
#define STRATA_SNAPSHOTTER_BACKEND_PROBE_H_

#include <memory>
#include <string>
#include <string_view>

#include "io/base/result.h"
#include "snapshotter/backend/backend.h"
#include "snapshotter/layout.h"

namespace strata {

// "auto", "overlay", "reflink", "copy".
bool IsBackendName(std::string_view name);

struct ProbeResult {
  std::string chosen;  // "overlay", "reflink" or "copy"
  std::string detail;  // what was tried and why, for the log
};

// Probes under dir (an existing directory on the root's filesystem).
ProbeResult ProbeBackend(const std::string& dir);

// Whether files under dir can share extents (FICLONE works there): the
// condition for content sharing, whatever the backend.
bool CanShareExtents(const std::string& dir);

struct BackendOptions {
  // overlay: metacopy=on (OverlayOptions::metacopy) where the kernel has
  // it; otherwise, or for another backend, ignored with a warning.
  bool overlay_metacopy = false;
};

// REQUIRES: name is "overlay", "reflink" or "copy".
std::unique_ptr<Backend> MakeBackend(std::string_view name,
                                     const Layout& layout,
                                     const BackendOptions& opts = {});

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_BACKEND_PROBE_H_
