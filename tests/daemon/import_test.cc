// `strata import` against a running daemon: a two-layer chain named by
// ChainIDs, whiteouts as overlay whiteouts (overlay backend) or deletions
// (full-tree backends: copy on the temp dir, reflink on a loop XFS), the
// result mounted; a hostile or broken layer fails loudly and leaves no
// snapshot behind.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "io/base/sha256.h"
#include "io/fs/mount.h"
#include "tests/daemon/backend_daemon_fixture.h"
#include "tests/daemon/daemon_process.h"
#include "tests/testutil/loop_fs.h"
#include "tests/testutil/temp_dir.h"
#include "tests/testutil/tree_state.h"

namespace strata {
namespace {

int Sh(const std::string& cmd) { return system(cmd.c_str()); }

std::string Sha256File(const std::string& path) {
  FILE* p = popen(("sha256sum " + path + " | cut -d' ' -f1").c_str(), "r");
  char hex[65] = {};
  size_t n = fread(hex, 1, 64, p);
  pclose(p);
  return "sha256:" + std::string(hex, n);
}

class ImportTest : public BackendDaemonTest {
 protected:
  void SetUp() override {
    BackendDaemonTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    // Layer 1: a small rootfs; layer 2: a new file, a whiteout, an opaque dir.
    ASSERT_EQ(
        Sh("set -e; cd " + dir_.path() +
           "; mkdir -p l1/etc l1/opaque l2/etc l2/opaque;"
           " echo a > l1/etc/keep; echo b > l1/etc/gone; echo c > "
           "l1/opaque/old;"
           " echo d > l2/etc/new; touch l2/etc/.wh.gone l2/opaque/.wh..wh..opq;"
           " echo e > l2/opaque/fresh;"
           " tar -C l1 -cf layer1.tar . && tar -C l2 -cf layer2.tar . && gzip "
           "-k layer2.tar"),
        0);
  }
  int Dirs() { return CountEntries(root_ + "/snapshots"); }
};

TEST_P(ImportTest, ChainNamedByChainIdsMountsWithWhiteouts) {
  std::string out;
  ASSERT_EQ(
      Cli(sock_,
          "import " + (dir_ / "layer1.tar") + " " + (dir_ / "layer2.tar.gz"),
          &out),
      0)
      << out;
  std::string d1 = Sha256File(dir_ / "layer1.tar"),
              d2 = Sha256File(dir_ / "layer2.tar");
  std::string c2 = ChainId(d1, d2);
  EXPECT_NE(out.find(d1 + "\tdiff_id=" + d1), std::string::npos) << out;
  EXPECT_NE(out.find(c2 + "\tdiff_id=" + d2), std::string::npos) << out;
  EXPECT_NE(out.find("compression=gzip"), std::string::npos) << out;
  ASSERT_EQ(Cli(sock_, "ls", &out), 0);
  EXPECT_NE(out.find(c2 + "\tcommitted\t" + d1), std::string::npos) << out;

  // Importing the same layer again finds it present (AlreadyExists from
  // Commit).
  ASSERT_EQ(Cli(sock_, "import " + (dir_ / "layer1.tar"), &out), 0) << out;
  EXPECT_NE(out.find("already present"), std::string::npos) << out;

  // A view of the chain shows layer 2 over layer 1 with its whiteouts applied.
  auto stub = Dial(sock_);
  grpc::ClientContext ctx;
  containerd::services::snapshots::v1::ViewSnapshotRequest req;
  req.set_key("v");
  req.set_parent(c2);
  containerd::services::snapshots::v1::ViewSnapshotResponse resp;
  ASSERT_TRUE(stub->View(&ctx, req, &resp).ok());
  std::vector<Mount> mounts = MountsFromProto(resp.mounts());
  std::string mnt = dir_ / "mnt";
  ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
  auto mounted = ScopedMount::Take(mounts, mnt);
  ASSERT_TRUE(mounted.ok()) << mounted.status().ToString();
  struct stat st;
  EXPECT_EQ(Slurp(mnt + "/etc/keep"), "a\n");
  EXPECT_EQ(Slurp(mnt + "/etc/new"), "d\n");
  EXPECT_NE(lstat((mnt + "/etc/gone").c_str(), &st), 0)
      << "whiteout not applied";
  EXPECT_NE(lstat((mnt + "/opaque/old").c_str(), &st), 0)
      << "opaque dir shows the lower";
  EXPECT_EQ(Slurp(mnt + "/opaque/fresh"), "e\n");
  if (GetParam().first != "overlay") {
    // A full tree holds deletions, never overlay whiteout devices.
    EXPECT_EQ(resp.mounts(0).type(), "bind");
    EXPECT_NE(lstat((resp.mounts(0).source() + "/etc/.wh.gone").c_str(), &st),
              0);
    EXPECT_NE(lstat((resp.mounts(0).source() + "/etc/gone").c_str(), &st), 0);
  }
}

TEST_P(ImportTest, BrokenLayersLeaveNothingBehind) {
  ASSERT_EQ(Sh("cd " + dir_.path() +
               " && head -c $(( $(stat -c %s layer2.tar.gz) / 2 )) "
               "layer2.tar.gz > cut.tar.gz &&"
               " head -c 700 layer1.tar > cut.tar"),
            0);
  int before = Dirs();
  for (const char* bad : {"cut.tar.gz", "cut.tar", "missing.tar"}) {
    std::string out;
    EXPECT_EQ(Cli(sock_, "import " + (dir_ / bad), &out), 1)
        << bad << ": " << out;
    EXPECT_NE(out.find(bad), std::string::npos) << out;
    EXPECT_EQ(Dirs(), before) << bad << " left a snapshot directory";
    ASSERT_EQ(Cli(sock_, "ls", &out), 0);
    EXPECT_EQ(out, "") << bad << " left a snapshot record";
  }
}

// The report's layer through `strata import`: `x -> <host file>`, `l -> .`,
// a directory `l/x` mode 0777. The host file stays as it was in every way.
TEST_P(ImportTest, AliasedDirectoryOverAHostSymlinkChangesNothingOutside) {
  std::string decoy = dir_ / "decoy";
  MakeDecoy(decoy);
  TreeState before = TreeState::Capture(decoy);
  ASSERT_EQ(Sh("set -e; cd " + dir_.path() + "; mkdir -p h/l; ln -s " + decoy +
               "/file h/x; ln -s . h/l2; chmod 0777 h/l;"
               " tar -C h --transform 's,^\\./l$,./l/x,;s,^\\./l2$,./l,' -cf "
               "alias.tar ./x ./l2 ./l"),
            0);
  std::string out;
  ASSERT_EQ(
      Sh("tar -tvf " + (dir_ / "alias.tar") + " > " + (dir_ / "list.txt")), 0);
  std::string list = Slurp(dir_ / "list.txt");
  ASSERT_NE(list.find("./l/x"), std::string::npos) << list;
  EXPECT_EQ(Cli(sock_, "import " + (dir_ / "alias.tar"), &out), 0) << out;
  TreeState after = TreeState::Capture(decoy);
  EXPECT_TRUE(after == before) << after.DiffFrom(before);
  ASSERT_EQ(Cli(sock_, "ls", &out), 0) << "the daemon no longer serves";
}

INSTANTIATE_TEST_SUITE_P(Backends, ImportTest, AllDaemonBackends(),
                         BackendTestName);

}  // namespace
}  // namespace strata
