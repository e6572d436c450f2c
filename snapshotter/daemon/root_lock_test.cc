#include "snapshotter/daemon/root_lock.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

TEST(RootLockTest, SecondHolderIsRefusedWithPid) {
  TempDir dir;
  auto first = RootLock::Acquire(dir / "lock");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = RootLock::Acquire(dir / "lock");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kUnavailable);
  EXPECT_NE(second.status().message().find(std::to_string(getpid())),
            std::string::npos);
}

TEST(RootLockTest, LockIsReleasedWithTheObject) {
  TempDir dir;
  {
    auto first = RootLock::Acquire(dir / "lock");
    ASSERT_TRUE(first.ok());
  }
  EXPECT_TRUE(RootLock::Acquire(dir / "lock").ok());
}

TEST(ClaimSocketPathTest, StaleSocketIsReplacedLiveOneRefused) {
  TempDir dir;
  std::string path = dir / "sub/s.sock";
  EXPECT_TRUE(ClaimSocketPath(path).ok()) << "parent directory must be created";
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  Status live = ClaimSocketPath(path);
  EXPECT_EQ(live.code(), Code::kUnavailable) << live.ToString();
  close(fd);  // now stale: the file stays, nobody listens
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_TRUE(ClaimSocketPath(path).ok());
  EXPECT_NE(stat(path.c_str(), &st), 0) << "stale socket not removed";
}

TEST(ClaimSocketPathTest, RefusesNonSocketsAndLongPaths) {
  TempDir dir;
  std::ofstream(dir / "file") << "x";
  EXPECT_EQ(ClaimSocketPath(dir / "file").code(), Code::kFailedPrecondition);
  EXPECT_EQ(ClaimSocketPath("/tmp/" + std::string(200, 'x')).code(),
            Code::kInvalidArgument);
}

}  // namespace
}  // namespace strata
