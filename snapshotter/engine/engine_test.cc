// Engine semantics against containerd's rules, including every bad input the
// daemon must survive, plus real overlay mounts when running as root.
#include "snapshotter/engine/engine.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/testutil/mounter.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

Info Named(std::string name, Labels labels = {}) {
  Info i;
  i.name = std::move(name);
  i.labels = std::move(labels);
  return i;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    engine_.reset();
    auto e = Engine::Open({.root = dir_ / "root", .sync = false});
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
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, MountShapesFollowContainerdsOverlaySnapshotter) {
  auto base = engine_->Prepare("base-active", "", {});
  ASSERT_TRUE(base.ok());
  ASSERT_EQ(base->size(), 1u);
  EXPECT_EQ((*base)[0].type, "bind");
  EXPECT_EQ((*base)[0].options, (std::vector<std::string>{"rw", "rbind"}));
  ASSERT_TRUE(engine_->Commit("l1", "base-active", {}).ok());

  auto view1 = engine_->View("view1", "l1", {});
  ASSERT_TRUE(view1.ok());
  EXPECT_EQ((*view1)[0].type, "bind");
  EXPECT_EQ((*view1)[0].options, (std::vector<std::string>{"ro", "rbind"}));
  EXPECT_EQ((*view1)[0].source, (*base)[0].source) << "view of one layer binds the parent";

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

TEST_F(EngineTest, BadInputsGetContainerdsCodesAndChangeNothing) {
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
      {"empty key", engine_->Prepare("", "", {}).status(), Code::kInvalidArgument},
      {"empty view key", engine_->View("", "committed", {}).status(), Code::kInvalidArgument},
      {"key over limit", engine_->Prepare(std::string(kMaxKeyBytes + 1, 'k'), "", {}).status(),
       Code::kInvalidArgument},
      {"existing key", engine_->Prepare("active", "", {}).status(), Code::kAlreadyExists},
      {"existing key as view", engine_->View("committed", "", {}).status(),
       Code::kAlreadyExists},
      {"parent missing", engine_->Prepare("x", "missing", {}).status(), Code::kNotFound},
      {"parent not committed", engine_->Prepare("x", "active", {}).status(),
       Code::kInvalidArgument},
      {"parent is a view", engine_->View("x", "view", {}).status(), Code::kInvalidArgument},
      {"commit a view", engine_->Commit("x", "view", {}), Code::kFailedPrecondition},
      {"commit a committed", engine_->Commit("x", "committed", {}),
       Code::kFailedPrecondition},
      {"commit to existing name", engine_->Commit("committed", "active", {}),
       Code::kAlreadyExists},
      {"commit missing", engine_->Commit("x", "missing", {}), Code::kNotFound},
      {"remove a parent", engine_->Remove("committed"), Code::kFailedPrecondition},
      {"remove missing", engine_->Remove("missing"), Code::kNotFound},
      {"stat missing", engine_->Stat("missing").status(), Code::kNotFound},
      {"usage missing", engine_->GetUsage("missing").status(), Code::kNotFound},
      {"mounts of committed", engine_->Mounts("committed").status(),
       Code::kFailedPrecondition},
      {"update unknown path", engine_->Update(Named("active"), {"parent"}).status(),
       Code::kInvalidArgument},
      {"update missing", engine_->Update(Named("missing"), {}).status(), Code::kNotFound},
      {"malformed filter", engine_->List({"name=="}).status(), Code::kInvalidArgument},
      {"label over 4096 bytes", engine_->Prepare("x", "", {{"k", big_label}}).status(),
       Code::kInvalidArgument},
      {"label over 4096 bytes on commit", engine_->Commit("x", "active", {{"k", big_label}}),
       Code::kInvalidArgument},
      {"label over 4096 bytes on update",
       engine_->Update(Named("active", {{"k", big_label}}), {}).status(),
       Code::kInvalidArgument},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.status.code(), c.want) << c.what << ": " << c.status.ToString();
  }
  // Messages name the snapshot.
  EXPECT_NE(engine_->Prepare("x", "missing", {}).status().message().find("\"missing\""),
            std::string::npos);
  EXPECT_NE(engine_->Commit("committed", "active", {}).message().find("\"committed\""),
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

TEST_F(EngineTest, KeysAreNeverPaths) {
  for (std::string key : {std::string("../../etc"), std::string("/abs/path"),
                          std::string("default/40/extract-1700000000123-AbCd sha256:0123"),
                          std::string("a\0b", 3), std::string(10 * 1024, 'k')}) {
    ASSERT_TRUE(engine_->Prepare(key, "", {}).ok()) << key.substr(0, 40);
    auto info = engine_->Stat(key);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->name, key);
  }
  struct stat st;
  EXPECT_NE(stat((dir_.path() + "/etc").c_str(), &st), 0);
  EXPECT_EQ(CountDirs("snapshots"), 5);
}

