// `strata diff` against a running daemon, on each backend: a container's
// changes made through the snapshot's mount (modify, delete, add, an
// opaque-making rm -rf + mkdir, chmod, a symlink to a host directory)
// listed like `docker diff`, as JSON, and written as a layer that,
// imported onto the parent, rebuilds the container's tree exactly (the
// round trip); unknown keys and views fail with clear errors.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <sstream>
#include <string>

#include "io/fs/fs_util.h"
#include "io/fs/mount.h"
#include "proto/support/mounts.h"
#include "tests/daemon/backend_daemon_fixture.h"
#include "tests/daemon/daemon_process.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

namespace pb = containerd::services::snapshots::v1;

int Sh(const std::string& cmd) { return system(cmd.c_str()); }

// path type mode owner size whole-second mtime (non-dirs: a layer keeps
// seconds) target sha256, one per line.
std::string Listing(const std::string& dir) {
  std::string cmd = "cd " + dir +
                    " && find . -mindepth 1 \\( -type d -printf '%p %y %m "
                    "%U:%G\\n' \\) -o -printf '%p %y %m %U:%G %s %T@ %l\\n' "
                    "| sed -E 's/ ([0-9]+)\\.[0-9]+ / \\1 /' | sort && find . "
                    "-type f -print0 | sort -z | xargs -0 -r "
                    "sha256sum";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  pclose(p);
  return out;
}

class DiffCliTest : public BackendDaemonTest {
 protected:
  std::vector<Mount> PrepareOrView(bool view, const std::string& key,
                                   const std::string& parent) {
    auto stub = Dial(sock_);
    grpc::ClientContext ctx;
    pb::PrepareSnapshotResponse resp;
    grpc::Status s;
    if (view) {
      pb::ViewSnapshotRequest req;
      req.set_key(key);
      req.set_parent(parent);
      pb::ViewSnapshotResponse vresp;
      s = stub->View(&ctx, req, &vresp);
      *resp.mutable_mounts() = vresp.mounts();
    } else {
      pb::PrepareSnapshotRequest req;
      req.set_key(key);
      req.set_parent(parent);
      s = stub->Prepare(&ctx, req, &resp);
    }
    EXPECT_TRUE(s.ok()) << key << ": " << s.error_message();
    return MountsFromProto(resp.mounts());
  }
  std::vector<Mount> WorkMounts() {
    grpc::ClientContext ctx;
    pb::MountsRequest req;
    req.set_key("work");
    pb::MountsResponse resp;
    grpc::Status s = Dial(sock_)->Mounts(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return MountsFromProto(resp.mounts());
  }
};

TEST_P(DiffCliTest, ListsChangesAndItsLayerRebuildsTheTree) {
  TempDir host;
  ASSERT_EQ(Sh("set -e; cd " + dir_.path() +
               "; mkdir -p base/etc base/opaque/sub base/deep/a/b;"
               " echo keep > base/etc/keep; echo gone > base/etc/gone;"
               " echo mode > base/etc/mode; echo old > base/opaque/sub/old;"
               " echo d > base/deep/a/b/f; tar -C base -cf base.tar ."),
            0);
  std::string out;
  ASSERT_EQ(Cli(sock_, "import --name base " + (dir_ / "base.tar"), &out), 0)
      << out;
  std::string mnt = dir_ / "mnt";
  ASSERT_TRUE(MakeDirs(mnt).ok());
  {
    auto m = ScopedMount::Take(PrepareOrView(false, "work", "base"), mnt);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    ASSERT_EQ(Sh("set -e; cd " + mnt +
                 "; echo changed >> etc/keep; rm etc/gone; chmod 600 "
                 "etc/mode; echo new > etc/new; rm -rf opaque; mkdir opaque;"
                 " echo fresh > opaque/fresh; echo e > deep/a/b/e; ln -s " +
                 host.path() + " escape"),
              0);
  }
  ASSERT_EQ(Cli(sock_, "diff work", &out), 0) << out;
  for (const char* line : {"A /deep/a/b/e\n", "C /etc/keep\n", "C /etc/mode\n",
                           "A /etc/new\n", "D /etc/gone\n", "A /escape\n",
                           "A /opaque/fresh\n", "D /opaque/sub\n"}) {
    EXPECT_NE(out.find(line), std::string::npos) << line << "in:\n" << out;
  }
  EXPECT_EQ(out.find("/deep\n"), std::string::npos)
      << "an unchanged parent is listed:\n"
      << out;
  ASSERT_EQ(Cli(sock_, "diff --json work", &out), 0) << out;
  EXPECT_NE(out.find("\"kind\":\"A\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"parent\":\"base\""), std::string::npos) << out;

  // The layer, imported onto the parent, is the container's tree.
  for (const std::string file :
       {"layer.tar.gz", "layer.tar.zst", "layer.tar"}) {
    ASSERT_EQ(Cli(sock_, "diff --output " + (dir_ / file) + " work", &out), 0)
        << out;
    EXPECT_NE(out.find("digest:     sha256:"), std::string::npos) << out;
    std::string name = "rebuilt-" + file;
    ASSERT_EQ(
        Cli(sock_, "import --parent base --name " + name + " " + (dir_ / file),
            &out),
        0)
        << file << ": " << out;
    std::string a = dir_ / ("a-" + file), b = dir_ / ("b-" + file);
    ASSERT_TRUE(MakeDirs(a).ok() && MakeDirs(b).ok());
    auto ma = ScopedMount::Take(PrepareOrView(true, "va-" + file, name), a);
    ASSERT_TRUE(ma.ok()) << ma.status().ToString();
    // b: the container's tree, through work's own mounts again.
    auto mw = ScopedMount::Take(WorkMounts(), b);
    ASSERT_TRUE(mw.ok()) << mw.status().ToString();
    EXPECT_EQ(Listing(a), Listing(b)) << file;
  }
  // Nothing outside was read into the layer: the link is a link.
  ASSERT_EQ(
      Sh("tar -tvf " + (dir_ / "layer.tar") + " | grep -q '^l.* escape -> '"),
      0);

  EXPECT_EQ(Cli(sock_, "diff no-such-snapshot", &out), 1);
  EXPECT_NE(out.find("not found"), std::string::npos) << out;
  PrepareOrView(true, "a-view", "base");
  EXPECT_EQ(Cli(sock_, "diff a-view", &out), 1);
  EXPECT_NE(out.find("is a view"), std::string::npos) << out;
  EXPECT_EQ(
      Cli(sock_, "diff --output x.bin --media-type text/plain work", &out), 1);
  EXPECT_NE(out.find("media type"), std::string::npos) << out;
}

INSTANTIATE_TEST_SUITE_P(Backends, DiffCliTest, AllDaemonBackends(),
                         BackendTestName);

}  // namespace
}  // namespace strata
