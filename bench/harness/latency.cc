#include "bench/harness/latency.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "bench/harness/client.h"
#include "bench/harness/common.h"
#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"

namespace strata {
namespace {

namespace pb = containerd::services::snapshots::v1;
using Clock = std::chrono::steady_clock;

constexpr const char* kUsage =
    "usage: strata-bench latency [--address SOCK] [--n N] [--fsync-dir DIR] "
    "[--write BYTES]\n";

int Check(const grpc::Status& s, const std::string& what) {
  if (s.ok()) return 0;
  std::fprintf(stderr, "strata-bench latency: %s: code %d: %s\n", what.c_str(),
               s.error_code(), s.error_message().c_str());
  return 1;
}

struct Samples {
  std::vector<double> us;
  void Add(Clock::time_point t0) {
    us.push_back(
        std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  double Pct(double p) const { return Percentile(us, p); }
};

// Writes `bytes` into dir/layer-data (not synced: durability is Commit's).
int WriteLayerData(const std::string& dir, int64_t bytes) {
  std::string path = dir + "/layer-data";
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "strata bench: write %s: %s\n", path.c_str(),
                 std::strerror(errno));
    return 1;
  }
  std::vector<char> buf(64 << 10, 'd');
  for (int64_t done = 0; done < bytes;) {
    ssize_t w =
        write(fd, buf.data(), std::min<int64_t>(buf.size(), bytes - done));
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
      if (int rc = Check(stub.Prepare(&ctx, req, &resp), "prepare " + key))
        return rc;
      samples["Prepare"].Add(t0);
      // What an unpack leaves for Commit to make durable.
      if (write_bytes > 0) {
        auto dir = WritableDir(MountsFromProto(resp.mounts()));
        if (!dir.ok()) {
          std::fprintf(stderr, "strata bench: --write: %s\n",
                       dir.status().ToString().c_str());
          return 1;
        }
        if (int rc = WriteLayerData(*dir, write_bytes)) return rc;
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
      if (int rc = Check(stub.Commit(&ctx, req, &resp), "commit " + key))
        return rc;
      samples["Commit"].Add(t0);
    }
    {
      grpc::ClientContext ctx;
      pb::StatSnapshotRequest req;
      req.set_snapshotter("strata");
      req.set_key(name);
      pb::StatSnapshotResponse resp;
      auto t0 = Clock::now();
      if (int rc = Check(stub.Stat(&ctx, req, &resp), "stat " + name))
        return rc;
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
    if (int rc = Check(stub.Remove(&ctx, req, &resp), "remove " + *it))
      return rc;
    samples["Remove"].Add(t0);
  }
  std::printf("%-8s %8s %10s %10s\n", "op", "calls", "median_us", "p99_us");
  for (auto& [op, s] : samples) {
    std::printf("%-8s %8zu %10.1f %10.1f\n", op.c_str(), s.us.size(),
                s.Pct(0.5), s.Pct(0.99));
  }
  if (!fsync_dir.empty()) {
    Samples f{SyncLatencies(fsync_dir, std::max(n, 100), /*datasync=*/false)};
    std::printf("%-8s %8zu %10.1f %10.1f\n", "fsync", f.us.size(), f.Pct(0.5),
                f.Pct(0.99));
    if (f.Pct(0.5) > 0) {
      std::printf("Prepare median = %.1f x fsync median\n",
                  samples["Prepare"].Pct(0.5) / f.Pct(0.5));
      std::printf(
          "Commit median = %.1f x fsync median (%lld bytes written before "
          "each)\n",
          samples["Commit"].Pct(0.5) / f.Pct(0.5),
          static_cast<long long>(write_bytes));
    }
  }
  return 0;
}

}  // namespace

int RunBenchLatency(const std::vector<std::string>& args) {
  std::string address = "/run/strata/strata.sock", fsync_dir;
  int n = 1000;
  int64_t write_bytes = 64 << 10;
  for (size_t i = 0; i < args.size(); i += 2) {
    if (i + 1 >= args.size()) {
      std::fputs(kUsage, stderr);
      return 2;
    }
    const std::string& a = args[i];
    const std::string& v = args[i + 1];
    if (a == "--address")
      address = v;
    else if (a == "--n")
      n = std::max(1, std::atoi(v.c_str()));
    else if (a == "--fsync-dir")
      fsync_dir = v;
    else if (a == "--write")
      write_bytes = std::max(0LL, std::atoll(v.c_str()));
    else {
      std::fprintf(stderr, "strata-bench latency: unknown flag %s\n%s",
                   a.c_str(), kUsage);
      return 2;
    }
  }
  auto stub = pb::Snapshots::NewStub(grpc::CreateChannel(
      "unix:" + address, grpc::InsecureChannelCredentials()));
  return BenchLatency(*stub, n, fsync_dir, write_bytes);
}

}  // namespace strata
