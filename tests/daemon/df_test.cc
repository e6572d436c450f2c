// `strata df` against a running daemon: per-snapshot exclusive bytes (the
// Usage RPC), chain logical sums, totals and the root filesystem's statfs, on
// the reflink backend (loop XFS: clones cost their inodes, not their data)
// and the overlay backend; bad arguments and a dead socket fail clearly.
#include <gtest/gtest.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "tests/daemon/backend_daemon_fixture.h"
#include "tests/daemon/daemon_process.h"
#include "tests/testutil/loop_fs.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

namespace pb = containerd::services::snapshots::v1;

struct DfRow {
  std::string kind;
  int depth = 0;
  int64_t exclusive = 0, logical = 0, inodes = 0;
};

// Parses `strata df --bytes`: rows by name, the total line's two sums, the
// filesystem line's used bytes (-1 if absent).
struct Df {
  std::map<std::string, DfRow> rows;
  int64_t total_exclusive = -1, total_logical = -1, fs_used = -1;
};
Df Parse(const std::string& out) {
  Df df;
  std::istringstream in(out);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    long long a = 0, b = 0, c = 0;
    if (std::sscanf(
            line.c_str(),
            "total: %*d snapshots, %*d chains: exclusive %lld, logical %lld",
            &a, &b) == 2) {
      df.total_exclusive = a;
      df.total_logical = b;
    } else if (line.rfind("filesystem ", 0) == 0) {
      auto pos = line.find("used ");
      if (pos != std::string::npos)
        df.fs_used = std::atoll(line.c_str() + pos + 5);
    } else {
      std::istringstream f(line);
      std::string name;
      DfRow r;
      f >> name >> r.kind >> r.depth >> a >> b >> c;
      r.exclusive = a;
      r.logical = b;
      r.inodes = c;
      if (f) df.rows[name] = r;
    }
  }
  return df;
}

std::string Prepare(pb::Snapshots::Stub& stub, const std::string& key,
                    const std::string& parent) {
  grpc::ClientContext ctx;
  pb::PrepareSnapshotRequest req;
  req.set_key(key);
  req.set_parent(parent);
  pb::PrepareSnapshotResponse resp;
  grpc::Status s = stub.Prepare(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << key << ": " << s.error_message();
  if (!s.ok() || resp.mounts_size() != 1) return "";
  const auto& m = resp.mounts(0);
  if (m.type() == "bind") return m.source();
  for (const std::string& o : m.options()) {
    if (o.rfind("upperdir=", 0) == 0) return o.substr(9);
  }
  return "";
}

void Commit(pb::Snapshots::Stub& stub, const std::string& key,
            const std::string& name) {
  grpc::ClientContext ctx;
  pb::CommitSnapshotRequest req;
  req.set_key(key);
  req.set_name(name);
  google::protobuf::Empty resp;
  grpc::Status s = stub.Commit(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << key << ": " << s.error_message();
}

void WriteBytes(const std::string& path, size_t n, char c) {
  std::ofstream(path, std::ios::binary) << std::string(n, c);
}

class DfTest : public BackendDaemonTest {};

TEST_P(DfTest, ShowsExclusiveAndChainLogicalBytes) {
  auto stub = Dial(sock_);
  constexpr int64_t kBase = 4 << 20, kLayer = 1 << 20, kChild = 256 << 10;
  sync();
  struct statvfs sv;
  ASSERT_EQ(statvfs(root_.c_str(), &sv), 0);
  const int64_t used_before =
      static_cast<int64_t>((sv.f_blocks - sv.f_bfree) * sv.f_frsize);
  std::string fs = Prepare(*stub, "b", "");
  ASSERT_FALSE(fs.empty());
  WriteBytes(fs + "/base.bin", kBase, 'b');
  Commit(*stub, "b", "base");
  fs = Prepare(*stub, "l", "base");
  ASSERT_FALSE(fs.empty());
  WriteBytes(fs + "/layer.bin", kLayer, 'l');
  Commit(*stub, "l", "layer");
  std::string c1 = Prepare(*stub, "c1", "layer");
  std::string c2 = Prepare(*stub, "c2", "layer");
  ASSERT_FALSE(c1.empty() || c2.empty());
  WriteBytes(c2 + "/new.bin", kChild, 'c');
  sync();

  std::string out;
  ASSERT_EQ(Cli(sock_, "df --bytes --root " + root_, &out), 0) << out;
  Df df = Parse(out);
  ASSERT_EQ(df.rows.size(), 4u) << out;
  const DfRow &base = df.rows["base"], &layer = df.rows["layer"],
              &r1 = df.rows["c1"], &r2 = df.rows["c2"];
  EXPECT_EQ(base.kind, "committed");
  EXPECT_EQ(r1.kind, "active");
  EXPECT_EQ(base.depth, 1);
  EXPECT_EQ(layer.depth, 2);
  EXPECT_EQ(r1.depth, 3);
  EXPECT_GE(base.exclusive, kBase) << out;
  EXPECT_GE(layer.exclusive, kLayer) << out;
  EXPECT_LT(layer.exclusive, kBase)
      << "the parent's data counted as the layer's\n"
      << out;
  EXPECT_LT(r1.exclusive, 128 << 10)
      << "a fresh child counted its parent's data\n"
      << out;
  EXPECT_GE(r2.exclusive, kChild) << out;
  EXPECT_LT(r2.exclusive, 2 * kChild) << out;
  EXPECT_EQ(base.logical, base.exclusive);
  EXPECT_EQ(layer.logical, base.exclusive + layer.exclusive);
  EXPECT_EQ(r2.logical, layer.logical + r2.exclusive);
  EXPECT_EQ(df.total_exclusive,
            base.exclusive + layer.exclusive + r1.exclusive + r2.exclusive);
  EXPECT_EQ(df.total_logical, r1.logical + r2.logical)
      << "two chains: c1 and c2";
  EXPECT_GT(df.fs_used, 0) << out;
  EXPECT_LE(df.fs_used, static_cast<int64_t>(sv.f_blocks * sv.f_frsize)) << out;
  if (loop_) {
    // The loop filesystem holds the data once, not once per chain.
    EXPECT_GE(df.fs_used - used_before, kBase + kLayer + kChild) << out;
    EXPECT_LT(df.fs_used - used_before, df.total_logical) << out;
  }

  // Without --root: no filesystem line; human units by default.
  ASSERT_EQ(Cli(sock_, "df", &out), 0) << out;
  EXPECT_EQ(out.find("filesystem"), std::string::npos) << out;
  EXPECT_NE(out.find("MiB"), std::string::npos) << out;
}

TEST_P(DfTest, BadArgumentsAndFailuresAreClear) {
  std::string out;
  EXPECT_EQ(Cli(sock_, "df --nope", &out), 2);
  EXPECT_NE(out.find("unknown argument \"--nope\""), std::string::npos) << out;
  EXPECT_EQ(Cli(sock_, "df --root " + (dir_ / "missing"), &out), 1);
  EXPECT_NE(out.find("statfs " + (dir_ / "missing")), std::string::npos) << out;
  EXPECT_EQ(Cli(dir_ / "nobody.sock", "df", &out), 1);
  EXPECT_NE(out.find("strata df: list: code 14"), std::string::npos) << out;
}

INSTANTIATE_TEST_SUITE_P(Backends, DfTest,
                         ::testing::Values(BackendParam{"reflink", "xfs"},
                                           BackendParam{"overlay", ""}),
                         [](const auto& info) { return info.param.first; });

}  // namespace
}  // namespace strata
