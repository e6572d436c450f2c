// Engine semantics against containerd's rules, including every bad input the
// daemon must survive, plus real mounts when running as root. The suite runs
// over every backend: overlay and copy on the temp dir, reflink on
// loop-mounted XFS (reflink=1) and btrfs.
#include "snapshotter/engine/engine.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <iterator>
#include <thread>

#include "io/base/byte_sink.h"
#include "io/base/source.h"
#include "io/diff/layer_writer.h"
#include "io/extract/extractor.h"
#include "io/fs/mount.h"
#include "io/sink/file_sink.h"
#include "io/tar/tar_reader.h"
#include "snapshotter/idmap.h"
#include "tests/testutil/fake_stream.h"
#include "tests/testutil/loop_fs.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

Info Named(std::string name, Labels labels = {}) {
  Info i;
  i.name = std::move(name);
  i.labels = std::move(labels);
  return i;
}

struct BackendParam {
  std::string backend;  // overlay, reflink, copy
  std::string fs;       // "" for the temp dir, else a LoopFs type
};
// Readable (and stable) test names in gtest and ctest.
void PrintTo(const BackendParam& p, std::ostream* os) {
  *os << p.backend << (p.fs.empty() ? "" : " on " + p.fs);
}

class EngineTest : public ::testing::TestWithParam<BackendParam> {
 protected:
  void SetUp() override {
    base_ = dir_.path();
    if (!GetParam().fs.empty()) {
      loop_ = std::make_unique<LoopFs>(GetParam().fs);
      if (!loop_->ok()) GTEST_SKIP() << loop_->reason();
      base_ = loop_->path();
    }
    Reopen();
  }
  void TearDown() override {
    engine_.reset();
    loop_.reset();
  }
  std::string Root() const { return base_ + "/root"; }
  // The engine again, with remap_ids on: mapped snapshots are idmapped.
  void ReopenRemappingIds() {
    engine_.reset();
    EngineOptions opts{
        .root = Root(), .sync = false, .backend = GetParam().backend};
    opts.remap_ids = true;
    auto e = Engine::Open(opts);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(*e);
  }
  void Reopen() {
    engine_.reset();
    auto e = Engine::Open(
        {.root = Root(), .sync = false, .backend = GetParam().backend});
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(*e);
  }
  // Prepare + Commit, returning the committed name.
  std::string Layer(const std::string& name, const std::string& parent) {
    auto m = engine_->Prepare("extract " + name, parent, {});
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    Status s = engine_->Commit(name, "extract " + name, {});
    EXPECT_TRUE(s.ok()) << s.ToString();
    return name;
  }
  // Prepares a parentless active (a rw bind on every backend) and commits it
  // as `name`; returns the active's mounts.
  std::vector<Mount> BaseLayer(const std::string& name) {
    auto base = engine_->Prepare("base-active", "", {});
    EXPECT_TRUE(base.ok()) << base.status().ToString();
    if (!base.ok()) return {};
    EXPECT_EQ(base->size(), 1u);
    EXPECT_EQ((*base)[0].type, "bind");
    EXPECT_EQ((*base)[0].options, (std::vector<std::string>{"rw", "rbind"}));
    Status s = engine_->Commit(name, "base-active", {});
    EXPECT_TRUE(s.ok()) << s.ToString();
    return *base;
  }
  int CountDirs(const std::string& rel) {
    int n = 0;
    std::string path = engine_->layout().root() + "/" + rel;
    if (DIR* d = opendir(path.c_str())) {
      while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
      closedir(d);
    }
    return n;
  }

  TempDir dir_;
  std::unique_ptr<LoopFs> loop_;
  std::string base_;
  std::unique_ptr<Engine> engine_;
};

// Suites for one family of backends, so no test reports a skip for a backend
// it does not apply to.
class OverlayEngineTest : public EngineTest {};
class FullTreeEngineTest : public EngineTest {};

TEST_P(OverlayEngineTest, MountShapesFollowContainerdsOverlaySnapshotter) {
  std::vector<Mount> base = BaseLayer("l1");
  ASSERT_EQ(base.size(), 1u);

  auto view1 = engine_->View("view1", "l1", {});
  ASSERT_TRUE(view1.ok());
  EXPECT_EQ((*view1)[0].type, "bind");
  EXPECT_EQ((*view1)[0].options, (std::vector<std::string>{"ro", "rbind"}));
  EXPECT_EQ((*view1)[0].source, base[0].source)
      << "view of one layer binds the parent";

  Layer("l2", "l1");
  auto active = engine_->Prepare("active", "l2", {});
  ASSERT_TRUE(active.ok());
  ASSERT_EQ((*active)[0].type, "overlay");
  std::string opts;
  for (const auto& o : (*active)[0].options) opts += o + ";";
  EXPECT_NE(opts.find("workdir="), std::string::npos) << opts;
  EXPECT_NE(opts.find("upperdir="), std::string::npos) << opts;
  // lowerdir: nearest parent first. Ids: l1=1, view1=2, l2=3.
  std::string lower = (*active)[0].options.back();
  EXPECT_EQ(lower.rfind("lowerdir=", 0), 0u) << lower;
  ASSERT_NE(lower.find("/3/fs:"), std::string::npos) << lower;
  EXPECT_LT(lower.find("/3/fs:"), lower.find("/1/fs")) << lower;

  auto view2 = engine_->View("view2", "l2", {});
  ASSERT_TRUE(view2.ok());
  EXPECT_EQ((*view2)[0].type, "overlay");
  for (const auto& o : (*view2)[0].options) {
    EXPECT_EQ(o.find("upperdir"), std::string::npos) << "a view has no upper";
  }
  auto again = engine_->Mounts("active");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].options, (*active)[0].options);
  EXPECT_EQ(engine_->Mounts("l1").status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(engine_->Mounts("nope").status().code(), Code::kNotFound);
}

