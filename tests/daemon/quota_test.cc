// Project quotas through the daemon (README "Size limits and Usage"): with
// its root on XFS or ext4 mounted with prjquota, an active snapshot's Usage
// comes from its project (and equals the walk's answer within a block per
// file), containerd's containerd.io/snapshot/max-size label caps its
// writable layer (writes through its real mounts fail with EDQUOT or
// ENOSPC, and nothing else is affected), and copy-up through overlayfs works
// in a tagged upper. Where quotas are off, the label is refused.
//
// This machine's own kernel may lack quota support (no CONFIG_XFS_QUOTA,
// CONFIG_QFMT_V2): the loop filesystems are then skipped here, and ctest's
// quota_vm runs this suite under Debian's kernel (tests/vm), with
// STRATA_REQUIRE_QUOTA=1 turning every skip into a failure.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/fs/fs_util.h"
#include "io/fs/mount.h"
#include "tests/daemon/daemon_process.h"
#include "tests/testutil/container_write.h"
#include "tests/testutil/loop_fs.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

namespace snap = containerd::services::snapshots::v1;

constexpr const char* kMaxSize = "containerd.io/snapshot/max-size";

bool QuotaRequired() {
  const char* v = std::getenv("STRATA_REQUIRE_QUOTA");
  return v != nullptr && std::string(v) == "1";
}

class QuotaDaemonTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (geteuid() != 0)
      GTEST_SKIP() << "loop filesystems need root (CI runs as root)";
    loop_ = std::make_unique<LoopFs>(GetParam(), "512M",
                                     /*project_quotas=*/true);
    if (!loop_->ok()) {
      if (QuotaRequired()) FAIL() << loop_->reason();
      GTEST_SKIP() << "this kernel cannot mount " << GetParam()
                   << " with project quotas (ctest quota_vm runs this under "
                      "Debian's kernel): "
                   << loop_->reason();
    }
    root_ = loop_->path() + "/root";
    sock_ = dir_ / "s.sock";
    StartDaemon({});
  }
  // (Re)starts the daemon on the root with `extra` flags.
  void StartDaemon(const std::vector<std::string>& extra) {
    if (daemon_.pid > 0) {
      kill(daemon_.pid, SIGTERM);
      ASSERT_EQ(WaitExit(daemon_.pid), 0) << Slurp(daemon_.log);
      daemon_.pid = -1;
    }
    std::vector<std::string> args = {"--root",
                                     root_,
                                     "--address",
                                     sock_,
                                     "--backend",
                                     "overlay",
                                     "--containerd-address",
                                     "",
                                     "--quota",
                                     "on"};
    args.insert(args.end(), extra.begin(), extra.end());
    daemon_ = Start(args, dir_ / "log");
    ASSERT_TRUE(WaitReady(sock_)) << Slurp(daemon_.log);
    stub_ = Dial(sock_);
  }
  void TearDown() override {
    mounts_.clear();
    if (daemon_.pid > 0) {
      kill(daemon_.pid, SIGTERM);
      EXPECT_EQ(WaitExit(daemon_.pid), 0) << Slurp(daemon_.log);
    }
    loop_.reset();
  }
  grpc::Status Prepare(const std::string& key, const std::string& parent,
                       const std::string& max_size,
                       snap::PrepareSnapshotResponse* resp) {
    grpc::ClientContext ctx;
    snap::PrepareSnapshotRequest req;
    req.set_key(key);
    req.set_parent(parent);
    if (!max_size.empty()) (*req.mutable_labels())[kMaxSize] = max_size;
    return stub_->Prepare(&ctx, req, resp);
  }
  // Prepares `key` and mounts it as containerd would; returns the mount.
  std::string PrepareMounted(const std::string& key, const std::string& parent,
                             const std::string& max_size) {
    snap::PrepareSnapshotResponse resp;
    grpc::Status s = Prepare(key, parent, max_size, &resp);
    EXPECT_TRUE(s.ok()) << key << ": " << s.error_message();
    std::string name = key;
    for (char& ch : name) {
      if (ch == '/' || ch == ' ' || ch == ':') ch = '_';
    }
    std::string target = dir_ / ("mnt-" + name);
    EXPECT_EQ(mkdir(target.c_str(), 0755), 0);
    auto m = ScopedMount::Take(MountsFromProto(resp.mounts()), target);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    if (m.ok()) mounts_.push_back(std::move(*m));
    uppers_[key] = WritableDir(resp);
    return target;
  }
  grpc::Status Usage(const std::string& key, int64_t* bytes, int64_t* inodes) {
    grpc::ClientContext ctx;
    snap::UsageRequest req;
    req.set_key(key);
    snap::UsageResponse resp;
    grpc::Status s = stub_->Usage(&ctx, req, &resp);
    *bytes = resp.size();
    *inodes = resp.inodes();
    return s;
  }

  TempDir dir_;
  std::unique_ptr<LoopFs> loop_;
  std::string root_, sock_;
  Daemon daemon_;
  std::unique_ptr<snap::Snapshots::Stub> stub_;
  std::vector<ScopedMount> mounts_;
  std::map<std::string, std::string> uppers_;
};

