// Which Apply requests are Strata's by media type and digest (mount shapes:
// Engine::ResolveApplyTarget, engine_test).
#include "snapshotter/server/apply_target.h"

#include <gtest/gtest.h>

#include "snapshotter/server/content_source.h"

namespace strata {
namespace {

TEST(MediaTypeTest, LayerTypesStrataExtracts) {
  for (const char* t :
       {"application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"}) {
    EXPECT_TRUE(CheckLayerMediaType(t).ok()) << t;
  }
}

TEST(MediaTypeTest, EncryptedAndUnknownAreUnimplemented) {
  for (const char* t : {"application/vnd.oci.image.layer.v1.tar+gzip+encrypted",
                        "application/vnd.oci.image.layer.v1.tar+encrypted",
                        "application/vnd.oci.image.config.v1+json", "",
                        "application/vnd.oci.image.layer.v1.tar+bzip2"}) {
    EXPECT_EQ(CheckLayerMediaType(t).code(), Code::kUnimplemented) << t;
  }
}

TEST(DigestTest, OnlySha256) {
  std::string hex(64, 'a');
  EXPECT_TRUE(CheckSha256Digest("sha256:" + hex).ok());
  EXPECT_EQ(CheckSha256Digest("sha512:" + hex + hex).code(),
            Code::kUnimplemented);
  EXPECT_EQ(CheckSha256Digest("sha256:" + hex.substr(1)).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(CheckSha256Digest("sha256:" + std::string(64, 'G')).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(CheckSha256Digest(hex).code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace strata