TEST_P(EngineTest, BadInputsGetContainerdsCodesAndChangeNothing) {
  Layer("committed", "");
  ASSERT_TRUE(engine_->Prepare("active", "committed", {}).ok());
  ASSERT_TRUE(engine_->View("view", "committed", {}).ok());
  auto before = engine_->List({});
  ASSERT_TRUE(before.ok());
  int dirs_before = CountDirs("snapshots");

  struct Case {
    const char* what;
    Status status;
    Code want;
  };
  std::string big_label(4096, 'v');
  std::vector<Case> cases = {
      {"empty key", engine_->Prepare("", "", {}).status(),
       Code::kInvalidArgument},
      {"empty view key", engine_->View("", "committed", {}).status(),
       Code::kInvalidArgument},
      {"key over limit",
       engine_->Prepare(std::string(kMaxKeyBytes + 1, 'k'), "", {}).status(),
       Code::kInvalidArgument},
      {"existing key", engine_->Prepare("active", "", {}).status(),
       Code::kAlreadyExists},
      {"existing key as view", engine_->View("committed", "", {}).status(),
       Code::kAlreadyExists},
      {"parent missing", engine_->Prepare("x", "missing", {}).status(),
       Code::kNotFound},
      {"parent not committed", engine_->Prepare("x", "active", {}).status(),
       Code::kInvalidArgument},
      {"parent is a view", engine_->View("x", "view", {}).status(),
       Code::kInvalidArgument},
      {"commit a view", engine_->Commit("x", "view", {}),
       Code::kFailedPrecondition},
      {"commit a committed", engine_->Commit("x", "committed", {}),
       Code::kFailedPrecondition},
      {"commit to existing name", engine_->Commit("committed", "active", {}),
       Code::kAlreadyExists},
      {"commit missing", engine_->Commit("x", "missing", {}), Code::kNotFound},
      {"remove a parent", engine_->Remove("committed"),
       Code::kFailedPrecondition},
      {"remove missing", engine_->Remove("missing"), Code::kNotFound},
      {"stat missing", engine_->Stat("missing").status(), Code::kNotFound},
      {"usage missing", engine_->GetUsage("missing").status(), Code::kNotFound},
      {"mounts of committed", engine_->Mounts("committed").status(),
       Code::kFailedPrecondition},
      {"update unknown path",
       engine_->Update(Named("active"), {"parent"}).status(),
       Code::kInvalidArgument},
      {"update missing", engine_->Update(Named("missing"), {}).status(),
       Code::kNotFound},
      {"malformed filter", engine_->List({"name=="}).status(),
       Code::kInvalidArgument},
      {"label over 4096 bytes",
       engine_->Prepare("x", "", {{"k", big_label}}).status(),
       Code::kInvalidArgument},
      {"label over 4096 bytes on commit",
       engine_->Commit("x", "active", {{"k", big_label}}),
       Code::kInvalidArgument},
      {"label over 4096 bytes on update",
       engine_->Update(Named("active", {{"k", big_label}}), {}).status(),
       Code::kInvalidArgument},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.status.code(), c.want) << c.what << ": " << c.status.ToString();
  }
  // Messages name the snapshot.
  EXPECT_NE(engine_->Prepare("x", "missing", {})
                .status()
                .message()
                .find("\"missing\""),
            std::string::npos);
  EXPECT_NE(engine_->Commit("committed", "active", {})
                .message()
                .find("\"committed\""),
            std::string::npos);

  auto after = engine_->List({});
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), before->size());
  for (size_t i = 0; i < after->size(); ++i) {
    EXPECT_EQ((*after)[i].name, (*before)[i].name);
    EXPECT_EQ((*after)[i].kind, (*before)[i].kind);
    EXPECT_EQ((*after)[i].labels, (*before)[i].labels);
    EXPECT_EQ((*after)[i].updated_ns, (*before)[i].updated_ns);
  }
  EXPECT_EQ(CountDirs("snapshots"), dirs_before);
  EXPECT_EQ(CountDirs("staging"), 0) << "a failed Prepare left staging behind";
}

TEST_P(EngineTest, KeysAreNeverPaths) {
  for (std::string key :
       {std::string("../../etc"), std::string("/abs/path"),
        std::string("default/40/extract-1700000000123-AbCd sha256:0123"),
        std::string("a\0b", 3), std::string(10 * 1024, 'k')}) {
    ASSERT_TRUE(engine_->Prepare(key, "", {}).ok()) << key.substr(0, 40);
    auto info = engine_->Stat(key);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->name, key);
  }
  struct stat st;
  EXPECT_NE(stat((base_ + "/etc").c_str(), &st), 0);
  EXPECT_EQ(CountDirs("snapshots"), 5);
}

// containerd treats an empty label value as "remove": it is never stored,
// whichever operation writes it.
TEST_P(EngineTest, EmptyLabelValuesAreNeverStored) {
  const Labels in = {{"keep", "v"}, {"empty", ""}};
  ASSERT_TRUE(engine_->Prepare("a", "", in).ok());
  ASSERT_TRUE(engine_->Commit("c", "a", in).ok());
  ASSERT_TRUE(engine_->View("v", "c", in).ok());
  ASSERT_TRUE(engine_->Prepare("p", "c", {}).ok());
  ASSERT_TRUE(engine_->Update(Named("p", in), {}).ok());
  ASSERT_TRUE(engine_->Prepare("q", "c", {{"old", "1"}}).ok());
  ASSERT_TRUE(
      engine_->Update(Named("q", in), {"labels.empty", "labels.keep"}).ok());
  for (const char* key : {"c", "v", "p", "q"}) {
    auto info = engine_->Stat(key);
    ASSERT_TRUE(info.ok()) << key;
    EXPECT_EQ(info->labels.count("empty"), 0u)
        << key << " stored an empty label";
    EXPECT_EQ(info->labels.count("keep"), 1u) << key;
  }
  auto list = engine_->List({"labels.empty"});
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty()) << "a presence filter found an empty label";
}

// Container root (and 65,535 more IDs) as host 100000 on.
const Labels kMapped = {{kUidMappingLabel, "0:100000:65536"},
                        {kGidMappingLabel, "0:100000:65536"}};

