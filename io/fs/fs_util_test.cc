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

// A file handle opens the very inode it was taken of, by no path: not
// after the file is renamed over, never once the inode is gone, and never
// a FIFO for real.
TEST_F(FsUtilTest, FileHandlesOpenTheirInodeOnly) {
  if (geteuid() != 0) GTEST_SKIP() << "open_by_handle_at needs root";
  const std::string f = dir_ + "/f";
  WriteFile(f, 100);
  UniqueFd fd(open(f.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  std::string handle = FileHandleOf(fd.get());
  ASSERT_FALSE(handle.empty()) << "no handles on /tmp's filesystem";
  UniqueFd mount(open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  struct stat want, got;
  ASSERT_EQ(fstat(fd.get(), &want), 0);
  fd.reset();
  // Moved elsewhere: still the same inode.
  ASSERT_EQ(rename(f.c_str(), (dir_ + "/moved").c_str()), 0);
  auto opened = OpenFileHandle(mount.get(), handle);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  ASSERT_EQ(fstat(opened->get(), &got), 0);
  EXPECT_EQ(got.st_ino, want.st_ino);
  opened->reset();
  // Replaced, then gone: the new file at the name is not opened.
  WriteFile(dir_ + "/f", 100);
  ASSERT_EQ(unlink((dir_ + "/moved").c_str()), 0);
  sync();
  EXPECT_FALSE(OpenFileHandle(mount.get(), handle).ok())
      << "a freed inode's handle opened something";
  // A FIFO's handle is refused without opening it.
  ASSERT_EQ(mkfifo((dir_ + "/p").c_str(), 0600), 0);
  UniqueFd p(open((dir_ + "/p").c_str(), O_PATH | O_CLOEXEC));
  // name_to_handle_at on an O_PATH fd works (AT_EMPTY_PATH).
  std::string fifo = FileHandleOf(p.get());
  ASSERT_FALSE(fifo.empty());
  EXPECT_EQ(OpenFileHandle(mount.get(), fifo).status().code(),
            Code::kFailedPrecondition);
  EXPECT_FALSE(OpenFileHandle(mount.get(), "xx").ok());
  EXPECT_FALSE(OpenFileHandle(mount.get(), std::string(300, 'x')).ok());
}

TEST_F(FsUtilTest, MakeDirsRefusesFile) {
  WriteFile(dir_ + "/file", 1);
  EXPECT_EQ(MakeDirs(dir_ + "/file").code(), Code::kFailedPrecondition);
  EXPECT_TRUE(MakeDirs(dir_ + "/x/y/z/").ok());
}

}  // namespace
}  // namespace strata
