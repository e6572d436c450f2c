// Crash recovery: a child process runs an operation and dies with _exit at a
// named point inside it (no destructors, no LMDB commit); the parent reopens
// the root and checks the invariant: every record has its directory, no
// directory lacks a record, and nothing half-made is visible.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/fs/fs_util.h"
#include "snapshotter/engine/engine.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

class RecoveryTest : public ::testing::Test {
 protected:
  std::string root() { return dir_ / "root"; }
  EngineOptions Options() {
    EngineOptions o{.root = root(), .sync = true};
    if (!backend_.empty()) o.backend = backend_;
    o.remap_ids = remap_ids_;
    return o;
  }
  std::unique_ptr<Engine> Open() {
    auto e = Engine::Open(Options());
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    return e.ok() ? std::move(*e) : nullptr;
  }
  // Runs op in a child that dies at crash point `point`. Returns true if the
  // child reached the point (and so died there).
  bool CrashAt(const std::string& point,
               const std::function<void(Engine&)>& op) {
    pid_t pid = fork();
    if (pid == 0) {
      auto e = Engine::Open(Options());
      if (!e.ok()) _exit(3);
      (*e)->TEST_SetCrashHook([&](std::string_view p) {
        if (p == point) _exit(42);
      });
      op(**e);
      _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 42;
  }
  // The invariant, checked from the outside.
  void ExpectConsistent(Engine& e) {
    auto all = e.List({});
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    EXPECT_EQ(CountEntries(root() + "/snapshots"),
              static_cast<int>(all->size()));
    for (const Info& i : *all) {
      if (i.kind == Kind::kCommitted) continue;
      auto m = e.Mounts(i.name);
      ASSERT_TRUE(m.ok());
      struct stat st;
      std::string src = m->at(0).type == "bind" ? m->at(0).source : "";
      if (!src.empty()) {
        EXPECT_EQ(stat(src.c_str(), &st), 0) << i.name << " lost its dir";
      }
    }
    EXPECT_EQ(CountEntries(root() + "/staging"), 0);
    EXPECT_EQ(CountEntries(root() + "/trash"), 0);
    EXPECT_EQ(e.recovery().missing_dirs, 0);
  }
  TempDir dir_;
  std::string backend_;
  bool remap_ids_ = false;
};

TEST_F(RecoveryTest, CrashAfterStagingLeavesNothing) {
  { auto e = Open(); }
  ASSERT_TRUE(CrashAt("prepare.staged",
                      [](Engine& e) { (void)e.Prepare("k", "", {}).ok(); }));
  EXPECT_EQ(CountEntries(root() + "/staging"), 1)
      << "the crash should leave staging behind";
  auto e = Open();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->recovery().staging_removed, 1);
  EXPECT_EQ(e->Stat("k").status().code(), Code::kNotFound);
  ExpectConsistent(*e);
}

TEST_F(RecoveryTest, CrashAfterRenameBeforeCommitLeavesNoRecordNoDir) {
  { auto e = Open(); }
  ASSERT_TRUE(CrashAt("prepare.renamed",
                      [](Engine& e) { (void)e.Prepare("k", "", {}).ok(); }));
  EXPECT_EQ(CountEntries(root() + "/snapshots"), 1)
      << "renamed dir should exist";
  auto e = Open();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->recovery().orphans_removed, 1);
  EXPECT_EQ(e->Stat("k").status().code(), Code::kNotFound);
  ExpectConsistent(*e);
  // The id is reused by the next Prepare and works.
  ASSERT_TRUE(e->Prepare("k2", "", {}).ok());
  ExpectConsistent(*e);
}

TEST_F(RecoveryTest, CrashInsideRemoveBeforeCommitRestoresTheSnapshot) {
  {
    auto e = Open();
    ASSERT_TRUE(e->Prepare("k", "", {{"a", "b"}}).ok());
  }
  ASSERT_TRUE(
      CrashAt("remove.renamed", [](Engine& e) { (void)e.Remove("k").ok(); }));
  EXPECT_EQ(CountEntries(root() + "/trash"), 1);
  auto e = Open();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->recovery().trash_restored, 1);
  auto info = e->Stat("k");
  ASSERT_TRUE(info.ok())
      << "the removal never committed: the snapshot must survive";
  ExpectConsistent(*e);
  ASSERT_TRUE(e->Remove("k").ok());
  ExpectConsistent(*e);
}

TEST_F(RecoveryTest, CrashAfterRemoveCommitDeletesTheTrash) {
  {
    auto e = Open();
    ASSERT_TRUE(e->Prepare("k", "", {}).ok());
    ASSERT_TRUE(e->Prepare("other", "", {}).ok());
  }
  ASSERT_TRUE(
      CrashAt("remove.committed", [](Engine& e) { (void)e.Remove("k").ok(); }));
  auto e = Open();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->recovery().trash_removed, 1);
  EXPECT_EQ(e->Stat("k").status().code(), Code::kNotFound);
  EXPECT_TRUE(e->Stat("other").ok());
  ExpectConsistent(*e);
}