TEST_P(EngineTest, AMappedContainersLayerCarriesContainerIds) {
  // Compare of a mapped overlay active writes what Commit stores: the
  // upper's host IDs as container IDs (containerd's overlayfs exports the
  // host IDs: containerd#13680). Full trees are container IDs on disk.
  if (geteuid() != 0) GTEST_SKIP() << "chown to mapped IDs needs root";
  ReopenRemappingIds();
  Layer("base", "");
  const Labels& mapped = kMapped;
  auto m = engine_->Prepare("mapped", "base", mapped);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  auto dir = WritableDir(*m);
  ASSERT_TRUE(dir.ok());
  const bool overlay = std::string_view(engine_->backend_name()) == "overlay";
  // As the container wrote it: host IDs on an overlay upper, container IDs
  // through a full tree's idmapped bind.
  std::string f = *dir + "/made-inside";
  { std::ofstream(f) << "x"; }
  ASSERT_EQ(lchown(f.c_str(), overlay ? 101000 : 1000, overlay ? 101005 : 1005),
            0);
  auto trees = engine_->CompareSnapshot("mapped");
  ASSERT_TRUE(trees.ok()) << trees.status().ToString();
  EXPECT_EQ(trees->unmap.mapped(), overlay);
  LayerOptions lo;
  trees->SetOwnerMaps(lo);
  StringSink out;
  auto layer =
      WriteLayer([&](const ChangeVisitor& v) { return trees->Walk(v); },
                 Compression::kNone, out, lo);
  ASSERT_TRUE(layer.ok()) << layer.status().ToString();
  MemorySource in(out.str());
  TarReader reader(in);
  TarEntry te;
  bool found = false;
  for (;;) {
    auto more = reader.Next(&te);
    ASSERT_TRUE(more.ok()) << more.status().ToString();
    if (!*more) break;
    if (te.path != "made-inside") continue;
    found = true;
    EXPECT_EQ(te.uid, 1000u);
    EXPECT_EQ(te.gid, 1005u);
  }
  EXPECT_TRUE(found);
  // Unmapped snapshots' layers are written as on disk.
  auto plain = engine_->Prepare("plain", "base", {});
  ASSERT_TRUE(plain.ok());
  auto plain_trees = engine_->CompareSnapshot("plain");
  ASSERT_TRUE(plain_trees.ok());
  EXPECT_FALSE(plain_trees->unmap.mapped());
}

TEST_P(EngineTest, WithoutRemapIdsMappedSnapshotsGetNoIdmapOptions) {
  // containerd without remap-ids chowns a copy itself and still sends the
  // labels on the container's Prepare: mapping again would shift twice.
  Layer("base", "");
  const Labels& mapped = kMapped;
  auto m = engine_->Prepare("mapped", "base", mapped);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  for (const Mount& mount : *m) {
    for (const std::string& o : mount.options) {
      EXPECT_NE(o.rfind("uidmap=", 0), 0u) << o;
      EXPECT_NE(o.rfind("gidmap=", 0), 0u) << o;
    }
  }
  // Still validated.
  EXPECT_EQ(engine_->Prepare("bad", "base", {{kGidMappingLabel, "x"}})
                .status()
                .code(),
            Code::kInvalidArgument);
}

TEST_P(EngineTest, MappedSnapshotsCarryIdmapOptionsAndBadMapsAreRefused) {
  ReopenRemappingIds();
  Layer("base", "");
  const Labels& mapped = kMapped;
  auto check = [](const std::vector<Mount>& mounts, const char* what) {
    ASSERT_FALSE(mounts.empty()) << what;
    for (const Mount& m : mounts) {
      ASSERT_GE(m.options.size(), 2u) << what;
      EXPECT_EQ(m.options[0], "uidmap=0:100000:65536") << what;
      EXPECT_EQ(m.options[1], "gidmap=0:100000:65536") << what;
    }
  };
  const bool overlay = std::string_view(engine_->backend_name()) == "overlay";
  auto active = engine_->Prepare("mapped", "base", mapped);
  ASSERT_TRUE(active.ok()) << active.status().ToString();
  // Full trees: a read-write bind of the clone, which containerd idmaps
  // whole, so the files stay container IDs on disk.
  if (!overlay) {
    ASSERT_EQ(active->size(), 1u);
    EXPECT_EQ(active->at(0).type, "bind");
    EXPECT_EQ(
        active->at(0).options,
        (std::vector<std::string>{"uidmap=0:100000:65536",
                                  "gidmap=0:100000:65536", "rw", "rbind"}));
  }
  check(*active, "Prepare on a parent");
  auto again = engine_->Mounts("mapped");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->size(), active->size());
  check(*again, "Mounts");
  // Owners, as containerd's overlayfs snapshotter sets them: an overlay
  // upper (not idmapped by containerd) belongs to the host IDs container
  // root maps to; a bind-mounted tree is idmapped whole and keeps root.
  auto owner = [](const std::vector<Mount>& mounts) {
    auto dir = WritableDir(mounts);
    struct stat st {};
    if (!dir.ok() || stat(dir->c_str(), &st) != 0) return std::string("?");
    return std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid);
  };
  EXPECT_EQ(owner(*active), overlay ? "100000:100000" : "0:0");
  auto lone = engine_->Prepare("mapped-lone", "", mapped);
  ASSERT_TRUE(lone.ok());
  check(*lone, "Prepare without parent");
  EXPECT_EQ(owner(*lone), "0:0");
  auto view = engine_->View("mapped-view", "base", mapped);
  ASSERT_TRUE(view.ok());
  check(*view, "View");
  // containerd never idmaps a read-only bind: a view of one parent is a
  // read-only overlay of it (over the view's own empty directory), which
  // containerd does idmap; Mounts answers the same.
  ASSERT_EQ(view->size(), 1u);
  EXPECT_EQ(view->at(0).type, "overlay");
  std::string lower;
  ASSERT_TRUE(MountOptionValue(view->at(0).options, "lowerdir", &lower));
  EXPECT_EQ(lower.find(Root() + "/snapshots/"), 0u) << lower;
  EXPECT_EQ(std::count(lower.begin(), lower.end(), ':'), 1) << lower;
  auto view_again = engine_->Mounts("mapped-view");
  ASSERT_TRUE(view_again.ok());
  EXPECT_EQ(view_again->at(0).options, view->at(0).options);
  // Unmapped snapshots are as before.
  auto plain = engine_->Prepare("plain", "base", {});
  ASSERT_TRUE(plain.ok());
  for (const Mount& m : *plain) {
    for (const std::string& o : m.options) EXPECT_NE(o.rfind("uidmap=", 0), 0u);
  }
  // A bad map: InvalidArgument naming the snapshot and the label; nothing
  // made.
  int dirs = CountDirs("snapshots");
  auto bad = engine_->Prepare("bad", "base", {{kUidMappingLabel, "0:1"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("snapshot \"bad\""), std::string::npos)
      << bad.status().ToString();
  EXPECT_NE(bad.status().message().find(kUidMappingLabel), std::string::npos)
      << bad.status().ToString();
  EXPECT_EQ(engine_->Stat("bad").status().code(), Code::kNotFound);
  EXPECT_EQ(CountDirs("snapshots"), dirs);
  EXPECT_EQ(CountDirs("staging"), 0);
}

TEST_P(EngineTest, CommitStoresUsageAndItsOwnLabels) {
  ASSERT_TRUE(engine_->Prepare("a", "", {{"prepare", "1"}}).ok());
  auto mounts = engine_->Mounts("a");
  ASSERT_TRUE(mounts.ok());
  std::string upper = (*mounts)[0].source;
  {
    std::ofstream f(upper + "/file");
    f << std::string(100000, 'x');
  }
  auto usage = engine_->GetUsage("a");
  ASSERT_TRUE(usage.ok());
  EXPECT_GE(usage->size, 100000);
  EXPECT_EQ(usage->inodes, 2);  // fs/ and file
  ASSERT_TRUE(engine_->Commit("c", "a", {{"commit", "1"}}).ok());
  auto info = engine_->Stat("c");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->labels, (Labels{{"commit", "1"}}));
  auto stored = engine_->GetUsage("c");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->size, usage->size);
  EXPECT_EQ(stored->inodes, usage->inodes);
  // The committed layer keeps the active's directory: nothing is copied.
  auto view = engine_->View("v", "c", {});
  ASSERT_TRUE(view.ok());
  EXPECT_EQ((*view)[0].source, upper);
}

