#include "bench/harness/cow.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include "bench/harness/client.h"
#include "bench/harness/common.h"
#include "bench/harness/cow_run.h"
#include "bench/harness/loop.h"
#include "bench/harness/proc.h"
#include "io/base/errno.h"

namespace strata {

const char kBenchCowUsage[] =
    "usage: strata bench cow [--work DIR] [--out DIR] [--configs LIST] "
    "[--sizes LIST]\n"
    "                        [--reps N] [--images LIST] [--layers N] [--peer "
    "PATH|none]\n"
    "                        [--daemon PATH] [--report PATH|none]\n"
    "  --work DIR     scratch directory for the loop images (default\n"
    "                 /var/tmp/strata-bench-cow); images are sparse, deleted "
    "at exit\n"
    "  --out DIR      results: cow.json, cow.md, PNG plots (default "
    "WORK/results)\n"
    "  --configs LIST "
    "overlay-ext4,overlay-xfs,reflink-xfs,reflink-btrfs,copy-ext4\n"
    "                 (default: all)\n"
    "  --sizes LIST   lower file sizes (default 4K,1M,64M; add 1G for the full "
    "matrix)\n"
    "  --reps N       samples per cell, each in a fresh child (default 3)\n"
    "  --images LIST  file counts of the images whose child Prepare is timed\n"
    "                 (default 1000,20000; none to skip)\n"
    "  --layers N     containerd benchsuite layers (default 16; 0 to skip)\n"
    "  --peer PATH    strata-peer binary (bench/build-go.sh peer DIR) to run "
    "the\n"
    "                 benchsuite against containerd's overlayfs snapshotter "
    "too\n"
    "                 (default: strata-peer beside this binary, if present)\n"
    "  --daemon PATH  strata-snapshotter (default: beside this binary)\n"
    "  --report PATH  bench/report.py (default: found beside this binary)\n"
    "Needs root (loop devices, mounts). Progress on stderr.\n";

namespace {

const CowConfig kConfigs[] = {
    {"overlay-ext4", "ext4", "overlay"}, {"overlay-xfs", "xfs", "overlay"},
    {"reflink-xfs", "xfs", "reflink"},   {"reflink-btrfs", "btrfs", "reflink"},
    {"copy-ext4", "ext4", "copy"},
};

std::atomic<bool> g_interrupted{false};
void OnSignal(int) { g_interrupted = true; }

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

bool Exists(const std::string& p) { return access(p.c_str(), F_OK) == 0; }

Status MakeDirs(const std::string& path) {
  std::string cur;
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      cur = path.substr(0, i);
      if (mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST)
        return PosixError("mkdir " + cur, errno);
    }
  }
  return Status::Ok();
}

std::string FirstLine(const std::string& file, const std::string& prefix) {
  std::ifstream f(file);
  for (std::string line; std::getline(f, line);) {
    if (line.rfind(prefix, 0) == 0) {
      size_t colon = line.find(':');
      std::string v =
          colon == std::string::npos ? line : line.substr(colon + 1);
      size_t b = v.find_first_not_of(" \t");
      return b == std::string::npos ? "" : v.substr(b);
    }
  }
  return "";
}

std::map<std::string, std::string> Machine(const std::string& work) {
  std::map<std::string, std::string> m;
  utsname u{};
  if (uname(&u) == 0) m["kernel"] = std::string(u.sysname) + " " + u.release;
  m["cpu"] = FirstLine("/proc/cpuinfo", "model name");
  m["cores"] = std::to_string(sysconf(_SC_NPROCESSORS_ONLN));
  std::string mem = FirstLine("/proc/meminfo", "MemTotal");
  if (!mem.empty())
    m["memory"] = std::to_string(std::atoll(mem.c_str()) / (1 << 20)) + " GiB";
  m["loop images on"] = work;
  // The machine may be shared: say how busy it was.
  std::ifstream load("/proc/loadavg");
  std::string l1, l5;
  if (load >> l1 >> l5) m["load average at start"] = l1 + " " + l5;
  return m;
}

std::string Now() {
  std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&t));
  return buf;
}

struct Options {
  std::string work = "/var/tmp/strata-bench-cow";
  std::string out;
  std::vector<CowConfig> configs;
  CowRunOptions run;
  std::string peer;
  std::string daemon;
  std::string report;
};

