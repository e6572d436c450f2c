#include "snapshotter/backend/overlay_backend.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "io/fs/fs_util.h"
#include "io/fs/mount.h"
#include "snapshotter/engine/engine.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

size_t DataBytes(const Mount& m) {
  size_t n = 0;
  for (const auto& o : m.options) n += o.size() + 1;
  return n;
}

// A temporary directory with a path as short as /var/lib/strata.
struct ShortTempDir {
  ShortTempDir() {
    char tmpl[] = "/tmp/sXXXXXX";
    if (mkdtemp(tmpl)) path = tmpl;
  }
  ~ShortTempDir() { RemoveAll(path).IgnoreError(); }
  std::string path;
};

TEST(OverlayBackendTest, ShortLinksWhenFullPathsOverflowAPage) {
  ShortTempDir dir;
  // 20 bytes of root: 128 full lowerdir paths exceed 4 KiB, 128 links do not.
  Layout layout(dir.path + "/strata1");
  OverlayBackend backend(layout, {.index_off = true});
  ASSERT_TRUE(backend.Open().ok());
  std::vector<uint64_t> parents;
  for (uint64_t id = 128; id >= 1; --id) parents.push_back(id);
  auto m = backend.Mounts(200, Kind::kActive, parents);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_LE(DataBytes((*m)[0]), OverlayBackend::kMaxMountData);
  EXPECT_NE((*m)[0].options.back().find(layout.LinkPath(128)),
            std::string::npos);
  char buf[128];
  ssize_t n = readlink(layout.LinkPath(7).c_str(), buf, sizeof(buf));
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, n), Layout::LinkTarget(7));
  // 400 layers: too long verbatim even as links, but containerd's compacted
  // form (bare ids after chdir into l/) fits, so the mount is returned.
  std::vector<uint64_t> deep;
  for (uint64_t id = 400; id >= 1; --id) deep.push_back(id);
  auto compactable = backend.Mounts(500, Kind::kView, deep);
  ASSERT_TRUE(compactable.ok()) << compactable.status().ToString();
  EXPECT_NE(compactable->at(0).options.back().find(layout.LinkPath(400) + ":"),
            std::string::npos);
  // Few layers: full paths, no links needed.
  auto small = backend.Mounts(300, Kind::kActive, {1, 2});
  ASSERT_TRUE(small.ok());
  EXPECT_NE(small->at(0).options.back().find(layout.FsDir(1)),
            std::string::npos);
}

// The links are overlay's own derived data: Forget drops one id's, Prune
// every one `keep` rejects and every name that is not a bare id.
TEST(OverlayBackendTest, ForgetAndPruneDropOnlyTheirLinks) {
  TempDir dir;
  Layout layout(dir.path());
  OverlayBackend backend(layout, {});
  ASSERT_TRUE(backend.Open().ok());
  for (const char* n : {"7", "8", "9", "9.tmp123", "junk"}) {
    ASSERT_EQ(
        symlink("../snapshots/x/fs", (layout.LinksDir() + "/" + n).c_str()), 0);
  }
  backend.Forget(RealFs(), 8);
  auto pruned = backend.Prune(RealFs(), [](uint64_t id) { return id == 7; });
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_EQ(*pruned, 3);  // 9, 9.tmp123, junk
  auto left = ListDir(layout.LinksDir());
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(*left, std::vector<std::string>{"7"});
}

TEST(OverlayBackendTest, ClearErrorBeyondTheLimits) {
  TempDir dir;
  // upperdir= and workdir= alone take over a page under this root.
  Layout layout(dir.path() + "/" + std::string(2100, 'r'));
  OverlayBackend backend(layout, {});
  std::vector<uint64_t> parents;
  for (uint64_t id = 1; id <= 100; ++id) parents.push_back(id);
  auto m = backend.Mounts(1000, Kind::kActive, parents);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(m.status().message().find("page"), std::string::npos)
      << m.status().message();
  parents.resize(501, 1);
  auto deep = backend.Mounts(1000, Kind::kView, parents);
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(deep.status().message().find("500"), std::string::npos);
}

// 128 layers through the engine under a root as short as /var/lib/strata: the
// mount must fit in a page and really mount, with the deepest layer visible.
// Rebase (Commit with a parent) links a committed layer over a chain; a view
// of it stacks 1 + chain layers, which must stay within overlayfs's 500.
TEST(OverlayBackendTest, RebaseChecksTheLayerLimit) {
  OverlayBackend backend(Layout("/nonexistent"), {});
  std::vector<uint64_t> parents(OverlayBackend::kMaxLayers - 1);
  EXPECT_TRUE(backend.CheckRebase(1, parents).ok())
      << "500 layers is the limit, not over it";
  EXPECT_TRUE(backend.CheckRebase(1, {}).ok());
  parents.push_back(7);
  Status over = backend.CheckRebase(1, parents);
  EXPECT_EQ(over.code(), Code::kFailedPrecondition) << over.ToString();
  EXPECT_NE(over.message().find("501 layers"), std::string::npos)
      << over.message();
}

