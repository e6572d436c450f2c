// Extraction semantics and safety, on every file sink (io_uring, threads,
// sync).
#include "io/extract/extractor.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "io/sink/sink_test_util.h"
#include "tests/testutil/fake_stream.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

std::string Read(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

class ExtractorTest : public ::testing::TestWithParam<SinkKind> {
 protected:
  void SetUp() override {
    sink_ = MakeTestSink(GetParam());
    if (!sink_)
      GTEST_SKIP() << "io_uring unavailable here (io_uring_setup failed)";
    root_ = dir_ / "layer";
    ASSERT_EQ(mkdir(root_.c_str(), 0755), 0);
  }
  Result<ExtractStats> Apply(FakeStream& s, ExtractOptions opts = {}) {
    Extractor x(root_, *sink_, opts);
    return x.Apply(s);
  }
  TempDir dir_;
  std::string root_;
  std::unique_ptr<FileSink> sink_;
};

TEST_P(ExtractorTest, TreeWithAllEntryTypes) {
  std::string big(3 << 20, 'b');    // streamed path
  std::string mid(200 << 10, 'm');  // over the io_uring buffer
  FakeStream s;
  s.Dir("etc")
      .File("etc/hosts", "127.0.0.1 localhost\n")
      .File("bin/tool", "ELF", 04755)  // parent "bin" missing: created
      .File("big", big)
      .File("mid", mid)
      .File("empty", "")
      .Symlink("etc/link", "../big")
      .Hardlink("hard", "etc/hosts")
      .Add(TarEntry::Type::kFifo, "fifo", 0600, "");
  s.Last().mtime_sec = 1234;
  for (int i = 0; i < 300; ++i)
    s.File("many/f" + std::to_string(i), std::to_string(i));
  s.File("xattr", "x");
  s.Last().xattrs = {{"user.strata", "yes"}};
  auto r = Apply(s);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files, 306);
  EXPECT_EQ(Read(root_ + "/etc/hosts"), "127.0.0.1 localhost\n");
  EXPECT_EQ(Read(root_ + "/big"), big);
  EXPECT_EQ(Read(root_ + "/mid"), mid);
  EXPECT_EQ(Read(root_ + "/empty"), "");
  for (int i = 0; i < 300; i += 37) {
    EXPECT_EQ(Read(root_ + "/many/f" + std::to_string(i)), std::to_string(i));
  }
  struct stat st;
  ASSERT_EQ(lstat((root_ + "/bin/tool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u) << "setuid bit lost";
  EXPECT_EQ(st.st_mtime, 1500000000);
  ASSERT_EQ(lstat((root_ + "/etc/link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  struct stat a, b;
  ASSERT_EQ(stat((root_ + "/hard").c_str(), &a), 0);
  ASSERT_EQ(stat((root_ + "/etc/hosts").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  ASSERT_EQ(lstat((root_ + "/fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(st.st_mtime, 1234);
  ASSERT_EQ(lstat((root_ + "/etc").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtime, 1500000000)
      << "directory time not fixed up after its contents";
  char val[8] = {};
  EXPECT_EQ(
      getxattr((root_ + "/xattr").c_str(), "user.strata", val, sizeof(val)), 3);
}

TEST_P(ExtractorTest, NothingEscapesTheRoot) {
  std::string outside = dir_ / "outside";
  ASSERT_EQ(mkdir(outside.c_str(), 0755), 0);
  FakeStream s;
  s.File("../../escape1", "x")
      .File("/abs/escape2", "x")
      .Symlink("up", "../../..")
      .File("up/escape4", "x")
      .Dir("etc")
      .Symlink("evil", "/etc")  // absolute: resolves inside the root
      .File("evil/passwd", "x")
      .Dir("d")
      .Symlink("d/loop", "../d/loop");
  auto r = Apply(s);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(Exists(root_ + "/escape1"));
  EXPECT_TRUE(Exists(root_ + "/abs/escape2"));
  EXPECT_TRUE(Exists(root_ + "/escape4"));
  EXPECT_TRUE(Exists(root_ + "/etc/passwd")) << "symlink not resolved in root";
  EXPECT_FALSE(Exists(dir_.path() + "/escape1"));
  EXPECT_FALSE(Exists(dir_.path() + "/escape4"));

  // A symlink pointing at a real directory outside: the entry written through
  // it fails (the target does not exist inside the root) and nothing is
  // written outside.
  FakeStream dangling;
  dangling.Symlink("out", outside).File("out/escape3", "x");
  auto dr = Apply(dangling);
  EXPECT_FALSE(dr.ok());
  EXPECT_NE(dr.status().message().find("\"out/escape3\""), std::string::npos);
  EXPECT_FALSE(Exists(outside + "/escape3"));

  FakeStream loop;
  loop.File("d/loop/x", "x");  // through a symlink loop: an error, not a hang
  EXPECT_FALSE(Apply(loop).ok());

  FakeStream link;
  link.Hardlink("h", "../outside-file");
  std::ofstream(dir_ / "outside-file") << "secret";
  auto hr = Apply(link);
  ASSERT_FALSE(hr.ok());
  EXPECT_EQ(hr.status().code(), Code::kNotFound);
  EXPECT_NE(hr.status().message().find("\"h\""), std::string::npos)
      << hr.status().message();
}

TEST_P(ExtractorTest, RefusesOverlayXattrsAndNamesTheEntry) {
  FakeStream s;
  s.Dir("ok").File("sneaky", "x");
  s.Last().xattrs = {{"trusted.overlay.opaque", "y"}};
  auto r = Apply(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("\"sneaky\""), std::string::npos);
  EXPECT_FALSE(Exists(root_ + "/sneaky"));
}

TEST_P(ExtractorTest, TruncatedDataIsAnErrorNamingTheEntry) {
  FakeStream s;
  for (int i = 0; i < 50; ++i) s.File("f" + std::to_string(i), "data");
  s.File("cut", std::string(1000, 'c'));
  s.TruncateLast(10);
  auto r = Apply(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kDataLoss);
  EXPECT_NE(r.status().message().find("\"cut\""), std::string::npos);
}

TEST_P(ExtractorTest, LaterEntriesReplaceEarlierOnes) {
  FakeStream s;
  s.Dir("a")
      .File("a/inner", "1")
      .File("a", "now a file")  // file over directory
      .File("b", "file")
      .Dir("b")  // directory over file
      .File("b/x", "2")
      .File("c", "old")
      .File("c", "new");
  auto r = Apply(s);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Read(root_ + "/a"), "now a file");
  EXPECT_EQ(Read(root_ + "/b/x"), "2");
  EXPECT_EQ(Read(root_ + "/c"), "new");
}

TEST_P(ExtractorTest, OverlayWhiteouts) {
  if (geteuid() != 0)
    GTEST_SKIP() << "overlay whiteouts need CAP_MKNOD (CI runs as root)";
  FakeStream s;
  s.Dir("etc")
      .File("etc/.wh.gone", "")
      .Dir("opaque")
      .File("opaque/.wh..wh..opq", "")
      .File("opaque/new", "n");
  auto r = Apply(s);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  struct stat st;
  ASSERT_EQ(lstat((root_ + "/etc/gone").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  EXPECT_FALSE(Exists(root_ + "/etc/.wh.gone"));
  char v[4] = {};
  EXPECT_EQ(getxattr((root_ + "/opaque").c_str(), "trusted.overlay.opaque", v,
                     sizeof(v)),
            1);
  EXPECT_EQ(v[0], 'y');
  EXPECT_TRUE(Exists(root_ + "/opaque/new"));
}

TEST_P(ExtractorTest, DeleteModeAppliesWhiteoutsToAFullTree) {
  // The lower layer's content, as in a cloned full-tree snapshot.
  FakeStream lower;
  lower.Dir("etc")
      .File("etc/gone", "x")
      .File("etc/kept", "k")
      .Dir("opaque")
      .File("opaque/a", "a")
      .Dir("opaque/sub")
      .File("opaque/sub/b", "b");
  ExtractOptions del;
  del.whiteouts = WhiteoutMode::kDelete;
  ASSERT_TRUE(Apply(lower, del).ok());
  FakeStream upper;
  upper
      .File("opaque/c", "c")  // this layer's, before the marker: kept
      .File("etc/.wh.gone", "")
      .File("opaque/.wh..wh..opq", "")
      .File("nothere/.wh.x", "");
  auto r = Apply(upper, del);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(Exists(root_ + "/etc/gone"));
  EXPECT_TRUE(Exists(root_ + "/etc/kept"));
  EXPECT_FALSE(Exists(root_ + "/opaque/a"));
  EXPECT_FALSE(Exists(root_ + "/opaque/sub"));
  EXPECT_EQ(Read(root_ + "/opaque/c"), "c");
}

INSTANTIATE_TEST_SUITE_P(Sinks, ExtractorTest, ::testing::ValuesIn(kAllSinks),
                         [](const auto& info) { return SinkName(info.param); });

TEST(CleanArchivePathTest, ChrootSemantics) {
  EXPECT_EQ(*CleanArchivePath("./a/b/"), "a/b");
  EXPECT_EQ(*CleanArchivePath("/a//b/./c"), "a/b/c");
  EXPECT_EQ(*CleanArchivePath("../../a"), "a");
  EXPECT_EQ(*CleanArchivePath("a/../../b"), "b");
  EXPECT_EQ(*CleanArchivePath("./"), "");
  EXPECT_FALSE(CleanArchivePath(std::string("a\0b", 3)).ok());
  EXPECT_FALSE(CleanArchivePath(std::string(5000, 'a')).ok());
}

}  // namespace
}  // namespace strata