Result<Options> Parse(const std::vector<std::string>& args) {
  Options o;
  o.run.sizes = {4 << 10, 1 << 20, 64 << 20};
  o.run.images = {1000, 20000};
  std::string exe = ExeDir();
  o.daemon = exe + "/strata-snapshotter";
  o.peer = Exists(exe + "/strata-peer") ? exe + "/strata-peer" : "none";
  o.report = FindReportScript();
  std::vector<std::string> names;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (i + 1 >= args.size()) return InvalidArgument("missing value for " + a);
    const std::string& v = args[++i];
    if (a == "--work")
      o.work = v;
    else if (a == "--out")
      o.out = v;
    else if (a == "--configs")
      names = Split(v);
    else if (a == "--peer")
      o.peer = v;
    else if (a == "--daemon")
      o.daemon = v;
    else if (a == "--report")
      o.report = v;
    else if (a == "--reps" || a == "--layers") {
      int n = std::atoi(v.c_str());
      if (n < (a == "--reps" ? 1 : 0) || std::to_string(n) != v) {
        return InvalidArgument("bad " + a + " " + v);
      }
      (a == "--reps" ? o.run.reps : o.run.layers) = n;
    } else if (a == "--sizes") {
      o.run.sizes.clear();
      for (const auto& s : Split(v)) {
        uint64_t b = ParseSize(s);
        if (b == 0)
          return InvalidArgument("bad size " + s + " (4K, 1M, 64M, 1G)");
        o.run.sizes.push_back(b);
      }
    } else if (a == "--images") {
      o.run.images.clear();
      for (const auto& s : Split(v == "none" ? "" : v)) {
        uint64_t n = std::strtoull(s.c_str(), nullptr, 10);
        if (n < 4 || std::to_string(n) != s)
          return InvalidArgument("bad image file count " + s);
        o.run.images.push_back(n);
      }
    } else {
      return InvalidArgument("unknown option " + a);
    }
  }
  if (names.empty()) {
    o.configs.assign(std::begin(kConfigs), std::end(kConfigs));
  } else {
    for (const auto& n : names) {
      bool found = false;
      for (const auto& c : kConfigs) {
        if (c.name == n) {
          o.configs.push_back(c);
          found = true;
        }
      }
      if (!found) return InvalidArgument("unknown config " + n);
    }
  }
  if (o.run.sizes.empty()) return InvalidArgument("--sizes is empty");
  if (o.out.empty()) o.out = o.work + "/results";
  if (!Exists(o.daemon))
    return NotFound("strata-snapshotter not found at " + o.daemon +
                    " (--daemon)");
  if (o.peer != "none" && !Exists(o.peer))
    return NotFound("strata-peer not found at " + o.peer);
  return o;
}

// One line on stderr, redrawn in place on a terminal.
class ProgressLine {
 public:
  ProgressLine() : tty_(isatty(STDERR_FILENO)) {}
  ~ProgressLine() { Done(); }
  void SetPrefix(std::string p) {
    Done();
    prefix_ = std::move(p);
    if (!tty_) std::fprintf(stderr, "strata bench cow: %s\n", prefix_.c_str());
  }
  Status Update(const std::string& step) {
    if (g_interrupted) return Status(Code::kCanceled, "interrupted");
    if (tty_) {
      std::fprintf(stderr, "\r\033[K%s: %s", prefix_.c_str(), step.c_str());
      drawn_ = true;
    }
    return Status::Ok();
  }
  void Done() {
    if (drawn_) std::fputs("\r\033[K", stderr);
    drawn_ = false;
  }

 private:
  bool tty_;
  bool drawn_ = false;
  std::string prefix_;
};

// Stops a server and reports a failure to stop as the run's error.
Status StopServer(std::unique_ptr<ServerProcess>& s) {
  Status st = s->Stop();
  s.reset();
  return st;
}

Status RunConfig(const Options& o, const CowConfig& cfg, uint64_t image_bytes,
                 ProgressLine& progress, CowResults& res) {
  std::string dir = o.work + "/" + cfg.name;
  STRATA_RETURN_IF_ERROR(MakeDirs(dir));
  auto step = [&](const std::string& s) { return progress.Update(s); };
  STRATA_RETURN_IF_ERROR(step("mkfs." + cfg.fs + " on a loop device"));
  STRATA_ASSIGN_OR_RETURN(
      auto fs, LoopMount::Make(cfg.fs, dir + "/image", image_bytes, dir + "/fs",
                               dir + "/mkfs.log"));
  res.machine["loop direct I/O"] = fs->direct_io() ? "on" : "off";
  std::string mnt = dir + "/m";
  STRATA_RETURN_IF_ERROR(MakeDirs(mnt));
  std::string sock = dir + "/strata.sock";
  STRATA_ASSIGN_OR_RETURN(
      auto server, ServerProcess::Start(
                       {o.daemon, "--root", fs->path() + "/strata", "--address",
                        sock, "--backend", cfg.backend, "--log-level", "warn"},
                       sock, dir + "/daemon.log"));
  SnapshotClient client(sock);
  CowRunner runner(client, fs->path(), mnt, o.run, step);
  STRATA_RETURN_IF_ERROR(runner.FirstOps(cfg.name, res.cells, res.prepares));
  STRATA_RETURN_IF_ERROR(runner.Images(cfg.name, res.prepares));
  if (o.run.layers > 0) {
    // containerd's overlayfs on the same filesystem, alternating with
    // Strata rep by rep (A B A B).
    std::unique_ptr<ServerProcess> peer;
    std::unique_ptr<SnapshotClient> peer_client;
    std::unique_ptr<CowRunner> peer_runner;
    if (o.peer != "none") {
      std::string psock = dir + "/peer.sock";
      STRATA_ASSIGN_OR_RETURN(
          peer, ServerProcess::Start(
                    {o.peer, "--root", fs->path() + "/peer", "--address", psock,
                     "--snapshotter", "overlayfs"},
                    psock, dir + "/peer.log"));
      peer_client = std::make_unique<SnapshotClient>(psock);
      peer_runner = std::make_unique<CowRunner>(
          *peer_client, fs->path(), mnt, o.run,
          [&](const std::string& s) { return step("peer overlayfs: " + s); });
    }
    for (int rep = 0; rep < o.run.reps; ++rep) {
      STRATA_ASSIGN_OR_RETURN(
          SuiteRun run,
          runner.Benchsuite("strata " + cfg.backend, cfg.fs, rep));
      run.config = cfg.name;
      res.suites.push_back(std::move(run));
      if (peer_runner) {
        STRATA_ASSIGN_OR_RETURN(
            SuiteRun prun,
            peer_runner->Benchsuite("peer overlayfs", cfg.fs, rep));
        prun.config = cfg.name;
        res.suites.push_back(std::move(prun));
      }
    }
    if (peer) STRATA_RETURN_IF_ERROR(StopServer(peer));
  }
  STRATA_RETURN_IF_ERROR(StopServer(server));
  rmdir(mnt.c_str());
  return Status::Ok();
}

