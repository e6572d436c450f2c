// Hostile layers: every entry type, every metadata operation, hardlinks and
// whiteouts aimed at files outside the root through a final symlink reached
// by an alias path (`l -> .` then `l/x`, `./l/x`, `a/../l/x`, ...). After
// each layer the decoy (a stand-in for host files) must be unchanged in
// every way, on every sink, whiteout mode, and for a fresh and a non-empty
// root (the extractor skips existence checks in a fresh one).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <string>
#include <tuple>
#include <vector>

#include "io/extract/extractor.h"
#include "io/sink/sink_test_util.h"
#include "tests/testutil/fake_stream.h"
#include "tests/testutil/temp_dir.h"
#include "tests/testutil/tree_state.h"

namespace strata {
namespace {

using Param = std::tuple<SinkKind, WhiteoutMode, bool /*fresh root*/>;

class HostileLayerTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    sink_ = MakeTestSink(std::get<0>(GetParam()));
    if (!sink_)
      GTEST_SKIP() << "io_uring unavailable here (io_uring_setup failed)";
    decoy_ = dir_ / "decoy";
    MakeDecoy(decoy_);
    NewRoot();
    before_ = TreeState::Capture(decoy_);
    ASSERT_GE(before_.size(), 6u);
  }

  // A new, empty target root; with a lower layer's content (a full-tree
  // snapshot) unless the parameter asks for a fresh one.
  void NewRoot() {
    root_ = dir_ / ("layer" + std::to_string(roots_++));
    ASSERT_EQ(mkdir(root_.c_str(), 0755), 0);
    if (!std::get<2>(GetParam())) {
      ASSERT_EQ(mkdir((root_ + "/lower").c_str(), 0755), 0);
    }
  }

  // Applies s; the outcome may be an error, but the decoy must be untouched
  // and the root must stay usable.
  Status Apply(FakeStream& s) {
    ExtractOptions opts;
    opts.whiteouts = std::get<1>(GetParam());
    Extractor x(root_, *sink_, opts);
    auto r = x.Apply(s);
    return r.ok() ? Status::Ok() : r.status();
  }

  void ExpectDecoyUntouched(const std::string& what) {
    TreeState after = TreeState::Capture(decoy_);
    EXPECT_TRUE(after == before_) << what << " changed the decoy:\n"
                                  << after.DiffFrom(before_);
  }

  TempDir dir_;
  std::string root_, decoy_;
  std::unique_ptr<FileSink> sink_;
  TreeState before_;
  int roots_ = 0;
};

// The entry kinds a layer can put at a path, each with every piece of
// metadata it carries set to something the decoy does not have.
void AddEntry(FakeStream& s, TarEntry::Type type, const std::string& path) {
  switch (type) {
    case TarEntry::Type::kHardlink:
      s.File("hl-src", "linked", 0777);
      s.Hardlink(path, "hl-src");
      return;
    case TarEntry::Type::kSymlink:
      s.Symlink(path, "elsewhere");
      break;
    default:
      s.Add(type, path, 0777, type == TarEntry::Type::kFile ? "pwned" : "");
  }
  TarEntry& e = s.Last();
  e.mode = 06777;
  e.uid = 4321;
  e.gid = 4321;
  e.mtime_sec = e.atime_sec = 42;
  e.dev_major = 1;
  e.dev_minor = 3;
  // trusted.*: the kernel takes it on every inode type but symlinks.
  if (type != TarEntry::Type::kSymlink)
    e.xattrs = {{"trusted.strata-evil", "1"}};
}

const TarEntry::Type kTypes[] = {
    TarEntry::Type::kDirectory,  TarEntry::Type::kFile,
    TarEntry::Type::kSymlink,    TarEntry::Type::kHardlink,
    TarEntry::Type::kCharDevice, TarEntry::Type::kBlockDevice,
    TarEntry::Type::kFifo,
};

const char* kAliases[] = {"l/x",     "./l/x", "l/./x", "a/../l/x",
                          "l/l/l/x", "l//x",  "m/x"};

// The layer from the report: `x -> <host file>`, `l -> .`, then an entry at
// `l/x`. Every entry type, every alias, a file and a directory as the target.
TEST_P(HostileLayerTest, NoEntryActsThroughAFinalSymlinkReachedByAnAlias) {
  for (const std::string& target :
       std::vector<std::string>{decoy_ + "/file", decoy_ + "/sub", decoy_}) {
    for (TarEntry::Type type : kTypes) {
      for (const char* alias : kAliases) {
        NewRoot();
        FakeStream s;
        s.Symlink("x", target).Symlink("l", ".").Dir("a").Symlink("m", "/");
        AddEntry(s, type, alias);
        Status st = Apply(s);
        std::string what =
            "entry type " + std::to_string(static_cast<int>(type)) + " at " +
            alias + " over x -> " + target + " (" + st.ToString() + ")";
        ExpectDecoyUntouched(what);
        if (HasFailure()) return;
        // What the layer asked for happened inside the root, to x itself.
        struct stat st_x;
        ASSERT_EQ(lstat((root_ + "/x").c_str(), &st_x), 0) << what;
        if (type != TarEntry::Type::kSymlink) {
          EXPECT_FALSE(S_ISLNK(st_x.st_mode))
              << what << ": x is still the symlink";
        }
        EXPECT_TRUE(st.ok()) << what;
      }
    }
  }
}

