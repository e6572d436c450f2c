#include "io/fs/project_quota.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "io/fs/fs_util.h"
#include "tests/testutil/container_write.h"
#include "tests/testutil/loop_fs.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

class ProjectQuotaTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    loop_ = std::make_unique<LoopFs>(GetParam(), "512M",
                                     /*project_quotas=*/true);
    if (!loop_->ok()) {
      // ctest quota_vm runs this under Debian's kernel with the variable set.
      const char* required = std::getenv("STRATA_REQUIRE_QUOTA");
      if (required != nullptr && std::string(required) == "1")
        FAIL() << loop_->reason();
      GTEST_SKIP() << "this kernel cannot mount " << GetParam()
                   << " with project quotas (ctest quota_vm runs this under "
                      "Debian's kernel): "
                   << loop_->reason();
    }
    auto q = ProjectQuota::Open(loop_->path());
    ASSERT_TRUE(q.ok()) << q.status().ToString();
    quota_ = std::move(*q);
  }
  // A directory under the mount tagged with `project`.
  std::string TaggedDir(const std::string& name, uint32_t project) {
    std::string dir = loop_->path() + "/" + name;
    EXPECT_EQ(mkdir(dir.c_str(), 0755), 0) << std::strerror(errno);
    UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    EXPECT_TRUE(fd.valid());
    Status s = quota_->Assign(fd.get(), project);
    EXPECT_TRUE(s.ok()) << s.ToString();
    auto p = quota_->InheritedProject(fd.get());
    EXPECT_TRUE(p.ok() && *p == project);
    return dir;
  }
  std::unique_ptr<LoopFs> loop_;
  std::unique_ptr<ProjectQuota> quota_;
};

TEST_P(ProjectQuotaTest, UsageMatchesTheWalk) {
  std::string dir = TaggedDir("a", 4242);
  ASSERT_EQ(mkdir((dir + "/sub").c_str(), 0755), 0);
  constexpr int kFiles = 300;
  std::vector<std::pair<std::string, size_t>> files;
  for (int i = 0; i < kFiles; ++i) {
    files.emplace_back(dir + "/sub/f" + std::to_string(i), 1000 + 37 * i);
  }
  ASSERT_EQ(WriteFilesAsContainer(files), 0);
  auto walk = MeasureDiskUsage(dir);
  ASSERT_TRUE(walk.ok()) << walk.status().ToString();
  auto q = quota_->Usage(4242);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->inodes, walk->inodes);
  EXPECT_NEAR(static_cast<double>(q->bytes), static_cast<double>(walk->bytes),
              4096.0 * (kFiles + 2))
      << "quota " << q->bytes << " walk " << walk->bytes;
  EXPECT_GT(q->bytes, 1000 * kFiles);
  // Another project is untouched.
  auto other = quota_->Usage(4243);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->inodes, 0);
  // Removal gives it back (XFS frees inodes in the background: polled,
  // with syncs, for up to 10 s).
  ASSERT_TRUE(RemoveAll(dir).ok());
  Result<QuotaUsage> after = QuotaUsage{};
  for (int i = 0; i < 100; ++i) {
    sync();
    after = quota_->Usage(4242);
    if (!after.ok() || after->inodes == 0) break;
    usleep(100 * 1000);
  }
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->inodes, 0);
  EXPECT_EQ(after->bytes, 0);
}

TEST_P(ProjectQuotaTest, LimitStopsWritesOfThatProjectOnly) {
  std::string capped = TaggedDir("capped", 5001);
  std::string free_dir = TaggedDir("free", 5002);
  ASSERT_TRUE(quota_->SetLimit(5001, 4 << 20).ok());
  int err = WriteAsContainer(capped + "/big", 8 << 20);
  EXPECT_TRUE(err == EDQUOT || err == ENOSPC)
      << "a write past the limit gave " << std::strerror(err);
  auto u = quota_->Usage(5001);
  ASSERT_TRUE(u.ok());
  EXPECT_LE(u->bytes, (4 << 20) + (64 << 10));
  EXPECT_EQ(WriteAsContainer(free_dir + "/big", 8 << 20), 0);
  // Lifted, the same write goes through.
  ASSERT_TRUE(quota_->SetLimit(5001, 0).ok());
  EXPECT_EQ(WriteAsContainer(capped + "/big2", 8 << 20), 0);
}

TEST_P(ProjectQuotaTest, StopInheritingKeepsTheProject) {
  std::string dir = TaggedDir("d", 6001);
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(quota_->StopInheriting(fd.get()).ok());
  auto p = quota_->InheritedProject(fd.get());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, 0u);
  // The directory's own inode stays charged to 6001.
  auto u = quota_->Usage(6001);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->inodes, 1);
}

INSTANTIATE_TEST_SUITE_P(Filesystems, ProjectQuotaTest,
                         ::testing::Values("xfs", "ext4"));

TEST(ProjectQuotaOpen, RefusesAFilesystemWithoutProjectQuotas) {
  TempDir tmp;
  auto q = ProjectQuota::Open(tmp.path());
  // /tmp may be anything; on a quota-less one the reason names the fix.
  if (q.ok()) GTEST_SKIP() << tmp.path() << " has project quotas";
  EXPECT_EQ(q.status().code(), Code::kFailedPrecondition)
      << q.status().ToString();
  EXPECT_NE(q.status().message().find("prjquota"), std::string::npos);
}

TEST(ProjectQuotaOpen, RefusesXfsMountedWithoutPrjquota) {
  LoopFs loop("xfs", "512M");
  if (!loop.ok()) GTEST_SKIP() << loop.reason();
  auto q = ProjectQuota::Open(loop.path());
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().code(), Code::kFailedPrecondition)
      << q.status().ToString();
  EXPECT_NE(q.status().message().find("prjquota"), std::string::npos)
      << q.status().ToString();
}

}  // namespace
}  // namespace strata