TEST_P(QuotaDaemonTest, UsageOfAnActiveComesFromItsProjectAndMatchesTheWalk) {
  std::string mnt = PrepareMounted("c1", "", "");
  constexpr int kFiles = 500;
  ASSERT_EQ(mkdir((mnt + "/d").c_str(), 0755), 0);
  std::vector<std::pair<std::string, size_t>> files;
  for (int i = 0; i < kFiles; ++i) {
    files.emplace_back(mnt + "/d/f" + std::to_string(i), 100 + 13 * i);
  }
  ASSERT_EQ(WriteFilesAsContainer(files), 0);
  int64_t bytes = 0, inodes = 0;
  grpc::Status s = Usage("c1", &bytes, &inodes);
  ASSERT_TRUE(s.ok()) << s.error_message();
  auto walk = MeasureDiskUsage(uppers_["c1"]);
  ASSERT_TRUE(walk.ok()) << walk.status().ToString();
  // The project also holds overlay's work directory (and its work/ inside).
  EXPECT_GE(inodes, walk->inodes);
  EXPECT_LE(inodes, walk->inodes + 3);
  EXPECT_NEAR(static_cast<double>(bytes), static_cast<double>(walk->bytes),
              4096.0 * kFiles)
      << "quota " << bytes << ", walk " << walk->bytes;
  // The daemon answered from the quota, not a walk: its status says so.
  std::string out;
  ASSERT_EQ(Cli(sock_, "status", &out), 0) << out;
  EXPECT_NE(out.find("quotas:     on (project IDs"), std::string::npos) << out;
  EXPECT_NE(out.find("usage from quota 1"), std::string::npos) << out;
}

TEST_P(QuotaDaemonTest, MaxSizeLabelStopsWritesOfThatSnapshotOnly) {
  // A parent layer with a file, so the capped child also copies up.
  std::string base = PrepareMounted("base-key", "", "");
  ASSERT_EQ(WriteAsContainer(base + "/lower.bin", 1 << 20), 0);
  mounts_.clear();
  ASSERT_TRUE(Commit(*stub_, "base", "base-key").ok());

  std::string capped = PrepareMounted("capped", "base", "4194304");
  std::string free_mnt = PrepareMounted("free", "base", "");
  // Copy-up of the parent's file into the tagged upper works.
  {
    int fd = open((capped + "/lower.bin").c_str(), O_WRONLY | O_APPEND);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    ASSERT_EQ(write(fd, "x", 1), 1) << std::strerror(errno);
    close(fd);
  }
  int err = WriteAsContainer(capped + "/big", 8 << 20);
  EXPECT_TRUE(err == EDQUOT || err == ENOSPC)
      << "writing 8 MiB into a 4 MiB snapshot gave: " << std::strerror(err);
  int64_t bytes = 0, inodes = 0;
  ASSERT_TRUE(Usage("capped", &bytes, &inodes).ok());
  EXPECT_LE(bytes, (4 << 20) + (64 << 10));
  // Its neighbour, with the same parent, writes freely.
  EXPECT_EQ(WriteAsContainer(free_mnt + "/big", 8 << 20), 0);
  // The capped snapshot still serves: small writes once space is freed (XFS
  // frees a deleted file's blocks in the background: retried, with syncs,
  // for up to 10 s).
  ASSERT_EQ(unlink((capped + "/big").c_str()), 0);
  int small = -1;
  for (int i = 0; i < 100 && small != 0; ++i) {
    sync();
    small = WriteAsContainer(capped + "/small", 1 << 20);
    if (small != 0) usleep(100 * 1000);
  }
  EXPECT_EQ(small, 0) << std::strerror(small);
}

