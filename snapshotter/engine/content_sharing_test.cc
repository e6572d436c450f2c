// Content sharing (README "Storage efficiency") on a loop-mounted XFS with
// reflink, through the engine's one apply path (ApplyTarget::Apply): equal
// files share extents, a wrong or stale index entry never makes a file hold
// another's bytes, removing a holder changes no other snapshot, and a
// filesystem without FICLONE stores layers whole and says so.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "io/base/sha256.h"
#include "io/base/source.h"
#include "io/base/unique_fd.h"
#include "io/fs/fs_util.h"
#include "io/tar/tar_test_util.h"
#include "snapshotter/engine/engine.h"
#include "snapshotter/engine/sharing_test_util.h"
#include "tests/testutil/loop_fs.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

// Bytes of path's data that no other file shares (FIEMAP).
int64_t Exclusive(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return -1;
  fsync(fd.get());  // delayed allocation: extents are known after writeback
  auto b = ExclusiveBytes(fd.get());
  return b.ok() ? *b : -1;
}

class ContentSharingTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!fs_.ok()) GTEST_SKIP() << fs_.reason();
    auto e = Engine::Open(
        {.root = fs_.path() + "/root", .sync = false, .backend = GetParam()});
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(*e);
    ASSERT_TRUE(engine_->Sharing().enabled) << engine_->Sharing().reason;
  }

  std::string Import(const std::string& name, const std::string& parent,
                     const std::string& tar, AppliedLayer* out = nullptr) {
    return ImportLayer(*engine_, name, parent, tar, out);
  }

  // Reopens the engine on the same root with content sharing on or off.
  bool ReopenWith(bool sharing) {
    engine_ = nullptr;
    auto e = Engine::Open({.root = fs_.path() + "/root",
                           .sync = false,
                           .backend = GetParam(),
                           .content_sharing = sharing});
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    if (e.ok()) engine_ = std::move(*e);
    return e.ok();
  }

  LoopFs fs_{"xfs"};
  std::unique_ptr<Engine> engine_;
};

TEST_P(ContentSharingTest, EqualFilesOfALaterLayerShareTheirExtents) {
  const std::string mid = RandomBytes(64 << 10, 1);   // via the sink path
  const std::string big = RandomBytes(600 << 10, 2);  // streamed, then cloned
  const std::string tiny = RandomBytes(1000, 3);      // one partial block
  std::string a = Import(
      "a", "", Layer({{"mid", mid}, {"big", big}, {"tiny", tiny}, {"e", ""}}));
  ASSERT_FALSE(a.empty());
  // The same contents under new names and another mode: a re-packed layer.
  const std::string fresh = RandomBytes(80 << 10, 4);
  AppliedLayer applied;
  std::string b = Import(
      "b", "",
      Layer(
          {{"x/mid2", mid}, {"x/big2", big}, {"tiny2", tiny}, {"fresh", fresh}},
          0600),
      &applied);
  ASSERT_FALSE(b.empty());
  EXPECT_EQ(applied.stats.shared_files, 3);
  EXPECT_EQ(applied.stats.shared_bytes,
            static_cast<int64_t>(mid.size() + big.size() + tiny.size()));
  EXPECT_EQ(applied.stats.share_refused, 0);
  EXPECT_TRUE(Slurp(b + "/x/mid2") == mid);
  EXPECT_TRUE(Slurp(b + "/x/big2") == big);
  EXPECT_TRUE(Slurp(b + "/tiny2") == tiny);
  EXPECT_TRUE(Slurp(b + "/fresh") == fresh);
  EXPECT_EQ(Exclusive(b + "/x/mid2"), 0) << "mid2 keeps its own copy";
  EXPECT_EQ(Exclusive(b + "/x/big2"), 0) << "big2 keeps its own copy";
  EXPECT_GT(Exclusive(b + "/fresh"), 0);
  // Only data is shared: metadata stays each file's own.
  struct stat sa, sb;
  ASSERT_EQ(stat((a + "/mid").c_str(), &sa), 0);
  ASSERT_EQ(stat((b + "/x/mid2").c_str(), &sb), 0);
  EXPECT_NE(sa.st_ino, sb.st_ino);
  EXPECT_EQ(sa.st_mode & 07777, 0644u);
  EXPECT_EQ(sb.st_mode & 07777, 0600u);
  EXPECT_EQ(sb.st_mtime, 1700000000);
  SharingInfo info = engine_->Sharing();
  EXPECT_EQ(info.shared_files, 3);
  EXPECT_EQ(info.digests, 4);  // mid, big, tiny, fresh (empty files: none)
  EXPECT_EQ(info.holders, 7);  // mid, big, tiny in both; fresh in b
  EXPECT_EQ(info.pending, 0);
}