// The same through the metadata of an existing directory reached twice.
TEST_P(HostileLayerTest, DirectoryEntryOverSymlinkToHostDirectory) {
  FakeStream s;
  s.Symlink("etc", decoy_).Symlink("l", ".").Dir("l/etc", 0777);
  s.Last().uid = 77;
  s.Last().xattrs = {{"user.evil", "1"}};
  s.Dir("l/etc/", 0700).Dir("./etc", 0755);
  ASSERT_TRUE(Apply(s).ok());
  ExpectDecoyUntouched("directory entries over etc -> decoy");
  struct stat st;
  ASSERT_EQ(lstat((root_ + "/etc").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

TEST_P(HostileLayerTest, HardlinksThroughAliasesLinkTheSymlinkNotItsTarget) {
  FakeStream s;
  s.Symlink("x", decoy_ + "/file").Symlink("l", ".");
  s.Hardlink("h1", "l/x").Hardlink("l/h2", "./l/x").Hardlink("h3", "x");
  Status st = Apply(s);
  ExpectDecoyUntouched("hardlinks to l/x");
  ASSERT_TRUE(st.ok()) << st.ToString();
  struct stat st_h;
  ASSERT_EQ(lstat((root_ + "/h1").c_str(), &st_h), 0);
  EXPECT_TRUE(S_ISLNK(st_h.st_mode));
  // A hardlink whose target is a symlink to a host file outside.
  FakeStream t;
  t.Symlink("y", decoy_ + "/file").File("keep", "k").Hardlink("l/y", "keep");
  st = Apply(t);
  ExpectDecoyUntouched("hardlink over l/y");
  EXPECT_TRUE(st.ok()) << st.ToString();
}

TEST_P(HostileLayerTest, WhiteoutsThroughAliases) {
  const std::vector<std::vector<std::string>> layers = {
      {"l/.wh.x"},
      {"l/.wh.y"},
      {"./l/x/.wh.file"},
      {"l/x/.wh..wh..opq"},
      {"x/sub/.wh..wh..opq"},
      {"a/../l/.wh.x", "l/x/.wh.sub"},
  };
  for (const auto& whiteouts : layers) {
    NewRoot();
    FakeStream s;
    s.Symlink("x", decoy_)
        .Symlink("y", decoy_ + "/file")
        .Symlink("l", ".")
        .Dir("a");
    for (const std::string& w : whiteouts) s.File(w, "");
    Status st = Apply(s);
    ExpectDecoyUntouched("whiteout " + whiteouts[0] + " (" + st.ToString() +
                         ")");
  }
}

TEST_P(HostileLayerTest, WritesThroughSymlinkedDirectoriesStayInside) {
  FakeStream s;
  s.Symlink("d", decoy_)
      .Symlink("l", ".")
      .Dir("l/d/sub")
      .File("l/d/file", "pwned", 0777);
  s.Symlink("s", decoy_ + "/sub").File("s/inner", "pwned");
  Status st = Apply(s);
  ExpectDecoyUntouched("writes through d -> decoy");
  (void)st;  // the parents do not exist inside the root: an error is fine
}

// A tree far deeper than a path can name, built through symlink hops with
// short names: `hN -> h(N-1)/a/.../a`, then `hN/a/.../a/fN`. The kernel
// follows at most 40 symlinks in one lookup, so 21 hops of 2,000 levels
// reach 42,000 levels. It applies, and the deepest file is where it should
// be.
TEST(DeepLayerTest, FortyThousandLevelsThroughSymlinkHops) {
  constexpr int kHops = 21, kLevels = 2000;
  std::string seg;
  for (int i = 0; i < kLevels; ++i) seg += i ? "/a" : "a";
  FakeStream s;
  s.File(seg + "/f0", "0");
  for (int h = 1; h < kHops; ++h) {
    std::string prev = h == 1 ? seg : "h" + std::to_string(h - 1) + "/" + seg;
    s.Symlink("h" + std::to_string(h), prev);
    s.File("h" + std::to_string(h) + "/" + seg + "/f" + std::to_string(h),
           std::to_string(h));
  }
  TempDir dir;
  std::string root = dir / "layer";
  ASSERT_EQ(mkdir(root.c_str(), 0755), 0);
  SyncFileSink sink;
  Extractor x(root, sink);
  auto r = x.Apply(s);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // Walk down by descriptors: kHops * kLevels directories named "a".
  int fd = open(root.c_str(), O_PATH | O_DIRECTORY);
  for (int i = 0; i < kHops * kLevels && fd >= 0; ++i) {
    int next = openat(fd, "a", O_PATH | O_DIRECTORY | O_NOFOLLOW);
    close(fd);
    fd = next;
    ASSERT_GE(fd, 0) << "level " << i;
  }
  struct stat st;
  std::string last = "f" + std::to_string(kHops - 1);
  EXPECT_EQ(fstatat(fd, last.c_str(), &st, AT_SYMLINK_NOFOLLOW), 0)
      << last << " missing";
  close(fd);
}

std::string ParamName(const ::testing::TestParamInfo<Param>& info) {
  return SinkName(std::get<0>(info.param)) +
         (std::get<1>(info.param) == WhiteoutMode::kOverlay ? "_overlay"
                                                            : "_delete") +
         (std::get<2>(info.param) ? "_fresh" : "_lower");
}

INSTANTIATE_TEST_SUITE_P(
    All, HostileLayerTest,
    ::testing::Combine(::testing::ValuesIn(kAllSinks),
                       ::testing::Values(WhiteoutMode::kOverlay,
                                         WhiteoutMode::kDelete),
                       ::testing::Bool()),
    ParamName);

}  // namespace
}  // namespace strata
