#include "snapshotter/backend/overlay_backend.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "io/fs/fs_util.h"
#include "snapshotter/engine/engine.h"
#include "tests/testutil/mounter.h"
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
  ASSERT_TRUE(MakeDirs(layout.LinksDir()).ok());
  OverlayBackend backend(layout, {.index_off = true});
  std::vector<uint64_t> parents;
  for (uint64_t id = 128; id >= 1; --id) parents.push_back(id);
  auto m = backend.Mounts(200, Kind::kActive, parents);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_LE(DataBytes((*m)[0]), OverlayBackend::kMaxMountData);
  EXPECT_NE((*m)[0].options.back().find(layout.LinkPath(128)), std::string::npos);
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
  EXPECT_NE(small->at(0).options.back().find(layout.FsDir(1)), std::string::npos);
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
  EXPECT_NE(m.status().message().find("page"), std::string::npos) << m.status().message();
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
  EXPECT_TRUE(backend.CheckRebase(1, parents).ok()) << "500 layers is the limit, not over it";
  EXPECT_TRUE(backend.CheckRebase(1, {}).ok());
  parents.push_back(7);
  Status over = backend.CheckRebase(1, parents);
  EXPECT_EQ(over.code(), Code::kFailedPrecondition) << over.ToString();
  EXPECT_NE(over.message().find("501 layers"), std::string::npos) << over.message();
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
  if (geteuid() != 0) GTEST_SKIP() << "mounting overlayfs needs root (CI runs as root)";
  std::string mnt = dir.path + "/mnt";
  ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
  Status s = MountAll(*top, mnt);
  ASSERT_TRUE(s.ok()) << s.ToString();
  struct stat st;
  EXPECT_EQ(stat((mnt + "/layer0").c_str(), &st), 0);
  EXPECT_EQ(stat((mnt + "/layer127").c_str(), &st), 0);
  Unmount(mnt);
}

}  // namespace
}  // namespace strata