// Files of several MiB: digested chunk by chunk on the hasher thread while
// streamed to disk (a ring of buffers reused across files), then, in a
// later layer whose sizes the index knows, held in memory and cloned
// without being written.
TEST_P(ContentSharingTest, MultiMegabyteFilesAreDigestedWhileStreamed) {
  const std::string p = RandomBytes((5 << 20) + 123, 50);
  const std::string q = RandomBytes((9 << 20) + 4096, 51);
  AppliedLayer applied;
  std::string a = Import("a", "", Layer({{"p", p}, {"q", q}}), &applied);
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(applied.stats.shared_files, 0);
  std::string b = Import("b", "", Layer({{"q2", q}, {"p2", p}}), &applied);
  EXPECT_EQ(applied.stats.shared_files, 2);
  EXPECT_EQ(applied.stats.shared_bytes,
            static_cast<int64_t>(p.size() + q.size()));
  EXPECT_TRUE(Slurp(b + "/p2") == p);
  EXPECT_TRUE(Slurp(b + "/q2") == q);
  EXPECT_EQ(Exclusive(b + "/q2"), 0);
  // Same sizes, other bytes: held, not shared, written whole.
  std::string p3 = p;
  p3[p3.size() - 1] ^= 1;
  std::string c = Import("c", "", Layer({{"p3", p3}}), &applied);
  EXPECT_EQ(applied.stats.shared_files, 0);
  EXPECT_TRUE(Slurp(c + "/p3") == p3);
}

TEST_P(ContentSharingTest, RemovingAHolderChangesNoOtherSnapshot) {
  const std::string mid = RandomBytes(100 << 10, 5);
  const std::string big = RandomBytes(700 << 10, 6);
  Files files{{"mid", mid}, {"big", big}};
  ASSERT_FALSE(Import("a", "", Layer(files)).empty());
  std::string b = Import("b", "", Layer(files));
  ASSERT_TRUE(engine_->Remove("a").ok());
  EXPECT_TRUE(Slurp(b + "/mid") == mid);
  EXPECT_TRUE(Slurp(b + "/big") == big);
  EXPECT_EQ(engine_->Sharing().holders, 2);
  // b holds the content now: a third layer shares with it.
  AppliedLayer applied;
  std::string c = Import("c", "", Layer(files), &applied);
  EXPECT_EQ(applied.stats.shared_files, 2);
  ASSERT_TRUE(engine_->Remove("b").ok());
  EXPECT_TRUE(Slurp(c + "/mid") == mid);
  EXPECT_TRUE(Slurp(c + "/big") == big);
  ASSERT_TRUE(engine_->Remove("c").ok());
  SharingInfo info = engine_->Sharing();
  EXPECT_EQ(info.digests, 0);
  EXPECT_EQ(info.holders, 0);
  EXPECT_EQ(info.pending, 0);
}