TEST_F(EngineTest, CommitStoresUsageAndItsOwnLabels) {
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

TEST_F(EngineTest, RemoveDeletesDirectoryAndRecord) {
  ASSERT_TRUE(engine_->Prepare("a", "", {}).ok());
  EXPECT_EQ(CountDirs("snapshots"), 1);
  ASSERT_TRUE(engine_->Remove("a").ok());
  EXPECT_EQ(CountDirs("snapshots"), 0);
  EXPECT_EQ(CountDirs("trash"), 0);
  EXPECT_EQ(engine_->Stat("a").status().code(), Code::kNotFound);
  ASSERT_TRUE(engine_->Prepare("a", "", {}).ok()) << "key is reusable after remove";
}

TEST_F(EngineTest, ListFiltersAndUpdate) {
  Layer("base", "");
  ASSERT_TRUE(engine_->Prepare("a1", "base", {{"containerd.io/snapshot.ref", "r1"}}).ok());
  ASSERT_TRUE(engine_->View("v1", "base", {}).ok());
  auto names = [&](std::vector<std::string> f) {
    std::vector<std::string> out;
    auto r = engine_->List(f);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) for (const Info& i : *r) out.push_back(i.name);
    return out;
  };
  EXPECT_EQ(names({}), (std::vector<std::string>{"base", "a1", "v1"}));
  EXPECT_EQ(names({"kind==view"}), (std::vector<std::string>{"v1"}));
  EXPECT_EQ(names({"parent==base"}), (std::vector<std::string>{"a1", "v1"}));
  EXPECT_EQ(names({"labels.\"containerd.io/snapshot.ref\"==r1,parent==\"base\""}),
            (std::vector<std::string>{"a1"}));
  EXPECT_EQ(names({"kind==committed", "kind==view"}), (std::vector<std::string>{"base", "v1"}));
  auto up = engine_->Update(Named("base", {{"containerd.io/gc.root", "x"}}),
                            {"labels.containerd.io/gc.root"});
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(up->labels.at("containerd.io/gc.root"), "x");
  EXPECT_EQ(names({"labels.\"containerd.io/gc.root\""}), (std::vector<std::string>{"base"}));
}

TEST_F(EngineTest, ConcurrentPreparesOfOneKeyCreateOne) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0}, exists{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto r = engine_->Prepare("same", "", {});
      if (r.ok()) ok++;
      else if (r.status().code() == Code::kAlreadyExists) exists++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(exists.load(), 7);
  EXPECT_EQ(CountDirs("snapshots"), 1);
  EXPECT_EQ(CountDirs("staging"), 0);
}

TEST_F(EngineTest, CleanupRemovesUnreferencedDirectories) {
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

TEST_F(EngineTest, StateSurvivesReopen) {
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
  EXPECT_NE((*next)[0].source, (*engine_->Mounts("a"))[0].source) << "id reused";
}

TEST_F(EngineTest, OverlayMountsWorkAndIsolateLayers) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting overlayfs needs root (CI runs as root)";
  std::string mnt = dir_ / "mnt";
  ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
  auto write_in = [&](const std::vector<Mount>& m, const std::string& file,
                      const std::string& text) {
    ASSERT_TRUE(MountAll(m, mnt).ok());
    std::ofstream(mnt + "/" + file) << text;
    Unmount(mnt);
  };
  write_in(*engine_->Prepare("x1", "", {}), "one", "1");
  ASSERT_TRUE(engine_->Commit("l1", "x1", {}).ok());
  write_in(*engine_->Prepare("x2", "l1", {}), "two", "2");
  ASSERT_TRUE(engine_->Commit("l2", "x2", {}).ok());
  auto a = engine_->Prepare("container", "l2", {});
  ASSERT_TRUE(a.ok());
  Status s = MountAll(*a, mnt);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::string one, two;
  std::ifstream(mnt + "/one") >> one;
  std::ifstream(mnt + "/two") >> two;
  EXPECT_EQ(one, "1");
  EXPECT_EQ(two, "2");
  ASSERT_EQ(unlink((mnt + "/one").c_str()), 0);
  std::ofstream(mnt + "/three") << "3";
  Unmount(mnt);
  // The view of l2 still shows "one": the container's delete stayed in its upper.
  auto v = engine_->View("v", "l2", {});
  ASSERT_TRUE(v.ok());
  ASSERT_TRUE(MountAll(*v, mnt).ok());
  struct stat st;
  EXPECT_EQ(stat((mnt + "/one").c_str(), &st), 0);
  EXPECT_NE(stat((mnt + "/three").c_str(), &st), 0);
  EXPECT_LT(open((mnt + "/new").c_str(), O_CREAT | O_WRONLY, 0644), 0) << "view is writable";
  Unmount(mnt);
}

}  // namespace
}  // namespace strata
