// strata df's and strata dedup's engine side (engine/space.h) on a
// loop-mounted XFS with reflink: shared extents are counted once; dedup
// shares equal files only, never reaches outside a snapshot, survives a
// snapshot removed under it and stops when asked; and, whatever sharing
// happened (at import or by dedup), no two files with different bytes ever
// map the same extent.
#include "snapshotter/engine/space.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "io/base/source.h"
#include "io/base/unique_fd.h"
#include "io/fs/fs_util.h"
#include "io/fs/mount.h"
#include "io/tar/tar_test_util.h"
#include "snapshotter/engine/sharing_test_util.h"
#include "tests/testutil/loop_fs.h"
#include "tests/testutil/temp_dir.h"
#include "tests/testutil/tree_state.h"

namespace strata {
namespace {

class SpaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs_.ok()) GTEST_SKIP() << fs_.reason();
    ASSERT_TRUE(Open(true));
  }

  bool Open(bool sharing) {
    engine_ = nullptr;
    auto e = Engine::Open({.root = fs_.path() + "/root",
                           .sync = false,
                           .backend = "overlay",
                           .content_sharing = sharing});
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    if (e.ok()) engine_ = std::move(*e);
    return e.ok();
  }

  // Imports `tar` as committed `name`; returns its directory.
  std::string Import(const std::string& name, const std::string& tar) {
    std::string dir = ImportLayer(*engine_, name, "", tar);
    sync();  // delayed allocation: extents are placed after writeback
    return dir;
  }

  const SnapshotSpace* Find(const SpaceReport& r, const std::string& name) {
    for (const SnapshotSpace& s : r.snapshots) {
      if (s.info.name == name) return &s;
    }
    ADD_FAILURE() << "no snapshot " << name;
    return nullptr;
  }

  LoopFs fs_{"xfs"};
  std::unique_ptr<Engine> engine_;
};

