// The change walkers against hand-made trees: what each reports (kind and
// path, in containerd's order), for full trees (TreeChanges: add, modify by
// content, size, mode, owner, xattr; delete; type swaps; links; a
// metadata-only dir change is none) and overlay layers (OverlayChanges:
// whiteouts of what the lowers show and of what they do not, opaque
// directories and what they hide, copy-ups that changed nothing, metacopy
// data from the lower, redirects refused, depth bounded).
#include "io/diff/changes.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "io/base/unique_fd.h"
#include "io/diff/diff_test_util.h"
#include "io/fs/fs_util.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

void Dir(const std::string& path) { ASSERT_TRUE(MakeDirs(path).ok()) << path; }

bool Whiteout(const std::string& path) {
  return mknod(path.c_str(), S_IFCHR | 0, makedev(0, 0)) == 0;
}

// "A path" lines; parents as "P path", links as "L path", implied deletes
// as "d path".
std::vector<std::string> Listing(
    const std::function<Status(const ChangeVisitor&)>& walk,
    Status* status = nullptr) {
  std::vector<std::string> out;
  Status s = walk([&out](const Change& c) {
    char k = ChangeLetter(c.kind);
    if (c.kind == ChangeKind::kParent) k = 'P';
    if (c.kind == ChangeKind::kUnmodifiedLink) k = 'L';
    if (c.kind == ChangeKind::kOpaque) k = 'O';
    if (c.implied) k = 'd';
    out.push_back(std::string(1, k) + " " + std::string(c.path));
    return Status::Ok();
  });
  if (status != nullptr) {
    *status = s;
  } else {
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return out;
}

using Lines = std::vector<std::string>;

class TreeChangesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    lower_ = tmp_ / "lower";
    upper_ = tmp_ / "upper";
    for (const std::string& root : {lower_, upper_}) {
      Dir(root + "/etc/deep/er");
      Dir(root + "/gone/sub");
      Dir(root + "/swap");
      WriteFileAt(root + "/etc/passwd", "root:x:0:0");
      WriteFileAt(root + "/etc/deep/er/f", "deep");
      WriteFileAt(root + "/gone/sub/x", "x");
      WriteFileAt(root + "/same-size", "aaaa");
      WriteFileAt(root + "/file-to-dir", "f");
      WriteFileAt(root + "/chmod", "c");
      ASSERT_EQ(symlink("passwd", (root + "/etc/link").c_str()), 0);
      struct timespec ts[2] = {{1700000000, 0}, {1700000000, 0}};
      ASSERT_EQ(utimensat(AT_FDCWD, (root + "/etc/link").c_str(), ts,
                          AT_SYMLINK_NOFOLLOW),
                0);
    }
  }

  Lines Changes() {
    UniqueFd l = OpenTree(lower_), u = OpenTree(upper_);
    return Listing([&](const ChangeVisitor& v) {
      return TreeChanges(l.get(), u.get(), v);
    });
  }

  TempDir tmp_;
  std::string lower_, upper_;
};

TEST_F(TreeChangesTest, IdenticalTreesHaveNoChanges) {
  EXPECT_EQ(Changes(), Lines{});
}

TEST_F(TreeChangesTest, ReportsEachKindInContainerdOrder) {
  WriteFileAt(upper_ + "/etc/deep/er/f", "DEEP");  // same size and mtime: bytes
  WriteFileAt(upper_ + "/etc/passwd", "root:x:0:0:more");  // size
  ASSERT_EQ(chmod((upper_ + "/chmod").c_str(), 0600), 0);
  ASSERT_TRUE(RemoveAll(upper_ + "/gone").ok());
  ASSERT_EQ(unlink((upper_ + "/file-to-dir").c_str()), 0);
  Dir(upper_ + "/file-to-dir");
  WriteFileAt(upper_ + "/file-to-dir/inside", "i");
  WriteFileAt(upper_ + "/new", "n");
  ASSERT_EQ(rmdir((upper_ + "/swap").c_str()), 0);
  WriteFileAt(upper_ + "/swap", "now a file");
  // A directory's mtime alone is no change (containerd's rule).
  struct timespec ts[2] = {{1, 0}, {1, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, (upper_ + "/etc/deep").c_str(), ts, 0), 0);
  EXPECT_EQ(Changes(),
            (Lines{"C chmod", "P etc", "P etc/deep", "P etc/deep/er",
                   "C etc/deep/er/f", "C etc/passwd", "C file-to-dir",
                   "A file-to-dir/inside", "D gone", "A new", "C swap"}));
}