TEST_P(EngineTest, RemoveDeletesDirectoryAndRecord) {
  ASSERT_TRUE(engine_->Prepare("a", "", {}).ok());
  EXPECT_EQ(CountDirs("snapshots"), 1);
  ASSERT_TRUE(engine_->Remove("a").ok());
  EXPECT_EQ(CountDirs("snapshots"), 0);
  EXPECT_EQ(CountDirs("trash"), 0);
  EXPECT_EQ(engine_->Stat("a").status().code(), Code::kNotFound);
  ASSERT_TRUE(engine_->Prepare("a", "", {}).ok())
      << "key is reusable after remove";
}

TEST_P(EngineTest, ListFiltersAndUpdate) {
  Layer("base", "");
  ASSERT_TRUE(
      engine_->Prepare("a1", "base", {{"containerd.io/snapshot.ref", "r1"}})
          .ok());
  ASSERT_TRUE(engine_->View("v1", "base", {}).ok());
  auto names = [&](std::vector<std::string> f) {
    std::vector<std::string> out;
    auto r = engine_->List(f);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok())
      for (const Info& i : *r) out.push_back(i.name);
    return out;
  };
  EXPECT_EQ(names({}), (std::vector<std::string>{"base", "a1", "v1"}));
  EXPECT_EQ(names({"kind==view"}), (std::vector<std::string>{"v1"}));
  EXPECT_EQ(names({"parent==base"}), (std::vector<std::string>{"a1", "v1"}));
  EXPECT_EQ(
      names({"labels.\"containerd.io/snapshot.ref\"==r1,parent==\"base\""}),
      (std::vector<std::string>{"a1"}));
  EXPECT_EQ(names({"kind==committed", "kind==view"}),
            (std::vector<std::string>{"base", "v1"}));
  auto up = engine_->Update(Named("base", {{"containerd.io/gc.root", "x"}}),
                            {"labels.containerd.io/gc.root"});
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(up->labels.at("containerd.io/gc.root"), "x");
  EXPECT_EQ(names({"labels.\"containerd.io/gc.root\""}),
            (std::vector<std::string>{"base"}));
}

TEST_P(EngineTest, ConcurrentPreparesOfOneKeyCreateOne) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0}, exists{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto r = engine_->Prepare("same", "", {});
      if (r.ok())
        ok++;
      else if (r.status().code() == Code::kAlreadyExists)
        exists++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(exists.load(), 7);
  EXPECT_EQ(CountDirs("snapshots"), 1);
  EXPECT_EQ(CountDirs("staging"), 0);
}

