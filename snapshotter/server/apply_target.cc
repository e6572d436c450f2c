#include "snapshotter/server/apply_target.h"

#include <cerrno>
#include <climits>
#include <cstdlib>

#include "io/base/errno.h"

namespace strata {
namespace {

// realpath(3) of `path`, or the errno's class.
Result<std::string> RealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf) == nullptr) return PosixError("realpath " + path, errno);
  return std::string(buf);
}

// The value of option `name=` ("" when absent; `found` says whether it was).
std::string OptionValue(const std::vector<std::string>& options, std::string_view name,
                        bool* found) {
  *found = false;
  for (const std::string& o : options) {
    if (o.size() > name.size() && o.compare(0, name.size(), name) == 0 && o[name.size()] == '=') {
      *found = true;
      return o.substr(name.size() + 1);
    }
  }
  return "";
}

bool HasOption(const std::vector<std::string>& options, std::string_view name) {
  for (const std::string& o : options) {
    if (o == name) return true;
  }
  return false;
}

// Resolves `dir` and checks it lies strictly under <root>/snapshots/.
Result<std::string> OwnDir(const std::string& dir, const std::string& root) {
  if (dir.empty() || dir[0] != '/') return Unimplemented("not an absolute path: \"" + dir + "\"");
  auto real_root = RealPath(root);
  if (!real_root.ok()) return Unimplemented(real_root.status().message());
  auto real_dir = RealPath(dir);
  if (!real_dir.ok()) return Unimplemented(real_dir.status().message());
  const std::string prefix = *real_root + "/snapshots/";
  if (real_dir->size() <= prefix.size() || real_dir->compare(0, prefix.size(), prefix) != 0) {
    return Unimplemented("\"" + dir + "\" is not under strata's root " + *real_root);
  }
  return *real_dir;
}

}  // namespace

Result<ApplyTarget> ClassifyMounts(const std::vector<Mount>& mounts, const std::string& root,
                                   WhiteoutMode bind_whiteouts) {
  if (mounts.size() != 1) {
    return Unimplemented("want exactly one mount, got " + std::to_string(mounts.size()));
  }
  const Mount& m = mounts[0];
  ApplyTarget t;
  if (m.type == "overlay") {
    bool found = false;
    std::string upper = OptionValue(m.options, "upperdir", &found);
    if (!found) return Unimplemented("overlay mount without upperdir= (read-only)");
    STRATA_ASSIGN_OR_RETURN(t.dir, OwnDir(upper, root));
    t.whiteouts = WhiteoutMode::kOverlay;
    return t;
  }
  if (m.type == "bind" || HasOption(m.options, "bind") || HasOption(m.options, "rbind")) {
    if (HasOption(m.options, "ro")) return Unimplemented("read-only bind mount");
    STRATA_ASSIGN_OR_RETURN(t.dir, OwnDir(m.source, root));
    t.whiteouts = bind_whiteouts;
    return t;
  }
  return Unimplemented("mount type \"" + m.type + "\"");
}

Status CheckLayerMediaType(std::string_view media_type) {
  static constexpr std::string_view kKnown[] = {
      "application/vnd.oci.image.layer.v1.tar",
      "application/vnd.oci.image.layer.v1.tar+gzip",
      "application/vnd.oci.image.layer.v1.tar+zstd",
      "application/vnd.oci.image.layer.nondistributable.v1.tar",
      "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
      "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
      "application/vnd.docker.image.rootfs.diff.tar",
      "application/vnd.docker.image.rootfs.diff.tar.gzip",
      "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  };
  for (std::string_view k : kKnown) {
    if (media_type == k) return Status::Ok();
  }
  return Unimplemented("media type \"" + std::string(media_type) + "\"");
}

}  // namespace strata
