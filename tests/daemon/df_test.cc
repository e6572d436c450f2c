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
  int64_t usage = 0, logical = 0, on_disk = 0, shared = 0, saved = 0,
          inodes = 0;
};

// Parses `strata df --bytes`: rows by name, the total line's sums, the
// filesystem line's used bytes (-1 if absent).
struct Df {
  std::map<std::string, DfRow> rows;
  int64_t logical = -1, on_disk = -1, shared = -1, saved = -1, fs_used = -1;
};
Df Parse(const std::string& out) {
  Df df;
  std::istringstream in(out);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    long long a = 0, b = 0, c = 0, d = 0, e = 0, f = 0;
    if (std::sscanf(line.c_str(),
                    "total: %*d snapshots: logical %lld, on disk %lld, shared "
                    "%lld, saved %lld",
                    &a, &b, &c, &d) == 4) {
      df.logical = a;
      df.on_disk = b;
      df.shared = c;
      df.saved = d;
    } else if (line.rfind("filesystem ", 0) == 0) {
      auto pos = line.find("used ");
      if (pos != std::string::npos)
        df.fs_used = std::atoll(line.c_str() + pos + 5);
    } else if (line.rfind("metadata: ", 0) != 0) {
      std::istringstream fields(line);
      std::string name;
      DfRow r;
      fields >> name >> r.kind >> r.depth >> a >> b >> c >> d >> e >> f;
      r.usage = a;
      r.logical = b;
      r.on_disk = c;
      r.shared = d;
      r.saved = e;
      r.inodes = f;
      if (fields) df.rows[name] = r;
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

TEST_P(DfTest, ShowsUsageLogicalOnDiskAndSharedBytes) {
  auto stub = Dial(sock_);
  constexpr int64_t kBase = 4 << 20, kLayer = 1 << 20, kChild = 256 << 10;
  const bool full_trees = GetParam().first == "reflink";
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
  ASSERT_EQ(Cli(sock_, "df --bytes", &out), 0) << out;
  Df df = Parse(out);
  ASSERT_EQ(df.rows.size(), 4u) << out;
  const DfRow &base = df.rows["base"], &layer = df.rows["layer"],
              &r1 = df.rows["c1"], &r2 = df.rows["c2"];
  EXPECT_EQ(base.kind, "committed");
  EXPECT_EQ(r1.kind, "active");
  EXPECT_EQ(base.depth, 1);
  EXPECT_EQ(layer.depth, 2);
  EXPECT_EQ(r1.depth, 3);
  // USAGE: exclusive bytes, as containerd sees them.
  EXPECT_GE(base.usage, kBase) << out;
  EXPECT_GE(layer.usage, kLayer) << out;
  EXPECT_LT(layer.usage, kBase) << "the parent's data counted as the layer's\n"
                                << out;
  EXPECT_LT(r1.usage, 128 << 10) << "a fresh child counted its parent's data\n"
                                 << out;
  EXPECT_GE(r2.usage, kChild) << out;
  EXPECT_LT(r2.usage, 2 * kChild) << out;
  // LOGICAL: its own files unshared; ON-DISK: what it adds.
  EXPECT_GE(base.logical, kBase) << out;
  EXPECT_EQ(base.saved, 0) << out;
  EXPECT_EQ(base.on_disk, base.logical) << out;
  if (full_trees) {
    // Clones: each tree holds its parent's files, stored once.
    EXPECT_GE(layer.logical, kBase + kLayer) << out;
    EXPECT_GE(r1.logical, kBase + kLayer) << out;
    EXPECT_GE(layer.saved, kBase) << out;
    EXPECT_GE(r1.saved, kBase + kLayer) << out;
    EXPECT_LT(r1.on_disk, 128 << 10) << out;
    EXPECT_GE(base.shared, kBase) << out;
    EXPECT_GE(df.shared, kBase + kLayer) << out;
  } else {
    EXPECT_GE(layer.logical, kLayer) << out;
    EXPECT_LT(layer.logical, kBase) << out;
    for (const auto& [name, row] : df.rows) {
      EXPECT_EQ(row.saved, 0) << name << "\n" << out;
      EXPECT_EQ(row.shared, 0) << name << "\n" << out;
    }
  }
  int64_t logical = 0, on_disk = 0;
  for (const auto& [name, row] : df.rows) {
    EXPECT_EQ(row.on_disk, row.logical - row.saved) << name;
    logical += row.logical;
    on_disk += row.on_disk;
  }
  EXPECT_EQ(df.logical, logical) << out;
  EXPECT_EQ(df.on_disk, on_disk) << out;
  EXPECT_EQ(df.saved, logical - on_disk) << out;
  EXPECT_GT(df.fs_used, 0) << out;
  EXPECT_LE(df.fs_used, static_cast<int64_t>(sv.f_blocks * sv.f_frsize)) << out;
  if (loop_) {
    // The loop filesystem holds the data once, as ON-DISK says.
    EXPECT_GE(df.fs_used - used_before, kBase + kLayer + kChild) << out;
    EXPECT_LT(df.fs_used - used_before, df.logical) << out;
  }

  // Human units by default; JSON for scripts.
  ASSERT_EQ(Cli(sock_, "df", &out), 0) << out;
  EXPECT_NE(out.find("MiB"), std::string::npos) << out;
  ASSERT_EQ(Cli(sock_, "df --json", &out), 0) << out;
  EXPECT_EQ(out.rfind("{", 0), 0u) << out;
  EXPECT_NE(out.find("\"name\":\"c2\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"saved_bytes\":\"" + std::to_string(df.saved) + "\""),
            std::string::npos)
      << out;
}

TEST_P(DfTest, BadArgumentsAndFailuresAreClear) {
  std::string out;
  EXPECT_EQ(Cli(sock_, "df --nope", &out), 2);
  EXPECT_NE(out.find("unknown argument \"--nope\""), std::string::npos) << out;
  EXPECT_EQ(Cli(dir_ / "nobody.sock", "df", &out), 1);
  EXPECT_NE(out.find("strata df: code 14"), std::string::npos) << out;
  EXPECT_EQ(Cli(sock_, "dedup --min-size -1", &out), 2);
  EXPECT_NE(out.find("bad argument"), std::string::npos) << out;
}

INSTANTIATE_TEST_SUITE_P(Backends, DfTest,
                         ::testing::Values(BackendParam{"reflink", "xfs"},
                                           BackendParam{"overlay", ""}),
                         [](const auto& info) { return info.param.first; });

// `strata dedup` on a running daemon: equal files written into two
// committed snapshots (not through an apply, so nothing shared them) share
// after it; the dry run changes nothing; a second run finds them shared.
class DedupTest : public BackendDaemonTest {};

int64_t Field(const std::string& out, const std::string& label) {
  auto pos = out.find(label);
  if (pos == std::string::npos) return -1;
  return std::atoll(out.c_str() + pos + label.size());
}

TEST_P(DedupTest, SharesEqualFilesOfCommittedSnapshots) {
  auto stub = Dial(sock_);
  constexpr size_t kSize = 1 << 20;
  std::string data(kSize, '\0');
  for (size_t i = 0; i < kSize; ++i)
    data[i] = static_cast<char>(i * 7 + i / 4096);
  std::string other = data;
  other[kSize / 2] ^= 1;  // same size, one bit apart: never shared
  std::map<std::string, std::string> dirs;  // kept by Commit
  for (const char* name : {"one", "two"}) {
    std::string fs = Prepare(*stub, std::string(name) + "-a", "");
    ASSERT_FALSE(fs.empty());
    dirs[name] = fs;
    std::ofstream(fs + "/same.bin", std::ios::binary) << data;
    std::ofstream(fs + "/near.bin", std::ios::binary) << other;
    Commit(*stub, std::string(name) + "-a", name);
  }
  // near.bin is equal in both too; three's, of the same size, differs from
  // every other file.
  std::string fs = Prepare(*stub, "three-a", "");
  std::ofstream(fs + "/near.bin", std::ios::binary) << data.substr(1) + "x";
  Commit(*stub, "three-a", "three");
  sync();

  std::string out;
  ASSERT_EQ(Cli(sock_, "dedup --dry-run --bytes", &out), 0) << out;
  EXPECT_NE(out.find("dedup (dry run)"), std::string::npos) << out;
  EXPECT_EQ(Field(out, "files that would share"), 2) << out;
  EXPECT_EQ(Field(out, "bytes would share"), int64_t{2} * kSize) << out;
  ASSERT_EQ(Cli(sock_, "df --bytes", &out), 0) << out;
  Df before = Parse(out);
  EXPECT_EQ(before.rows["two"].saved, 0) << "the dry run shared\n" << out;

  ASSERT_EQ(Cli(sock_, "dedup --bytes", &out), 0) << out;
  EXPECT_EQ(Field(out, "files shared"), 2) << out;
  EXPECT_EQ(Field(out, "bytes shared"), int64_t{2} * kSize) << out;
  EXPECT_EQ(Field(out, "bytes freed"), int64_t{2} * kSize) << out;
  EXPECT_EQ(Field(out, "files examined"), 5) << out;
  ASSERT_EQ(Cli(sock_, "df --bytes", &out), 0) << out;
  Df after = Parse(out);
  EXPECT_EQ(after.rows["two"].saved, int64_t{2} * kSize) << out;
  EXPECT_EQ(after.rows["one"].shared, int64_t{2} * kSize) << out;
  EXPECT_EQ(after.rows["three"].shared, 0) << out;
  EXPECT_EQ(after.on_disk, before.on_disk - int64_t{2} * kSize) << out;

  // Again: nothing left to share.
  ASSERT_EQ(Cli(sock_, "dedup --json", &out), 0) << out;
  EXPECT_NE(out.find("\"files_shared\":\"0\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"already_shared\":\"2\""), std::string::npos) << out;

  // Every file still holds its own bytes; removing the holder changes none.
  grpc::ClientContext ctx;
  pb::RemoveSnapshotRequest rm;
  rm.set_key("one");
  google::protobuf::Empty empty;
  ASSERT_TRUE(stub->Remove(&ctx, rm, &empty).ok());
  const std::string& two = dirs["two"];
  EXPECT_TRUE(Slurp(two + "/same.bin") == data);
  EXPECT_TRUE(Slurp(two + "/near.bin") == other);
  EXPECT_TRUE(Slurp(fs + "/near.bin") == data.substr(1) + "x");
}

INSTANTIATE_TEST_SUITE_P(Backends, DedupTest,
                         ::testing::Values(BackendParam{"reflink", "xfs"},
                                           BackendParam{"overlay", "xfs"}),
                         BackendTestName);

// Where the root cannot share extents (ext4), dedup says so.
class DedupRefusedTest : public BackendDaemonTest {};
TEST_P(DedupRefusedTest, WithoutReflinkDedupIsRefusedClearly) {
  std::string out;
  EXPECT_EQ(Cli(sock_, "dedup", &out), 1) << out;
  EXPECT_NE(out.find("cannot share extents"), std::string::npos) << out;
}
INSTANTIATE_TEST_SUITE_P(Backends, DedupRefusedTest,
                         ::testing::Values(BackendParam{"overlay", "ext4"}),
                         BackendTestName);

}  // namespace
}  // namespace strata