// The index's API digests files itself: a caller names files, never their
// digests, so no one can claim one content is another. A file one bit away
// from an indexed one shares nothing; the indexed content shares, on both
// paths (cloned small files, large ones cloned after streaming).
TEST_P(ContentSharingTest, TheIndexAPIDigestsFilesItself) {
  const std::vector<size_t> sizes = {size_t{64} << 10, size_t{512} << 10};
  // Applied with content sharing off: only the API can index these.
  ASSERT_TRUE(ReopenWith(false));
  for (size_t size : sizes) {
    ASSERT_FALSE(Import("a" + std::to_string(size), "",
                        Layer({{"x", RandomBytes(size, 7)}}))
                     .empty());
  }
  EXPECT_EQ(engine_->Sharing().holders, 0);
  ASSERT_TRUE(ReopenWith(true));
  for (size_t size : sizes) {
    SCOPED_TRACE("size " + std::to_string(size));
    std::string tag = std::to_string(size);
    const std::string x = RandomBytes(size, 7);
    std::string y = x;
    y[size / 2] ^= 1;  // same size, one bit apart
    auto added = engine_->AddContent("a" + tag, {"x", "missing", "../x"});
    ASSERT_TRUE(added.ok()) << added.status().ToString();
    EXPECT_EQ(*added, 1);
    AppliedLayer applied;
    std::string b = Import("b" + tag, "", Layer({{"y", y}}), &applied);
    EXPECT_EQ(applied.stats.shared_files, 0);
    EXPECT_TRUE(Slurp(b + "/y") == y) << "y took x's bytes";
    EXPECT_EQ(Exclusive(b + "/y"), static_cast<int64_t>(size));
    std::string c = Import("c" + tag, "", Layer({{"x2", x}}), &applied);
    EXPECT_EQ(applied.stats.shared_files, 1);
    EXPECT_TRUE(Slurp(c + "/x2") == x);
    EXPECT_EQ(Exclusive(c + "/x2"), 0);
  }
  EXPECT_FALSE(engine_->AddContent("nope", {"x"}).ok());
}

