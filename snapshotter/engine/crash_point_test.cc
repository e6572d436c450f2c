// The crash-safety protocol (engine.h, README "Crash safety") checked at every
// step: each filesystem call Prepare, View, Commit and Remove make through the
// FsOps seam becomes, in turn, the moment of a power cut (CrashFs forgets all
// that was not yet durable), and so does the moment right after the operation
// answered; recovery's own calls get the same treatment. After each cut the
// root is reopened and must hold exactly what the client was told, or, for the
// operation that was cut, either all of it or none of it: every acknowledged
// commit with its data, every acknowledged removal gone, no record without its
// directory, no directory without its record.
//
// FaultFs does the same with errors instead of crashes (ENOSPC, EIO at each
// step, and a failing metadata commit): the operation answers with
// containerd's class naming the snapshot, and leaves nothing half-made, with
// no restart needed.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>

#include "io/fs/fs_util.h"
#include "snapshotter/engine/engine.h"
#include "tests/testutil/fault_fs.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

// What a client was told: key -> kind, parent, and for a committed snapshot
// the file written into its layer before Commit and its bytes.
struct Snap {
  Kind kind;
  std::string parent;
  std::string file;  // in the snapshot's own layer; "" if none promised
  std::string data;
  bool operator==(const Snap&) const = default;
};
using Model = std::map<std::string, Snap>;

std::string Describe(const Model& m) {
  std::string out;
  for (const auto& [k, s] : m)
    out += k + "(" + std::string(KindName(s.kind)) +
           (s.parent.empty() ? "" : "<-" + s.parent) + ") ";
  return out;
}

std::string ReadAll(const std::string& path) {
  std::ifstream f(path);
  if (!f) return "<missing>";
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string Content(const std::string& key) {
  std::string s;
  for (int i = 0; i < 64; ++i)
    s += "bytes of " + key + " #" + std::to_string(i) + "\n";
  return s;
}

// The directory holding `key`'s own layer, from the mounts the engine hands
// out (a committed snapshot through a short-lived view of it).
Result<std::string> LayerDir(Engine& e, const std::string& key) {
  STRATA_ASSIGN_OR_RETURN(Info info, e.Stat(key));
  std::vector<Mount> mounts;
  if (info.kind == Kind::kCommitted) {
    STRATA_ASSIGN_OR_RETURN(mounts, e.View("probe-" + key, key, {}));
    STRATA_RETURN_IF_ERROR(e.Remove("probe-" + key));
  } else {
    STRATA_ASSIGN_OR_RETURN(mounts, e.Mounts(key));
  }
  const Mount& m = mounts.at(0);
  if (m.type != "overlay") return m.source;
  std::string want = info.kind == Kind::kActive ? "upperdir=" : "lowerdir=";
  for (const std::string& o : m.options) {
    if (o.rfind(want, 0) == 0)
      return o.substr(want.size(), o.find(':') - want.size());
  }
  return Internal("no " + want + " in the mounts of " + key);
}

class CrashPointTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::string Root() const { return dir_ / "root"; }

  std::unique_ptr<Engine> Open(FsOps* fs, bool commit_sync = true) {
    auto e = Engine::Open({.root = Root(),
                           .sync = true,
                           .commit_sync = commit_sync,
                           .backend = GetParam(),
                           .fs = fs});
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    return e.ok() ? std::move(*e) : nullptr;
  }

  // A fresh root holding: committed base <- c1, active act (on base) and
  // victim (no parent). Returns the model.
  Model MakeRoot() {
    RemoveAll(Root()).IgnoreError();
    RemoveAll(dir_ / "grave").IgnoreError();
    MakeDirs(dir_ / "grave").IgnoreError();
    auto e = Open(nullptr);
    Model m;
    auto commit = [&](const std::string& name, const std::string& key,
                      const std::string& parent) {
      ASSERT_TRUE(e->Prepare(key, parent, {}).ok());
      auto dir = LayerDir(*e, key);
      ASSERT_TRUE(dir.ok()) << dir.status().ToString();
      ASSERT_TRUE(
          RealFs().WriteFile(*dir + "/data-" + key, Content(key), 0644).ok());
      ASSERT_TRUE(e->Commit(name, key, {}).ok());
      m[name] = {Kind::kCommitted, parent, "data-" + key, Content(key)};
    };
    commit("base", "base-a", "");
    commit("c1", "c1-a", "base");
    EXPECT_TRUE(e->Prepare("act", "base", {}).ok());
    m["act"] = {Kind::kActive, "base", "", ""};
    EXPECT_TRUE(e->Prepare("victim", "", {}).ok());
    m["victim"] = {Kind::kActive, "", "", ""};
    return m;
  }

  // "" when the engine holds exactly `want` (records, kinds, parents, the
  // promised data) and every record has its directory and no directory
  // lacks a record; else what differs.
  std::string Check(Engine& e, const Model& want) {
    auto all = e.List({});
    if (!all.ok()) return "List: " + all.status().ToString();
    Model got;
    for (const Info& i : *all) got[i.name] = {i.kind, i.parent, "", ""};
    for (auto& [k, s] : got) {
      auto w = want.find(k);
      if (w != want.end()) {
        s.file = w->second.file;
        s.data = w->second.data;
      }
    }
    if (got != want)
      return "records " + Describe(got) + "; want " + Describe(want);
    for (const auto& [k, s] : want) {
      auto dir = LayerDir(e, k);
      if (!dir.ok()) return k + ": " + dir.status().ToString();
      struct stat st;
      if (stat(dir->c_str(), &st) != 0)
        return k + ": its directory " + *dir + " is missing";
      if (!s.file.empty() && ReadAll(*dir + "/" + s.file) != s.data)
        return k + ": " + s.file + " lost its data (" +
               ReadAll(*dir + "/" + s.file).substr(0, 20) + ")";
    }
    if (int n = CountEntries(Root() + "/snapshots");
        n != static_cast<int>(all->size()))
      return std::to_string(n) + " snapshot directories for " +
             std::to_string(all->size()) + " records";
    if (int n = CountEntries(Root() + "/staging"); n != 0)
      return std::to_string(n) + " entries left in staging/";
    return "";
  }

  // The engine still does its job after what happened.
  void ExpectServes(Engine& e) {
    EXPECT_TRUE(e.Prepare("after", "base", {}).ok());
    EXPECT_TRUE(e.Commit("after-c", "after", {}).ok());
    EXPECT_TRUE(e.Remove("after-c").ok());
  }

  TempDir dir_;
};

