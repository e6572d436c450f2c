#include "snapshotter/backend/overlay_backend.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <numeric>

#include "io/base/errno.h"
#include "io/fs/fs_util.h"

namespace strata {
namespace {

size_t DataLength(const std::vector<std::string>& options) {
  size_t n = 0;
  for (const std::string& o : options) n += o.size() + 1;  // comma or NUL
  return n;
}

}  // namespace

bool OverlayBackend::KernelHasIndexParam() {
  return access("/sys/module/overlay/parameters/index", F_OK) == 0;
}

bool OverlayBackend::KernelHasMetacopy() {
  return access("/sys/module/overlay/parameters/metacopy", F_OK) == 0;
}

Status OverlayBackend::BuildDir(FsOps& fs, const std::string& dir, Kind kind,
                                const std::vector<uint64_t>& /*parent_ids*/) {
  STRATA_RETURN_IF_ERROR(fs.MakeDir(dir + "/fs", 0755));
  if (kind == Kind::kActive)
    STRATA_RETURN_IF_ERROR(fs.MakeDir(dir + "/work", 0711));
  return Status::Ok();
}

Status OverlayBackend::EnsureLink(uint64_t id) {
  std::string link = layout_.LinkPath(id);
  std::string target = Layout::LinkTarget(id);
  char buf[64];
  ssize_t n = readlink(link.c_str(), buf, sizeof(buf));
  if (n > 0 && target == std::string_view(buf, n)) return Status::Ok();
  // Create under a unique name and rename into place: concurrent callers race
  // harmlessly and a reader never sees a half-made link.
  std::string tmp = link + ".tmp" + std::to_string(gettid());
  unlink(tmp.c_str());
  if (symlink(target.c_str(), tmp.c_str()) != 0) {
    return PosixError("symlink " + tmp, errno);
  }
  if (rename(tmp.c_str(), link.c_str()) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return PosixError("rename " + tmp, err);
  }
  return Status::Ok();
}

Result<std::vector<Mount>> OverlayBackend::Mounts(
    uint64_t id, Kind kind, const std::vector<uint64_t>& parent_ids) {
  if (parent_ids.empty()) {
    return std::vector<Mount>{{"bind",
                               layout_.FsDir(id),
                               {kind == Kind::kView ? "ro" : "rw", "rbind"}}};
  }
  if (kind == Kind::kView && parent_ids.size() == 1) {
    return std::vector<Mount>{
        {"bind", layout_.FsDir(parent_ids[0]), {"ro", "rbind"}}};
  }
  if (parent_ids.size() > kMaxLayers) {
    return FailedPrecondition(
        "parent chain has " + std::to_string(parent_ids.size()) +
        " layers; overlayfs stacks at most " + std::to_string(kMaxLayers));
  }
  std::vector<std::string> options;
  if (opts_.index_off) options.push_back("index=off");
  // On every overlay mount, views too: a committed layer may hold metadata-only
  // copies whose data lives in its lowers, which only metacopy=on follows.
  if (opts_.metacopy) options.push_back("metacopy=on");
  if (kind == Kind::kActive) {
    options.push_back("workdir=" + layout_.WorkDir(id));
    options.push_back("upperdir=" + layout_.FsDir(id));
  }
  auto lowerdir = [&](bool short_links) {
    std::string s = "lowerdir=";
    for (size_t i = 0; i < parent_ids.size(); ++i) {
      if (i) s += ':';
      s += short_links ? layout_.LinkPath(parent_ids[i])
                       : layout_.FsDir(parent_ids[i]);
    }
    return s;
  };
  options.push_back(lowerdir(false));
  if (DataLength(options) > kMaxMountData) {
    // Short links fit a page verbatim for far longer chains (any consumer can
    // mount them). Past that, containerd's mount code still mounts them: it
    // chdirs into their common directory <root>/l and passes bare ids.
    options.back() = lowerdir(true);
    size_t compacted = DataLength(options) -
                       parent_ids.size() * (layout_.LinksDir().size() + 1);
    if (compacted > kMaxMountData) {
      return FailedPrecondition("overlay mount options for " +
                                std::to_string(parent_ids.size()) +
                                " layers need " + std::to_string(compacted) +
                                " bytes even with short lowerdir paths, over "
                                "the kernel's one-page limit; "
                                "use a shorter --root");
    }
    for (uint64_t pid : parent_ids) STRATA_RETURN_IF_ERROR(EnsureLink(pid));
  }
  return std::vector<Mount>{{"overlay", "overlay", std::move(options)}};
}

Status OverlayBackend::CheckRebase(
    uint64_t /*id*/, const std::vector<uint64_t>& parent_ids) const {
  // A view of the committed layer stacks it over its whole chain.
  if (parent_ids.size() + 1 > kMaxLayers) {
    return FailedPrecondition(
        "rebased chain would have " + std::to_string(parent_ids.size() + 1) +
        " layers; overlayfs stacks at most " + std::to_string(kMaxLayers));
  }
  return Status::Ok();
}

Status OverlayBackend::Open() { return MakeDirs(layout_.LinksDir(), 0700); }

void OverlayBackend::Forget(FsOps& fs, uint64_t id) {
  fs.Unlink(layout_.LinkPath(id)).IgnoreError();
}

// A link is kept only under its canonical name ("12", not "12.tmp7" left by
// a crash in EnsureLink) and for an id `keep` accepts.
Result<int> OverlayBackend::Prune(FsOps& fs,
                                  const std::function<bool(uint64_t)>& keep) {
  STRATA_ASSIGN_OR_RETURN(auto names, ListDir(layout_.LinksDir()));
  int removed = 0;
  for (const std::string& n : names) {
    uint64_t id = 0;
    auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), id);
    if (ec == std::errc() && end == n.data() + n.size() && keep(id)) continue;
    fs.Unlink(layout_.LinksDir() + "/" + n).IgnoreError();
    removed++;
  }
  return removed;
}

Result<Usage> OverlayBackend::MeasureUsage(uint64_t id, int64_t max_inodes) {
  STRATA_ASSIGN_OR_RETURN(
      DiskUsage du,
      MeasureDiskUsage(layout_.FsDir(id), UsageMode::kAllocated, max_inodes));
  return Usage{du.bytes, du.inodes};
}

}  // namespace strata
