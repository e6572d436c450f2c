// strata: command-line client of a running strata-snapshotter (gRPC only).
//
//   strata [--address SOCK] ls [FILTER...]
//   strata [--address SOCK] stat KEY
//   strata [--address SOCK] import [--parent NAME] [--name NAME] [--no-sync] LAYER...
//   strata [--address SOCK] df [--root DIR] [--bytes]
//   strata [--address SOCK] bench latency [--n N] [--fsync-dir DIR] [--write BYTES]
//   strata [--address SOCK] status [--json]
//   strata bench cow [OPTIONS]   (snapshotter/cli/bench_cow.h)
//
// `bench latency` drives the daemon like an image pull does (Prepare on the
// previous layer, Commit, Stat), then removes the chain, and prints the median
// and p99 latency of each call; with --fsync-dir it also measures the fsync
// latency of that directory's filesystem, the physical floor of a durable
// Prepare or Commit. --write puts that many bytes into each active snapshot
// (through its upperdir or bind source, unsynced) before it is committed, the
// data a durable Commit must sync (default 65536; 0: none).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "snapshotter/cli/bench_cow.h"
#include "snapshotter/cli/bench_ops.h"
#include "snapshotter/cli/cli_util.h"
#include "snapshotter/cli/df.h"
#include "snapshotter/cli/import.h"
#include "snapshotter/cli/status.h"

namespace {

namespace pb = containerd::services::snapshots::v1;
using Clock = std::chrono::steady_clock;

constexpr const char* kUsage =
    "usage: strata [--address SOCK] ls [FILTER...]\n"
    "       strata [--address SOCK] stat KEY\n"
    "       strata [--address SOCK] import [--parent NAME] [--name NAME] [--no-sync] LAYER...\n"
    "       strata [--address SOCK] df [--root DIR] [--bytes]\n"
    "       strata [--address SOCK] bench latency [--n N] [--fsync-dir DIR] [--write BYTES]\n"
    "       strata bench ops --address SOCK --peer-address SOCK [--n N] [--rounds R] ...\n"
    "       strata [--address SOCK] status [--json]\n"
    "       strata bench cow [OPTIONS]   (`strata bench cow help` lists them)\n";

int Check(const grpc::Status& s, const std::string& what) {
  if (s.ok()) return 0;
  std::fprintf(stderr, "strata: %s: code %d: %s\n", what.c_str(), s.error_code(),
               s.error_message().c_str());
  return 1;
}

void PrintInfo(const pb::Info& info) {
  std::printf("%s\t%s\t%s", info.name().c_str(), strata::KindName(info.kind()), info.parent().c_str());
  for (const auto& [k, v] : info.labels()) std::printf("\t%s=%s", k.c_str(), v.c_str());
  std::printf("\n");
}

int Ls(pb::Snapshots::Stub& stub, const std::vector<std::string>& filters) {
  grpc::ClientContext ctx;
  pb::ListSnapshotsRequest req;
  req.set_snapshotter("strata");
  for (const auto& f : filters) req.add_filters(f);
  auto reader = stub.List(&ctx, req);
  pb::ListSnapshotsResponse resp;
  while (reader->Read(&resp)) {
    for (const auto& info : resp.info()) PrintInfo(info);
  }
  return Check(reader->Finish(), "list");
}

int Stat(pb::Snapshots::Stub& stub, const std::string& key) {
  grpc::ClientContext ctx;
  pb::StatSnapshotRequest req;
  req.set_snapshotter("strata");
  req.set_key(key);
  pb::StatSnapshotResponse resp;
  if (int rc = Check(stub.Stat(&ctx, req, &resp), "stat " + key)) return rc;
  PrintInfo(resp.info());
  return 0;
}

struct Samples {
  std::vector<double> us;
  void Add(Clock::time_point t0) {
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  double Pct(double p) {
    if (us.empty()) return 0;
    std::sort(us.begin(), us.end());
    return us[std::min(us.size() - 1, static_cast<size_t>(p * us.size()))];
  }
};

// Median and p99 of fsync after a 4 KiB overwrite in dir, n times.
Samples FsyncFloor(const std::string& dir, int n) {
  Samples s;
  std::string path = dir + "/.strata-fsync-probe";
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return s;
  char buf[4096] = {};
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    if (pwrite(fd, buf, sizeof(buf), 0) < 0 || fsync(fd) != 0) break;
    s.Add(t0);
  }
  close(fd);
  unlink(path.c_str());
  return s;
}

// The directory a client writes into for an active snapshot's mounts: the
// overlay upperdir, or a bind mount's source.
std::string WritableDir(const pb::PrepareSnapshotResponse& resp) {
  if (resp.mounts_size() != 1) return "";
  const auto& m = resp.mounts(0);
  for (const std::string& o : m.options()) {
    if (o.rfind("upperdir=", 0) == 0) return o.substr(9);
  }
  return m.type() == "bind" ? m.source() : "";
}

// Writes `bytes` into dir/layer-data (not synced: durability is Commit's).
int WriteLayerData(const std::string& dir, int64_t bytes) {
  std::string path = dir + "/layer-data";
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "strata bench: write %s: %s\n", path.c_str(), std::strerror(errno));
    return 1;
  }
  std::vector<char> buf(64 << 10, 'd');
  for (int64_t done = 0; done < bytes;) {
    ssize_t w = write(fd, buf.data(), std::min<int64_t>(buf.size(), bytes - done));
    if (w <= 0) break;
    done += w;
  }
  close(fd);
  return 0;
}

