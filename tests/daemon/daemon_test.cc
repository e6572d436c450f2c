// The strata-snapshotter binary as an operator runs it: start, refuse to
// share a root or a socket, replace stale sockets, stop on SIGTERM.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>

#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "tests/daemon/daemon_process.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

namespace pb = containerd::services::snapshots::v1;

class DaemonTest : public ::testing::Test {
 protected:
  std::string root() { return dir_ / "root"; }
  std::string sock() { return dir_ / "run/strata.sock"; }
  TempDir dir_;
  struct stat st_;
};

TEST_F(DaemonTest, ServesStopsOnSigtermAndRemovesSocket) {
  Daemon d = Start({"--root", root(), "--address", sock()}, dir_ / "log");
  ASSERT_TRUE(WaitReady(sock())) << Slurp(d.log);
  struct stat st;
  ASSERT_EQ(stat(sock().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);

  pb::PrepareSnapshotResponse resp;
  ASSERT_TRUE(Prepare(sock(), "default/1/k", &resp).ok());
  ASSERT_EQ(resp.mounts_size(), 1);

  ASSERT_EQ(kill(d.pid, SIGTERM), 0);
  EXPECT_EQ(WaitExit(d.pid), 0) << Slurp(d.log);
  EXPECT_NE(stat(sock().c_str(), &st), 0) << "socket left behind";
  std::string log = Slurp(d.log);
  EXPECT_NE(log.find("msg=serving"), std::string::npos) << log;
  EXPECT_NE(log.find("msg=stopped"), std::string::npos) << log;

  // State persists across restarts.
  Daemon again = Start({"--root", root(), "--address", sock()}, dir_ / "log2");
  ASSERT_TRUE(WaitReady(sock())) << Slurp(again.log);
  pb::StatSnapshotResponse sresp;
  auto st2 = Stat(sock(), "default/1/k", &sresp);
  EXPECT_TRUE(st2.ok()) << st2.error_code() << " " << st2.error_message()
                        << Slurp(again.log);
  EXPECT_EQ(sresp.info().kind(), pb::ACTIVE);
  kill(again.pid, SIGINT);
  EXPECT_EQ(WaitExit(again.pid), 0);
}

TEST_F(DaemonTest, RefusesASecondDaemonOnTheRootOrTheSocket) {
  Daemon first = Start({"--root", root(), "--address", sock()}, dir_ / "log1");
  ASSERT_TRUE(WaitReady(sock())) << Slurp(first.log);

  Daemon same_root = Start({"--root", root(), "--address", dir_ / "other.sock"},
                           dir_ / "log2");
  EXPECT_NE(WaitExit(same_root.pid), 0);
  EXPECT_NE(Slurp(same_root.log).find("in use"), std::string::npos)
      << Slurp(same_root.log);

  Daemon same_sock =
      Start({"--root", dir_ / "root2", "--address", sock()}, dir_ / "log3");
  EXPECT_NE(WaitExit(same_sock.pid), 0);
  EXPECT_NE(Slurp(same_sock.log).find("already listening"), std::string::npos)
      << Slurp(same_sock.log);
  EXPECT_TRUE(Connectable(sock()))
      << "the refused daemon broke the first one's socket";

  kill(first.pid, SIGTERM);
  EXPECT_EQ(WaitExit(first.pid), 0);
}

TEST_F(DaemonTest, ReplacesAStaleSocketAfterKill9) {
  Daemon first = Start({"--root", root(), "--address", sock()}, dir_ / "log1");
  ASSERT_TRUE(WaitReady(sock()));
  kill(first.pid, SIGKILL);
  waitpid(first.pid, nullptr, 0);
  struct stat st;
  ASSERT_EQ(stat(sock().c_str(), &st), 0)
      << "kill -9 should leave the socket file";
  Daemon second = Start({"--root", root(), "--address", sock()}, dir_ / "log2");
  ASSERT_TRUE(WaitReady(sock())) << Slurp(second.log);
  kill(second.pid, SIGTERM);
  EXPECT_EQ(WaitExit(second.pid), 0);
}

TEST_F(DaemonTest, BadFlagsExitWithUsage) {
  Daemon d = Start({"--bogus"}, dir_ / "log");
  EXPECT_EQ(WaitExit(d.pid), 2);
  EXPECT_NE(Slurp(d.log).find("usage"), std::string::npos);
  Daemon rel = Start({"--root", "relative"}, dir_ / "log2");
  EXPECT_EQ(WaitExit(rel.pid), 2);
  Daemon lvl = Start({"--log-level", "loud"}, dir_ / "log3");
  EXPECT_EQ(WaitExit(lvl.pid), 2);
}

TEST_F(DaemonTest, BackendIsRecordedAndAnotherIsRefused) {
  Daemon d = Start({"--root", root(), "--address", sock(), "--backend", "copy"},
                   dir_ / "log1");
  ASSERT_TRUE(WaitReady(sock())) << Slurp(d.log);
  pb::PrepareSnapshotResponse resp;
  ASSERT_TRUE(Prepare(sock(), "default/1/k", &resp).ok());
  ASSERT_EQ(resp.mounts_size(), 1);
  EXPECT_EQ(resp.mounts(0).type(), "bind");
  kill(d.pid, SIGTERM);
  ASSERT_EQ(WaitExit(d.pid), 0);
  EXPECT_NE(Slurp(d.log).find("backend=copy"), std::string::npos)
      << Slurp(d.log);

  Daemon other =
      Start({"--root", root(), "--address", sock(), "--backend", "overlay"},
            dir_ / "log2");
  EXPECT_EQ(WaitExit(other.pid), 1);
  EXPECT_NE(Slurp(other.log).find("was created with backend \"copy\""),
            std::string::npos)
      << Slurp(other.log);

  Daemon autod =
      Start({"--root", root(), "--address", sock(), "--backend", "auto"},
            dir_ / "log3");
  ASSERT_TRUE(WaitReady(sock())) << Slurp(autod.log);
  kill(autod.pid, SIGTERM);
  ASSERT_EQ(WaitExit(autod.pid), 0);
  EXPECT_NE(Slurp(autod.log).find("recorded in the root\" backend=copy"),
            std::string::npos)
      << Slurp(autod.log);

  Daemon bad = Start({"--backend", "zfs"}, dir_ / "log4");
  EXPECT_EQ(WaitExit(bad.pid), 2);
}

TEST_F(DaemonTest, ConfigFileSetsKeysAndFlagsOverrideIt) {
  std::ofstream(dir_ / "config.toml")
      << "root = \"" << root() << "\"\n"
      << "address = \"" << (dir_ / "file.sock") << "\"\n"
      << "log_level = \"warn\"\n";
  // From the file: root, address and log level (warn hides the info lines).
  Daemon d = Start({"--config", dir_ / "config.toml"}, dir_ / "log1");
  ASSERT_TRUE(WaitReady(dir_ / "file.sock")) << Slurp(d.log);
  kill(d.pid, SIGTERM);
  EXPECT_EQ(WaitExit(d.pid), 0);
  EXPECT_EQ(Slurp(d.log).find("msg=serving"), std::string::npos)
      << Slurp(d.log);
  struct stat st;
  EXPECT_EQ(stat((dir_ / "root/lock").c_str(), &st), 0);

  // Flags win over the file.
  Daemon f = Start({"--config", dir_ / "config.toml", "--address", sock(),
                    "--log-level", "debug"},
                   dir_ / "log2");
  ASSERT_TRUE(WaitReady(sock())) << Slurp(f.log);
  kill(f.pid, SIGTERM);
  EXPECT_EQ(WaitExit(f.pid), 0);
  std::string log = Slurp(f.log);
  EXPECT_NE(log.find("msg=serving address=" + sock()), std::string::npos)
      << log;
  EXPECT_NE(log.find("config=" + dir_ / "config.toml"), std::string::npos)
      << log;
}

TEST_F(DaemonTest, BadConfigIsRefusedNamingFileLineAndKey) {
  std::ofstream(dir_ / "bad.toml")
      << "root = \"" << root() << "\"\nlog_lvl = \"debug\"\n";
  Daemon d = Start({"--config", dir_ / "bad.toml"}, dir_ / "log1");
  EXPECT_EQ(WaitExit(d.pid), 2);
  EXPECT_NE(
      Slurp(d.log).find(dir_ / "bad.toml" + ":2:1: unknown key \"log_lvl\""),
      std::string::npos)
      << Slurp(d.log);

  std::ofstream(dir_ / "type.toml") << "address = 7\n";
  Daemon t = Start({"--config", dir_ / "type.toml"}, dir_ / "log2");
  EXPECT_EQ(WaitExit(t.pid), 2);
  EXPECT_NE(Slurp(t.log).find(
                ":1:11: key \"address\": must be a string, not integer"),
            std::string::npos)
      << Slurp(t.log);

  Daemon m = Start({"--config", dir_ / "missing.toml"}, dir_ / "log3");
  EXPECT_EQ(WaitExit(m.pid), 2);
  EXPECT_NE(Slurp(m.log).find(dir_ / "missing.toml"), std::string::npos)
      << Slurp(m.log);
  EXPECT_NE(stat(root().c_str(), &st_), 0) << "started despite a bad config";
}

TEST_F(DaemonTest, PrintConfigPrintsTheEffectiveConfigAsToml) {
  std::ofstream(dir_ / "c.toml")
      << "root = \"/srv/strata\"\nlog_level = \"error\"\n";
  Daemon d = Start(
      {"--config", dir_ / "c.toml", "--log-level=debug", "--print-config"},
      dir_ / "out");
  EXPECT_EQ(WaitExit(d.pid), 0);
  std::string out = Slurp(d.log);
  EXPECT_NE(out.find("\nroot = \"/srv/strata\"\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\naddress = \"/run/strata/strata.sock\"\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\nlog_level = \"debug\"\n"), std::string::npos) << out;
  EXPECT_NE(out.find("# "), std::string::npos) << out;
  EXPECT_NE(stat("/srv/strata/lock", &st_), 0)
      << "--print-config must not start the daemon";
}

}  // namespace
}  // namespace strata
