// Which Apply requests are Strata's: mount shapes and media types.
#include "snapshotter/server/apply_target.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "io/fs/fs_util.h"
#include "snapshotter/server/content_source.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

class ApplyTargetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_ / "root";
    ASSERT_TRUE(MakeDirs(root_ + "/snapshots/7/fs", 0755).ok());
    ASSERT_TRUE(MakeDirs(root_ + "/snapshots/8/fs", 0755).ok());
    ASSERT_TRUE(MakeDirs(dir_ / "elsewhere", 0755).ok());
  }
  Code CodeOf(std::vector<Mount> mounts) {
    return ClassifyMounts(mounts, root_).status().code();
  }

  TempDir dir_;
  std::string root_;
};

TEST_F(ApplyTargetTest, OverlayUpperdirUnderRootIsOurs) {
  std::string upper = root_ + "/snapshots/8/fs";
  auto t = ClassifyMounts({{"overlay", "overlay",
                            {"index=off", "workdir=" + root_ + "/snapshots/8/work",
                             "upperdir=" + upper, "lowerdir=" + root_ + "/snapshots/7/fs"}}},
                          root_);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->dir, upper);
  EXPECT_EQ(t->whiteouts, WhiteoutMode::kOverlay);
}

TEST_F(ApplyTargetTest, ParallelUnpackShapeUpperdirWithoutLowerdirIsOurs) {
  auto t = ClassifyMounts({{"overlay", "overlay", {"upperdir=" + root_ + "/snapshots/8/fs"}}},
                          root_);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->whiteouts, WhiteoutMode::kOverlay);
}

TEST_F(ApplyTargetTest, RwBindUnderRootIsOursAndDeletesWhiteouts) {
  auto t = ClassifyMounts({{"bind", root_ + "/snapshots/7/fs", {"rw", "rbind"}}}, root_);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->dir, root_ + "/snapshots/7/fs");
  EXPECT_EQ(t->whiteouts, WhiteoutMode::kDelete);
  // The overlay backend's parentless layers (rebase may stack them later).
  auto o = ClassifyMounts({{"bind", root_ + "/snapshots/7/fs", {"rw", "rbind"}}}, root_,
                          WhiteoutMode::kOverlay);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->whiteouts, WhiteoutMode::kOverlay);
}

TEST_F(ApplyTargetTest, ForeignShapesAreUnimplemented) {
  const std::string fs7 = root_ + "/snapshots/7/fs";
  EXPECT_EQ(CodeOf({}), Code::kUnimplemented);
  EXPECT_EQ(CodeOf({{"bind", fs7, {"rw"}}, {"bind", fs7, {"rw"}}}), Code::kUnimplemented);
  EXPECT_EQ(CodeOf({{"bind", fs7, {"ro", "rbind"}}}), Code::kUnimplemented);
  EXPECT_EQ(CodeOf({{"overlay", "overlay", {"lowerdir=" + fs7}}}), Code::kUnimplemented);
  EXPECT_EQ(CodeOf({{"tmpfs", "tmpfs", {}}}), Code::kUnimplemented);
  EXPECT_EQ(CodeOf({{"bind", dir_ / "elsewhere", {"rw", "rbind"}}}), Code::kUnimplemented);
  EXPECT_EQ(CodeOf({{"overlay", "overlay", {"upperdir=" + (dir_ / "elsewhere")}}}),
            Code::kUnimplemented);
  // The root itself, and its snapshots/ directory, are not snapshot dirs.
  EXPECT_EQ(CodeOf({{"bind", root_, {"rw"}}}), Code::kUnimplemented);
  EXPECT_EQ(CodeOf({{"bind", root_ + "/snapshots/", {"rw"}}}), Code::kUnimplemented);
  // Missing and relative paths.
  EXPECT_EQ(CodeOf({{"bind", root_ + "/snapshots/99/fs", {"rw"}}}), Code::kUnimplemented);
  EXPECT_EQ(CodeOf({{"bind", "snapshots/7/fs", {"rw"}}}), Code::kUnimplemented);
}

TEST_F(ApplyTargetTest, PathsThatLeaveTheRootAreUnimplemented) {
  // ".." and a symlink inside the root that points out of it.
  EXPECT_EQ(CodeOf({{"bind", root_ + "/snapshots/7/fs/../../../../elsewhere", {"rw"}}}),
            Code::kUnimplemented);
  ASSERT_EQ(symlink((dir_ / "elsewhere").c_str(), (root_ + "/snapshots/9").c_str()), 0);
  EXPECT_EQ(CodeOf({{"bind", root_ + "/snapshots/9", {"rw"}}}), Code::kUnimplemented);
  // A root reached through a symlink still matches its real path.
  ASSERT_EQ(symlink(root_.c_str(), (dir_ / "rootlink").c_str()), 0);
  EXPECT_TRUE(ClassifyMounts({{"bind", root_ + "/snapshots/7/fs", {"rw"}}}, dir_ / "rootlink").ok());
}

TEST(MediaTypeTest, LayerTypesStrataExtracts) {
  for (const char* t : {"application/vnd.oci.image.layer.v1.tar",
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
  EXPECT_EQ(CheckSha256Digest("sha512:" + hex + hex).code(), Code::kUnimplemented);
  EXPECT_EQ(CheckSha256Digest("sha256:" + hex.substr(1)).code(), Code::kInvalidArgument);
  EXPECT_EQ(CheckSha256Digest("sha256:" + std::string(64, 'G')).code(), Code::kInvalidArgument);
  EXPECT_EQ(CheckSha256Digest(hex).code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace strata