TEST_P(EngineTest, CleanupRemovesUnreferencedDirectories) {
  ASSERT_TRUE(engine_->Prepare("a", "", {}).ok());
  std::string root = engine_->layout().root();
  ASSERT_EQ(mkdir((root + "/snapshots/999").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((root + "/snapshots/junk").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((root + "/trash/5-1-1").c_str(), 0755), 0);
  ASSERT_TRUE(engine_->Cleanup().ok());
  EXPECT_EQ(CountDirs("snapshots"), 1);
  EXPECT_EQ(CountDirs("trash"), 0);
  EXPECT_TRUE(engine_->Mounts("a").ok());
}

TEST_P(EngineTest, StateSurvivesReopen) {
  Layer("l1", "");
  ASSERT_TRUE(engine_->Prepare("a", "l1", {{"k", "v"}}).ok());
  Reopen();
  auto info = engine_->Stat("a");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->parent, "l1");
  EXPECT_EQ(info->labels.at("k"), "v");
  EXPECT_EQ(engine_->recovery().orphans_removed, 0);
  auto next = engine_->Prepare("b", "", {});
  ASSERT_TRUE(next.ok());
  EXPECT_NE((*next)[0].source, (*engine_->Mounts("a"))[0].source)
      << "id reused";
}

TEST_P(EngineTest, MountsWorkAndIsolateLayers) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting needs root (CI runs as root)";
  std::string mnt = dir_ / "mnt";
  ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
  auto write_in = [&](const std::vector<Mount>& m, const std::string& file,
                      const std::string& text) {
    auto mounted = ScopedMount::Take(m, mnt);
    ASSERT_TRUE(mounted.ok()) << mounted.status().ToString();
    std::ofstream(mnt + "/" + file) << text;
  };
  write_in(*engine_->Prepare("x1", "", {}), "one", "1");
  ASSERT_TRUE(engine_->Commit("l1", "x1", {}).ok());
  write_in(*engine_->Prepare("x2", "l1", {}), "two", "2");
  ASSERT_TRUE(engine_->Commit("l2", "x2", {}).ok());
  auto a = engine_->Prepare("container", "l2", {});
  ASSERT_TRUE(a.ok());
  auto container = ScopedMount::Take(*a, mnt);
  ASSERT_TRUE(container.ok()) << container.status().ToString();
  std::string one, two;
  std::ifstream(mnt + "/one") >> one;
  std::ifstream(mnt + "/two") >> two;
  EXPECT_EQ(one, "1");
  EXPECT_EQ(two, "2");
  ASSERT_EQ(unlink((mnt + "/one").c_str()), 0);
  std::ofstream(mnt + "/three") << "3";
  ASSERT_TRUE(container->Release().ok());
  // The view of l2 still shows "one": the container's delete stayed in its
  // upper.
  auto v = engine_->View("v", "l2", {});
  ASSERT_TRUE(v.ok());
  auto view = ScopedMount::Take(*v, mnt);
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  struct stat st;
  EXPECT_EQ(stat((mnt + "/one").c_str(), &st), 0);
  EXPECT_NE(stat((mnt + "/three").c_str(), &st), 0);
  EXPECT_LT(open((mnt + "/new").c_str(), O_CREAT | O_WRONLY, 0644), 0)
      << "view is writable";
}

TEST_P(FullTreeEngineTest, FullTreeMountShapes) {
  std::vector<Mount> base = BaseLayer("l1");
  ASSERT_EQ(base.size(), 1u);
  Layer("l2", "l1");
  Layer("l3", "l2");
  auto active = engine_->Prepare("active", "l3", {});
  ASSERT_TRUE(active.ok());
  ASSERT_EQ(active->size(), 1u);
  EXPECT_EQ((*active)[0].type, "bind")
      << "a child is its own full tree: no overlay";
  EXPECT_EQ((*active)[0].options, (std::vector<std::string>{"rw", "rbind"}));
  EXPECT_EQ((*active)[0].source, Root() + "/snapshots/4/fs");
  auto view = engine_->View("view", "l3", {});
  ASSERT_TRUE(view.ok());
  EXPECT_EQ((*view)[0].type, "bind");
  EXPECT_EQ((*view)[0].options, (std::vector<std::string>{"ro", "rbind"}));
  EXPECT_EQ((*view)[0].source, Root() + "/snapshots/3/fs")
      << "a view binds its parent";
  auto empty_view = engine_->View("empty-view", "", {});
  ASSERT_TRUE(empty_view.ok());
  EXPECT_EQ((*empty_view)[0].options,
            (std::vector<std::string>{"ro", "rbind"}));
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}
std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST_P(FullTreeEngineTest, ChildIsACloneAndNeverChangesItsParent) {
  auto m = engine_->Prepare("x1", "", {});
  ASSERT_TRUE(m.ok());
  std::string fs1 = (*m)[0].source;
  ASSERT_EQ(mkdir((fs1 + "/bin").c_str(), 0755), 0);
  WriteFile(fs1 + "/bin/tool", std::string(200000, 't'));
  ASSERT_EQ(chmod((fs1 + "/bin/tool").c_str(), 04755), 0);
  ASSERT_EQ(link((fs1 + "/bin/tool").c_str(), (fs1 + "/bin/alias").c_str()), 0);
  ASSERT_EQ(symlink("bin/tool", (fs1 + "/link").c_str()), 0);
  ASSERT_EQ(setxattr((fs1 + "/bin/tool").c_str(), "user.k", "v", 1, 0), 0);
  timespec t[2] = {{1234567890, 5}, {1234567890, 6}};
  ASSERT_EQ(utimensat(AT_FDCWD, (fs1 + "/bin").c_str(), t, 0), 0);
  ASSERT_TRUE(engine_->Commit("l1", "x1", {}).ok());

  auto c = engine_->Prepare("child", "l1", {});
  ASSERT_TRUE(c.ok());
  std::string fs2 = (*c)[0].source;
  ASSERT_NE(fs2, fs1);
  EXPECT_EQ(ReadFile(fs2 + "/bin/tool"), std::string(200000, 't'));
  struct stat a, b;
  ASSERT_EQ(lstat((fs2 + "/bin/tool").c_str(), &a), 0);
  ASSERT_EQ(lstat((fs2 + "/bin/alias").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino) << "hardlink group split";
  EXPECT_EQ(a.st_mode & 07777, 04755u);
  char v[8] = {};
  EXPECT_EQ(getxattr((fs2 + "/bin/tool").c_str(), "user.k", v, sizeof(v)), 1);
  char target[64] = {};
  EXPECT_GT(readlink((fs2 + "/link").c_str(), target, sizeof(target)), 0);
  EXPECT_STREQ(target, "bin/tool");
  ASSERT_EQ(stat((fs2 + "/bin").c_str(), &a), 0);
  EXPECT_EQ(a.st_mtim.tv_sec, 1234567890);
  EXPECT_EQ(a.st_mtim.tv_nsec, 6);

  // A fresh reflink clone shares its data: usage is metadata only.
  auto u = engine_->GetUsage("child");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->inodes, 4);  // fs, bin, tool(+alias), link
  if (GetParam().backend == "reflink") {
    EXPECT_LT(u->size, 100000) << "shared extents counted as the child's";
  } else {
    EXPECT_GE(u->size, 200000);
  }

  WriteFile(fs2 + "/bin/tool", "child");
  ASSERT_EQ(unlink((fs2 + "/link").c_str()), 0);
  EXPECT_EQ(ReadFile(fs1 + "/bin/tool"), std::string(200000, 't'));
  EXPECT_EQ(lstat((fs1 + "/link").c_str(), &a), 0);
  EXPECT_EQ(ReadFile(fs2 + "/bin/alias"), "child");
}

