// Walks over hostile trees: 50,000 levels deep, and with a bind mount of a
// decoy directory inside. Removal and usage work at any depth with few open
// descriptors, and never touch what another mount shows.
#include "io/fs/tree_walk.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "io/fs/fs_util.h"
#include "tests/testutil/temp_dir.h"
#include "tests/testutil/tree_state.h"

namespace strata {
namespace {

constexpr int kDepth = 50000;

// dir/d/d/.../d (depth levels) with a file in the middle and at the bottom.
void MakeDeepTree(const std::string& dir, int depth) {
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  int fd = open(dir.c_str(), O_PATH | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  for (int i = 0; i < depth; ++i) {
    ASSERT_EQ(mkdirat(fd, "d", 0755), 0) << "level " << i;
    if (i == depth / 2 || i == depth - 1) {
      int f = openat(fd, "f", O_CREAT | O_WRONLY, 0644);
      ASSERT_GE(f, 0);
      ASSERT_EQ(write(f, "x", 1), 1);
      close(f);
    }
    int next = openat(fd, "d", O_PATH | O_DIRECTORY | O_NOFOLLOW);
    close(fd);
    fd = next;
    ASSERT_GE(fd, 0);
  }
  close(fd);
}

int OpenFds() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d) != nullptr) ++n;
    closedir(d);
  }
  return n;
}

// The walks must not need a descriptor per level.
class LowFdLimit {
 public:
  LowFdLimit() {
    getrlimit(RLIMIT_NOFILE, &old_);
    rlimit low = {256, old_.rlim_max};
    setrlimit(RLIMIT_NOFILE, &low);
  }
  ~LowFdLimit() { setrlimit(RLIMIT_NOFILE, &old_); }

 private:
  rlimit old_;
};

TEST(TreeWalkTest, FiftyThousandLevelsMeasureAndRemoveWithFewDescriptors) {
  TempDir dir;
  std::string tree = dir / "deep";
  MakeDeepTree(tree, kDepth);
  if (HasFatalFailure()) return;
  int fds = OpenFds();
  {
    LowFdLimit low;
    auto du = MeasureDiskUsage(tree);
    ASSERT_TRUE(du.ok()) << du.status().ToString();
    EXPECT_EQ(du->inodes, 1 + kDepth + 2) << "the root, every level, two files";
    Status s = RemoveAll(tree);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  struct stat st;
  EXPECT_NE(lstat(tree.c_str(), &st), 0) << "the tree is still there";
  EXPECT_EQ(OpenFds(), fds) << "descriptors leaked";
}

class MountInsideTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0)
      GTEST_SKIP() << "bind mounts need root (CI runs as root)";
    decoy_ = dir_ / "decoy";
    MakeDecoy(decoy_);
    before_ = TreeState::Capture(decoy_);
    tree_ = dir_ / "tree";
    ASSERT_EQ(mkdir(tree_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir((tree_ + "/a").c_str(), 0755), 0);
    ASSERT_EQ(mkdir((tree_ + "/a/mnt").c_str(), 0755), 0);
    ASSERT_EQ(mount(decoy_.c_str(), (tree_ + "/a/mnt").c_str(), nullptr,
                    MS_BIND, nullptr),
              0);
    // A file bind-mounted over a file too.
    int f = open((tree_ + "/a/filemnt").c_str(), O_CREAT | O_WRONLY, 0644);
    close(f);
    ASSERT_EQ(mount((decoy_ + "/file").c_str(), (tree_ + "/a/filemnt").c_str(),
                    nullptr, MS_BIND, nullptr),
              0);
  }
  void TearDown() override {
    umount2((tree_ + "/a/mnt").c_str(), MNT_DETACH);
    umount2((tree_ + "/a/filemnt").c_str(), MNT_DETACH);
  }
  TempDir dir_;
  std::string decoy_, tree_;
  TreeState before_;
};

TEST_F(MountInsideTest, RemoveAllDetachesAndNeverEmptiesAMount) {
  Status s = RemoveAll(tree_);
  ASSERT_TRUE(s.ok()) << s.ToString();
  TreeState after = TreeState::Capture(decoy_);
  EXPECT_TRUE(after == before_) << after.DiffFrom(before_);
  struct stat st;
  EXPECT_NE(lstat(tree_.c_str(), &st), 0);
}

TEST_F(MountInsideTest, UsageDoesNotCountAnotherMount) {
  auto du = MeasureDiskUsage(tree_);
  ASSERT_TRUE(du.ok()) << du.status().ToString();
  // tree, a, mnt (the mount point itself), filemnt: the decoy's entries are
  // not.
  EXPECT_EQ(du->inodes, 4);
}

}  // namespace
}  // namespace strata
