// A full disk is an error, not damage: with the root on a small loop
// filesystem filled to the last block, every Prepare, View, import (Apply)
// and Commit either works or answers RESOURCE_EXHAUSTED naming the snapshot,
// leaves no half-made record or directory, and the daemon keeps serving; once
// space is freed everything works again and nothing committed before was
// lost.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/daemon/daemon_process.h"
#include "tests/testutil/loop_fs.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

namespace snap = containerd::services::snapshots::v1;

// Writes `path` until the filesystem has only `leave` bytes free, or (0)
// refuses another byte.
void FillUp(const std::string& path, off_t leave = 0) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  struct statvfs sv;
  ASSERT_EQ(fstatvfs(fd, &sv), 0);
  off_t room = static_cast<off_t>(sv.f_bavail) * sv.f_frsize - leave;
  while (room > (1 << 20) && fallocate(fd, 0, 0, room) != 0) room -= room / 8;
  if (leave > 0) {
    close(fd);
    return;
  }
  std::vector<char> buf(4096, 'x');
  if (lseek(fd, 0, SEEK_END) < 0) ADD_FAILURE() << "lseek";
  while (write(fd, buf.data(), buf.size()) > 0) {
  }
  EXPECT_EQ(errno, ENOSPC);
  fsync(fd);
  close(fd);
}

class DiskFullTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (geteuid() != 0)
      GTEST_SKIP() << "loop filesystems need root (CI runs as root)";
    loop_ = std::make_unique<LoopFs>(GetParam(),
                                     GetParam() == "xfs" ? "320M" : "64M");
    if (!loop_->ok()) GTEST_SKIP() << loop_->reason();
    root_ = loop_->path() + "/root";
    sock_ = dir_ / "s.sock";
    daemon_ = Start({"--root", root_, "--address", sock_, "--backend",
                     "overlay", "--containerd-address", ""},
                    dir_ / "log");
    ASSERT_TRUE(WaitReady(sock_)) << Slurp(daemon_.log);
    stub_ = Dial(sock_);
  }
  void TearDown() override {
    if (daemon_.pid > 0) {
      kill(daemon_.pid, SIGTERM);
      EXPECT_EQ(WaitExit(daemon_.pid), 0) << Slurp(daemon_.log);
    }
    loop_.reset();
  }
  grpc::Status Prepare(const std::string& key, const std::string& parent,
                       std::string* upper) {
    grpc::ClientContext ctx;
    snap::PrepareSnapshotRequest req;
    req.set_key(key);
    req.set_parent(parent);
    snap::PrepareSnapshotResponse resp;
    grpc::Status s = stub_->Prepare(&ctx, req, &resp);
    if (s.ok() && upper != nullptr) *upper = WritableDir(resp);
    return s;
  }
  grpc::Status Commit(const std::string& name, const std::string& key) {
    return strata::Commit(*stub_, name, key);
  }
  int Records() {
    grpc::ClientContext ctx;
    snap::ListSnapshotsRequest req;
    auto reader = stub_->List(&ctx, req);
    snap::ListSnapshotsResponse resp;
    int n = 0;
    while (reader->Read(&resp)) n += resp.info_size();
    EXPECT_TRUE(reader->Finish().ok());
    return n;
  }
  // OK, or RESOURCE_EXHAUSTED naming `key`; then nothing half-made and the
  // daemon alive. Returns whether it was refused.
  bool ExpectCleanOutcome(const grpc::Status& s, const std::string& key,
                          const std::string& what) {
    if (!s.ok()) {
      EXPECT_EQ(s.error_code(), grpc::RESOURCE_EXHAUSTED)
          << what << ": " << s.error_message();
      EXPECT_NE(s.error_message().find("\"" + key + "\""), std::string::npos)
          << what
          << ": the message should name the snapshot: " << s.error_message();
    }
    EXPECT_EQ(CountEntries(root_ + "/staging"), 0)
        << what << " left a half-built snapshot";
    EXPECT_EQ(CountEntries(root_ + "/snapshots"), Records())
        << what << ": directories != records";
    EXPECT_EQ(kill(daemon_.pid, 0), 0) << "the daemon died after " << what;
    return !s.ok();
  }

  TempDir dir_;
  std::unique_ptr<LoopFs> loop_;
  std::string root_, sock_;
  Daemon daemon_;
  std::unique_ptr<snap::Snapshots::Stub> stub_;
};

