#include "bench/harness/density.h"

#include <grpcpp/grpcpp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/harness/common.h"
#include "bench/harness/proc.h"
#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"

namespace strata {
namespace {

namespace pb = containerd::services::snapshots::v1;
using Clock = std::chrono::steady_clock;

constexpr const char* kUsage =
    "usage: strata-bench density [--bin strata-snapshotter] [--dir DIR]\n"
    "                            [--sizes 100,10000,100000] [--n 500] "
    "[--clients 8] [--json PATH]\n";
constexpr int kGroups = 100;  // label values: a filter picks ~1%
constexpr int kActivesPerChain = 3;

std::unique_ptr<pb::Snapshots::Stub> Dial(const std::string& sock) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return pb::Snapshots::NewStub(grpc::CreateCustomChannel(
      "unix:" + sock, grpc::InsecureChannelCredentials(), args));
}

double Us(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

struct Client {
  explicit Client(const std::string& sock) : stub(Dial(sock)) {}
  grpc::Status Prepare(const std::string& key, const std::string& parent,
                       int group) {
    grpc::ClientContext ctx;
    pb::PrepareSnapshotRequest req;
    req.set_key(key);
    req.set_parent(parent);
    (*req.mutable_labels())["bench.group"] = "g" + std::to_string(group);
    pb::PrepareSnapshotResponse resp;
    return stub->Prepare(&ctx, req, &resp);
  }
  grpc::Status Commit(const std::string& name, const std::string& key,
                      int group) {
    grpc::ClientContext ctx;
    pb::CommitSnapshotRequest req;
    req.set_name(name);
    req.set_key(key);
    (*req.mutable_labels())["bench.group"] = "g" + std::to_string(group);
    google::protobuf::Empty resp;
    return stub->Commit(&ctx, req, &resp);
  }
  grpc::Status Stat(const std::string& key) {
    grpc::ClientContext ctx;
    pb::StatSnapshotRequest req;
    req.set_key(key);
    pb::StatSnapshotResponse resp;
    return stub->Stat(&ctx, req, &resp);
  }
  grpc::Status Remove(const std::string& key) {
    grpc::ClientContext ctx;
    pb::RemoveSnapshotRequest req;
    req.set_key(key);
    google::protobuf::Empty resp;
    return stub->Remove(&ctx, req, &resp);
  }
  // Snapshots matching `filter`, or -1.
  int64_t Walk(const std::string& filter) {
    grpc::ClientContext ctx;
    pb::ListSnapshotsRequest req;
    req.add_filters(filter);
    auto reader = stub->List(&ctx, req);
    pb::ListSnapshotsResponse resp;
    int64_t n = 0;
    while (reader->Read(&resp)) n += resp.info_size();
    return reader->Finish().ok() ? n : -1;
  }
  std::unique_ptr<pb::Snapshots::Stub> stub;
};

struct Store {
  std::vector<std::string> committed;  // names
  std::vector<std::string> actives;    // keys
  int chains = 0;
  size_t total() const { return committed.size() + actives.size(); }
};

// Grows `store` to at least `target` snapshots with `clients` workers, each
// building whole chains (a random length of 10-50 committed layers, then
// three actives on random layers of it). False, printing why, on an error.
bool Grow(const std::string& sock, Store& store, size_t target, int clients) {
  std::mutex mu;
  std::atomic<bool> failed{false};
  std::atomic<int> next_chain{store.chains};
  std::vector<std::thread> workers;
  auto need = [&] {
    std::lock_guard<std::mutex> l(mu);
    return store.total() < target;
  };
  for (int w = 0; w < clients; ++w) {
    workers.emplace_back([&, w] {
      Client c(sock);
      std::mt19937 rng(static_cast<unsigned>(w * 7919 + store.chains));
      // False (and every worker stops) once a call failed, naming it.
      auto ok = [&](const grpc::Status& s, const std::string& key) {
        if (s.ok()) return true;
        std::fprintf(stderr, "density: grow %s: %s\n", key.c_str(),
                     s.error_message().c_str());
        failed = true;
        return false;
      };
      while (!failed && need()) {
        const int chain = next_chain++;
        const int group = chain % kGroups;
        const int len = 10 + static_cast<int>(rng() % 41);
        std::vector<std::string> layers;
        std::string parent;
        for (int i = 0; i < len && !failed; ++i) {
          std::string key =
              "d/" + std::to_string(chain) + "/x" + std::to_string(i);
          std::string name =
              "d/" + std::to_string(chain) + "/l" + std::to_string(i);
          grpc::Status s = c.Prepare(key, parent, group);
          if (s.ok()) s = c.Commit(name, key, group);
          if (!ok(s, key)) break;
          layers.push_back(name);
          parent = name;
        }
        std::vector<std::string> actives;
        for (int a = 0; a < kActivesPerChain && !failed; ++a) {
          std::string key =
              "d/" + std::to_string(chain) + "/a" + std::to_string(a);
          if (!ok(c.Prepare(key, layers[rng() % layers.size()], group), key))
            break;
          actives.push_back(key);
        }
        std::lock_guard<std::mutex> l(mu);
        store.committed.insert(store.committed.end(), layers.begin(),
                               layers.end());
        store.actives.insert(store.actives.end(), actives.begin(),
                             actives.end());
        store.chains = std::max(store.chains, chain + 1);
      }
    });
  }
  for (auto& t : workers) t.join();
  return !failed;
}

int64_t ProcRssBytes(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::strtoll(line.c_str() + 6, nullptr, 10) * 1024;
    }
  }
  return 0;
}

