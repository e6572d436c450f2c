// CloneTree on the temp dir (copy) and on loop-mounted XFS and btrfs
// (FICLONE): every kind of entry and every piece of metadata survives, data
// extents are shared after a reflink clone, and the clone is independent.
#include "io/clone/tree_clone.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "io/fs/fs_util.h"
#include "tests/testutil/hostile_tree.h"
#include "tests/testutil/loop_fs.h"
#include "tests/testutil/temp_dir.h"
#include "tests/testutil/tree_state.h"

namespace strata {
namespace {

bool IsRoot() { return geteuid() == 0; }

void Write(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}
std::string Read(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void SetTimes(const std::string& path, time_t sec) {
  timespec t[2] = {{sec, 111}, {sec, 222}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), t, AT_SYMLINK_NOFOLLOW), 0)
      << path;
}

// A tree with every entry kind CloneTree handles. Root-only pieces are
// skipped as non-root.
void MakeRichTree(const std::string& t) {
  ASSERT_EQ(mkdir(t.c_str(), 0755), 0);
  ASSERT_EQ(mkdir((t + "/dir").c_str(), 0750), 0);
  ASSERT_EQ(mkdir((t + "/dir/sub").c_str(), 0700), 0);
  Write(t + "/dir/sub/file", "deep");
  Write(t + "/file", std::string(300000, 'a') + "tail");
  Write(t + "/empty", "");
  // Sparse: 8 MiB hole, then data.
  {
    int fd = open((t + "/sparse").c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(pwrite(fd, "end", 3, 8 << 20), 3);
    close(fd);
  }
  Write(t + "/hard1", "linked");
  ASSERT_EQ(link((t + "/hard1").c_str(), (t + "/dir/hard2").c_str()), 0);
  ASSERT_EQ(symlink("/etc/passwd", (t + "/abs-link").c_str()), 0);
  ASSERT_EQ(symlink("../file", (t + "/dir/rel-link").c_str()), 0);
  ASSERT_EQ(symlink("nowhere", (t + "/dangling").c_str()), 0);
  ASSERT_EQ(mkfifo((t + "/fifo").c_str(), 0640), 0);
  Write(t + "/setuid", "#!/bin/true\n");
  ASSERT_EQ(setxattr((t + "/file").c_str(), "user.color", "blue", 4, 0), 0);
  if (IsRoot()) {
    ASSERT_EQ(mknod((t + "/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
    ASSERT_EQ(chown((t + "/setuid").c_str(), 1000, 1001), 0);
    ASSERT_EQ(lchown((t + "/abs-link").c_str(), 1002, 1003), 0);
    ASSERT_EQ(chown((t + "/dir").c_str(), 1004, 1005), 0);
    ASSERT_EQ(
        setxattr((t + "/dir").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);
    // VFS_CAP_REVISION_2, cap_net_bind_service permitted+effective.
    const unsigned char cap[20] = {0x01, 0, 0, 0x02, 0, 0x04, 0, 0, 0, 0,
                                   0,    0, 0, 0,    0, 0,    0, 0, 0, 0};
    ASSERT_EQ(setxattr((t + "/setuid").c_str(), "security.capability", cap,
                       sizeof(cap), 0),
              0);
  }
  ASSERT_EQ(chmod((t + "/setuid").c_str(), 06755), 0);
  for (const char* p : {"/file", "/sparse", "/abs-link", "/fifo", "/setuid",
                        "/dir/sub/file", "/dir/sub", "/dir", ""}) {
    SetTimes(t + p, 1000000000 + std::string(p).size());
  }
}

std::map<std::string, std::string> Xattrs(const std::string& path) {
  std::map<std::string, std::string> out;
  char names[4096];
  ssize_t n = llistxattr(path.c_str(), names, sizeof(names));
  for (ssize_t off = 0; off > -1 && off < n;
       off += std::strlen(names + off) + 1) {
    char v[4096];
    ssize_t vn = lgetxattr(path.c_str(), names + off, v, sizeof(v));
    out[names + off] = vn < 0 ? "?" : std::string(v, vn);
  }
  return out;
}

// Compares a and b entry by entry (everything CloneTree promises).
void ExpectSameTree(const std::string& a, const std::string& b,
                    std::map<ino_t, ino_t>& inodes) {
  struct stat sa, sb;
  ASSERT_EQ(lstat(a.c_str(), &sa), 0) << a;
  ASSERT_EQ(lstat(b.c_str(), &sb), 0) << b;
  EXPECT_EQ(sa.st_mode, sb.st_mode) << b;
  EXPECT_EQ(sa.st_uid, sb.st_uid) << b;
  EXPECT_EQ(sa.st_gid, sb.st_gid) << b;
  EXPECT_EQ(sa.st_mtim.tv_sec, sb.st_mtim.tv_sec) << b;
  EXPECT_EQ(sa.st_mtim.tv_nsec, sb.st_mtim.tv_nsec) << b;
  EXPECT_EQ(sa.st_nlink, sb.st_nlink) << b;
  EXPECT_EQ(Xattrs(a), Xattrs(b)) << b;
  if (sa.st_nlink > 1 && !S_ISDIR(sa.st_mode)) {
    auto [it, fresh] = inodes.try_emplace(sa.st_ino, sb.st_ino);
    EXPECT_EQ(it->second, sb.st_ino) << b << " is not linked to its group";
  }
  if (S_ISREG(sa.st_mode)) {
    EXPECT_EQ(sa.st_size, sb.st_size) << b;
    EXPECT_TRUE(Read(a) == Read(b)) << b;
  } else if (S_ISLNK(sa.st_mode)) {
    char ta[256] = {}, tb[256] = {};
    ASSERT_GT(readlink(a.c_str(), ta, sizeof(ta)), 0);
    ASSERT_GT(readlink(b.c_str(), tb, sizeof(tb)), 0);
    EXPECT_STREQ(ta, tb) << b;
  } else if (S_ISCHR(sa.st_mode) || S_ISBLK(sa.st_mode)) {
    EXPECT_EQ(sa.st_rdev, sb.st_rdev) << b;
  } else if (S_ISDIR(sa.st_mode)) {
    DIR* d = opendir(a.c_str());
    ASSERT_NE(d, nullptr);
    int n = 0;
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      ++n;
      ExpectSameTree(a + "/" + name, b + "/" + name, inodes);
    }
    closedir(d);
    int m = 0;
    DIR* db = opendir(b.c_str());
    while (dirent* e = readdir(db))
      m += std::string(e->d_name) != "." && std::string(e->d_name) != "..";
    closedir(db);
    EXPECT_EQ(n, m) << b << " has extra entries";
  }
}

void ExpectClonedTree(const std::string& base, DataMode mode,
                      bool expect_reflink) {
  std::string src = base + "/src", dst = base + "/dst";
  MakeRichTree(src);
  auto stats = CloneTree(src, dst, {.data = mode, .workers = 3});
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  std::map<ino_t, ino_t> inodes;
  ExpectSameTree(src, dst, inodes);
  EXPECT_EQ(stats->hardlinks, 1);
  EXPECT_EQ(stats->symlinks, 3);
  EXPECT_EQ(stats->files, 6);
  if (expect_reflink) {
    EXPECT_EQ(stats->copied, 0);
    EXPECT_EQ(stats->cloned, stats->files);
  } else {
    EXPECT_EQ(stats->cloned, 0);
  }
  struct stat st;
  ASSERT_EQ(stat((dst + "/sparse").c_str(), &st), 0);
  EXPECT_LT(st.st_blocks * 512, 1 << 20) << "the hole was filled";
  ASSERT_EQ(lstat((dst + "/setuid").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 06755u)
      << "setuid/setgid lost (chmod before chown?)";
  // Independence: writing the clone never changes the source.
  Write(dst + "/file", "changed");
  Write(dst + "/hard1", "changed too");
  EXPECT_EQ(Read(src + "/file"), std::string(300000, 'a') + "tail");
  EXPECT_EQ(Read(src + "/dir/hard2"), "linked");
  EXPECT_EQ(Read(dst + "/dir/hard2"), "changed too");
}

TEST(TreeCloneTest, CopyModeOnTempDirPreservesEverything) {
  TempDir dir;
  ExpectClonedTree(dir.path(), DataMode::kCopy, false);
}

TEST(TreeCloneTest, InlineWithoutWorkers) {
  TempDir dir;
  MakeRichTree(dir / "src");
  auto stats = CloneTree(dir / "src", dir / "dst",
                         {.data = DataMode::kAuto, .workers = 0});
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  std::map<ino_t, ino_t> inodes;
  ExpectSameTree(dir / "src", dir / "dst", inodes);
}

TEST(TreeCloneTest, ErrorsNameThePathAndStop) {
  TempDir dir;
  MakeRichTree(dir / "src");
  ASSERT_EQ(mkdir((dir / "dst").c_str(), 0755), 0);
  auto stats = CloneTree(dir / "src", dir / "dst");
  EXPECT_EQ(stats.status().code(), Code::kAlreadyExists);
  EXPECT_EQ(CloneTree(dir / "missing", dir / "x").status().code(),
            Code::kNotFound);
}

// Directories over one chunk (64 entries) are cloned by several jobs at once;
// hardlinks cross directories cloned by different jobs; every directory's
// times are set after its contents, whichever job finishes last.
TEST(TreeCloneTest, WideTreeWithCrossDirectoryHardlinks) {
  TempDir dir;
  std::string src = dir / "src";
  ASSERT_EQ(mkdir(src.c_str(), 0755), 0);
  for (int d = 0; d < 4; ++d) {
    std::string sub = src + "/d" + std::to_string(d);
    ASSERT_EQ(mkdir(sub.c_str(), 0750), 0);
    ASSERT_EQ(mkdir((sub + "/deep").c_str(), 0700), 0);
    Write(sub + "/deep/leaf", "leaf");
    for (int f = 0; f < 300; ++f)
      Write(sub + "/f" + std::to_string(f), std::to_string(d * f));
  }
  for (int f = 0; f < 50; ++f) {
    ASSERT_EQ(link((src + "/d0/f" + std::to_string(f)).c_str(),
                   (src + "/d3/h" + std::to_string(f)).c_str()),
              0);
    ASSERT_EQ(link((src + "/d0/f" + std::to_string(f)).c_str(),
                   (src + "/d1/h" + std::to_string(f)).c_str()),
              0);
  }
  ASSERT_EQ(chmod((src + "/d2/f7").c_str(), 0604), 0);
  for (int d = 0; d < 4; ++d) {
    SetTimes(src + "/d" + std::to_string(d) + "/deep", 900000000 + d);
    SetTimes(src + "/d" + std::to_string(d), 800000000 + d);
  }
  SetTimes(src, 700000000);
  for (int workers : {0, 1, 3, 8}) {
    SCOPED_TRACE("workers=" + std::to_string(workers));
    std::string dst = dir / ("dst" + std::to_string(workers));
    auto stats =
        CloneTree(src, dst, {.data = DataMode::kCopy, .workers = workers});
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    EXPECT_EQ(stats->files, 4 * 301);
    EXPECT_EQ(stats->hardlinks, 100);
    EXPECT_EQ(stats->dirs, 1 + 4 * 2);
    std::map<ino_t, ino_t> inodes;
    ExpectSameTree(src, dst, inodes);
  }
}

// New entries in a setgid directory take its group: the clone must still
// give every entry its source's group.
TEST(TreeCloneTest, SetgidDestinationParentKeepsSourceOwners) {
  if (!IsRoot()) GTEST_SKIP() << "chown to another group needs root";
  TempDir dir;
  MakeRichTree(dir / "src");
  std::string parent = dir / "sgid";
  ASSERT_EQ(mkdir(parent.c_str(), 0755), 0);
  ASSERT_EQ(chown(parent.c_str(), 0, 4321), 0);
  ASSERT_EQ(chmod(parent.c_str(), 02775), 0);
  auto stats = CloneTree(dir / "src", parent + "/dst");
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  std::map<ino_t, ino_t> inodes;
  ExpectSameTree(dir / "src", parent + "/dst", inodes);
}

// Far deeper than PATH_MAX can name: directories are opened from their
// parent's fd, a bounded window of them stays open, and the hardlink pair at
// the bottom is linked again without a path.
TEST(TreeCloneTest, TreeFiftyThousandDirectoriesDeep) {
  constexpr int kDeep = 50000;
  TempDir dir;
  ASSERT_TRUE(testing::MakeDeepChain(dir / "src", kDeep));
  const int fds = testing::CountOpenFds();
  auto t0 = std::chrono::steady_clock::now();
  Result<CloneStats> stats = NotFound("not run");
  {
    testing::FdLimit limit(256);
    stats = CloneTree(dir / "src", dir / "dst",
                      {.data = DataMode::kAuto, .workers = 3});
  }
  std::printf(
      "[ timing ] CloneTree of %d levels in %.2f s\n", kDeep,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count());
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(testing::CountOpenFds(), fds) << "fds leaked";
  EXPECT_EQ(stats->dirs, 1 + kDeep);
  EXPECT_EQ(stats->files, 2);
  EXPECT_EQ(stats->hardlinks, 1);
  testing::ChainInfo info = testing::ReadDeepChain(dir / "dst");
  EXPECT_EQ(info.depth, kDeep);
  EXPECT_EQ(info.mid, "middle");
  EXPECT_EQ(info.bottom, "bottom of " + std::to_string(kDeep));
  EXPECT_EQ(info.bottom_links, 2u);
}

// Without CAP_DAC_READ_SEARCH (no file handles) hardlinks are made by path
// below dst; the result is the same.
TEST(TreeCloneTest, HardlinksWithoutFileHandles) {
  if (!IsRoot()) GTEST_SKIP() << "dropping a capability needs one";
  TempDir dir;
  MakeRichTree(dir / "src");
  testing::WithoutCapability no_handles(CAP_DAC_READ_SEARCH);
  ASSERT_TRUE(no_handles.ok());
  auto stats = CloneTree(dir / "src", dir / "dst",
                         {.data = DataMode::kCopy, .workers = 2});
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->hardlinks, 1);
  std::map<ino_t, ino_t> inodes;
  ExpectSameTree(dir / "src", dir / "dst", inodes);
}

// A decoy bind-mounted inside src (the same filesystem: same st_dev) is not
// cloned and not changed: the mount point is skipped, so the clone has no
// entry there at all; a file bind mount likewise.
TEST(TreeCloneTest, MountsInsideTheSourceAreSkipped) {
  if (!IsRoot()) GTEST_SKIP() << "bind mounts need root";
  TempDir dir;
  std::string decoy = dir / "decoy", src = dir / "src";
  MakeDecoy(decoy);
  const TreeState before = TreeState::Capture(decoy);
  MakeRichTree(src);
  ASSERT_EQ(mkdir((src + "/dir/mnt").c_str(), 0755), 0);
  ASSERT_TRUE(testing::BindMount(decoy, src + "/dir/mnt"));
  Write(src + "/filemnt", "under");
  ASSERT_TRUE(testing::BindMount(decoy + "/file", src + "/filemnt"));
  auto stats =
      CloneTree(src, dir / "dst", {.data = DataMode::kCopy, .workers = 3});
  umount2((src + "/dir/mnt").c_str(), MNT_DETACH);
  umount2((src + "/filemnt").c_str(), MNT_DETACH);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->mounts, 2);
  struct stat st;
  EXPECT_NE(lstat((dir / "dst/dir/mnt").c_str(), &st), 0)
      << "mount point cloned";
  EXPECT_NE(lstat((dir / "dst/filemnt").c_str(), &st), 0)
      << "file mount point cloned";
  TreeState after = TreeState::Capture(decoy);
  EXPECT_TRUE(after == before) << after.DiffFrom(before);
  // Without the mount points, the clone is the tree.
  ASSERT_EQ(rmdir((src + "/dir/mnt").c_str()), 0);
  ASSERT_EQ(unlink((src + "/filemnt").c_str()), 0);
  std::map<ino_t, ino_t> inodes;
  for (const std::string& d :
       {src, src + "/dir", dir / "dst", dir / "dst/dir"}) {
    SetTimes(d, 1000000004);  // the rmdir and unlink changed them
  }
  ExpectSameTree(src, dir / "dst", inodes);
}

class ReflinkFsTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ReflinkFsTest, ClonesShareExtentsAndPreserveEverything) {
  LoopFs fs(GetParam());
  if (!fs.ok()) GTEST_SKIP() << fs.reason();
  ExpectClonedTree(fs.path(), DataMode::kAuto, true);
}

TEST_P(ReflinkFsTest, StrictReflinkModeNeverCopies) {
  LoopFs fs(GetParam());
  if (!fs.ok()) GTEST_SKIP() << fs.reason();
  ExpectClonedTree(fs.path(), DataMode::kReflink, true);
}

int64_t FreeBytes(const std::string& path) {
  sync();
  struct statfs sf;
  EXPECT_EQ(statfs(path.c_str(), &sf), 0);
  return static_cast<int64_t>(sf.f_bavail) * sf.f_bsize;
}

TEST_P(ReflinkFsTest, CloneOf256MiBSharesExtentsAndCostsNoSpace) {
  LoopFs fs(GetParam());
  if (!fs.ok()) GTEST_SKIP() << fs.reason();
  std::string src = fs.path() + "/src", dst = fs.path() + "/dst";
  ASSERT_EQ(mkdir(src.c_str(), 0755), 0);
  {
    int fd = open((src + "/big").c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    std::string chunk(1 << 20, 'z');
    for (int i = 0; i < 256; ++i)
      ASSERT_EQ(write(fd, chunk.data(), chunk.size()), 1 << 20);
    ASSERT_EQ(fsync(fd), 0);
    close(fd);
  }
  int64_t before = FreeBytes(fs.path());
  auto stats = CloneTree(src, dst);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->cloned, 1);
  int64_t after = FreeBytes(fs.path());
  EXPECT_LT(before - after, 4 << 20)
      << "cloning 256 MiB consumed " << (before - after) << " bytes";

  // FIEMAP: every extent of the clone is SHARED, so none is exclusive.
  int fd = open((dst + "/big").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  char buf[sizeof(fiemap) + 4 * sizeof(fiemap_extent)] = {};
  auto* fm = reinterpret_cast<fiemap*>(buf);
  fm->fm_length = FIEMAP_MAX_OFFSET;
  fm->fm_extent_count = 4;
  ASSERT_EQ(ioctl(fd, FS_IOC_FIEMAP, fm), 0);
  ASSERT_GT(fm->fm_mapped_extents, 0u);
  EXPECT_TRUE(fm->fm_extents[0].fe_flags & FIEMAP_EXTENT_SHARED);
  auto excl = ExclusiveBytes(fd);
  ASSERT_TRUE(excl.ok()) << excl.status().ToString();
  EXPECT_EQ(*excl, 0);
  close(fd);
  auto usage = MeasureDiskUsage(dst, UsageMode::kExclusiveExtents);
  ASSERT_TRUE(usage.ok());
  EXPECT_LT(usage->bytes, 1 << 20);
  EXPECT_EQ(usage->inodes, 2);

  // A write to the child allocates only what it changed, and never shows in
  // the parent.
  fd = open((dst + "/big").c_str(), O_WRONLY);
  ASSERT_EQ(pwrite(fd, "child", 5, 4096), 5);
  ASSERT_EQ(fsync(fd), 0);
  close(fd);
  std::string head(8192, '\0');
  fd = open((src + "/big").c_str(), O_RDONLY);
  ASSERT_EQ(pread(fd, head.data(), head.size(), 0), 8192);
  close(fd);
  EXPECT_EQ(head, std::string(8192, 'z'));
  usage = MeasureDiskUsage(dst, UsageMode::kExclusiveExtents);
  ASSERT_TRUE(usage.ok());
  EXPECT_GT(usage->bytes, 0);
  EXPECT_LT(usage->bytes, 2 << 20);
}

// Usage of a fresh clone is its metadata: every inode costs the filesystem's
// inode size even though its data is shared, and only the blocks a child
// rewrites become its own.
TEST_P(ReflinkFsTest, ExclusiveUsageCountsInodeOverheadNotSharedData) {
  LoopFs fs(GetParam());
  if (!fs.ok()) GTEST_SKIP() << fs.reason();
  std::string src = fs.path() + "/src", dst = fs.path() + "/dst";
  constexpr int kDirs = 10, kFiles = 100, kFileBytes = 16384;
  ASSERT_EQ(mkdir(src.c_str(), 0755), 0);
  for (int d = 0; d < kDirs; ++d) {
    std::string dir = src + "/d" + std::to_string(d);
    ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
    for (int f = 0; f < kFiles; ++f) {
      Write(dir + "/f" + std::to_string(f),
            std::string(kFileBytes, static_cast<char>('a' + f % 26)));
    }
  }
  sync();
  int root = open(fs.path().c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(root, 0);
  int64_t overhead = InodeOverhead(root);
  close(root);
  EXPECT_EQ(overhead, GetParam() == "xfs" ? 512 : 160)
      << "inode size of a default mkfs";

  auto stats = CloneTree(src, dst);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  ASSERT_EQ(stats->cloned, kDirs * kFiles);
  sync();
  const int64_t inodes = 1 + kDirs + kDirs * kFiles;
  const int64_t data = int64_t{kDirs} * kFiles * kFileBytes;  // 16 MB
  auto src_du = MeasureDiskUsage(src);
  auto clone = MeasureDiskUsage(dst, UsageMode::kExclusiveExtents);
  ASSERT_TRUE(src_du.ok() && clone.ok());
  EXPECT_EQ(clone->inodes, inodes);
  EXPECT_GE(src_du->bytes, data);
  EXPECT_GE(clone->bytes, inodes * overhead) << "inode overhead missing";
  EXPECT_LT(clone->bytes, data / 8) << "shared data counted as the clone's";

  // Rewriting 20 files of the child makes exactly their blocks its own.
  for (int f = 0; f < 20; ++f) {
    int fd = open((dst + "/d3/f" + std::to_string(f)).c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(pwrite(fd, "child!", 6, 0), 6);
    close(fd);
  }
  sync();
  auto after = MeasureDiskUsage(dst, UsageMode::kExclusiveExtents);
  ASSERT_TRUE(after.ok());
  int64_t grew = after->bytes - clone->bytes;
  EXPECT_GE(grew, 20 * 4096) << "rewritten blocks not counted";
  EXPECT_LE(grew, 20 * kFileBytes) << "more than the rewritten files counted";
  EXPECT_EQ(Read(src + "/d3/f0"), std::string(kFileBytes, 'a'))
      << "child write reached the parent";
}

INSTANTIATE_TEST_SUITE_P(Fs, ReflinkFsTest, ::testing::Values("xfs", "btrfs"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace strata