TEST(OverlayBackendTest, ChainOf128LayersMounts) {
  ShortTempDir dir;
  std::string root = dir.path + "/strata1";
  auto engine = Engine::Open({.root = root, .sync = false});
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  std::string parent;
  for (int i = 0; i < 128; ++i) {
    std::string key = "extract-" + std::to_string(i);
    auto m = (*engine)->Prepare(key, parent, {});
    ASSERT_TRUE(m.ok()) << i << ": " << m.status().ToString();
    std::string upper = m->at(0).type == "bind" ? m->at(0).source : "";
    if (upper.empty()) {
      for (const auto& o : m->at(0).options) {
        if (o.rfind("upperdir=", 0) == 0) upper = o.substr(9);
      }
    }
    std::ofstream(upper + "/layer" + std::to_string(i)) << i;
    std::string name = "sha256:" + std::to_string(i);
    ASSERT_TRUE((*engine)->Commit(name, key, {}).ok());
    parent = name;
  }
  auto top = (*engine)->Prepare("container", parent, {});
  ASSERT_TRUE(top.ok()) << top.status().ToString();
  EXPECT_LE(DataBytes(top->at(0)), OverlayBackend::kMaxMountData);
  if (geteuid() != 0)
    GTEST_SKIP() << "mounting overlayfs needs root (CI runs as root)";
  std::string mnt = dir.path + "/mnt";
  ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
  auto mounted = ScopedMount::Take(*top, mnt);
  ASSERT_TRUE(mounted.ok()) << mounted.status().ToString();
  struct stat st;
  EXPECT_EQ(stat((mnt + "/layer0").c_str(), &st), 0);
  EXPECT_EQ(stat((mnt + "/layer127").c_str(), &st), 0);
}

TEST(OverlayBackendTest, MetacopyOptionOnEveryOverlayMountOnlyWhenAsked) {
  Layout layout("/var/lib/strata");
  OverlayBackend plain(layout, {.index_off = true});
  OverlayBackend meta(layout, {.index_off = true, .metacopy = true});
  auto has = [](const Result<std::vector<Mount>>& m) {
    EXPECT_TRUE(m.ok());
    if (!m.ok()) return false;
    const auto& o = m->at(0).options;
    return std::find(o.begin(), o.end(), "metacopy=on") != o.end();
  };
  EXPECT_FALSE(has(plain.Mounts(3, Kind::kActive, {2, 1})));
  EXPECT_TRUE(has(meta.Mounts(3, Kind::kActive, {2, 1})));
  EXPECT_TRUE(has(meta.Mounts(3, Kind::kActive, {1})));
  // A view of several layers may show metadata-only copies of a lower layer.
  EXPECT_TRUE(has(meta.Mounts(3, Kind::kView, {2, 1})));
  // Bind mounts take no overlay options.
  EXPECT_FALSE(has(meta.Mounts(3, Kind::kActive, {})));
}

// chmod of a big lower file in a container: with metacopy=on the upper copy
// holds the metadata only (trusted.overlay.metacopy, no data blocks) and the
// data still reads back; without it the whole file is copied up.
TEST(OverlayBackendTest, MetacopyChmodCopiesUpMetadataOnly) {
  if (geteuid() != 0)
    GTEST_SKIP() << "mounting overlayfs needs root (CI runs as root)";
  if (!OverlayBackend::KernelHasMetacopy()) {
    GTEST_SKIP() << "this kernel's overlayfs has no metacopy "
                    "(/sys/module/overlay/parameters)";
  }
  for (bool metacopy : {false, true}) {
    SCOPED_TRACE(metacopy ? "metacopy=on" : "default");
    TempDir dir;
    auto engine = Engine::Open({.root = dir / "root",
                                .sync = false,
                                .backend = "overlay",
                                .overlay_metacopy = metacopy});
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    auto base = (*engine)->Prepare("b", "", {});
    ASSERT_TRUE(base.ok());
    const std::string data(4 << 20, 'd');
    std::ofstream(base->at(0).source + "/big", std::ios::binary) << data;
    ASSERT_TRUE((*engine)->Commit("base", "b", {}).ok());
    auto child = (*engine)->Prepare("c", "base", {});
    ASSERT_TRUE(child.ok()) << child.status().ToString();
    const auto& o = child->at(0).options;
    ASSERT_EQ(std::find(o.begin(), o.end(), "metacopy=on") != o.end(),
              metacopy);
    std::string upper;
    for (const auto& opt : o) {
      if (opt.rfind("upperdir=", 0) == 0) upper = opt.substr(9);
    }
    std::string mnt = dir / "mnt";
    ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
    auto mounted = ScopedMount::Take(*child, mnt);
    ASSERT_TRUE(mounted.ok()) << mounted.status().ToString();
    ASSERT_EQ(chmod((mnt + "/big").c_str(), 0600), 0);
    struct stat st;
    ASSERT_EQ(lstat((upper + "/big").c_str(), &st), 0)
        << "chmod did not copy up";
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    char v[8];
    bool has_xattr = lgetxattr((upper + "/big").c_str(),
                               "trusted.overlay.metacopy", v, sizeof(v)) >= 0;
    EXPECT_EQ(has_xattr, metacopy);
    if (metacopy) {
      // At most an xattr block (ext4 keeps overlay's xattrs outside a small
      // inode), never the 4 MiB of data.
      EXPECT_LE(st.st_blocks * 512, 8192)
          << "metacopy=on still copied the data up";
    } else {
      EXPECT_GE(st.st_blocks * 512, static_cast<int64_t>(data.size()));
    }
    std::ifstream f(mnt + "/big", std::ios::binary);
    std::string back((std::istreambuf_iterator<char>(f)),
                     std::istreambuf_iterator<char>());
    EXPECT_TRUE(back == data) << "data lost through the metadata-only copy";
    f.close();
  }
}

}  // namespace
}  // namespace strata