TEST_F(TreeChangesTest, NanosecondMtimesDecideWithoutReadingBytes) {
  // Same size, same seconds, different nanoseconds: changed; equal non-zero
  // nanoseconds: the same, whatever the bytes (containerd's rule).
  WriteFileAt(upper_ + "/same-size", "bbbb");
  struct timespec a[2] = {{1700000000, 5}, {1700000000, 5}};
  struct timespec b[2] = {{1700000000, 7}, {1700000000, 7}};
  ASSERT_EQ(utimensat(AT_FDCWD, (lower_ + "/same-size").c_str(), a, 0), 0);
  ASSERT_EQ(utimensat(AT_FDCWD, (upper_ + "/same-size").c_str(), b, 0), 0);
  EXPECT_EQ(Changes(), Lines{"C same-size"});
  ASSERT_EQ(utimensat(AT_FDCWD, (upper_ + "/same-size").c_str(), a, 0), 0);
  EXPECT_EQ(Changes(), Lines{});
}

TEST_F(TreeChangesTest, CapabilityXattrIsAChangeOtherXattrsAreNot) {
  const std::string f = upper_ + "/chmod";
  if (setxattr(f.c_str(), "user.note", "x", 1, 0) != 0)
    GTEST_SKIP() << "no user xattrs on " << tmp_.path();
  EXPECT_EQ(Changes(), Lines{});
  // A v2 capability blob (cap_net_bind_service, permitted+effective).
  const char cap[20] = {0, 0, 0, 2, 0, 4, 0, 0, 0, 4, 0, 0};
  if (setxattr(f.c_str(), "security.capability", cap, sizeof(cap), 0) != 0)
    GTEST_SKIP() << "cannot set security.capability (needs root)";
  EXPECT_EQ(Changes(), Lines{"C chmod"});
}

TEST_F(TreeChangesTest, UnchangedLinkPeersAreReported) {
  ASSERT_EQ(link((lower_ + "/chmod").c_str(), (lower_ + "/a-link").c_str()), 0);
  ASSERT_EQ(link((upper_ + "/chmod").c_str(), (upper_ + "/a-link").c_str()), 0);
  EXPECT_EQ(Changes(), (Lines{"L a-link", "L chmod"}));
}

TEST_F(TreeChangesTest, EmptyLowerMakesEverythingAnAdd) {
  UniqueFd u = OpenTree(upper_);
  Lines got = Listing(
      [&](const ChangeVisitor& v) { return TreeChanges(-1, u.get(), v); });
  EXPECT_EQ(got.front(), "A chmod");
  EXPECT_EQ(got.size(), 13u);
  for (const std::string& line : got) EXPECT_EQ(line[0], 'A') << line;
}

TEST_F(TreeChangesTest, DepthIsBounded) {
  std::string p = upper_ + "/etc/deep/er";
  for (int i = 0; i < 8; ++i) Dir(p += "/d");
  UniqueFd l = OpenTree(lower_), u = OpenTree(upper_);
  Status s;
  Listing(
      [&](const ChangeVisitor& v) {
        return TreeChanges(l.get(), u.get(), v, ChangeLimits{.max_depth = 6});
      },
      &s);
  EXPECT_EQ(s.code(), Code::kResourceExhausted) << s.ToString();
  EXPECT_NE(s.message().find("directories deep"), std::string::npos);
}

class OverlayChangesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    if (geteuid() != 0) GTEST_SKIP() << "overlay whiteouts need root (mknod)";
    base_ = tmp_ / "l1";  // the bottom layer
    mid_ = tmp_ / "l2";
    upper_ = tmp_ / "upper";
    Dir(base_ + "/etc");
    Dir(base_ + "/opq/sub");
    Dir(base_ + "/var/lib");
    WriteFileAt(base_ + "/etc/passwd", "root");
    WriteFileAt(base_ + "/etc/hosts", "localhost");
    WriteFileAt(base_ + "/opq/a", "a");
    WriteFileAt(base_ + "/opq/sub/b", "b");
    WriteFileAt(base_ + "/var/lib/x", "x");
    Dir(mid_ + "/etc");
    WriteFileAt(mid_ + "/etc/added-in-mid", "m");
    ASSERT_TRUE(Whiteout(mid_ + "/etc/hosts"));  // deleted in the middle
    Dir(upper_);
  }

  Lines Changes(Status* s = nullptr) {
    UniqueFd u = OpenTree(upper_), m = OpenTree(mid_), b = OpenTree(base_);
    return Listing(
        [&](const ChangeVisitor& v) {
          return OverlayChanges(u.get(), {m.get(), b.get()}, v);
        },
        s);
  }

  TempDir tmp_;
  std::string base_, mid_, upper_;
};