// One operation under test: runs through `fs`; on OK the model becomes
// `after`.
struct Op {
  std::string name;
  std::function<Status(Engine&, FsOps&)> run;
  std::function<void(Model&)> effect;
};

std::vector<Op> Ops() {
  return {
      {"prepare",
       [](Engine& e, FsOps&) { return e.Prepare("new", "c1", {}).status(); },
       [](Model& m) {
         m["new"] = {Kind::kActive, "c1", "", ""};
       }},
      {"view",
       [](Engine& e, FsOps&) { return e.View("view", "c1", {}).status(); },
       [](Model& m) {
         m["view"] = {Kind::kView, "c1", "", ""};
       }},
      {"write+commit",
       [](Engine& e, FsOps& fs) {
         STRATA_ASSIGN_OR_RETURN(std::string dir, LayerDir(e, "act"));
         STRATA_RETURN_IF_ERROR(
             fs.WriteFile(dir + "/data-act", Content("act"), 0644));
         return e.Commit("act-c", "act", {});
       },
       [](Model& m) {
         m.erase("act");
         m["act-c"] = {Kind::kCommitted, "base", "data-act", Content("act")};
       }},
      {"remove-committed", [](Engine& e, FsOps&) { return e.Remove("c1"); },
       [](Model& m) { m.erase("c1"); }},
      {"remove-active", [](Engine& e, FsOps&) { return e.Remove("victim"); },
       [](Model& m) { m.erase("victim"); }},
  };
}

TEST_P(CrashPointTest, EveryStepOfEveryOperationSurvivesAPowerCut) {
  for (const Op& op : Ops()) {
    int points = 0;
    for (int n = 1;; ++n) {
      SCOPED_TRACE(op.name + ", cut at call " + std::to_string(n));
      Model before = MakeRoot();
      if (HasFatalFailure()) return;
      Model after = before;
      op.effect(after);
      CrashFs cfs(dir_ / "grave");
      bool cut_inside = false;
      Status s;
      {
        auto e = Open(&cfs);
        ASSERT_NE(e, nullptr);
        cfs.CrashAt(cfs.calls() + n);
        s = op.run(*e, cfs);
        cut_inside = cfs.crashed();
        // Past the operation's last call: the cut comes right after it
        // answered, so its answer must hold.
        if (!cut_inside) {
          ASSERT_TRUE(s.ok()) << s.ToString();
        }
      }
      cfs.Crash();
      auto e = Open(nullptr);
      ASSERT_NE(e, nullptr);
      EXPECT_EQ(e->recovery().missing_dirs, 0);
      EXPECT_TRUE(e->Damaged().empty());
      std::string as_before = Check(*e, before);
      std::string as_after = Check(*e, after);
      if (s.ok()) {
        EXPECT_EQ(as_after, "") << "acknowledged " << op.name << " was lost";
      } else {
        EXPECT_TRUE(as_before.empty() || as_after.empty())
            << op.name << " cut half-way (" << s.ToString()
            << "): neither before (" << as_before << ") nor after (" << as_after
            << ")";
      }
      ExpectServes(*e);
      if (!cut_inside) break;
      ++points;
    }
    EXPECT_GT(points, 0) << op.name << " made no filesystem call to cut";
  }
}