TEST_F(SpaceTest, SharedExtentsAreCountedOnceAndSavedForTheYounger) {
  const std::string x = RandomBytes(256 << 10, 1);
  const std::string y = RandomBytes(128 << 10, 2);
  const std::string z = RandomBytes(64 << 10, 3);
  Import("a", Layer({{"x", x}, {"y", y}}));
  Import("b", Layer({{"x2", x}, {"z", z}}));
  auto r = MeasureSpace(*engine_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const SnapshotSpace* a = Find(*r, "a");
  const SnapshotSpace* b = Find(*r, "b");
  ASSERT_TRUE(a && b);
  EXPECT_GE(a->logical, static_cast<int64_t>(x.size() + y.size()));
  EXPECT_GE(b->logical, static_cast<int64_t>(x.size() + z.size()));
  EXPECT_EQ(a->shared, static_cast<int64_t>(x.size()));
  EXPECT_EQ(b->shared, static_cast<int64_t>(x.size()));
  EXPECT_EQ(a->saved, 0) << "the older snapshot holds the extents";
  EXPECT_EQ(b->saved, static_cast<int64_t>(x.size()));
  EXPECT_EQ(r->shared, static_cast<int64_t>(x.size()));
  EXPECT_EQ(r->saved, static_cast<int64_t>(x.size()));
  EXPECT_EQ(r->logical, a->logical + b->logical);
  EXPECT_GT(r->fs_used, 0);
  EXPECT_GT(r->metadata_bytes, 0);
}

// Whole-store check: for every pair of files (across all snapshots) whose
// extents overlap physically, the bytes at those offsets are equal.
void ExpectNoDifferentBytesShareExtents(const std::vector<std::string>& files) {
  struct Piece {
    size_t file;
    uint64_t logical, physical, length;
  };
  std::vector<Piece> pieces;
  std::vector<std::string> data;
  for (size_t i = 0; i < files.size(); ++i) {
    data.push_back(Slurp(files[i]));
    UniqueFd fd(open(files[i].c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(fd.valid()) << files[i];
    ASSERT_TRUE(ForEachExtent(fd.get(), [&](const FileExtent& e) {
                  if (e.located)
                    pieces.push_back({i, e.logical, e.physical, e.length});
                }).ok());
  }
  int overlaps = 0;
  for (size_t p = 0; p < pieces.size(); ++p) {
    for (size_t q = p + 1; q < pieces.size(); ++q) {
      const Piece &a = pieces[p], &b = pieces[q];
      if (a.file == b.file) continue;
      uint64_t lo = std::max(a.physical, b.physical);
      uint64_t hi = std::min(a.physical + a.length, b.physical + b.length);
      if (lo >= hi) continue;
      ++overlaps;
      uint64_t off_a = a.logical + (lo - a.physical);
      uint64_t off_b = b.logical + (lo - b.physical);
      const std::string& da = data[a.file];
      const std::string& db = data[b.file];
      // Compare what both files hold in the range (a tail block is shared
      // beyond EOF: only the bytes inside both files matter).
      uint64_t len = hi - lo;
      uint64_t end_a = std::min<uint64_t>(off_a + len, da.size());
      uint64_t end_b = std::min<uint64_t>(off_b + len, db.size());
      uint64_t n = std::min(end_a - std::min(off_a, end_a),
                            end_b - std::min(off_b, end_b));
      EXPECT_EQ(da.compare(off_a, n, db, off_b, n), 0)
          << files[a.file] << " and " << files[b.file]
          << " share an extent but differ";
    }
  }
  EXPECT_GT(overlaps, 0) << "nothing was shared: the check proved nothing";
}

// Near-identical files: the same size, equal but for one byte at the start,
// the middle, the end, or one whole block; equal copies among them. After
// sharing at import and a dedup, only equal files share.
TEST_F(SpaceTest, NoTwoFilesWithDifferentBytesShareAnExtent) {
  const size_t kSize = 96 << 10;
  const std::string base = RandomBytes(kSize, 10);
  std::vector<std::string> variants{base};
  for (size_t at : {size_t{0}, kSize / 2, kSize - 1}) {
    std::string v = base;
    v[at] ^= 0x40;
    variants.push_back(v);
  }
  std::string block = base;
  for (size_t i = 4096; i < 8192; ++i) block[i] = 0;
  variants.push_back(block);
  // Layers 0-2 through import with sharing on; 3-5 with it off, then dedup.
  std::vector<std::string> files;
  for (int layer = 0; layer < 6; ++layer) {
    if (layer == 3) {
      ASSERT_TRUE(Open(false));
    }
    Files fl;
    for (size_t v = 0; v < variants.size(); ++v) {
      if ((layer + v) % 2 == 0 || v == 0) {
        fl.push_back({"v" + std::to_string(v), variants[v]});
      }
    }
    std::string dir = Import("l" + std::to_string(layer), Layer(fl));
    ASSERT_FALSE(dir.empty());
    for (const auto& [name, bytes] : fl) files.push_back(dir + "/" + name);
  }
  ASSERT_TRUE(Open(true));
  auto done = Dedup(*engine_, {});
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_GT(done->files_shared, 0);
  EXPECT_EQ(done->skipped, 0);
  sync();
  ExpectNoDifferentBytesShareExtents(files);
  // And each file still holds exactly its variant.
  for (const std::string& f : files) {
    size_t v = static_cast<size_t>(std::stoi(f.substr(f.rfind("/v") + 2)));
    EXPECT_TRUE(Slurp(f) == variants[v]) << f;
  }
}

// A committed layer holding a symlink to a host file, a hardlink, and a
// FIFO: dedup walks only the snapshot's own regular files; the host file,
// equal to a layer file, is never opened for sharing and does not change in
// any way.
TEST_F(SpaceTest, DedupNeverReachesOutsideTheSnapshots) {
  ASSERT_TRUE(Open(false));
  const std::string x = RandomBytes(64 << 10, 20);
  // Host files live on the loop XFS too, beside the root (a target on the
  // same filesystem is the one dedup could reach): a decoy tree and a file
  // equal to the layers' x.
  const std::string host_dir = fs_.path() + "/host";
  MakeDecoy(host_dir);
  const std::string host = host_dir + "/equal.bin";
  { std::ofstream(host, std::ios::binary) << x; }
  HeaderSpec sym = Spec("evil", '2');
  sym.linkname = host;
  HeaderSpec hard = Spec("x-link", '1');
  hard.linkname = "x";
  std::string tar = MakeEntry(Spec("x", '0', false, x.size()), x) +
                    MakeEntry(sym, "") + MakeEntry(hard, "") +
                    MakeEntry(Spec("fifo", '6'), "") + EndOfArchive();
  std::string a = Import("a", tar);
  std::string b = Import("b", Layer({{"x", x}}));
  ASSERT_FALSE(a.empty() || b.empty());
  sync();
  TreeState before = TreeState::Capture(host_dir);
  auto done = Dedup(*engine_, {});
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->files_examined, 2);  // a/x (and its link, once), b/x
  EXPECT_EQ(done->files_shared, 1);
  EXPECT_EQ(TreeState::Capture(host_dir).DiffFrom(before), "");
  UniqueFd fd(open(host.c_str(), O_RDONLY | O_CLOEXEC));
  auto excl = ExclusiveBytes(fd.get());
  ASSERT_TRUE(excl.ok());
  EXPECT_EQ(*excl, static_cast<int64_t>(x.size())) << "the host file shares";
  EXPECT_TRUE(Slurp(b + "/x") == x);
}

// Snapshots removed while dedup runs are skipped, not an error; a cancelled
// run stops and says so.
TEST_F(SpaceTest, DedupSurvivesRemovalsAndStopsWhenAsked) {
  ASSERT_TRUE(Open(false));
  const std::string x = RandomBytes(200 << 10, 30);
  for (int i = 0; i < 4; ++i) {
    ASSERT_FALSE(
        Import("s" + std::to_string(i), Layer({{"x", x}, {"y", x}})).empty());
  }
  bool removed = false;
  DedupOptions opts;
  opts.progress = [&](const DedupProgress& p) {
    if (p.phase == DedupProgress::Phase::kDigest && !removed) {
      removed = true;
      EXPECT_TRUE(engine_->Remove("s1").ok());
      EXPECT_TRUE(engine_->Remove("s2").ok());
    }
  };
  auto done = Dedup(*engine_, opts);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_TRUE(removed);
  EXPECT_FALSE(done->interrupted);
  EXPECT_EQ(done->files_examined, 8);
  EXPECT_EQ(done->files_shared, 3) << "s0/y, s3/x, s3/y";
  EXPECT_GE(done->skipped, 4) << "the removed snapshots' files";
  auto r = MeasureSpace(*engine_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->snapshots.size(), 2u);

  int polls = 0;
  opts = {};
  opts.cancelled = [&] { return ++polls > 3; };
  done = Dedup(*engine_, opts);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_TRUE(done->interrupted);
  EXPECT_EQ(done->phase, DedupProgress::Phase::kDone);

  // One at a time.
  opts = {};
  Status nested;
  opts.progress = [&](const DedupProgress&) {
    if (nested.ok()) nested = Dedup(*engine_, {}).status();
  };
  ASSERT_TRUE(Dedup(*engine_, opts).ok());
  EXPECT_EQ(nested.code(), Code::kFailedPrecondition) << nested.ToString();
}

}  // namespace
}  // namespace strata