int BenchLatency(pb::Snapshots::Stub& stub, int n, const std::string& fsync_dir,
                 int64_t write_bytes) {
  std::map<std::string, Samples> samples;
  std::string run = "strata-bench-" + std::to_string(getpid()) + "/";
  std::string parent;
  std::vector<std::string> committed;
  for (int i = 0; i < n; ++i) {
    std::string key = run + "extract-" + std::to_string(i);
    std::string name = run + "sha256:" + std::to_string(i);
    {
      grpc::ClientContext ctx;
      pb::PrepareSnapshotRequest req;
      req.set_snapshotter("strata");
      req.set_key(key);
      req.set_parent(parent);
      (*req.mutable_labels())["containerd.io/snapshot.ref"] = name;
      pb::PrepareSnapshotResponse resp;
      auto t0 = Clock::now();
      if (int rc = Check(stub.Prepare(&ctx, req, &resp), "prepare " + key)) return rc;
      samples["Prepare"].Add(t0);
      // What an unpack leaves for Commit to make durable.
      if (write_bytes > 0) {
        std::string dir = WritableDir(resp);
        if (dir.empty()) {
          std::fprintf(stderr, "strata bench: --write needs an upperdir or bind mount\n");
          return 1;
        }
        if (int rc = WriteLayerData(dir, write_bytes)) return rc;
      }
    }
    {
      grpc::ClientContext ctx;
      pb::CommitSnapshotRequest req;
      req.set_snapshotter("strata");
      req.set_key(key);
      req.set_name(name);
      google::protobuf::Empty resp;
      auto t0 = Clock::now();
      if (int rc = Check(stub.Commit(&ctx, req, &resp), "commit " + key)) return rc;
      samples["Commit"].Add(t0);
    }
    {
      grpc::ClientContext ctx;
      pb::StatSnapshotRequest req;
      req.set_snapshotter("strata");
      req.set_key(name);
      pb::StatSnapshotResponse resp;
      auto t0 = Clock::now();
      if (int rc = Check(stub.Stat(&ctx, req, &resp), "stat " + name)) return rc;
      samples["Stat"].Add(t0);
    }
    committed.push_back(name);
    // Chains of 100 layers, then a fresh base: like many images.
    parent = (i % 100 == 99) ? "" : name;
  }
  for (auto it = committed.rbegin(); it != committed.rend(); ++it) {
    grpc::ClientContext ctx;
    pb::RemoveSnapshotRequest req;
    req.set_snapshotter("strata");
    req.set_key(*it);
    google::protobuf::Empty resp;
    auto t0 = Clock::now();
    if (int rc = Check(stub.Remove(&ctx, req, &resp), "remove " + *it)) return rc;
    samples["Remove"].Add(t0);
  }
  std::printf("%-8s %8s %10s %10s\n", "op", "calls", "median_us", "p99_us");
  for (auto& [op, s] : samples) {
    std::printf("%-8s %8zu %10.1f %10.1f\n", op.c_str(), s.us.size(), s.Pct(0.5), s.Pct(0.99));
  }
  if (!fsync_dir.empty()) {
    Samples f = FsyncFloor(fsync_dir, std::max(n, 100));
    std::printf("%-8s %8zu %10.1f %10.1f\n", "fsync", f.us.size(), f.Pct(0.5), f.Pct(0.99));
    if (f.Pct(0.5) > 0) {
      std::printf("Prepare median = %.1f x fsync median\n",
                  samples["Prepare"].Pct(0.5) / f.Pct(0.5));
      std::printf("Commit median = %.1f x fsync median (%lld bytes written before each)\n",
                  samples["Commit"].Pct(0.5) / f.Pct(0.5), static_cast<long long>(write_bytes));
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string address = "/run/strata/strata.sock";
  std::vector<std::string> args;
  bool help = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--address" && i + 1 < argc) {
      address = argv[++i];
    } else if (a == "--help" || a == "-h") {
      help = true;
      args.push_back(a);
    } else {
      args.push_back(a);
    }
  }
  // bench cow prints its own options; every other command is in the usage.
  bool own_help = args.size() >= 2 && args[0] == "bench" && args[1] == "cow";
  if (help && !own_help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (argc > 2 && std::string(argv[1]) == "bench" && std::string(argv[2]) == "ops") {
    return strata::RunBenchOps({argv + 3, argv + argc}, argv[0]);
  }
  if (args.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  // Before the channel: bench cow starts its own servers in a private mount namespace.
  if (args.size() >= 2 && args[0] == "bench" && args[1] == "cow") {
    return strata::RunBenchCow({args.begin() + 2, args.end()});
  }
  auto channel = grpc::CreateChannel("unix:" + address, grpc::InsecureChannelCredentials());
  auto stub = pb::Snapshots::NewStub(channel);
  const std::string& cmd = args[0];
  if (cmd == "ls") return Ls(*stub, {args.begin() + 1, args.end()});
  if (cmd == "stat" && args.size() == 2) return Stat(*stub, args[1]);
  if (cmd == "import") return strata::RunImport(channel, {args.begin() + 1, args.end()});
  if (cmd == "df") return strata::RunDf(*stub, {args.begin() + 1, args.end()});
  if (cmd == "status") return strata::RunStatus(channel, {args.begin() + 1, args.end()});
  if (cmd == "bench" && args.size() >= 2 && args[1] == "latency") {
    int n = 1000;
    std::string fsync_dir;
    int64_t write_bytes = 64 << 10;
    for (size_t i = 2; i + 1 < args.size(); i += 2) {
      if (args[i] == "--n") n = std::max(1, std::atoi(args[i + 1].c_str()));
      else if (args[i] == "--fsync-dir") fsync_dir = args[i + 1];
      else if (args[i] == "--write") write_bytes = std::max(0LL, std::atoll(args[i + 1].c_str()));
    }
    return BenchLatency(*stub, n, fsync_dir, write_bytes);
  }
  std::fputs(kUsage, stderr);
  return 2;
}