// A holder's file changed on disk after its commit (an operator, damage):
// it no longer matches, so nothing shares it.
TEST_P(ContentSharingTest, AHolderChangedOnDiskIsNotShared) {
  const std::string x = RandomBytes(48 << 10, 8);
  std::string a = Import("a", "", Layer({{"x", x}}));
  ASSERT_FALSE(a.empty());
  {
    std::fstream f(a + "/x", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x7f' ^ x[100]);
  }
  AppliedLayer applied;
  std::string b = Import("b", "", Layer({{"x", x}}), &applied);
  EXPECT_EQ(applied.stats.shared_files, 0);
  EXPECT_TRUE(Slurp(b + "/x") == x);
}

// Within one layer a path can be written twice, or replaced by a
// directory: only what the path holds at the end is proposed, so a later
// file never gets a replaced content's bytes (even if the new inode reused
// the old one's number).
TEST_P(ContentSharingTest, AReplacedPathIsProposedOnlyForItsLastContent) {
  const std::string first = RandomBytes(40 << 10, 11);
  const std::string last = RandomBytes(40 << 10, 12);
  const std::string gone = RandomBytes(40 << 10, 13);
  std::string tar = MakeEntry(Spec("p", '0', false, first.size()), first) +
                    MakeEntry(Spec("p", '0', false, last.size()), last) +
                    MakeEntry(Spec("r", '0', false, gone.size()), gone) +
                    MakeEntry(Spec("r", '5'), "") + EndOfArchive();
  ASSERT_FALSE(Import("a", "", tar).empty());
  AppliedLayer applied;
  std::string b = Import(
      "b", "", Layer({{"q1", first}, {"q2", last}, {"q3", gone}}), &applied);
  EXPECT_EQ(applied.stats.shared_files, 1);  // q2, from p's last content
  EXPECT_TRUE(Slurp(b + "/q1") == first);
  EXPECT_TRUE(Slurp(b + "/q2") == last);
  EXPECT_TRUE(Slurp(b + "/q3") == gone);
  EXPECT_EQ(Exclusive(b + "/q1"), static_cast<int64_t>(first.size()));
  EXPECT_EQ(Exclusive(b + "/q2"), 0);
}

// A hardlink moves its target's ctime after the digest was taken; the
// target is still proposed (busybox-style layers link most of their files).
TEST_P(ContentSharingTest, AHardlinkedFileIsStillProposed) {
  const std::string x = RandomBytes(40 << 10, 14);
  HeaderSpec link = Spec("bin/h", '1');
  link.linkname = "bin/f";
  std::string tar = MakeEntry(Spec("bin", '5'), "") +
                    MakeEntry(Spec("bin/f", '0', false, x.size()), x) +
                    MakeEntry(link, "") + EndOfArchive();
  ASSERT_FALSE(Import("a", "", tar).empty());
  AppliedLayer applied;
  std::string b = Import("b", "", Layer({{"y", x}}), &applied);
  EXPECT_EQ(applied.stats.shared_files, 1);
  EXPECT_TRUE(Slurp(b + "/y") == x);
  EXPECT_EQ(Exclusive(b + "/y"), 0);
}

// An active snapshot's files are not proposed before its Commit, and
// removing it uncommitted leaves nothing in the index.
TEST_P(ContentSharingTest, OnlyCommittedSnapshotsAreProposed) {
  const std::string x = RandomBytes(32 << 10, 9);
  ASSERT_TRUE(engine_->Prepare("open", "", {}).ok());
  auto target = engine_->ApplyTargetFor("open");
  ASSERT_TRUE(target.ok());
  std::string tar = Layer({{"x", x}});
  ASSERT_TRUE(
      (*target)->Apply(std::make_unique<MemorySource>(tar), false).ok());
  target->reset();
  EXPECT_EQ(engine_->Sharing().pending, 1);
  AppliedLayer applied;
  Import("b", "", tar, &applied);
  EXPECT_EQ(applied.stats.shared_files, 0);
  ASSERT_TRUE(engine_->Remove("open").ok());
  SharingInfo info = engine_->Sharing();
  EXPECT_EQ(info.pending, 0);
  EXPECT_EQ(info.holders, 1);  // b's
}

INSTANTIATE_TEST_SUITE_P(Backends, ContentSharingTest,
                         ::testing::Values("overlay", "reflink"),
                         [](const auto& info) { return info.param; });

// Where the root's filesystem cannot FICLONE (ext4 here), layers are stored
// whole and the engine says why.
TEST(ContentSharingOffTest, WithoutReflinkLayersAreStoredWhole) {
  LoopFs ext4("ext4", "256M");
  if (!ext4.ok()) GTEST_SKIP() << ext4.reason();
  auto e = Engine::Open(
      {.root = ext4.path() + "/root", .sync = false, .backend = "overlay"});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  SharingInfo info = (*e)->Sharing();
  EXPECT_FALSE(info.enabled);
  EXPECT_NE(info.reason.find("FICLONE"), std::string::npos) << info.reason;
  const std::string x = RandomBytes(64 << 10, 10);
  for (const char* key : {"one", "two"}) {
    ASSERT_TRUE((*e)->Prepare(key, "", {}).ok());
    auto target = (*e)->ApplyTargetFor(key);
    ASSERT_TRUE(target.ok());
    std::string tar = Layer({{"x", x}});
    auto applied = (*target)->Apply(std::make_unique<MemorySource>(tar), false);
    ASSERT_TRUE(applied.ok()) << applied.status().ToString();
    EXPECT_EQ(applied->stats.shared_files, 0);
    EXPECT_TRUE(applied->files.empty());
  }
}

// Hardlink sharing (content_sharing = hardlinks) where the root cannot
// clone (ext4), with the overlay backend: at Commit, a file equal to a
// committed layer's in content and metadata becomes a hardlink to it; one
// whose mode, owner, mtime or xattrs differ keeps its own inode.
class HardlinkSharingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs_.ok()) GTEST_SKIP() << fs_.reason();
  }
  std::unique_ptr<Engine> Open(const std::string& backend) {
    auto e = Engine::Open({.root = fs_.path() + "/root-" + backend,
                           .sync = false,
                           .backend = backend,
                           .hardlink_sharing = true});
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    return e.ok() ? std::move(*e) : nullptr;
  }
  static std::string Import(Engine& e, const std::string& name,
                            const std::string& tar) {
    return ImportLayer(e, name, "", tar);
  }
  static struct stat Stat(const std::string& path) {
    struct stat st = {};
    EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
    return st;
  }

  LoopFs fs_{"ext4", "256M"};
};

