#include "io/fs/fs_util.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace strata {
namespace {

class FsUtilTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/strata-fs-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { ASSERT_TRUE(RemoveAll(dir_).ok()); }
  void WriteFile(const std::string& path, size_t bytes) {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    std::string data(bytes, 'x');
    ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(bytes));
    close(fd);
  }
  std::string dir_;
};

TEST_F(FsUtilTest, RemoveAllDeletesTreeWithoutFollowingSymlinks) {
  std::string outside = dir_ + "/outside";
  ASSERT_EQ(mkdir(outside.c_str(), 0755), 0);
  WriteFile(outside + "/keep", 10);
  std::string tree = dir_ + "/tree";
  ASSERT_TRUE(MakeDirs(tree + "/a/b/c").ok());
  WriteFile(tree + "/a/b/c/f", 100);
  ASSERT_EQ(symlink(outside.c_str(), (tree + "/a/link").c_str()), 0);
  ASSERT_TRUE(RemoveAll(tree).ok());
  struct stat st;
  EXPECT_NE(lstat(tree.c_str(), &st), 0);
  EXPECT_EQ(lstat((outside + "/keep").c_str(), &st), 0) << "followed a symlink";
  EXPECT_TRUE(RemoveAll(tree).ok()) << "missing path must be OK";
}

TEST_F(FsUtilTest, DiskUsageCountsHardlinksOnce) {
  std::string tree = dir_ + "/t";
  ASSERT_TRUE(MakeDirs(tree + "/sub").ok());
  WriteFile(tree + "/sub/big", 1 << 20);
  ASSERT_EQ(link((tree + "/sub/big").c_str(), (tree + "/hard").c_str()), 0);
  auto du = MeasureDiskUsage(tree);
  ASSERT_TRUE(du.ok()) << du.status().ToString();
  EXPECT_EQ(du->inodes, 3);  // t, sub, big (hard is the same inode)
  EXPECT_GE(du->bytes, 1 << 20);
  EXPECT_LT(du->bytes, 2 << 20) << "hardlink counted twice";
}

TEST_F(FsUtilTest, ExclusiveUsageCountsEveryInodesOverhead) {
  std::string tree = dir_ + "/t";
  ASSERT_TRUE(MakeDirs(tree + "/sub").ok());
  for (int i = 0; i < 100; ++i)
    WriteFile(tree + "/sub/e" + std::to_string(i), 0);
  int fd = open(tree.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  int64_t overhead = InodeOverhead(fd);
  close(fd);
  EXPECT_GT(overhead, 0);
  auto plain = MeasureDiskUsage(tree);
  auto excl = MeasureDiskUsage(tree, UsageMode::kExclusiveExtents);
  ASSERT_TRUE(plain.ok() && excl.ok());
  EXPECT_EQ(excl->inodes, 102);
  // Empty files have no data: only their inodes make up the difference.
  EXPECT_GE(excl->bytes, plain->bytes + 102 * overhead);
}

TEST_F(FsUtilTest, DiskUsageOfMissingDirIsNotFound) {
  auto du = MeasureDiskUsage(dir_ + "/nope");
  ASSERT_FALSE(du.ok());
  EXPECT_EQ(du.status().code(), Code::kNotFound);
}

TEST_F(FsUtilTest, MakeDirsRefusesFile) {
  WriteFile(dir_ + "/file", 1);
  EXPECT_EQ(MakeDirs(dir_ + "/file").code(), Code::kFailedPrecondition);
  EXPECT_TRUE(MakeDirs(dir_ + "/x/y/z/").ok());
}

}  // namespace
}  // namespace strata