TEST_F(RecoveryTest, CrashBetweenMeasureAndCommitKeepsTheActive) {
  {
    auto e = Open();
    ASSERT_TRUE(e->Prepare("k", "", {}).ok());
  }
  ASSERT_TRUE(CrashAt("commit.measured",
                      [](Engine& e) { (void)e.Commit("n", "k", {}).ok(); }));
  auto e = Open();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->Stat("k")->kind, Kind::kActive);
  EXPECT_EQ(e->Stat("n").status().code(), Code::kNotFound);
  ASSERT_TRUE(e->Commit("n", "k", {}).ok());
  ExpectConsistent(*e);
}

// A crash can lose Prepare's (unsynced) rename after its record is durable:
// an active snapshot gets its empty skeleton back; a committed layer whose
// directory vanished is reported, not invented.
TEST_F(RecoveryTest, RecordWithoutDirectory) {
  {
    auto e = Open();
    ASSERT_TRUE(e->Prepare("base", "", {}).ok());
    ASSERT_TRUE(e->Commit("layer", "base", {}).ok());
    ASSERT_TRUE(e->Prepare("active", "layer", {}).ok());
  }
  ASSERT_TRUE(RemoveAll(root() + "/snapshots/2").ok());  // "active"
  {
    auto e = Open();
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->recovery().dirs_rebuilt, 1);
    EXPECT_EQ(e->recovery().missing_dirs, 0);
    struct stat st;
    EXPECT_EQ(stat((root() + "/snapshots/2/fs").c_str(), &st), 0);
    EXPECT_EQ(stat((root() + "/snapshots/2/work").c_str(), &st), 0);
  }
  ASSERT_TRUE(RemoveAll(root() + "/snapshots/1").ok());  // committed "layer"
  auto e = Open();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->recovery().missing_dirs, 1);
  EXPECT_EQ(e->recovery().dirs_rebuilt, 0);
}

// A full-tree backend's lost active directory comes back as a clone of its
// parent (what Prepare built), not as an empty tree.
TEST_F(RecoveryTest, FullTreeRecordWithoutDirectoryIsClonedAgain) {
  auto open_copy = [&] {
    auto e = Engine::Open({.root = root(), .sync = true, .backend = "copy"});
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    return e.ok() ? std::move(*e) : nullptr;
  };
  {
    auto e = open_copy();
    auto m = e->Prepare("base", "", {});
    ASSERT_TRUE(m.ok());
    ASSERT_EQ(mkdir(((*m)[0].source + "/etc").c_str(), 0755), 0);
    ASSERT_TRUE(e->Commit("layer", "base", {}).ok());
    ASSERT_TRUE(e->Prepare("active", "layer", {}).ok());
  }
  ASSERT_TRUE(RemoveAll(root() + "/snapshots/2").ok());  // "active"
  auto e = open_copy();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->recovery().dirs_rebuilt, 1);
  struct stat st;
  EXPECT_EQ(stat((root() + "/snapshots/2/fs/etc").c_str(), &st), 0)
      << "not cloned again";
}

// Many random crashes in a row: the store must converge every time.
// A directory recovery cannot remove (here: an immutable one inside an
// orphan) never stops start-up: it is logged and moved into quarantine/.
TEST_F(RecoveryTest, WhatCannotBeRemovedIsQuarantinedAndStartUpGoesOn) {
  if (geteuid() != 0)
    GTEST_SKIP() << "the immutable flag needs root (CI runs as root)";
  { auto e = Open(); }
  std::string orphan = root() + "/snapshots/77";
  ASSERT_EQ(mkdir(orphan.c_str(), 0700), 0);
  ASSERT_EQ(mkdir((orphan + "/stuck").c_str(), 0700), 0);
  int f = open((orphan + "/stuck/file").c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(f, 0);
  close(f);
  int d = open((orphan + "/stuck").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(d, 0);
  int flags = 0;
  if (ioctl(d, FS_IOC_GETFLAGS, &flags) != 0) {
    close(d);
    GTEST_SKIP() << "this filesystem has no inode flags";
  }
  int immutable = flags | FS_IMMUTABLE_FL;
  if (ioctl(d, FS_IOC_SETFLAGS, &immutable) != 0) {
    close(d);
    GTEST_SKIP() << "this filesystem refuses the immutable flag";
  }
  auto e = Engine::Open({.root = root(), .sync = true});
  ioctl(d, FS_IOC_SETFLAGS, &flags);
  close(d);
  ASSERT_TRUE(e.ok()) << "start-up failed: " << e.status().ToString();
  EXPECT_EQ((*e)->recovery().quarantined, 1);
  EXPECT_EQ(CountEntries(root() + "/quarantine"), 1);
  EXPECT_EQ(CountEntries(root() + "/snapshots"), 0);
  EXPECT_TRUE((*e)->Prepare("k", "", {}).ok()) << "the engine does not serve";
}

TEST_F(RecoveryTest, RepeatedCrashesConverge) {
  { auto e = Open(); }
  const char* prepare_points[] = {"prepare.staged", "prepare.renamed"};
  const char* remove_points[] = {"remove.renamed", "remove.committed"};
  for (int round = 0; round < 12; ++round) {
    std::string key = "k" + std::to_string(round);
    {
      auto e = Open();
      ASSERT_NE(e, nullptr);
      ExpectConsistent(*e);
      if (round % 2) {
        ASSERT_TRUE(e->Prepare(key, "", {}).ok());
      }
    }
    const char* point = round % 2 ? remove_points[(round / 2) % 2]
                                  : prepare_points[(round / 2) % 2];
    EXPECT_TRUE(CrashAt(point, [&](Engine& e) {
      if (round % 2)
        (void)e.Remove(key).ok();
      else
        (void)e.Prepare(key, "", {}).ok();
    })) << point;
  }
  auto e = Open();
  ASSERT_NE(e, nullptr);
  ExpectConsistent(*e);
}

}  // namespace
}  // namespace strata