TEST_P(FullTreeEngineTest, ExtractionIntoAFullTreeChildDeletesWhiteouts) {
  auto m = engine_->Prepare("x1", "", {});
  ASSERT_TRUE(m.ok());
  auto sink = MakeFileSink();
  ExtractOptions del;
  del.whiteouts = WhiteoutMode::kDelete;
  FakeStream lower;
  lower.Dir("etc")
      .File("etc/gone", "g")
      .File("etc/kept", "k")
      .Dir("opq")
      .File("opq/a", "a");
  ASSERT_TRUE(Extractor((*m)[0].source, *sink, del).Apply(lower).ok());
  ASSERT_TRUE(engine_->Commit("l1", "x1", {}).ok());
  auto c = engine_->Prepare("x2", "l1", {});
  ASSERT_TRUE(c.ok());
  FakeStream upper;
  upper.File("etc/.wh.gone", "").File("opq/.wh..wh..opq", "").File("new", "n");
  auto r = Extractor((*c)[0].source, *sink, del).Apply(upper);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  struct stat st;
  std::string fs2 = (*c)[0].source, fs1 = (*m)[0].source;
  EXPECT_NE(lstat((fs2 + "/etc/gone").c_str(), &st), 0);
  EXPECT_EQ(lstat((fs2 + "/etc/kept").c_str(), &st), 0);
  EXPECT_NE(lstat((fs2 + "/opq/a").c_str(), &st), 0);
  EXPECT_EQ(lstat((fs2 + "/new").c_str(), &st), 0);
  EXPECT_EQ(lstat((fs1 + "/etc/gone").c_str(), &st), 0)
      << "the parent lost a file";
  EXPECT_EQ(lstat((fs1 + "/opq/a").c_str(), &st), 0);
}

TEST_P(FullTreeEngineTest, DeepChainsNeedNoOverlay) {
  std::string parent;
  for (int i = 0; i < 40; ++i) {
    std::string key = "k" + std::to_string(i);
    auto m = engine_->Prepare(key, parent, {});
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    WriteFile((*m)[0].source + "/f" + std::to_string(i), std::to_string(i));
    parent = "l" + std::to_string(i);
    ASSERT_TRUE(engine_->Commit(parent, key, {}).ok());
  }
  auto top = engine_->Prepare("top", parent, {});
  ASSERT_TRUE(top.ok());
  EXPECT_EQ((*top)[0].type, "bind");
  EXPECT_EQ(ReadFile((*top)[0].source + "/f0"), "0");
  EXPECT_EQ(ReadFile((*top)[0].source + "/f39"), "39");
}

// Commit with a parent (containerd 2.x "rebase"), the cases of containerd's
// metastore testRebase and overlay snapshotter test that do not depend on
// the backend: they change no chain, or are refused before any backend check.
TEST_P(EngineTest, CommitWithParentFollowsContainerdsRules) {
  Layer("base", "");
  Layer("other", "");
  ASSERT_TRUE(engine_->Prepare("active-parent", "", {}).ok());
  ASSERT_TRUE(engine_->View("view-parent", "base", {}).ok());
  struct Case {
    std::string old_parent, new_parent;
    Code want;
  } cases[] = {
      {"", "", Code::kOk},
      {"base", "base", Code::kOk},
      {"base", "", Code::kOk},
      {"base", "other", Code::kInvalidArgument},
      {"", "nonexist", Code::kNotFound},
      {"", "active-parent", Code::kFailedPrecondition},
      {"", "view-parent", Code::kFailedPrecondition},
  };
  int i = 0;
  for (const Case& c : cases) {
    std::string key = "rebase-active-" + std::to_string(i),
                name = "rebase-" + std::to_string(i);
    ++i;
    SCOPED_TRACE(key + ": prepared on \"" + c.old_parent +
                 "\", committed onto \"" + c.new_parent + "\"");
    ASSERT_TRUE(engine_->Prepare(key, c.old_parent, {}).ok());
    Status s = engine_->Commit(name, key, {}, c.new_parent);
    EXPECT_EQ(s.code(), c.want) << s.ToString();
    if (!s.ok()) {
      EXPECT_NE(s.message().find("\"" + key + "\""), std::string::npos)
          << s.message();
      auto still = engine_->Stat(key);
      ASSERT_TRUE(still.ok())
          << "a refused commit must leave the active snapshot";
      EXPECT_EQ(still->kind, Kind::kActive);
      EXPECT_EQ(still->parent, c.old_parent);
      EXPECT_EQ(engine_->Stat(name).status().code(), Code::kNotFound);
      continue;
    }
    auto info = engine_->Stat(name);
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(info->kind, Kind::kCommitted);
    EXPECT_EQ(info->parent, c.old_parent);
  }
  // The name is checked first, as bolt.go does: containerd's unpacker reads
  // AlreadyExists from Commit as "layer already there", rebase or not.
  ASSERT_TRUE(engine_->Prepare("dup", "", {}).ok());
  EXPECT_EQ(engine_->Commit("base", "dup", {}, "other").code(),
            Code::kAlreadyExists);
  EXPECT_EQ(engine_->Commit("x", "dup", {}, std::string(kMaxKeyBytes + 1, 'p'))
                .code(),
            Code::kInvalidArgument);
}