TEST_P(DiskFullTest, FullDiskAnswersResourceExhaustedAndLosesNothing) {
  // Before: a committed layer with data, and an active snapshot to commit
  // later.
  std::string upper;
  ASSERT_TRUE(Prepare("kept-a", "", &upper).ok());
  const std::string kept_dir = upper;
  ASSERT_EQ(system(("echo precious > " + upper + "/file").c_str()), 0);
  ASSERT_TRUE(Commit("kept", "kept-a").ok());
  ASSERT_TRUE(Prepare("later", "kept", &upper).ok());
  ASSERT_EQ(system(("head -c 65536 /dev/urandom > " + upper + "/data").c_str()),
            0);
  ASSERT_EQ(system(("head -c 8388608 /dev/urandom > " + (dir_ / "big") +
                    " && tar -C " + dir_.path() + " -cf " +
                    (dir_ / "layer.tar") + " big")
                       .c_str()),
            0);

  // Nearly full: the import's Prepare fits, its 8 MiB layer does not.
  FillUp(loop_->path() + "/filler", 2 << 20);
  if (HasFatalFailure()) return;
  std::string out;
  int rc =
      Cli(sock_, "import --parent kept --name imported " + (dir_ / "layer.tar"),
          &out);
  EXPECT_NE(rc, 0) << "an 8 MiB layer cannot fit in 2 MiB: " << out;
  EXPECT_NE(out.find("No space left on device"), std::string::npos) << out;
  ExpectCleanOutcome(grpc::Status::OK, "", "a failed import");
  EXPECT_EQ(Records(), 2) << "the failed import left a snapshot behind";

  // Full to the last block.
  FillUp(loop_->path() + "/filler2");
  if (HasFatalFailure()) return;

  int refused = 0;
  for (int i = 0; i < 20; ++i) {
    std::string key = "full-" + std::to_string(i);
    refused += ExpectCleanOutcome(Prepare(key, "kept", nullptr), key,
                                  "Prepare " + key);
  }
  rc =
      Cli(sock_, "import --parent kept --name imported " + (dir_ / "layer.tar"),
          &out);
  EXPECT_NE(rc, 0) << "no layer fits a full disk: " << out;
  EXPECT_NE(out.find("No space left on device"), std::string::npos) << out;
  ExpectCleanOutcome(grpc::Status::OK, "", "import");
  refused +=
      ExpectCleanOutcome(Commit("later-c", "later"), "later", "Commit later");
  EXPECT_GT(refused, 0) << "nothing was refused: the disk was not full";

  // Space back: everything works again, nothing earlier was lost.
  ASSERT_EQ(unlink((loop_->path() + "/filler").c_str()), 0);
  ASSERT_EQ(unlink((loop_->path() + "/filler2").c_str()), 0);
  std::string fresh;
  EXPECT_TRUE(Prepare("after", "kept", &fresh).ok());
  rc =
      Cli(sock_, "import --parent kept --name imported " + (dir_ / "layer.tar"),
          &out);
  EXPECT_EQ(rc, 0) << out;
  grpc::Status c = Commit("later-c", "later");
  EXPECT_TRUE(c.ok() || c.error_code() == grpc::NOT_FOUND) << c.error_message();
  ASSERT_EQ(Cli(sock_, "ls", &out), 0);
  EXPECT_NE(out.find("kept\tcommitted"), std::string::npos) << out;
  EXPECT_NE(out.find("later-c\tcommitted"), std::string::npos) << out;
  EXPECT_NE(out.find("imported\tcommitted"), std::string::npos) << out;
  EXPECT_EQ(CountEntries(root_ + "/snapshots"), Records());
  EXPECT_EQ(Slurp(kept_dir + "/file"), "precious\n");
}

// The filesystem under the root fails (the shutdown ioctl xfstests uses for
// a power cut, on ext4 and XFS alike): the next Commit cannot make its data
// durable and says so, and the daemon stops with exit status 1 and a clear
// log line instead of serving errors or dying on a signal.
TEST_P(DiskFullTest, AFailedFilesystemStopsTheDaemonWithAClearError) {
  std::string upper;
  ASSERT_TRUE(Prepare("a", "", &upper).ok());
  ASSERT_EQ(system(("echo data > " + upper + "/file").c_str()), 0);
  int fd = open(loop_->path().c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  constexpr unsigned long kGoingDown =
      _IOR('X', 125, uint32_t);  // FS_IOC_GOINGDOWN
  uint32_t flags = 2;            // NOLOGFLUSH: like a power cut
  ASSERT_EQ(ioctl(fd, kGoingDown, &flags), 0) << strerror(errno);
  close(fd);
  grpc::Status c = Commit("a-c", "a");
  EXPECT_FALSE(c.ok())
      << "a Commit on a shut-down filesystem cannot be durable";
  EXPECT_NE(c.error_message().find("\"a\""), std::string::npos)
      << c.error_message();
  int code = WaitExit(daemon_.pid, 10);
  daemon_.pid = -1;
  EXPECT_EQ(code, 1) << "want exit status 1, not a signal or a hang\n"
                     << Slurp(daemon_.log);
  EXPECT_NE(Slurp(daemon_.log).find("the filesystem under the root failed"),
            std::string::npos)
      << Slurp(daemon_.log);
}

INSTANTIATE_TEST_SUITE_P(Filesystems, DiskFullTest,
                         ::testing::Values("ext4", "xfs"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace strata