int Fail(const Status& s) {
  std::fprintf(stderr, "strata bench cow: %s\n", s.ToString().c_str());
  return s.code() == Code::kInvalidArgument ? 2 : 1;
}

}  // namespace

int RunBenchCow(const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (a == "help" || a == "--help" || a == "-h") {
      std::fputs(kBenchCowUsage, stdout);
      return 0;
    }
  }
  auto opts = Parse(args);
  if (!opts.ok()) {
    int rc = Fail(opts.status());
    std::fputs("(`strata bench cow help` lists the options)\n", stderr);
    return rc;
  }
  const Options& o = *opts;
  if (geteuid() != 0)
    return Fail(FailedPrecondition("needs root (loop devices and mounts)"));
  // Before any thread exists: every mount from here on is ours alone and
  // goes away with this process, even if it is killed.
  if (Status s = EnterPrivateMountNs(); !s.ok()) return Fail(s);
  if (Status s = MakeDirs(o.work); !s.ok()) return Fail(s);
  if (Status s = MakeDirs(o.out); !s.ok()) return Fail(s);
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  CowResults res;
  res.command = "strata bench cow";
  for (const auto& a : args) res.command += " " + a;
  res.started = Now();
  res.machine = Machine(o.work);
  for (const auto& c : o.configs) res.configs.push_back(c.name);
  res.sizes = o.run.sizes;
  res.reps = o.run.reps;
  uint64_t largest = *std::max_element(o.run.sizes.begin(), o.run.sizes.end());
  uint64_t image_bytes =
      std::max<uint64_t>(2ULL << 30, 3 * largest + (1ULL << 30));
  res.notes.push_back(
      "Each configuration runs on its own freshly made loop filesystem (" +
      SizeName(image_bytes) +
      " sparse image) with a strata-snapshotter of that backend; "
      "everything goes through the gRPC API and the Mounts answers.");
  if (o.peer == "none") {
    res.notes.push_back(
        "No strata-peer binary: containerd's overlayfs was not measured "
        "(bench/build-go.sh peer build/bin, or --peer PATH).");
  }
  ProgressLine progress;
  auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < o.configs.size(); ++i) {
    const CowConfig& cfg = o.configs[i];
    progress.SetPrefix("[" + std::to_string(i + 1) + "/" +
                       std::to_string(o.configs.size()) + "] " + cfg.name);
    Status s = RunConfig(o, cfg, image_bytes, progress, res);
    if (!s.ok()) {
      progress.Done();
      return Fail(s.WithContext(cfg.name));
    }
  }
  progress.Done();
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  res.notes.push_back("Whole run: " + std::to_string(static_cast<int>(secs)) +
                      " s.");
  std::string json_path = o.out + "/cow.json";
  {
    std::ofstream f(json_path);
    f << CowResultsJson(res);
    if (!f.good())
      return Fail(PosixError("write " + json_path, errno ? errno : EIO));
  }
  std::printf("%s\n", json_path.c_str());
  std::fflush(stdout);
  if (o.report == "none") return 0;
  if (o.report.empty()) {
    return Fail(NotFound(
        "bench/report.py not found beside this binary (--report PATH)"));
  }
  if (Status s =
          RunCommand({"python3", o.report, json_path, o.out}, "/dev/stdout");
      !s.ok()) {
    return Fail(s.WithContext("render " + json_path));
  }
  return 0;
}

}  // namespace strata