TEST_F(HardlinkSharingTest, EqualFilesOfCommittedLayersBecomeHardlinks) {
  auto e = Open("overlay");
  ASSERT_TRUE(e);
  SharingInfo info = e->Sharing();
  EXPECT_TRUE(info.enabled);
  EXPECT_NE(info.reason.find("hardlinks"), std::string::npos) << info.reason;
  const std::string x = RandomBytes(40 << 10, 40);
  const std::string y = RandomBytes(20 << 10, 41);
  const std::string z = RandomBytes(10 << 10, 42);
  std::string a = Import(*e, "a", Layer({{"x", x}, {"y", y}, {"z", z}}));
  ASSERT_FALSE(a.empty());
  // b: x equal in everything; y with another mode; z with another mtime.
  HeaderSpec other_time = Spec("d/z", '0', false, z.size());
  other_time.mtime = 1600000000;
  std::string tar = MakeEntry(Spec("d", '5'), "") +
                    MakeEntry(Spec("d/x", '0', false, x.size()), x) +
                    MakeEntry(other_time, z);
  HeaderSpec other_mode = Spec("d/y", '0', false, y.size());
  other_mode.mode = 0600;
  tar += MakeEntry(other_mode, y) + EndOfArchive();
  std::string b = Import(*e, "b", tar);
  ASSERT_FALSE(b.empty());
  EXPECT_EQ(Stat(a + "/x").st_ino, Stat(b + "/d/x").st_ino);
  EXPECT_EQ(Stat(b + "/d/x").st_nlink, 2u);
  EXPECT_NE(Stat(a + "/y").st_ino, Stat(b + "/d/y").st_ino) << "mode differs";
  EXPECT_NE(Stat(a + "/z").st_ino, Stat(b + "/d/z").st_ino) << "mtime differs";
  EXPECT_EQ(Stat(b + "/d/y").st_mode & 07777, 0600u);
  EXPECT_EQ(Stat(b + "/d/z").st_mtime, 1600000000);
  EXPECT_EQ(e->Sharing().shared_files, 1);
  // Nothing left in staging/ (the links are made there, then renamed).
  auto staged = ListDir(fs_.path() + "/root-overlay/staging");
  ASSERT_TRUE(staged.ok());
  EXPECT_TRUE(staged->empty());
  // A third layer links to the same inode (the holder's row follows the
  // ctime the link moved).
  std::string c = Import(*e, "c", Layer({{"x", x}}));
  EXPECT_EQ(Stat(c + "/x").st_ino, Stat(a + "/x").st_ino);
  EXPECT_EQ(e->Sharing().shared_files, 2);
  // Removing the first holder changes no other layer.
  ASSERT_TRUE(e->Remove("a").ok());
  EXPECT_TRUE(Slurp(b + "/d/x") == x);
  EXPECT_TRUE(Slurp(c + "/x") == x);
  EXPECT_TRUE(Slurp(b + "/d/y") == y);
  EXPECT_EQ(Stat(c + "/x").st_nlink, 2u);
}

// Only the overlay backend links (full-tree backends clone their trees,
// where a link would join two snapshots' files): elsewhere it says so.
TEST_F(HardlinkSharingTest, OtherBackendsStoreLayersWholeAndSaySo) {
  auto e = Open("copy");
  ASSERT_TRUE(e);
  SharingInfo info = e->Sharing();
  EXPECT_FALSE(info.enabled);
  EXPECT_NE(info.reason.find("overlay"), std::string::npos) << info.reason;
}

}  // namespace
}  // namespace strata