// containerd 2.x parallel unpack: each layer is prepared without a parent,
// extracted (overlay whiteouts into its upperdir), then committed onto the
// previous layer. The result must be the chain a sequential unpack builds.
TEST_P(OverlayEngineTest, RebaseLinksAParentlessLayerIntoTheChain) {
  auto m1 = engine_->Prepare("x1", "", {});
  ASSERT_TRUE(m1.ok());
  auto m2 = engine_->Prepare("x2", "", {});  // prepared before l1 exists
  ASSERT_TRUE(m2.ok());
  ASSERT_EQ((*m2)[0].type, "bind");
  auto sink = MakeFileSink();
  FakeStream lower;
  lower.Dir("etc")
      .File("etc/gone", "g")
      .File("etc/kept", "k")
      .Dir("opq")
      .File("opq/a", "a");
  ASSERT_TRUE(Extractor((*m1)[0].source, *sink, {}).Apply(lower).ok());
  const bool root = geteuid() == 0;  // overlay whiteouts are mknod 0:0
  FakeStream upper;
  upper.File("new", "n");
  if (root)
    upper.Dir("etc")
        .File("etc/.wh.gone", "")
        .Dir("opq")
        .File("opq/.wh..wh..opq", "");
  ExtractOptions ovl;
  ovl.whiteouts = WhiteoutMode::kOverlay;
  auto r = Extractor((*m2)[0].source, *sink, ovl).Apply(upper);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(engine_->Commit("l1", "x1", {}).ok());
  Status s = engine_->Commit("l2", "x2", {}, "l1");
  ASSERT_TRUE(s.ok()) << s.ToString();

  auto info = engine_->Stat("l2");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->parent, "l1");
  EXPECT_GT(engine_->Stat("l2").value().created_ns, 0);
  auto listed = engine_->List({"parent==l1"});
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].name, "l2");
  EXPECT_EQ(engine_->Remove("l1").code(), Code::kFailedPrecondition)
      << "the rebased child must pin its parent (children index)";

  auto view = engine_->View("v", "l2", {});
  ASSERT_TRUE(view.ok());
  ASSERT_EQ((*view)[0].type, "overlay");
  std::string lowers;
  for (const std::string& o : (*view)[0].options) {
    if (o.rfind("lowerdir=", 0) == 0) lowers = o;
  }
  EXPECT_EQ(lowers, "lowerdir=" + (*m2)[0].source + ":" + (*m1)[0].source);
  if (root) {
    std::string mnt = dir_ / "mnt";
    ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
    auto mounted = ScopedMount::Take(*view, mnt);
    ASSERT_TRUE(mounted.ok()) << mounted.status().ToString();
    struct stat st;
    EXPECT_EQ(lstat((mnt + "/etc/kept").c_str(), &st), 0);
    EXPECT_EQ(lstat((mnt + "/new").c_str(), &st), 0);
    EXPECT_NE(lstat((mnt + "/etc/gone").c_str(), &st), 0)
        << "whiteout lost in the rebase";
    EXPECT_NE(lstat((mnt + "/opq/a").c_str(), &st), 0)
        << "opaque directory lost";
  }
  // The rebased chain survives a restart (it lives in the record).
  Reopen();
  EXPECT_EQ(engine_->Stat("l2").value().parent, "l1");
  ASSERT_TRUE(engine_->Remove("v").ok());
  ASSERT_TRUE(engine_->Remove("l2").ok());
  EXPECT_TRUE(engine_->Remove("l1").ok());
}

TEST_P(FullTreeEngineTest, RebaseIsRefusedSinceWhiteoutsAreGone) {
  Layer("l1", "");
  ASSERT_TRUE(engine_->Prepare("x2", "", {}).ok());
  Status s = engine_->Commit("l2", "x2", {}, "l1");
  EXPECT_EQ(s.code(), Code::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("rebase"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("\"x2\""), std::string::npos) << s.message();
  EXPECT_EQ(engine_->Stat("x2").value().kind, Kind::kActive);
  EXPECT_EQ(engine_->Stat("l2").status().code(), Code::kNotFound);
  EXPECT_TRUE(engine_->Remove("l1").ok()) << "no child link may remain";
  // Without a parent (or with the one it was prepared on) commit still works.
  EXPECT_TRUE(engine_->Commit("l2", "x2", {}, "").ok());
}

TEST_P(EngineTest, BackendIsRecordedAndAnotherIsRefused) {
  EXPECT_EQ(engine_->backend_name(), GetParam().backend);
  engine_.reset();
  std::string other = GetParam().backend == "overlay" ? "copy" : "overlay";
  auto refused =
      Engine::Open({.root = Root(), .sync = false, .backend = other});
  ASSERT_EQ(refused.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("created with backend \"" +
                                            GetParam().backend),
            std::string::npos)
      << refused.status().message();
  auto autod = Engine::Open({.root = Root(), .sync = false, .backend = "auto"});
  ASSERT_TRUE(autod.ok()) << autod.status().ToString();
  EXPECT_EQ((*autod)->backend_name(), GetParam().backend)
      << "auto keeps the recorded backend";
  autod->reset();
  EXPECT_EQ(Engine::Open({.root = Root(), .sync = false, .backend = "zfs"})
                .status()
                .code(),
            Code::kInvalidArgument);
  Reopen();
}

TEST_P(EngineTest, AutoOnANewRootProbesTheFilesystem) {
  engine_.reset();
  auto e = Engine::Open(
      {.root = base_ + "/fresh", .sync = false, .backend = "auto"});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  std::string_view name = (*e)->backend_name();
  if (geteuid() == 0) {
    EXPECT_EQ(name, "overlay")
        << "overlayfs mounts on ext4, XFS and btrfs as root";
  } else {
    EXPECT_NE(name, "overlay") << "overlay cannot mount without root";
  }
  Reopen();
}

// Which Apply mounts are this engine's: only the writable directory of one of
// its active snapshots, as the engine spelled it.
TEST_P(EngineTest, ResolveApplyTargetTakesOnlyItsOwnActiveSnapshots) {
  auto base = engine_->Prepare("a", "", {});
  ASSERT_TRUE(base.ok()) << base.status().ToString();
  auto t = engine_->ResolveApplyTarget(*base);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)->key(), "a");
  EXPECT_EQ((*t)->whiteouts(), GetParam().backend == "overlay"
                                   ? WhiteoutMode::kOverlay
                                   : WhiteoutMode::kDelete);
  struct stat st_t, st_d;
  ASSERT_EQ(fstat((*t)->dir(), &st_t), 0);
  ASSERT_EQ(stat((*base)[0].source.c_str(), &st_d), 0);
  EXPECT_EQ(st_t.st_ino, st_d.st_ino) << "not the snapshot's directory";
  t->reset();

  Layer("l1", "");
  auto child = engine_->Prepare("c", "l1", {});
  ASSERT_TRUE(child.ok());
  EXPECT_TRUE(engine_->ResolveApplyTarget(*child).ok());
  // containerd 2.x's parallel unpack: an upperdir= alone.
  auto own_upper = engine_->ResolveApplyTarget(
      {{"overlay", "overlay", {"upperdir=" + (*base)[0].source}}});
  EXPECT_TRUE(own_upper.ok()) << own_upper.status().ToString();
  own_upper->reset();

  const std::string snaps = engine_->layout().SnapshotsDir();
  const std::string src = (*base)[0].source;
  const std::vector<std::vector<Mount>> foreign = {
      {},
      {{"bind", src, {"rw"}}, {"bind", src, {"rw"}}},
      {{"bind", src, {"ro", "rbind"}}},
      {{"overlay", "overlay", {"lowerdir=" + src}}},
      {{"tmpfs", "tmpfs", {}}},
      {{"bind", dir_.path(), {"rw", "rbind"}}},
      {{"bind", snaps + "/1/fs/../../1/fs", {"rw", "rbind"}}},
      {{"bind", snaps + "/1/fs/", {"rw", "rbind"}}},
      {{"bind", snaps + "/01/fs", {"rw", "rbind"}}},
      {{"bind", snaps + "/1/work", {"rw", "rbind"}}},
      {{"bind", snaps + "/1", {"rw", "rbind"}}},
      {{"bind", snaps + "/999999/fs", {"rw", "rbind"}}},
      {{"overlay",
        "overlay",
        {"upperdir=" + engine_->layout().root() + "/l/1"}}},
  };
  for (const auto& m : foreign) {
    auto r = engine_->ResolveApplyTarget(m);
    std::string shown = m.empty() ? "(none)" : m[0].type + " " + m[0].source;
    EXPECT_FALSE(r.ok()) << shown;
    if (!r.ok() && m.size() == 1 && m[0].source == snaps + "/999999/fs") {
      EXPECT_EQ(r.status().code(), Code::kNotFound) << r.status().ToString();
    } else if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kUnimplemented)
          << shown << ": " << r.status().ToString();
    }
  }
  // A committed snapshot or a view is never written.
  auto view = engine_->View("v", "l1", {});
  ASSERT_TRUE(view.ok());
  auto by_key = engine_->ApplyTargetFor("l1");
  ASSERT_FALSE(by_key.ok());
  EXPECT_EQ(by_key.status().code(), Code::kFailedPrecondition)
      << by_key.status().ToString();
  by_key = engine_->ApplyTargetFor("v");
  ASSERT_FALSE(by_key.ok());
  EXPECT_EQ(by_key.status().code(), Code::kFailedPrecondition)
      << by_key.status().ToString();
  EXPECT_EQ(engine_->ApplyTargetFor("nope").status().code(), Code::kNotFound);
}

