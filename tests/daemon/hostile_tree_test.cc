// Hostile trees against a running daemon, on every backend: a layer tens of
// thousands of directories deep, a mount a container left inside its active
// snapshot, and filters built to blow up a regexp engine. Whatever happens,
// nothing outside the snapshot changes, the daemon keeps serving and it
// restarts cleanly.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/daemon/backend_daemon_fixture.h"
#include "tests/daemon/daemon_process.h"
#include "tests/testutil/tree_state.h"

namespace strata {
namespace {

namespace pb = containerd::services::snapshots::v1;

class HostileTreeTest : public BackendDaemonTest {
 protected:
  grpc::Status Call(const std::function<grpc::Status(
                        pb::Snapshots::Stub&, grpc::ClientContext&)>& f) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(120));
    auto stub = Dial(sock_);
    return f(*stub, ctx);
  }
  grpc::Status PrepareKey(const std::string& key, const std::string& parent,
                          pb::PrepareSnapshotResponse* resp) {
    return Call([&](pb::Snapshots::Stub& s, grpc::ClientContext& ctx) {
      pb::PrepareSnapshotRequest req;
      req.set_key(key);
      req.set_parent(parent);
      return s.Prepare(&ctx, req, resp);
    });
  }
  grpc::Status Remove(const std::string& key) {
    return Call([&](pb::Snapshots::Stub& s, grpc::ClientContext& ctx) {
      pb::RemoveSnapshotRequest req;
      req.set_key(key);
      google::protobuf::Empty resp;
      return s.Remove(&ctx, req, &resp);
    });
  }
  grpc::Status Usage(const std::string& key, pb::UsageResponse* resp) {
    return Call([&](pb::Snapshots::Stub& s, grpc::ClientContext& ctx) {
      pb::UsageRequest req;
      req.set_key(key);
      return s.Usage(&ctx, req, resp);
    });
  }
  grpc::Status Commit(const std::string& name, const std::string& key) {
    return Call([&](pb::Snapshots::Stub& s, grpc::ClientContext& ctx) {
      pb::CommitSnapshotRequest req;
      req.set_name(name);
      req.set_key(key);
      google::protobuf::Empty resp;
      return s.Commit(&ctx, req, &resp);
    });
  }
  int Entries(const std::string& dir) {
    return CountEntries(root_ + "/" + dir);
  }
  void Restart() {
    kill(daemon_.pid, SIGKILL);
    WaitExit(daemon_.pid);
    daemon_ = Start(
        {"--root", root_, "--address", sock_, "--backend", GetParam().first},
        dir_ / "log2");
    ASSERT_TRUE(WaitReady(sock_)) << Slurp(dir_ / "log2");
  }
};

// 21 symlink hops of 2,000 levels (tests/corpus/make_deep_layer.py). On
// overlay the layer imports, its Commit measures it, a child can be
// prepared on it and measured, and everything is removed; a restart in
// between finds a consistent root. Full-tree backends refuse it at their
// depth limit.
TEST_P(HostileTreeTest, FortyThousandLevelLayerWorksEndToEnd) {
  std::string tar = dir_ / "deep.tar";
  ASSERT_EQ(system(("python3 " + std::string(STRATA_SOURCE_DIR) +
                    "/tests/corpus/make_deep_layer.py " + tar)
                       .c_str()),
            0);
  std::string out;
  if (GetParam().first != "overlay") {
    // A full tree is cloned for every child: refused at the depth limit,
    // naming the entry, and nothing is left behind.
    EXPECT_EQ(Cli(sock_, "import --name deep " + tar, &out), 1) << out;
    EXPECT_NE(out.find("limit of 1000 levels"), std::string::npos) << out;
    EXPECT_NE(out.find("entry \""), std::string::npos) << out;
    EXPECT_EQ(Entries("snapshots"), 0);
    ASSERT_EQ(Cli(sock_, "ls", &out), 0) << out;
    EXPECT_EQ(out, "");
    return;
  }
  ASSERT_EQ(Cli(sock_, "import --name deep " + tar, &out), 0) << out;
  pb::UsageResponse usage;
  ASSERT_TRUE(Usage("deep", &usage).ok());
  EXPECT_GE(usage.inodes(), 42000) << "Commit did not measure the whole tree";

  pb::PrepareSnapshotResponse child;
  grpc::Status s = PrepareKey("child", "deep", &child);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(Usage("child", &usage).ok());
  Restart();
  if (HasFatalFailure()) return;
  EXPECT_TRUE(Remove("child").ok());
  s = Remove("deep");
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Entries("snapshots"), 0);
  EXPECT_EQ(Entries("trash"), 0) << "a deep tree was left in trash";
  Restart();
  if (HasFatalFailure()) return;
  ASSERT_EQ(Cli(sock_, "ls", &out), 0) << out;
}

// A container left a bind mount of a host directory inside its upper
// directory. Remove never deletes through it: the host directory is
// untouched in every way, and no longer mounted there.
TEST_P(HostileTreeTest, MountLeftInsideAnActiveSnapshotSurvivesRemove) {
  std::string decoy = dir_ / "decoy";
  MakeDecoy(decoy);
  TreeState before = TreeState::Capture(decoy);
  pb::PrepareSnapshotResponse resp;
  ASSERT_TRUE(PrepareKey("k", "", &resp).ok());
  std::string mnt = WritableDir(resp) + "/mnt";
  ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
  ASSERT_EQ(mount(decoy.c_str(), mnt.c_str(), nullptr, MS_BIND, nullptr), 0);
  grpc::Status s = Remove("k");
  TreeState after = TreeState::Capture(decoy);
  EXPECT_TRUE(after == before) << after.DiffFrom(before);
  if (!s.ok()) {
    // Refusing is acceptable only with the snapshot intact and a clear word.
    EXPECT_NE(s.error_message().find("\"k\""), std::string::npos)
        << s.error_message();
    umount2(mnt.c_str(), MNT_DETACH);
  }
  std::string out;
  ASSERT_EQ(Cli(sock_, "ls", &out), 0)
      << "the daemon no longer serves: " << out;
  Restart();
}

// Filters built to exhaust a backtracking regexp engine's stack or time.
TEST_P(HostileTreeTest, PathologicalFiltersAnswerAndTheDaemonServes) {
  pb::PrepareSnapshotResponse resp;
  ASSERT_TRUE(PrepareKey("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                         "", &resp)
                  .ok());
  std::string nested(5000, '(');
  nested += "a";
  nested += std::string(5000, ')');
  std::string alt;
  for (int i = 0; i < 15000; ++i) alt += "(a|aa)*";
  const std::vector<std::string> filters = {
      "name~=" + nested,
      "name~=" + alt + "b",
      "name~=(a*)*b",
      "labels.x~=" + std::string(60000, 'a'),
      "name~=\"" + std::string(100000, '[') + "\"",
  };
  for (const std::string& f : filters) {
    auto t0 = std::chrono::steady_clock::now();
    std::string out;
    int rc = Cli(sock_, "ls '" + f + "'", &out);
    double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    EXPECT_TRUE(rc == 0 || rc == 1)
        << f.substr(0, 40) << ": " << out.substr(0, 300);
    EXPECT_LT(secs, 60) << f.substr(0, 40);
    ASSERT_EQ(Cli(sock_, "ls", &out), 0)
        << "after " << f.substr(0, 40) << ": " << out;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, HostileTreeTest, AllDaemonBackends(),
                         BackendTestName);

}  // namespace
}  // namespace strata
