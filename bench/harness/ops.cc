#include "bench/harness/ops.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "bench/harness/common.h"
#include "bench/harness/ops_report.h"
#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"

namespace strata {
namespace {

namespace pb = containerd::services::snapshots::v1;
using Clock = std::chrono::steady_clock;

constexpr const char* kUsage =
    "usage: strata-bench ops --address SOCK --peer-address SOCK [--n 2000] "
    "[--rounds 3]\n"
    "                        [--concurrency 1,16,64] [--fsync-dir DIR] [--out "
    "DIR]\n"
    "                        [--report PATH] [--pid PID] [--peer-pid PID]\n";
constexpr int kChainLength = 25;  // layers per chain: a deep image
constexpr int kMaxBases = 8;      // tree roots: a few base images
const char* const kPhases[] = {"Prepare", "Commit", "Stat",  "List",
                               "View",    "Mounts", "Usage", "Remove"};

double Us(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

// Runs fn(i, worker) for i in [0, count) on `workers` threads (inline when
// there is one), returning when all calls are done: the in-flight RPCs of one
// batch.
class WorkerPool {
 public:
  using Fn = std::function<void(size_t, int)>;
  explicit WorkerPool(int workers) {
    if (workers <= 1) return;
    for (int w = 0; w < workers; ++w)
      threads_.emplace_back([this, w] { Loop(w); });
  }
  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      ++generation_;
    }
    start_.notify_all();
    for (auto& t : threads_) t.join();
  }
  int size() const {
    return threads_.empty() ? 1 : static_cast<int>(threads_.size());
  }

  void Run(size_t count, const Fn& fn) {
    if (threads_.empty()) {
      for (size_t i = 0; i < count; ++i) fn(i, 0);
      return;
    }
    std::unique_lock<std::mutex> lock(mu_);
    fn_ = &fn;
    count_ = count;
    next_ = 0;
    busy_ = static_cast<int>(threads_.size());
    ++generation_;
    start_.notify_all();
    done_.wait(lock, [this] { return busy_ == 0; });
  }

 private:
  void Loop(int w) {
    uint64_t seen = 0;
    for (;;) {
      const Fn* fn;
      size_t count;
      {
        std::unique_lock<std::mutex> lock(mu_);
        start_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (stop_) return;
        fn = fn_;
        count = count_;
      }
      for (size_t i; (i = next_.fetch_add(1)) < count;) (*fn)(i, w);
      std::lock_guard<std::mutex> lock(mu_);
      if (--busy_ == 0) done_.notify_one();
    }
  }

  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable start_, done_;
  uint64_t generation_ = 0;  // GUARDED_BY(mu_)
  bool stop_ = false;        // GUARDED_BY(mu_)
  const Fn* fn_ = nullptr;   // GUARDED_BY(mu_)
  size_t count_ = 0;         // GUARDED_BY(mu_)
  int busy_ = 0;             // GUARDED_BY(mu_)
  std::atomic<size_t> next_{0};
};

struct Progress {
  std::string run;  // "round 1/3 c16 strata"
  Clock::time_point last;
  void Show(const std::string& phase, bool force = false) {
    auto now = Clock::now();
    if (!force && now - last < std::chrono::milliseconds(200)) return;
    last = now;
    std::fprintf(stderr, "\rstrata bench ops: %s: %-8s", run.c_str(),
                 phase.c_str());
    std::fflush(stderr);
  }
};

// One server's run at one concurrency: creates the snapshots, runs the phases
// over them and removes everything it made.
class OpsRun {
 public:
  // server_pid > 0: each phase also records that process's CPU time.
  OpsRun(pb::Snapshots::Stub& stub, WorkerPool& pool, std::string prefix,
         Progress& progress, pid_t server_pid)
      : stub_(stub),
        pool_(pool),
        prefix_(std::move(prefix)),
        progress_(progress),
        server_pid_(server_pid) {}

  // False (with error() set) if any RPC failed.
  bool Execute(int n);
  const std::string& error() const { return error_; }
  // Samples per phase; valid after Execute.
  struct PhaseSamples {
    std::vector<double> us;
    double wall_s = 0;
    double cpu_s = -1;  // the server's CPU seconds; < 0: unknown
  };
  std::map<std::string, PhaseSamples>& samples() { return samples_; }