// While a layer is applied, Remove and Commit of its snapshot are refused;
// once the target is released they work, and a removed snapshot can no
// longer be lent.
TEST_P(EngineTest, ApplyTargetIsHeldAgainstRemoveAndCommit) {
  auto m = engine_->Prepare("a", "", {});
  ASSERT_TRUE(m.ok());
  auto t = engine_->ApplyTargetFor("a");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  Status r = engine_->Remove("a");
  EXPECT_EQ(r.code(), Code::kFailedPrecondition) << r.ToString();
  EXPECT_NE(r.message().find("being applied"), std::string::npos)
      << r.ToString();
  Status c = engine_->Commit("n", "a", {});
  EXPECT_EQ(c.code(), Code::kFailedPrecondition) << c.ToString();
  EXPECT_TRUE(engine_->Stat("a").ok()) << "a refused Remove removed the record";
  // A second Apply to the same snapshot may hold it too.
  auto t2 = engine_->ResolveApplyTarget(*m);
  ASSERT_TRUE(t2.ok()) << t2.status().ToString();
  t->reset();
  EXPECT_EQ(engine_->Remove("a").code(), Code::kFailedPrecondition);
  t2->reset();
  EXPECT_TRUE(engine_->Commit("n", "a", {}).ok());
  EXPECT_TRUE(engine_->Remove("n").ok());
  EXPECT_EQ(engine_->ResolveApplyTarget(*m).status().code(), Code::kNotFound);
}

TEST(EngineRootTest, RootsOverlayOptionsCannotCarryAreRefusedAtOpen) {
  TempDir dir;
  for (const char* bad : {"/a,b", "/a:b", "/a=b", "/a\\b", "/a\nb"}) {
    std::string root = dir.path() + bad;
    auto e = Engine::Open({.root = root, .sync = false, .backend = "auto"});
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_EQ(e.status().code(), Code::kInvalidArgument);
    EXPECT_NE(e.status().message().find("overlayfs mount options"),
              std::string::npos)
        << e.status().ToString();
    struct stat st;
    EXPECT_NE(lstat(root.c_str(), &st), 0) << "a refused root was created";
  }
  EXPECT_TRUE(
      Engine::Open({.root = dir / "plain root-1_x", .sync = false}).ok());
}

std::string ParamName(const ::testing::TestParamInfo<BackendParam>& info) {
  return info.param.backend +
         (info.param.fs.empty() ? "" : "_" + info.param.fs);
}

INSTANTIATE_TEST_SUITE_P(Backends, EngineTest,
                         ::testing::Values(BackendParam{"overlay", ""},
                                           BackendParam{"copy", ""},
                                           BackendParam{"reflink", "xfs"},
                                           BackendParam{"reflink", "btrfs"}),
                         ParamName);
INSTANTIATE_TEST_SUITE_P(Backends, OverlayEngineTest,
                         ::testing::Values(BackendParam{"overlay", ""}),
                         ParamName);
INSTANTIATE_TEST_SUITE_P(Backends, FullTreeEngineTest,
                         ::testing::Values(BackendParam{"copy", ""},
                                           BackendParam{"reflink", "xfs"},
                                           BackendParam{"reflink", "btrfs"}),
                         ParamName);

}  // namespace
}  // namespace strata
