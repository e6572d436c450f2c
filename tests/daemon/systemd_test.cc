// strata-snapshotter under systemd's protocols, without systemd as PID 1:
// readiness through a NOTIFY_SOCKET this test listens on.
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

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
    bound_ = bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
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
  std::string WaitFor(const std::string& line, std::vector<std::string>* before = nullptr) {
    for (std::string msg; !(msg = Next()).empty();) {
      if (("\n" + msg + "\n").find("\n" + line + "\n") != std::string::npos) return msg;
      if (before) before->push_back(msg);
    }
    return "";
  }

 private:
  std::string path_;
  UniqueFd fd_;
  bool bound_ = false;
};

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
  ASSERT_FALSE(msg.empty()) << "no READY=1 after " << before.size() << " messages\n"
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

}  // namespace
}  // namespace strata
