#include "snapshotter/daemon/sd_notify.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "io/base/unique_fd.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

// A datagram socket bound to `name` ('@' = abstract), as systemd listens.
UniqueFd Listen(const std::string& name) {
  UniqueFd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, name.data(), name.size());
  if (name[0] == '@') addr.sun_path[0] = '\0';
  socklen_t len = offsetof(sockaddr_un, sun_path) + name.size();
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len), 0)
      << strerror(errno);
  timeval tv{5, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

std::string Receive(const UniqueFd& fd) {
  char buf[4096];
  ssize_t n = recv(fd.get(), buf, sizeof(buf), 0);
  return n < 0 ? "<nothing: " + std::string(strerror(errno)) + ">"
               : std::string(buf, n);
}

class SdNotifyTest : public ::testing::Test {
 protected:
  void TearDown() override { unsetenv("NOTIFY_SOCKET"); }
};

TEST_F(SdNotifyTest, SendsToAPathSocket) {
  TempDir dir;
  UniqueFd sock = Listen(dir / "notify");
  setenv("NOTIFY_SOCKET", (dir / "notify").c_str(), 1);
  ASSERT_TRUE(SdNotify("READY=1\nSTATUS=serving").ok());
  EXPECT_EQ(Receive(sock), "READY=1\nSTATUS=serving");
  ASSERT_TRUE(SdNotify("STOPPING=1").ok());
  EXPECT_EQ(Receive(sock), "STOPPING=1");
}

TEST_F(SdNotifyTest, SendsToAnAbstractSocket) {
  std::string name = "@strata-sd-notify-test-" + std::to_string(getpid());
  UniqueFd sock = Listen(name);
  setenv("NOTIFY_SOCKET", name.c_str(), 1);
  ASSERT_TRUE(SdNotify("READY=1").ok());
  EXPECT_EQ(Receive(sock), "READY=1");
}

TEST_F(SdNotifyTest, NoSocketIsANoOp) {
  unsetenv("NOTIFY_SOCKET");
  EXPECT_TRUE(SdNotify("READY=1").ok());
}

TEST_F(SdNotifyTest, BadOrDeadSocketsAreErrors) {
  setenv("NOTIFY_SOCKET", "relative/path", 1);
  EXPECT_EQ(SdNotify("READY=1").code(), Code::kInvalidArgument);
  setenv("NOTIFY_SOCKET", ("/" + std::string(200, 'x')).c_str(), 1);
  EXPECT_EQ(SdNotify("READY=1").code(), Code::kInvalidArgument);
  TempDir dir;
  setenv("NOTIFY_SOCKET", (dir / "nobody-listens").c_str(), 1);
  EXPECT_FALSE(SdNotify("READY=1").ok());
}

}  // namespace
}  // namespace strata
