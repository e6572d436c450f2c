#include "snapshotter/backend/probe.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>

#include "io/base/log.h"
#include "io/clone/reflink.h"
#include "io/fs/fs_util.h"
#include "snapshotter/backend/overlay_backend.h"
#include "snapshotter/backend/reflink_backend.h"

namespace strata {
namespace {

// "" when an overlay with upper and work in dir mounts, else why not.
std::string TryOverlay(const std::string& dir) {
  std::string base = dir + "/overlay-probe-XXXXXX";
  if (mkdtemp(base.data()) == nullptr)
    return std::string("mkdtemp: ") + strerror(errno);
  std::string why;
  for (const char* d : {"/lower", "/upper", "/work", "/merged"}) {
    if (mkdir((base + d).c_str(), 0700) != 0)
      why = std::string("mkdir: ") + strerror(errno);
  }
  if (why.empty()) {
    std::string data = "lowerdir=" + base + "/lower,upperdir=" + base +
                       "/upper,workdir=" + base + "/work";
    if (mount("overlay", (base + "/merged").c_str(), "overlay", 0,
              data.c_str()) != 0) {
      why = std::string("mount overlay: ") + strerror(errno);
    } else {
      umount2((base + "/merged").c_str(), MNT_DETACH);
    }
  }
  RemoveAll(base).IgnoreError();
  return why;
}

}  // namespace

bool IsBackendName(std::string_view name) {
  return name == "auto" || name == "overlay" || name == "reflink" ||
         name == "copy";
}

ProbeResult ProbeBackend(const std::string& dir) {
  std::string why = TryOverlay(dir);
  if (why.empty())
    return {"overlay", "overlayfs mounts with upper and work under " + dir};
  std::string detail = "overlay: " + why;
  if (CanReflink(dir)) return {"reflink", detail + "; FICLONE works"};
  return {"copy", detail + "; FICLONE unsupported"};
}

bool CanShareExtents(const std::string& dir) { return CanReflink(dir); }

std::unique_ptr<Backend> MakeBackend(std::string_view name,
                                     const Layout& layout,
                                     const BackendOptions& opts) {
  if (opts.overlay_metacopy && name != "overlay") {
    Log(LogLevel::kWarn, "backend",
        "overlay_metacopy ignored: the backend is not overlay",
        {{"backend", std::string(name)}});
  }
  if (name == "reflink") {
    return std::make_unique<ReflinkBackend>(layout,
                                            ReflinkBackend::Mode::kReflink);
  }
  if (name == "copy")
    return std::make_unique<ReflinkBackend>(layout,
                                            ReflinkBackend::Mode::kCopy);
  OverlayOptions oopts;
  oopts.index_off = OverlayBackend::KernelHasIndexParam();
  if (opts.overlay_metacopy) {
    if (!OverlayBackend::KernelHasMetacopy()) {
      Log(LogLevel::kWarn, "backend",
          "overlay_metacopy ignored: this kernel's overlayfs has no metacopy "
          "(/sys/module/overlay/parameters/metacopy)",
          {});
    } else {
      oopts.metacopy = true;
      Log(LogLevel::kInfo, "backend", "overlay mounts use metacopy=on", {});
    }
  }
  return std::make_unique<OverlayBackend>(layout, oopts);
}

}  // namespace strata