// default_max_size caps a container's snapshot, not containerd's layer
// unpacking ("<ns>/<n>/extract-<unique> <chainID>"), and the label overrides
// it.
TEST_P(QuotaDaemonTest, DefaultMaxSizeSkipsLayerUnpacking) {
  StartDaemon({"--default-max-size", "2M"});
  std::string unpack =
      PrepareMounted("default/7/extract-123-abc sha256:00ff", "", "");
  EXPECT_EQ(WriteAsContainer(unpack + "/layer.bin", 6 << 20), 0);
  std::string container = PrepareMounted("default/8/ctr1", "", "");
  int err = WriteAsContainer(container + "/big", 6 << 20);
  EXPECT_TRUE(err == EDQUOT || err == ENOSPC)
      << "6 MiB into a snapshot with the 2 MiB default gave: "
      << std::strerror(err);
  std::string labelled = PrepareMounted("default/9/ctr2", "", "16777216");
  EXPECT_EQ(WriteAsContainer(labelled + "/big", 6 << 20), 0);
}

TEST_P(QuotaDaemonTest, BadLabelValuesAreInvalid) {
  for (const char* bad : {"0", "-5", "12abc", "", "99999999999999999999"}) {
    snap::PrepareSnapshotResponse resp;
    grpc::ClientContext ctx;
    snap::PrepareSnapshotRequest req;
    req.set_key(std::string("bad-") + bad);
    (*req.mutable_labels())[kMaxSize] = bad;
    grpc::Status s = stub_->Prepare(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << "\"" << bad << "\": " << s.error_message();
    EXPECT_NE(s.error_message().find("bad-"), std::string::npos)
        << s.error_message();
  }
}

INSTANTIATE_TEST_SUITE_P(Filesystems, QuotaDaemonTest,
                         ::testing::Values("xfs", "ext4"));

// Where quotas are off (here: quota = off on any filesystem), the label is
// refused with FAILED_PRECONDITION naming the snapshot and why, a snapshot
// without it is served, and default_max_size keeps the daemon from starting.
TEST(QuotaOffTest, LabelIsRefusedNotIgnored) {
  if (geteuid() != 0) GTEST_SKIP() << "the daemon's mounts need root";
  TempDir dir;
  std::string sock = dir / "s.sock";
  Daemon d = Start({"--root", dir / "root", "--address", sock, "--backend",
                    "overlay", "--containerd-address", "", "--quota", "off"},
                   dir / "log");
  ASSERT_TRUE(WaitReady(sock)) << Slurp(d.log);
  auto stub = Dial(sock);
  {
    grpc::ClientContext ctx;
    snap::PrepareSnapshotRequest req;
    req.set_key("limited");
    (*req.mutable_labels())[kMaxSize] = "1048576";
    snap::PrepareSnapshotResponse resp;
    grpc::Status s = stub->Prepare(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
        << s.error_message();
    EXPECT_NE(s.error_message().find("limited"), std::string::npos);
    EXPECT_NE(s.error_message().find("quota"), std::string::npos)
        << s.error_message();
  }
  snap::PrepareSnapshotResponse resp;
  EXPECT_TRUE(strata::Prepare(sock, "plain", &resp).ok());
  // No record, no directory was left by the refusal.
  snap::StatSnapshotResponse st;
  EXPECT_EQ(Stat(sock, "limited", &st).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(CountEntries(dir / "root/snapshots"), 1);
  kill(d.pid, SIGTERM);
  EXPECT_EQ(WaitExit(d.pid), 0);

  // A default limit without quotas: refused at start, saying why.
  Daemon d2 = Start({"--root", dir / "root", "--address", sock, "--backend",
                     "overlay", "--containerd-address", "", "--quota", "off",
                     "--default-max-size", "10G"},
                    dir / "log2");
  EXPECT_EQ(WaitExit(d2.pid), 1);
  EXPECT_NE(Slurp(dir / "log2").find("default_max_size needs project quotas"),
            std::string::npos)
      << Slurp(dir / "log2");
}

}  // namespace
}  // namespace strata
