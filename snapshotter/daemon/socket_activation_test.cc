#include "snapshotter/daemon/socket_activation.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>

#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

namespace pb = containerd::services::snapshots::v1;

// A listening unix stream socket at `path`, as systemd's socket unit makes.
UniqueFd ListenAt(const std::string& path) {
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
            0);
  EXPECT_EQ(listen(fd.get(), 16), 0);
  return fd;
}

TEST(ParseListenFdsTest, FollowsSdListenFds) {
  EXPECT_EQ(*ParseListenFds(nullptr, nullptr, 42), 0);
  EXPECT_EQ(*ParseListenFds("42", nullptr, 42), 0);
  EXPECT_EQ(*ParseListenFds("42", "1", 42), 1);
  EXPECT_EQ(*ParseListenFds("42", "3", 42), 3);
  EXPECT_EQ(*ParseListenFds("41", "1", 42), 0) << "meant for another process";
  EXPECT_EQ(ParseListenFds("x", "1", 42).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(ParseListenFds("42", "-1", 42).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(ParseListenFds("42", "", 42).status().code(),
            Code::kInvalidArgument);
}

TEST(TakeListenFdTest, NotActivatedIsNoFd) {
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  auto fd = TakeListenFd();
  ASSERT_TRUE(fd.ok());
  EXPECT_FALSE(fd->valid());
}

// Runs `body` in a child whose fd 3 is `fd` and whose environment says
// systemd passed it; returns the child's exit code.
int InActivatedChild(int fd, int (*body)()) {
  pid_t pid = fork();
  if (pid == 0) {
    if (dup2(fd, 3) != 3) _exit(100);
    setenv("LISTEN_PID", std::to_string(getpid()).c_str(), 1);
    setenv("LISTEN_FDS", "1", 1);
    setenv("LISTEN_FDNAMES", "strata-snapshotter.socket", 1);
    _exit(body());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(TakeListenFdTest, TakesFd3AndClearsTheEnvironment) {
  TempDir dir;
  UniqueFd listener = ListenAt(dir / "s.sock");
  EXPECT_EQ(
      InActivatedChild(listener.get(),
                       [] {
                         auto fd = TakeListenFd();
                         if (!fd.ok() || fd->get() != 3) return 1;
                         if (getenv("LISTEN_PID") || getenv("LISTEN_FDS") ||
                             getenv("LISTEN_FDNAMES"))
                           return 2;
                         if ((fcntl(3, F_GETFD) & FD_CLOEXEC) == 0) return 3;
                         return SocketPath(3).ends_with("/s.sock") ? 0 : 4;
                       }),
      0);
}

TEST(TakeListenFdTest, RefusesANonListeningSocket) {
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  EXPECT_EQ(InActivatedChild(pair[0],
                             [] {
                               auto fd = TakeListenFd();
                               return !fd.ok() && fd.status().code() ==
                                                      Code::kFailedPrecondition
                                          ? 0
                                          : 1;
                             }),
            0);
  close(pair[0]);
  close(pair[1]);
}

// Any service does: Prepare answers OK.
class FakeSnapshots final : public pb::Snapshots::Service {
  grpc::Status Prepare(grpc::ServerContext*, const pb::PrepareSnapshotRequest*,
                       pb::PrepareSnapshotResponse*) override {
    return grpc::Status::OK;
  }
};

class AcceptorTest : public ::testing::Test {
 protected:
  // A server with no listening port, like the socket-activated daemon's.
  std::unique_ptr<grpc::Server> Serve() {
    grpc::ServerBuilder b;
    b.RegisterService(&service_);
    return b.BuildAndStart();
  }
  grpc::Status Prepare(const std::string& key, int timeout_ms = 5000) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL,
                1);  // a fresh connection each call
    auto stub = pb::Snapshots::NewStub(grpc::CreateCustomChannel(
        "unix:" + sock(), grpc::InsecureChannelCredentials(), args));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(timeout_ms));
    pb::PrepareSnapshotRequest req;
    req.set_key(key);
    pb::PrepareSnapshotResponse resp;
    return stub->Prepare(&ctx, req, &resp);
  }
  std::string sock() { return dir_ / "s.sock"; }

  TempDir dir_;
  FakeSnapshots service_;
};

TEST_F(AcceptorTest, ServesConnectionsFromThePassedSocket) {
  UniqueFd listener = ListenAt(sock());
  auto server = Serve();
  ASSERT_NE(server, nullptr);
  auto acceptor = Acceptor::Start(std::move(listener), server.get());
  ASSERT_TRUE(acceptor.ok()) << acceptor.status().ToString();
  for (int i = 0; i < 3; ++i) {
    auto s = Prepare("k" + std::to_string(i));
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  }
  (*acceptor)->Stop();
  (*acceptor)->Stop();  // idempotent
  server->Shutdown();
}

TEST_F(AcceptorTest, ConnectionsWaitOnTheSocketWhileNoAcceptorRuns) {
  UniqueFd listener = ListenAt(sock());
  UniqueFd systemds_copy(dup(listener.get()));
  auto server = Serve();
  auto first = Acceptor::Start(std::move(listener), server.get());
  ASSERT_TRUE(first.ok());
  (*first)->Stop();
  // Nobody accepts now: the call waits in the backlog and times out.
  EXPECT_EQ(Prepare("waiting", 300).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  // The next daemon takes systemd's copy of the socket over.
  auto second = Acceptor::Start(std::move(systemds_copy), server.get());
  ASSERT_TRUE(second.ok());
  auto s = Prepare("after");
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  (*second)->Stop();
  server->Shutdown();
}

}  // namespace
}  // namespace strata