 private:
  using Call = std::function<grpc::Status(size_t i, std::string* what)>;
  // Runs call(i) for i < count with the pool's concurrency; records each
  // call's latency and the batch's wall time under `phase`.
  bool Batch(const std::string& phase, size_t count, const Call& call);

  grpc::Status Prepare(const std::string& key, const std::string& parent,
                       const std::string& ref);
  grpc::Status Commit(const std::string& name, const std::string& key);
  grpc::Status Stat(const std::string& key);
  grpc::Status List(size_t want);
  grpc::Status View(const std::string& key, const std::string& parent);
  grpc::Status Mounts(const std::string& key);
  grpc::Status Usage(const std::string& key);
  grpc::Status Remove(const std::string& key);

  pb::Snapshots::Stub& stub_;
  WorkerPool& pool_;
  std::string prefix_;
  Progress& progress_;
  pid_t server_pid_;
  std::map<std::string, PhaseSamples> samples_;
  std::string error_;
};

// CPU seconds process pid has run, exited threads included (its CPU-time
// clock: nanoseconds, where /proc/PID/stat counts 10 ms ticks), or < 0 when
// unreadable.
double ProcessCpuSeconds(pid_t pid) {
  clockid_t clock;
  timespec ts;
  if (pid <= 0 || clock_getcpuclockid(pid, &clock) != 0 ||
      clock_gettime(clock, &ts) != 0) {
    return -1;
  }
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void Deadline(grpc::ClientContext& ctx) {
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::seconds(120));
}

grpc::Status OpsRun::Prepare(const std::string& key, const std::string& parent,
                             const std::string& ref) {
  grpc::ClientContext ctx;
  Deadline(ctx);
  pb::PrepareSnapshotRequest req;
  req.set_snapshotter("strata");
  req.set_key(key);
  req.set_parent(parent);
  (*req.mutable_labels())["containerd.io/snapshot.ref"] = ref;
  pb::PrepareSnapshotResponse resp;
  return stub_.Prepare(&ctx, req, &resp);
}

grpc::Status OpsRun::Commit(const std::string& name, const std::string& key) {
  grpc::ClientContext ctx;
  Deadline(ctx);
  pb::CommitSnapshotRequest req;
  req.set_snapshotter("strata");
  req.set_name(name);
  req.set_key(key);
  google::protobuf::Empty resp;
  return stub_.Commit(&ctx, req, &resp);
}

grpc::Status OpsRun::Stat(const std::string& key) {
  grpc::ClientContext ctx;
  Deadline(ctx);
  pb::StatSnapshotRequest req;
  req.set_snapshotter("strata");
  req.set_key(key);
  pb::StatSnapshotResponse resp;
  grpc::Status s = stub_.Stat(&ctx, req, &resp);
  if (s.ok() && resp.info().name() != key) {
    return grpc::Status(grpc::INTERNAL,
                        "stat answered for \"" + resp.info().name() + "\"");
  }
  return s;
}

grpc::Status OpsRun::List(size_t want) {
  grpc::ClientContext ctx;
  Deadline(ctx);
  pb::ListSnapshotsRequest req;
  req.set_snapshotter("strata");
  auto reader = stub_.List(&ctx, req);
  pb::ListSnapshotsResponse resp;
  size_t got = 0;
  while (reader->Read(&resp)) {
    for (const auto& info : resp.info())
      got += info.name().rfind(prefix_, 0) == 0;
  }
  grpc::Status s = reader->Finish();
  if (s.ok() && got != want) {
    return grpc::Status(grpc::INTERNAL, "list returned " + std::to_string(got) +
                                            " of this run's snapshots, want " +
                                            std::to_string(want));
  }
  return s;
}

grpc::Status OpsRun::View(const std::string& key, const std::string& parent) {
  grpc::ClientContext ctx;
  Deadline(ctx);
  pb::ViewSnapshotRequest req;
  req.set_snapshotter("strata");
  req.set_key(key);
  req.set_parent(parent);
  pb::ViewSnapshotResponse resp;
  return stub_.View(&ctx, req, &resp);
}

grpc::Status OpsRun::Mounts(const std::string& key) {
  grpc::ClientContext ctx;
  Deadline(ctx);
  pb::MountsRequest req;
  req.set_snapshotter("strata");
  req.set_key(key);
  pb::MountsResponse resp;
  grpc::Status s = stub_.Mounts(&ctx, req, &resp);
  if (s.ok() && resp.mounts_size() == 0)
    return grpc::Status(grpc::INTERNAL, "no mounts");
  return s;
}

grpc::Status OpsRun::Usage(const std::string& key) {
  grpc::ClientContext ctx;
  Deadline(ctx);
  pb::UsageRequest req;
  req.set_snapshotter("strata");
  req.set_key(key);
  pb::UsageResponse resp;
  return stub_.Usage(&ctx, req, &resp);
}

grpc::Status OpsRun::Remove(const std::string& key) {
  grpc::ClientContext ctx;
  Deadline(ctx);
  pb::RemoveSnapshotRequest req;
  req.set_snapshotter("strata");
  req.set_key(key);
  google::protobuf::Empty resp;
  return stub_.Remove(&ctx, req, &resp);
}

bool OpsRun::Batch(const std::string& phase, size_t count, const Call& call) {
  if (!error_.empty() || count == 0) return error_.empty();
  progress_.Show(phase);
  std::vector<std::vector<double>> per_worker(pool_.size());
  std::mutex err_mu;
  std::atomic<bool> failed{false};
  const double cpu0 = ProcessCpuSeconds(server_pid_);
  auto t0 = Clock::now();
  pool_.Run(count, [&](size_t i, int w) {
    if (failed.load(std::memory_order_relaxed)) return;
    std::string what;
    auto c0 = Clock::now();
    grpc::Status s = call(i, &what);
    per_worker[w].push_back(Us(Clock::now() - c0));
    if (!s.ok()) {
      std::lock_guard<std::mutex> lock(err_mu);
      if (!failed.exchange(true)) {
        error_ = phase + " " + what + ": code " +
                 std::to_string(s.error_code()) + ": " + s.error_message();
      }
    }
  });
  PhaseSamples& ps = samples_[phase];
  ps.wall_s += std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu1 = ProcessCpuSeconds(server_pid_);
  if (cpu0 >= 0 && cpu1 >= 0) ps.cpu_s = std::max(ps.cpu_s, 0.0) + cpu1 - cpu0;
  for (auto& v : per_worker) ps.us.insert(ps.us.end(), v.begin(), v.end());
  return !failed;
}

bool OpsRun::Execute(int n) {
  // Half the snapshots as chains of up to kChainLength layers, the rest as
  // children of a few bases. Each level of every chain is one batch, so at
  // concurrency c up to c chains grow at once.
  const int chained = n / 2;
  const int chains = std::max(1, (chained + kChainLength - 1) / kChainLength);
  const int treed = n - chained;
  const int bases = std::max(1, std::min(kMaxBases, treed / 16));
  const int children = std::max(0, treed - bases);

  // levels[l] = names of the committed layers at depth l (0 = no parent).
  std::vector<std::vector<std::string>> levels;
  std::vector<std::string> committed;
  auto chain_name = [&](int chain, int level) {
    return prefix_ + "chain" + std::to_string(chain) + "/" +
           std::to_string(level);
  };
  for (int j = 0; j < chained; ++j) {
    int chain = j % chains, level = j / chains;
    if (static_cast<int>(levels.size()) <= level) levels.emplace_back();
    levels[level].push_back(chain_name(chain, level));
  }
  for (size_t l = 0; l < levels.size(); ++l) {
    const auto& names = levels[l];
    auto parent_of = [&](size_t i) {
      return l == 0 ? std::string()
                    : chain_name(static_cast<int>(i % chains),
                                 static_cast<int>(l - 1));
    };
    if (!Batch("Prepare", names.size(),
               [&](size_t i, std::string* what) {
                 *what = names[i] + "/active";
                 return Prepare(*what, parent_of(i), names[i]);
               }) ||
        !Batch("Commit", names.size(), [&](size_t i, std::string* what) {
          *what = names[i];
          return Commit(names[i], names[i] + "/active");
        })) {
      return false;
    }
    committed.insert(committed.end(), names.begin(), names.end());
  }
  std::vector<std::string> base_names, child_names;
  for (int b = 0; b < bases; ++b)
    base_names.push_back(prefix_ + "tree" + std::to_string(b));
  for (int c = 0; c < children; ++c) {
    child_names.push_back(base_names[c % bases] + "/" + std::to_string(c));
  }
  for (const auto* names : {&base_names, &child_names}) {
    const bool is_child = names == &child_names;
    if (!Batch("Prepare", names->size(),
               [&](size_t i, std::string* what) {
                 *what = (*names)[i] + "/active";
                 return Prepare(*what, is_child ? base_names[i % bases] : "",
                                (*names)[i]);
               }) ||
        !Batch("Commit", names->size(), [&](size_t i, std::string* what) {
          *what = (*names)[i];
          return Commit((*names)[i], (*names)[i] + "/active");
        })) {
      return false;
    }
    committed.insert(committed.end(), names->begin(), names->end());
  }

  // Reads over every committed snapshot, then one view of each.
  const size_t lists = std::max<size_t>(16, committed.size() / 50);
  std::vector<std::string> views;
  for (size_t i = 0; i < committed.size(); ++i)
    views.push_back(prefix_ + "view" + std::to_string(i));
  if (!Batch("Stat", committed.size(),
             [&](size_t i, std::string* what) {
               *what = committed[i];
               return Stat(committed[i]);
             }) ||
      !Batch("List", lists,
             [&](size_t, std::string* what) {
               *what = "(all)";
               return List(committed.size());
             }) ||
      !Batch("View", views.size(),
             [&](size_t i, std::string* what) {
               *what = views[i];
               return View(views[i], committed[i]);
             }) ||
      !Batch("Mounts", views.size(),
             [&](size_t i, std::string* what) {
               *what = views[i];
               return Mounts(views[i]);
             }) ||
      !Batch("Usage", committed.size(), [&](size_t i, std::string* what) {
        *what = committed[i];
        return Usage(committed[i]);
      })) {
    return false;
  }

  // Remove: views, then chains from the top, then tree children, then bases.
  auto remove = [&](const std::vector<std::string>& keys) {
    return Batch("Remove", keys.size(), [&](size_t i, std::string* what) {
      *what = keys[i];
      return Remove(keys[i]);
    });
  };
  if (!remove(views)) return false;
  for (auto l = levels.rbegin(); l != levels.rend(); ++l) {
    if (!remove(*l)) return false;
  }
  return remove(child_names) && remove(base_names);
}

// p50 and p99 of fsync (or fdatasync): fsync is the physical floor of a
// durable metadata commit; fdatasync skips the mtime journal commit, which is
// what LMDB (and bolt) pay per sync when the file does not grow.
bool SyncFloor(const std::string& dir, int n, bool datasync, double* p50,
               double* p99) {
  std::vector<double> us = SyncLatencies(dir, n, datasync);
  *p50 = Percentile(us, 0.5);
  *p99 = Percentile(us, 0.99);
  return static_cast<int>(us.size()) == n;
}

std::string NowUtc() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::vector<int> ParseList(const std::string& s) {
  std::vector<int> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    int v = std::atoi(item.c_str());
    if (v <= 0) return {};
    out.push_back(v);
  }
  return out;
}

