// strata-snapshotter under systemd's protocols, without systemd as PID 1:
// socket activation through systemd-socket-activate (which listens, then
// execs the daemon with LISTEN_FDS on the first connection), and readiness
// through a NOTIFY_SOCKET this test listens on.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>

#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "io/base/unique_fd.h"
#include "tests/daemon/daemon_process.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

namespace pb = containerd::services::snapshots::v1;

// The notify socket systemd would listen on for a Type=notify service.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_.reset(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    bound_ =
        bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  bool bound() const { return bound_; }
  const std::string& path() const { return path_; }

  // The next datagram, or "" after `seconds`.
  std::string Next(int seconds = 10) {
    timeval tv{seconds, 0};
    setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[4096];
    ssize_t n = recv(fd_.get(), buf, sizeof(buf), 0);
    return n < 0 ? "" : std::string(buf, n);
  }

  // Reads datagrams until one holds the assignment `line` ("READY=1"); returns
  // it, or "" on timeout. The ones before it go to `before`.
  std::string WaitFor(const std::string& line,
                      std::vector<std::string>* before = nullptr) {
    for (std::string msg; !(msg = Next()).empty();) {
      if (("\n" + msg + "\n").find("\n" + line + "\n") != std::string::npos)
        return msg;
      if (before) before->push_back(msg);
    }
    return "";
  }

 private:
  std::string path_;
  UniqueFd fd_;
  bool bound_ = false;
};

// Runs the strata CLI; returns its exit code, output in `out`.
int Cli(const std::vector<std::string>& args, const std::string& out) {
  std::vector<std::string> argv{STRATA_CLI_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  return WaitExit(Spawn(argv, out).pid, 30);
}

std::string Which(const std::string& tool) {
  for (const char* dir : {"/usr/bin", "/bin", "/usr/sbin", "/usr/local/bin"}) {
    std::string path = std::string(dir) + "/" + tool;
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

// Waits for a socket file to appear without connecting to it (a connection
// would make systemd-socket-activate start the daemon).
bool WaitSocketFile(const std::string& path) {
  struct stat st;
  for (int i = 0; i < 500; ++i) {
    if (stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

class SystemdTest : public ::testing::Test {
 protected:
  std::string root() { return dir_ / "root"; }
  std::string sock() { return dir_ / "run/strata.sock"; }
  TempDir dir_;
};

TEST_F(SystemdTest, ReadyOnlyOnceTheSocketServesAndStoppingOnSigterm) {
  NotifySocket notify(dir_ / "notify");
  ASSERT_TRUE(notify.bound());
  Daemon d = Start({"--root", root(), "--address", sock()}, dir_ / "log",
                   {{"NOTIFY_SOCKET", notify.path()}});
  std::vector<std::string> before;
  std::string msg = notify.WaitFor("READY=1", &before);
  ASSERT_FALSE(msg.empty())
      << "no READY=1 after " << before.size() << " messages\n"
      << Slurp(d.log);
  // The moment READY=1 arrives, calls succeed without waiting.
  pb::StatSnapshotResponse resp;
  grpc::Status s = Stat(sock(), "absent", &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  EXPECT_NE(msg.find("STATUS=serving on " + sock()), std::string::npos) << msg;
  ASSERT_FALSE(before.empty());
  EXPECT_NE(before[0].find("STATUS=opening"), std::string::npos) << before[0];
  EXPECT_NE(Slurp(d.log).find("msg=serving"), std::string::npos)
      << "READY=1 before the startup log line:\n"
      << Slurp(d.log);

  ASSERT_EQ(kill(d.pid, SIGTERM), 0);
  EXPECT_FALSE(notify.WaitFor("STOPPING=1").empty());
  EXPECT_EQ(WaitExit(d.pid), 0) << Slurp(d.log);
}

TEST_F(SystemdTest, SocketActivationWithSystemdSocketActivate) {
  std::string activate = Which("systemd-socket-activate");
  if (activate.empty())
    GTEST_SKIP() << "no systemd-socket-activate (Debian package systemd)";
  mkdir((dir_ / "run").c_str(), 0755);
  NotifySocket notify(dir_ / "notify");
  ASSERT_TRUE(notify.bound());
  // The daemon's --address points elsewhere: the passed socket wins.
  Daemon d = Spawn({activate, "-l", sock(), "-E",
                    "NOTIFY_SOCKET=" + notify.path(), STRATA_SNAPSHOTTER_BIN,
                    "--root", root(), "--address", dir_ / "unused.sock"},
                   dir_ / "log");
  ASSERT_TRUE(WaitSocketFile(sock()))
      << Slurp(d.log);  // systemd-socket-activate listens
  EXPECT_EQ(Slurp(d.log).find("msg=serving"), std::string::npos)
      << "started before a connection";

  // The CLI's connection starts the daemon; its calls wait in the backlog
  // until the daemon accepts them.
  ASSERT_EQ(Cli({"--address", sock(), "ls"}, dir_ / "cli1"), 0)
      << Slurp(dir_ / "cli1") << Slurp(d.log);
  EXPECT_FALSE(notify.WaitFor("READY=1").empty()) << Slurp(d.log);
  std::string log = Slurp(d.log);
  EXPECT_NE(log.find("socket=systemd"), std::string::npos) << log;
  EXPECT_NE(log.find("address=" + sock()), std::string::npos) << log;

  // gRPC calls through the passed socket, then the CLI sees the snapshot.
  pb::PrepareSnapshotResponse resp;
  grpc::Status s = Prepare(sock(), "default/1/activated", &resp);
  ASSERT_TRUE(s.ok()) << s.error_message() << Slurp(d.log);
  ASSERT_EQ(
      Cli({"--address", sock(), "stat", "default/1/activated"}, dir_ / "cli2"),
      0)
      << Slurp(dir_ / "cli2");
  EXPECT_NE(Slurp(dir_ / "cli2").find("activated"), std::string::npos)
      << Slurp(dir_ / "cli2");
  struct stat st;
  EXPECT_NE(stat((dir_ / "unused.sock").c_str(), &st), 0)
      << "bound --address as well";

  // systemd owns the socket: the daemon leaves it on exit.
  ASSERT_EQ(kill(d.pid, SIGTERM), 0);
  EXPECT_EQ(WaitExit(d.pid), 0) << Slurp(d.log);
  EXPECT_EQ(stat(sock().c_str(), &st), 0)
      << "the daemon removed systemd's socket";
  EXPECT_NE(Slurp(d.log).find("msg=stopped"), std::string::npos)
      << Slurp(d.log);
}

TEST_F(SystemdTest, MoreThanOnePassedSocketIsRefused) {
  std::string activate = Which("systemd-socket-activate");
  if (activate.empty())
    GTEST_SKIP() << "no systemd-socket-activate (Debian package systemd)";
  mkdir((dir_ / "run").c_str(), 0755);
  Daemon d = Spawn({activate, "-l", sock(), "-l", dir_ / "run/second.sock",
                    STRATA_SNAPSHOTTER_BIN, "--root", root()},
                   dir_ / "log");
  ASSERT_TRUE(WaitSocketFile(sock())) << Slurp(d.log);
  Connectable(sock());  // starts the daemon
  EXPECT_EQ(WaitExit(d.pid), 1) << Slurp(d.log);
  EXPECT_NE(Slurp(d.log).find("takes exactly one"), std::string::npos)
      << Slurp(d.log);
}

}  // namespace
}  // namespace strata
