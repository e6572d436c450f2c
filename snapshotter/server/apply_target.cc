#include "snapshotter/server/apply_target.h"

namespace strata {
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