int RunReport(const std::string& report, const std::string& json,
              const std::string& out) {
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    execlp("python3", "python3", report.c_str(), json.c_str(), out.c_str(),
           nullptr);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace

int RunBenchOps(const std::vector<std::string>& args) {
  std::string address, peer_address, fsync_dir, out_dir = ".", report;
  int n = 2000, rounds = 3;
  pid_t strata_pid = 0, peer_pid = 0;
  std::vector<int> concurrency = {1, 16, 64};
  std::string command = "strata bench ops";
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    command += " " + a;
    if (i + 1 >= args.size()) {
      std::fprintf(stderr, "strata bench ops: %s needs a value\n%s", a.c_str(),
                   kUsage);
      return 2;
    }
    const std::string& v = args[++i];
    command += " " + v;
    if (a == "--address")
      address = v;
    else if (a == "--peer-address")
      peer_address = v;
    else if (a == "--n")
      n = std::atoi(v.c_str());
    else if (a == "--rounds")
      rounds = std::atoi(v.c_str());
    else if (a == "--concurrency")
      concurrency = ParseList(v);
    else if (a == "--fsync-dir")
      fsync_dir = v;
    else if (a == "--out")
      out_dir = v;
    else if (a == "--report")
      report = v;
    else if (a == "--pid")
      strata_pid = std::atoi(v.c_str());
    else if (a == "--peer-pid")
      peer_pid = std::atoi(v.c_str());
    else {
      std::fprintf(stderr, "strata bench ops: unknown flag %s\n%s", a.c_str(),
                   kUsage);
      return 2;
    }
  }
  if (address.empty() || peer_address.empty() || n < 2 || rounds < 1 ||
      concurrency.empty()) {
    std::fprintf(
        stderr,
        "strata bench ops: need --address and --peer-address, --n >= 2, "
        "--rounds >= 1 and --concurrency a list of positive numbers\n%s",
        kUsage);
    return 2;
  }
  if (report.empty()) report = FindReportScript();
  if (mkdir(out_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    std::fprintf(stderr, "strata bench ops: create %s: %m\n", out_dir.c_str());
    return 1;
  }

  OpsResults res;
  res.command = command;
  res.started = NowUtc();
  res.fsync_dir = fsync_dir;
  res.n = n;
  res.rounds = rounds;
  res.concurrency = concurrency;
  res.phases.assign(std::begin(kPhases), std::end(kPhases));

  // One channel per server, as containerd keeps one connection to a proxy
  // plugin; concurrent RPCs share it as HTTP/2 streams.
  std::map<std::string, std::unique_ptr<pb::Snapshots::Stub>> stubs;
  stubs[kStrata] = pb::Snapshots::NewStub(grpc::CreateChannel(
      "unix:" + address, grpc::InsecureChannelCredentials()));
  stubs[kPeer] = pb::Snapshots::NewStub(grpc::CreateChannel(
      "unix:" + peer_address, grpc::InsecureChannelCredentials()));
  std::map<int, std::unique_ptr<WorkerPool>> pools;
  for (int c : concurrency) pools[c] = std::make_unique<WorkerPool>(c);

  const std::string run_id = "bench-ops-" + std::to_string(getpid()) + "/";
  Progress progress;
  for (int round = 1; round <= rounds; ++round) {
    if (!fsync_dir.empty()) {
      double p50 = 0, p99 = 0, d50 = 0, d99 = 0;
      if (!SyncFloor(fsync_dir, 200, false, &p50, &p99) ||
          !SyncFloor(fsync_dir, 200, true, &d50, &d99)) {
        std::fprintf(stderr, "strata bench ops: fsync probe in %s failed: %m\n",
                     fsync_dir.c_str());
        return 1;
      }
      res.fsync_p50_us.push_back(p50);
      res.fsync_p99_us.push_back(p99);
      res.fdatasync_p50_us.push_back(d50);
    }
    for (int c : concurrency) {
      for (const char* server : {kStrata, kPeer}) {
        progress.run = "round " + std::to_string(round) + "/" +
                       std::to_string(rounds) + " c" + std::to_string(c) + " " +
                       server;
        std::string prefix = run_id + "r" + std::to_string(round) + "-c" +
                             std::to_string(c) + "/";
        OpsRun run(*stubs[server], *pools[c], prefix, progress,
                   server == std::string(kStrata) ? strata_pid : peer_pid);
        auto t0 = Clock::now();
        if (!run.Execute(n)) {
          std::fprintf(stderr, "\nstrata bench ops: %s (%s): %s\n", server,
                       server == std::string(kStrata) ? address.c_str()
                                                      : peer_address.c_str(),
                       run.error().c_str());
          return 1;
        }
        progress.Show("done", true);
        std::fprintf(stderr, " %.1fs\n",
                     std::chrono::duration<double>(Clock::now() - t0).count());
        for (auto& [phase, s] : run.samples()) {
          PhaseRun p;
          p.server = server;
          p.round = round;
          p.concurrency = c;
          p.phase = phase;
          p.ops = s.us.size();
          p.wall_s = s.wall_s;
          p.p50_us = Percentile(s.us, 0.5);
          p.p99_us = Percentile(s.us, 0.99);
          p.cpu_s = s.cpu_s;
          res.runs.push_back(p);
        }
      }
    }
  }

  std::vector<TargetResult> targets = EvaluateTargets(res);
  PrintSummary(res, targets, stdout);
  std::fflush(stdout);
  std::string json = out_dir + "/ops.json";
  if (!WriteResultsJson(res, targets, json)) {
    std::fprintf(stderr, "strata bench ops: cannot write %s\n", json.c_str());
    return 1;
  }
  std::printf("%s\n", json.c_str());
  std::fflush(stdout);
  if (report.empty()) {
    std::fprintf(stderr,
                 "strata bench ops: bench/report.py not found (pass --report); "
                 "no Markdown "
                 "or plots\n");
    return 1;
  }
  if (int rc = RunReport(report, json, out_dir); rc != 0) {
    std::fprintf(stderr, "strata bench ops: %s failed (exit %d)\n",
                 report.c_str(), rc);
    return 1;
  }
  return 0;
}

}  // namespace strata