// The protocol's one barrier, shown by its absence: without commit_sync a
// power cut right after Commit answered loses the layer's data (the check
// above must be able to fail).
TEST_P(CrashPointTest, WithoutCommitSyncAnAcknowledgedCommitCanLoseItsData) {
  Model before = MakeRoot();
  ASSERT_FALSE(HasFatalFailure());
  Model after = before;
  Op op = Ops()[2];
  ASSERT_EQ(op.name, "write+commit");
  op.effect(after);
  CrashFs cfs(dir_ / "grave");
  {
    auto e = Open(&cfs, /*commit_sync=*/false);
    ASSERT_NE(e, nullptr);
    ASSERT_TRUE(op.run(*e, cfs).ok());
    EXPECT_EQ(e->DataSyncs(), 0u);
  }
  cfs.Crash();
  auto e = Open(nullptr);
  ASSERT_NE(e, nullptr);
  EXPECT_NE(Check(*e, after), "") << "the cut should have lost act-c's data";
}

// Recovery repairs a root left by crashes, and survives being cut itself at
// each of its own steps: the next start finishes the job.
TEST_P(CrashPointTest, RecoveryItselfSurvivesAPowerCutAtEachStep) {
  int points = 0;
  for (int n = 1;; ++n) {
    SCOPED_TRACE("recovery cut at call " + std::to_string(n));
    Model want = MakeRoot();
    ASSERT_FALSE(HasFatalFailure());
    {
      // What crashes leave behind: a half-built snapshot in staging/, a
      // removal whose transaction never committed (its directory in trash/,
      // its record still there), an unrecorded directory, a stray short
      // link (overlay's), and an active snapshot whose directory a lost rename
      // took.
      auto e = Open(nullptr);
      auto victim = LayerDir(*e, "victim");
      auto act = LayerDir(*e, "act");
      ASSERT_TRUE(victim.ok() && act.ok());
      std::string vdir = DirOf(*victim), adir = DirOf(*act);
      std::string vid = vdir.substr(vdir.rfind('/') + 1);
      e.reset();
      ASSERT_TRUE(MakeDirs(Root() + "/staging/new-junk/fs").ok());
      ASSERT_EQ(
          rename(vdir.c_str(), (Root() + "/trash/" + vid + "-1-0").c_str()), 0);
      ASSERT_TRUE(MakeDirs(Root() + "/snapshots/9999/fs").ok());
      if (GetParam() == std::string("overlay")) {  // its derived data
        ASSERT_EQ(symlink("../snapshots/9999/fs", (Root() + "/l/9999").c_str()),
                  0);
      }
      ASSERT_TRUE(RemoveAll(adir).ok());
    }
    CrashFs cfs(dir_ / "grave");
    cfs.CrashAt(n);
    bool cut_inside = false;
    {
      auto e = Engine::Open(
          {.root = Root(), .sync = true, .backend = GetParam(), .fs = &cfs});
      cut_inside = cfs.crashed();
      if (!cut_inside) {
        ASSERT_TRUE(e.ok()) << e.status().ToString();
        EXPECT_EQ((*e)->recovery().trash_restored, 1);
        EXPECT_EQ((*e)->recovery().dirs_rebuilt, 1);
        EXPECT_EQ((*e)->recovery().orphans_removed, 1);
        EXPECT_EQ((*e)->recovery().staging_removed, 1);
      }
    }
    cfs.Crash();
    auto e = Open(nullptr);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(Check(*e, want), "");
    EXPECT_EQ(CountEntries(Root() + "/trash"), 0);
    EXPECT_EQ(CountEntries(Root() + "/l"), 0);
    ExpectServes(*e);
    if (!cut_inside) break;
    ++points;
  }
  EXPECT_GE(points, 5) << "recovery made fewer filesystem calls than repairs";
}