namespace strata {
namespace {

std::string Owner(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return "missing";
  return std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid);
}

// A mapped overlay's upper is written as host IDs and committed as
// container IDs (Engine::UnmapUpperOwners): a crash before the record
// leaves the active as the container had it; a crash after it leaves the
// committed layer unmapped.
TEST_F(RecoveryTest, ACrashInAMappedCommitUndoesOrFinishesItsOwnerShift) {
  if (geteuid() != 0) GTEST_SKIP() << "chown to mapped IDs needs root";
  backend_ = "overlay";
  remap_ids_ = true;
  const Labels mapped = {{kUidMappingLabel, "0:100000:65536"},
                         {kGidMappingLabel, "0:100000:65536"}};
  std::string upper;
  {
    auto e = Open();
    ASSERT_NE(e, nullptr);
    ASSERT_TRUE(e->Prepare("base", "", {}).ok());
    ASSERT_TRUE(e->Commit("layer", "base", {}).ok());
    auto m = e->Prepare("c", "layer", mapped);
    if (!m.ok() && m.status().code() == Code::kFailedPrecondition)
      GTEST_SKIP() << "no idmapped mounts here: " << m.status().ToString();
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    ASSERT_TRUE(MountOptionValue(m->at(0).options, "upperdir", &upper));
    // What the container wrote, as the host IDs it runs as.
    ASSERT_EQ(mkdir((upper + "/etc").c_str(), 0755), 0);
    ASSERT_EQ(chown((upper + "/etc").c_str(), 100000, 100000), 0);
    int fd = open((upper + "/etc/app").c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    close(fd);
    ASSERT_EQ(chown((upper + "/etc/app").c_str(), 101000, 101005), 0);
  }
  ASSERT_EQ(Owner(upper), "100000:100000");
  for (const char* point : {"commit.shifted", "commit.synced"}) {
    ASSERT_TRUE(CrashAt(point, [](Engine& e) {
      (void)e.Commit("n", "c", {}).ok();
    })) << point;
    auto e = Open();
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->Stat("c")->kind, Kind::kActive) << point;
    EXPECT_EQ(e->recovery().shifts_undone, 1) << point;
    EXPECT_EQ(Owner(upper), "100000:100000") << point;
    EXPECT_EQ(Owner(upper + "/etc/app"), "101000:101005") << point;
    EXPECT_EQ(CountEntries(root() + "/shifts"), 0) << point;
  }
  ASSERT_TRUE(CrashAt("commit.recorded",
                      [](Engine& e) { (void)e.Commit("n", "c", {}).ok(); }));
  auto e = Open();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->Stat("n")->kind, Kind::kCommitted);
  EXPECT_EQ(e->recovery().shifts_finished, 1);
  EXPECT_EQ(Owner(upper), "0:0");
  EXPECT_EQ(Owner(upper + "/etc"), "0:0");
  EXPECT_EQ(Owner(upper + "/etc/app"), "1000:1005");
  EXPECT_EQ(CountEntries(root() + "/shifts"), 0);
  ExpectConsistent(*e);
  // Without a crash: the same, and the journal gone at once.
  auto m = e->Prepare("c2", "n", mapped);
  ASSERT_TRUE(m.ok());
  std::string upper2;
  ASSERT_TRUE(MountOptionValue(m->at(0).options, "upperdir", &upper2));
  ASSERT_EQ(Owner(upper2), "100000:100000");
  ASSERT_TRUE(e->Commit("n2", "c2", {}).ok());
  EXPECT_EQ(Owner(upper2), "0:0");
  EXPECT_EQ(CountEntries(root() + "/shifts"), 0);
}

}  // namespace
}  // namespace strata