TEST_F(OverlayChangesTest, WhiteoutsDeleteOnlyWhatTheLowersShow) {
  Dir(upper_ + "/etc");
  ASSERT_TRUE(Whiteout(upper_ + "/etc/passwd"));
  ASSERT_TRUE(Whiteout(upper_ + "/etc/hosts"));  // already gone below
  ASSERT_TRUE(Whiteout(upper_ + "/never-was"));
  ASSERT_TRUE(Whiteout(upper_ + "/var"));
  WriteFileAt(upper_ + "/etc/added-in-mid", "M");
  EXPECT_EQ(Changes(),
            (Lines{"P etc", "C etc/added-in-mid", "D etc/passwd", "D var"}));
}

TEST_F(OverlayChangesTest, OpaqueDirectoryHidesWhatIsBelow) {
  Dir(upper_ + "/opq");
  WriteFileAt(upper_ + "/opq/a", "new a");
  if (setxattr((upper_ + "/opq").c_str(), "trusted.overlay.opaque", "y", 1,
               0) != 0) {
    GTEST_SKIP() << "no trusted xattrs here";
  }
  EXPECT_EQ(Changes(), (Lines{"P opq", "O opq", "d opq/sub", "A opq/a"}));
}

TEST_F(OverlayChangesTest, CopyUpThatChangedNothingIsNoChange) {
  Dir(upper_ + "/var/lib");
  WriteFileAt(upper_ + "/var/lib/x", "x");  // same bytes, size, mtime
  EXPECT_EQ(Changes(), Lines{});
  ASSERT_EQ(chmod((upper_ + "/var/lib/x").c_str(), 0600), 0);
  EXPECT_EQ(Changes(), (Lines{"P var", "P var/lib", "C var/lib/x"}));
}

TEST_F(OverlayChangesTest, MetacopyFileTakesItsDataFromTheLower) {
  Dir(upper_ + "/etc");
  WriteFileAt(upper_ + "/etc/passwd", "");
  ASSERT_EQ(chmod((upper_ + "/etc/passwd").c_str(), 0600), 0);
  if (setxattr((upper_ + "/etc/passwd").c_str(), "trusted.overlay.metacopy", "",
               0, 0) != 0) {
    GTEST_SKIP() << "no trusted xattrs here";
  }
  UniqueFd u = OpenTree(upper_), m = OpenTree(mid_), b = OpenTree(base_);
  int64_t size = -1;
  bool lower_data = false;
  Status s = OverlayChanges(u.get(), {m.get(), b.get()}, [&](const Change& c) {
    if (c.path == "etc/passwd") {
      size = c.data_size;
      lower_data = c.data_dir != c.dir;
    }
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(size, 4);  // "root", from the bottom layer
  EXPECT_TRUE(lower_data);
}

TEST_F(OverlayChangesTest, RedirectIsRefusedNamingThePath) {
  Dir(upper_ + "/moved");
  if (setxattr((upper_ + "/moved").c_str(), "trusted.overlay.redirect", "/opq",
               4, 0) != 0) {
    GTEST_SKIP() << "no trusted xattrs here";
  }
  Status s;
  Changes(&s);
  EXPECT_EQ(s.code(), Code::kUnimplemented) << s.ToString();
  EXPECT_NE(s.message().find("/moved"), std::string::npos) << s.ToString();
}

TEST_F(OverlayChangesTest, NewDirectoryAndFileReplacingADirectory) {
  Dir(upper_ + "/new/inner");
  WriteFileAt(upper_ + "/new/inner/f", "f");
  WriteFileAt(upper_ + "/opq", "a file now");  // over a lower directory
  EXPECT_EQ(Changes(),
            (Lines{"A new", "A new/inner", "A new/inner/f", "C opq"}));
}

}  // namespace
}  // namespace strata