// A full disk or an I/O error at any step: the operation answers with the
// errno's class naming the snapshot, or (a step after its commit) succeeds;
// either way nothing half-made stays and the engine serves on, no restart.
TEST_P(CrashPointTest, AnErrorAtEachStepLeavesNothingHalfMade) {
  for (int err : {ENOSPC, EIO}) {
    for (const Op& op : Ops()) {
      for (int n = 1;; ++n) {
        SCOPED_TRACE(op.name + ", " + strerror(err) + " at call " +
                     std::to_string(n));
        Model before = MakeRoot();
        ASSERT_FALSE(HasFatalFailure());
        Model after = before;
        op.effect(after);
        FaultFs ffs(0, err);
        auto e = Open(&ffs);
        ASSERT_NE(e, nullptr);
        ffs.FailAt(ffs.calls() + n);
        Status s = op.run(*e, ffs);
        bool fired = ffs.fired();
        ffs.FailAt(0);
        if (s.ok()) {
          EXPECT_EQ(Check(*e, after), "");
        } else {
          ASSERT_TRUE(fired) << s.ToString();
          EXPECT_EQ(Check(*e, before), "") << s.ToString();
          if (err == ENOSPC) {
            EXPECT_EQ(s.code(), Code::kResourceExhausted) << s.ToString();
          }
          // The write is the test's own step; the engine's errors name it.
          if (s.message().find("injected fault: write") == std::string::npos) {
            EXPECT_NE(s.message().find("snapshot \""), std::string::npos)
                << "no snapshot named: " << s.ToString();
          }
        }
        // The failed Remove's trash, if any, is only a failed deletion.
        EXPECT_TRUE(e->Health().ok() || err == EIO);
        if (e->Health().ok()) ExpectServes(*e);
        if (!fired) break;
      }
    }
  }
}

// A metadata commit that fails (ENOSPC from LMDB's write) undoes the
// operation's filesystem steps: Prepare's directory goes, Remove's comes back.
TEST_P(CrashPointTest, AFailedMetadataCommitUndoesTheFilesystemSteps) {
  for (const Op& op : Ops()) {
    SCOPED_TRACE(op.name);
    Model before = MakeRoot();
    ASSERT_FALSE(HasFatalFailure());
    auto e = Open(nullptr);
    ASSERT_NE(e, nullptr);
    e->TEST_FailCommits(1, ENOSPC);
    Status s = op.run(*e, RealFs());
    ASSERT_FALSE(s.ok()) << op.name << " did not commit metadata?";
    EXPECT_EQ(s.code(), Code::kResourceExhausted) << s.ToString();
    // Before, exactly (a written file stays in the still-active snapshot,
    // whose data Check does not promise).
    EXPECT_EQ(Check(*e, before), "");
    EXPECT_EQ(CountEntries(Root() + "/trash"), 0);
    ExpectServes(*e);
  }
}

// A committed snapshot whose directory a crash took (only possible with
// commit_sync off, or a disk that lies) is reported, never served silently.
TEST_P(CrashPointTest,
       ACommittedSnapshotWithoutItsDirectoryIsReportedAndRefused) {
  MakeRoot();
  ASSERT_FALSE(HasFatalFailure());
  std::string c1dir;
  {
    auto e = Open(nullptr);
    auto d = LayerDir(*e, "c1");
    ASSERT_TRUE(d.ok());
    c1dir = DirOf(*d);
  }
  ASSERT_TRUE(RemoveAll(c1dir).ok());
  auto e = Open(nullptr);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->recovery().missing_dirs, 1);
  EXPECT_EQ(e->Damaged(), std::vector<std::string>{"c1"});
  auto p = e->Prepare("child", "c1", {});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(p.status().message().find("\"c1\""), std::string::npos)
      << p.status().ToString();
  EXPECT_TRUE(e->Prepare("fine", "base", {}).ok())
      << "an intact parent still works";
  ASSERT_TRUE(e->Remove("c1").ok());
  EXPECT_TRUE(e->Damaged().empty());
  EXPECT_TRUE(e->Commit("c1", "fine", {}).ok());
  EXPECT_TRUE(e->Prepare("child", "c1", {}).ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, CrashPointTest,
                         ::testing::Values("overlay", "copy"));

}  // namespace
}  // namespace strata
