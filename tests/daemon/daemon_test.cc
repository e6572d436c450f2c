// The strata-snapshotter binary as an operator runs it: start, refuse to
// share a root or a socket, replace stale sockets, stop on SIGTERM.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

namespace pb = containerd::services::snapshots::v1;

struct Daemon {
  pid_t pid = -1;
  std::string log;
};

Daemon Start(const std::vector<std::string>& args, const std::string& log) {
  Daemon d;
  d.log = log;
  d.pid = fork();
  if (d.pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv{const_cast<char*>(STRATA_SNAPSHOTTER_BIN)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return d;
}

bool Connectable(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

bool WaitReady(const std::string& sock) {
  for (int i = 0; i < 500; ++i) {
    if (Connectable(sock)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Waits for exit; returns the exit code, or -1 on timeout / signal death.
int WaitExit(pid_t pid, int seconds = 10) {
  for (int i = 0; i < seconds * 100; ++i) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class DaemonTest : public ::testing::Test {
 protected:
  std::string root() { return dir_ / "root"; }
  std::string sock() { return dir_ / "run/strata.sock"; }
  TempDir dir_;
};

TEST_F(DaemonTest, ServesStopsOnSigtermAndRemovesSocket) {
  Daemon d = Start({"--root", root(), "--address", sock()}, dir_ / "log");
  ASSERT_TRUE(WaitReady(sock())) << Slurp(d.log);
  struct stat st;
  ASSERT_EQ(stat(sock().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);

  auto stub = pb::Snapshots::NewStub(
      grpc::CreateChannel("unix:" + sock(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  pb::PrepareSnapshotRequest req;
  req.set_key("default/1/k");
  pb::PrepareSnapshotResponse resp;
  ASSERT_TRUE(stub->Prepare(&ctx, req, &resp).ok());
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
  grpc::ClientContext sctx;
  pb::StatSnapshotRequest sreq;
  sreq.set_key("default/1/k");
  pb::StatSnapshotResponse sresp;
  // A private subchannel pool: gRPC C++ would otherwise hand this channel the
  // first daemon's dead connection (an idle C++ client notices GOAWAY only at
  // its 5 s backup poll).
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto stub2 = pb::Snapshots::NewStub(grpc::CreateCustomChannel(
      "unix:" + sock(), grpc::InsecureChannelCredentials(), args));
  auto st2 = stub2->Stat(&sctx, sreq, &sresp);
  EXPECT_TRUE(st2.ok()) << st2.error_code() << " " << st2.error_message() << Slurp(again.log);
  EXPECT_EQ(sresp.info().kind(), pb::ACTIVE);
  kill(again.pid, SIGINT);
  EXPECT_EQ(WaitExit(again.pid), 0);
}

TEST_F(DaemonTest, RefusesASecondDaemonOnTheRootOrTheSocket) {
  Daemon first = Start({"--root", root(), "--address", sock()}, dir_ / "log1");
  ASSERT_TRUE(WaitReady(sock())) << Slurp(first.log);

  Daemon same_root = Start({"--root", root(), "--address", dir_ / "other.sock"}, dir_ / "log2");
  EXPECT_NE(WaitExit(same_root.pid), 0);
  EXPECT_NE(Slurp(same_root.log).find("in use"), std::string::npos) << Slurp(same_root.log);

  Daemon same_sock = Start({"--root", dir_ / "root2", "--address", sock()}, dir_ / "log3");
  EXPECT_NE(WaitExit(same_sock.pid), 0);
  EXPECT_NE(Slurp(same_sock.log).find("already listening"), std::string::npos)
      << Slurp(same_sock.log);
  EXPECT_TRUE(Connectable(sock())) << "the refused daemon broke the first one's socket";

  kill(first.pid, SIGTERM);
  EXPECT_EQ(WaitExit(first.pid), 0);
}

TEST_F(DaemonTest, ReplacesAStaleSocketAfterKill9) {
  Daemon first = Start({"--root", root(), "--address", sock()}, dir_ / "log1");
  ASSERT_TRUE(WaitReady(sock()));
  kill(first.pid, SIGKILL);
  waitpid(first.pid, nullptr, 0);
  struct stat st;
  ASSERT_EQ(stat(sock().c_str(), &st), 0) << "kill -9 should leave the socket file";
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

}  // namespace
}  // namespace strata