int64_t FileBytes(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

struct Row {
  size_t snapshots = 0;
  double startup_ms = 0;
  int64_t rss = 0;
  int64_t metadata = 0;
  double stat_p50 = 0, stat_p99 = 0;
  double prepare_p50 = 0, prepare_p99 = 0;
  double commit_p50 = 0, commit_p99 = 0;
  double remove_p50 = 0, remove_p99 = 0;
  double walk_ms = 0;
  int64_t walk_found = 0;
  double grow_s = 0;
};

// One size's measurements, the daemon restarted first (start-up timed).
bool Measure(const std::vector<std::string>& argv, const std::string& sock,
             const std::string& log, std::unique_ptr<ServerProcess>& daemon,
             const Store& store, int n, const std::string& root, Row& row) {
  if (Status s = daemon->Stop(); !s.ok()) {
    std::fprintf(stderr, "density: stop: %s\n", s.ToString().c_str());
    return false;
  }
  auto t0 = Clock::now();
  auto started = ServerProcess::Start(argv, sock, log);
  row.startup_ms = Us(t0) / 1000;
  if (!started.ok()) {
    std::fprintf(stderr, "density: restart: %s\n",
                 started.status().ToString().c_str());
    return false;
  }
  daemon = std::move(*started);
  Client c(sock);
  std::mt19937 rng(42);
  std::vector<double> stat, prep, commit, remove;
  for (int i = 0; i < 4 * n; ++i) {
    const std::string& key =
        i % 4 == 0 ? store.actives[rng() % store.actives.size()]
                   : store.committed[rng() % store.committed.size()];
    auto t = Clock::now();
    grpc::Status s = c.Stat(key);
    stat.push_back(Us(t));
    if (!s.ok()) {
      std::fprintf(stderr, "density: stat %s: %s\n", key.c_str(),
                   s.error_message().c_str());
      return false;
    }
  }
  std::vector<std::string> made;
  for (int i = 0; i < n; ++i) {
    std::string key =
        "m/" + std::to_string(store.total()) + "/" + std::to_string(i);
    const std::string& parent = store.committed[rng() % store.committed.size()];
    auto t = Clock::now();
    grpc::Status s = c.Prepare(key, parent, 0);
    prep.push_back(Us(t));
    if (s.ok()) {
      t = Clock::now();
      s = c.Commit(key + "-c", key, 0);
      commit.push_back(Us(t));
    }
    if (!s.ok()) {
      std::fprintf(stderr, "density: prepare/commit %s: %s\n", key.c_str(),
                   s.error_message().c_str());
      return false;
    }
    made.push_back(key + "-c");
  }
  for (const std::string& name : made) {
    auto t = Clock::now();
    grpc::Status s = c.Remove(name);
    remove.push_back(Us(t));
    if (!s.ok()) {
      std::fprintf(stderr, "density: remove %s: %s\n", name.c_str(),
                   s.error_message().c_str());
      return false;
    }
  }
  std::vector<double> walks;
  for (int i = 0; i < 5; ++i) {
    auto t = Clock::now();
    row.walk_found = c.Walk("labels.\"bench.group\"==g0");
    walks.push_back(Us(t) / 1000);
    if (row.walk_found < 0) {
      std::fprintf(stderr, "density: walk failed\n");
      return false;
    }
  }
  row.snapshots = store.total();
  row.rss = ProcRssBytes(daemon->pid());
  row.metadata = FileBytes(root + "/metadata/data.mdb");
  row.stat_p50 = Percentile(stat, 0.5);
  row.stat_p99 = Percentile(stat, 0.99);
  row.prepare_p50 = Percentile(prep, 0.5);
  row.prepare_p99 = Percentile(prep, 0.99);
  row.commit_p50 = Percentile(commit, 0.5);
  row.commit_p99 = Percentile(commit, 0.99);
  row.remove_p50 = Percentile(remove, 0.5);
  row.remove_p99 = Percentile(remove, 0.99);
  row.walk_ms = Percentile(walks, 0.5);
  return true;
}

std::vector<size_t> ParseSizes(const std::string& s) {
  std::vector<size_t> out;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, ',')) {
    char* end = nullptr;
    unsigned long long v = std::strtoull(part.c_str(), &end, 10);
    if (part.empty() || *end != '\0' || v == 0) return {};
    out.push_back(v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

int RunBenchDensity(const std::vector<std::string>& args) {
  std::string bin = ExeDir() + "/strata-snapshotter";
  std::string dir, json;
  std::string sizes_arg = "100,10000,100000";
  int n = 500, clients = 8;
  for (size_t i = 0; i < args.size(); ++i) {
    auto value = [&]() -> const std::string* {
      return i + 1 < args.size() ? &args[++i] : nullptr;
    };
    const std::string& a = args[i];
    const std::string* v = nullptr;
    if ((a == "--bin" || a == "--dir" || a == "--sizes" || a == "--n" ||
         a == "--clients" || a == "--json") &&
        (v = value()) == nullptr) {
      std::fprintf(stderr, "strata-bench density: %s needs a value\n%s",
                   a.c_str(), kUsage);
      return 2;
    }
    if (a == "--bin") {
      bin = *v;
    } else if (a == "--dir") {
      dir = *v;
    } else if (a == "--sizes") {
      sizes_arg = *v;
    } else if (a == "--n") {
      n = std::atoi(v->c_str());
    } else if (a == "--clients") {
      clients = std::atoi(v->c_str());
    } else if (a == "--json") {
      json = *v;
    } else {
      std::fprintf(stderr, "strata-bench density: unknown argument %s\n%s",
                   a.c_str(), kUsage);
      return 2;
    }
  }
  std::vector<size_t> sizes = ParseSizes(sizes_arg);
  if (sizes.empty() || n < 10 || clients < 1) {
    std::fprintf(stderr,
                 "strata-bench density: bad --sizes, --n or --clients\n%s",
                 kUsage);
    return 2;
  }
  if (!dir.empty() && mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    std::perror(("strata-bench density: mkdir " + dir).c_str());
    return 1;
  }
  if (dir.empty()) {
    char tmpl[] = "/var/tmp/strata-density-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      std::perror("strata-bench density: mkdtemp");
      return 1;
    }
    dir = tmpl;
  }
  const std::string root = dir + "/root", sock = dir + "/s.sock",
                    log = dir + "/daemon.log";
  const std::vector<std::string> argv = {
      bin, "--root", root, "--address", sock, "--containerd-address", ""};
  auto daemon = ServerProcess::Start(argv, sock, log);
  if (!daemon.ok()) {
    std::fprintf(stderr, "strata-bench density: %s\n",
                 daemon.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "density: %s, root %s, %d ops per phase, growth with %d clients\n",
      bin.c_str(), root.c_str(), n, clients);
  std::printf(
      "| snapshots | grow s | start-up ms | RSS MiB | metadata MiB | "
      "Stat p50/p99 us | Prepare p50/p99 us | Commit p50/p99 us | "
      "Remove p50/p99 us | Walk(group g0) ms (found) |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
  Store store;
  std::vector<Row> rows;
  for (size_t target : sizes) {
    auto g0 = Clock::now();
    if (!Grow(sock, store, target, clients)) return 1;
    Row row;
    row.grow_s = Us(g0) / 1e6;
    if (!Measure(argv, sock, log, *daemon, store, n, root, row)) return 1;
    rows.push_back(row);
    std::printf(
        "| %zu | %.1f | %.0f | %.1f | %.1f | %.0f / %.0f | %.0f / %.0f | "
        "%.0f / %.0f | %.0f / %.0f | %.1f (%lld) |\n",
        row.snapshots, row.grow_s, row.startup_ms,
        static_cast<double>(row.rss) / (1 << 20),
        static_cast<double>(row.metadata) / (1 << 20), row.stat_p50,
        row.stat_p99, row.prepare_p50, row.prepare_p99, row.commit_p50,
        row.commit_p99, row.remove_p50, row.remove_p99, row.walk_ms,
        static_cast<long long>(row.walk_found));
    std::fflush(stdout);
  }
  const Row& first = rows.front();
  const Row& last = rows.back();
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0; };
  std::printf(
      "\ntargets at %zu vs %zu snapshots: Stat p99 %.2fx (<= 2x: %s), Remove "
      "p99 %.2fx (<= 2x: %s), start-up %.0f ms (< 2000: %s)\n",
      last.snapshots, first.snapshots, ratio(last.stat_p99, first.stat_p99),
      ratio(last.stat_p99, first.stat_p99) <= 2 ? "met" : "MISSED",
      ratio(last.remove_p99, first.remove_p99),
      ratio(last.remove_p99, first.remove_p99) <= 2 ? "met" : "MISSED",
      last.startup_ms, last.startup_ms < 2000 ? "met" : "MISSED");
  if (!json.empty()) {
    std::ofstream out(json);
    out << "{\"rows\": [";
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      out << (i ? ", " : "") << "{\"snapshots\": " << r.snapshots
          << ", \"grow_s\": " << r.grow_s
          << ", \"startup_ms\": " << r.startup_ms
          << ", \"rss_bytes\": " << r.rss
          << ", \"metadata_bytes\": " << r.metadata << ", \"stat_us\": ["
          << r.stat_p50 << ", " << r.stat_p99 << "]"
          << ", \"prepare_us\": [" << r.prepare_p50 << ", " << r.prepare_p99
          << "]"
          << ", \"commit_us\": [" << r.commit_p50 << ", " << r.commit_p99 << "]"
          << ", \"remove_us\": [" << r.remove_p50 << ", " << r.remove_p99 << "]"
          << ", \"walk_ms\": " << r.walk_ms
          << ", \"walk_found\": " << r.walk_found << "}";
    }
    out << "]}\n";
  }
  if (Status s = (*daemon)->Stop(); !s.ok()) {
    std::fprintf(stderr, "strata-bench density: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace strata
