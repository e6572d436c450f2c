// strata_crash_campaign: proves that nothing strata-snapshotter acknowledged
// is lost when it is killed with SIGKILL (--mode kill) or when the
// filesystem under its root stops as in a power cut (--mode powercut:
// FS_IOC_GOINGDOWN without a log flush, then the image is mounted again).
//
// Each round starts the daemon on a loop-mounted ext4 or xfs root, lets
// writer threads Prepare, fill, Commit and Remove snapshots over containerd's
// Snapshots API, cuts after a seed-driven delay, restarts the daemon and
// checks, over the API, every commit and remove acknowledged in this round
// and all earlier ones: each commit is there with its parent and a view of it
// holds every ancestor's file byte for byte; each removed snapshot is gone;
// snapshots/ holds exactly the daemon's records. The root is kept across
// rounds. Exit 0 only if nothing was lost and nothing orphaned; 77 if the
// machine cannot run it (root, loop devices, mkfs.<fs>); 2 on bad flags.
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "io/fs/fs_util.h"
#include "io/fs/mount.h"
#include "io/tar/tar_test_util.h"
#include "tests/daemon/campaign_client.h"
#include "tests/daemon/campaign_fs.h"
#include "tests/daemon/campaign_ledger.h"
#include "tests/daemon/daemon_process.h"
#include "tests/testutil/temp_dir.h"

namespace strata {
namespace {

constexpr int kExitSkip = 77;
// Above this many live snapshots, acknowledged leaves are removed between
// rounds down to kPruneTo.
constexpr size_t kPruneAbove = 400;
constexpr size_t kPruneTo = 300;
// Threads that check views after a restart.
constexpr int kVerifiers = 4;

constexpr char kUsage[] =
    "usage: strata_crash_campaign [--mode kill|powercut] [--fs ext4|xfs]\n"
    "         [--rounds N] [--writers N] [--seed S] [--backend overlay|copy]\n"
    "         [--apply upper|mount|import] [--client-syncfs] [--keep DIR]\n"
    "         [--daemon-arg X]...\n"
    "\n"
    "Runs strata-snapshotter on a fresh loop-mounted filesystem (1 GiB sparse\n"
    "image) and, each round, lets writer threads Prepare/Commit/Remove\n"
    "snapshots until a cut, restarts the daemon and verifies that every\n"
    "acknowledged commit (with its ancestors' bytes) and remove survived.\n"
    "\n"
    "  --mode MODE     kill: SIGKILL the daemon (default); powercut: shut\n"
    "                  the filesystem down without a log flush\n"
    "                  (FS_IOC_GOINGDOWN), SIGKILL the daemon, mount the\n"
    "                  image again (journal replay)\n"
    "  --fs TYPE       ext4 (default) or xfs\n"
    "  --rounds N      rounds on the same root (default 3)\n"
    "  --writers N     writer threads (default 8)\n"
    "  --seed S        random seed (default: from the clock; always printed)\n"
    "  --backend NAME  the daemon's backend: overlay (default) or copy\n"
    "  --apply HOW     how a writer fills an active snapshot. upper\n"
    "                  (default): straight into the upperdir of a single\n"
    "                  overlay mount, as containerd's applier does, and\n"
    "                  through a mount otherwise. mount: always through a\n"
    "                  mount (unmounting an overlay syncs its upper\n"
    "                  filesystem, which hides a daemon's missing sync).\n"
    "                  import: a layer through Strata's import API holding\n"
    "                  the writer's file and two files every layer shares\n"
    "                  (48 KiB and 400 KiB: content sharing's sink and\n"
    "                  streamed paths on XFS); views check those too, and "
    "each\n"
    "                  restart that recovery pruned no index row\n"
    "  --client-syncfs before each Commit the writer syncs the filesystem\n"
    "                  itself, doing the daemon's job: a check of the\n"
    "                  campaign, which must then find no loss in any mode\n"
    "  --keep DIR      on failure, move the image and daemon logs to DIR\n"
    "  --daemon-arg X  an extra strata-snapshotter flag (repeatable)\n"
    "\n"
    "Exit status: 0 if nothing acknowledged was lost and nothing orphaned,\n"
    "1 otherwise, 2 on bad flags, 77 if the machine cannot run it (needs\n"
    "root, loop devices, mkfs.<fs>).\n";

struct Options {
  std::string mode = "kill";
  std::string fs = "ext4";
  int rounds = 3;
  int writers = 8;
  uint64_t seed = 0;
  bool seed_set = false;
  std::string backend = "overlay";
  std::string apply = "upper";
  bool client_syncfs = false;
  std::string keep;
  std::vector<std::string> daemon_args;
};

// Parses argv into *o; returns "" or what is wrong.
std::string ParseFlags(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string f = argv[i];
    if (f == "--help" || f == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (f == "--client-syncfs") {
      o->client_syncfs = true;
      continue;
    }
    if (i + 1 >= argc) return f + " needs a value";
    std::string v = argv[++i];
    auto number = [&](int* out) {
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (*end != '\0' || n < 1 || n > 100000) return false;
      *out = static_cast<int>(n);
      return true;
    };
    if (f == "--mode" && (v == "kill" || v == "powercut")) {
      o->mode = v;
    } else if (f == "--fs" && (v == "ext4" || v == "xfs")) {
      o->fs = v;
    } else if (f == "--rounds") {
      if (!number(&o->rounds)) return "--rounds: not a positive number: " + v;
    } else if (f == "--writers") {
      if (!number(&o->writers)) return "--writers: not a positive number: " + v;
    } else if (f == "--seed") {
      char* end = nullptr;
      o->seed = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0') return "--seed: not a number: " + v;
      o->seed_set = true;
    } else if (f == "--backend" && (v == "overlay" || v == "copy")) {
      o->backend = v;
    } else if (f == "--apply" &&
               (v == "upper" || v == "mount" || v == "import")) {
      o->apply = v;
    } else if (f == "--keep") {
      o->keep = v;
    } else if (f == "--daemon-arg") {
      o->daemon_args.push_back(v);
    } else {
      return "unknown flag or value: " + f + " " + v;
    }
  }
  return "";
}

std::string Describe(const grpc::Status& s) {
  return "code " + std::to_string(s.error_code()) + ": " + s.error_message();
}

// "exit 0", "signal 9 (Killed)".
std::string DescribeWait(int wstatus) {
  if (WIFEXITED(wstatus)) return "exit " + std::to_string(WEXITSTATUS(wstatus));
  if (WIFSIGNALED(wstatus)) {
    return "signal " + std::to_string(WTERMSIG(wstatus)) + " (" +
           strsignal(WTERMSIG(wstatus)) + ")";
  }
  return "status " + std::to_string(wstatus);
}

const char* KindWord(campaign_pb::Kind k) {
  switch (k) {
    case campaign_pb::COMMITTED:
      return "committed";
    case campaign_pb::ACTIVE:
      return "active";
    case campaign_pb::VIEW:
      return "view";
    default:
      return "unknown";
  }
}

// Writes `data` to a new file, without fsync: durability at Commit is the
// daemon's job.
bool WriteNewFile(const std::string& path, const std::string& data) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  return close(fd) == 0 && done == data.size();
}

bool ReadWholeFile(const std::string& path, std::string* out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out->clear();
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0)
    out->append(buf, static_cast<size_t>(n));
  close(fd);
  return n == 0;
}

// The upperdir of `mounts` if they are one overlay mount, else "".
std::string UpperDir(const std::vector<Mount>& mounts) {
  if (mounts.size() != 1 || mounts[0].type != "overlay") return "";
  for (const std::string& o : mounts[0].options) {
    if (o.rfind("upperdir=", 0) == 0) return o.substr(9);
  }
  return "";
}

// Less than 30% of the filesystem at `path` is free. False if unknown (a
// filesystem shut down answers EIO).
bool LowOnSpace(const std::string& path) {
  struct statvfs v;
  if (statvfs(path.c_str(), &v) != 0) return false;
  return v.f_bavail * 10 < v.f_blocks * 3;
}

bool SyncFs(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = syncfs(fd) == 0;
  close(fd);
  return ok;
}

// --apply import: files every layer carries, so that content sharing finds
// them in the index on each Commit (XFS: cloned when small, deduplicated by
// the kernel when large).
std::string Filler(const std::string& tag, size_t size) {
  std::string out;
  while (out.size() < size)
    out += ContentFor(tag + "-" + std::to_string(out.size()));
  out.resize(size);
  return out;
}
const std::string& SharedSmall() {
  static const std::string s = Filler("shared-small", 48 << 10);
  return s;
}
const std::string& SharedBig() {
  static const std::string s = Filler("shared-big", 400 << 10);
  return s;
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

class Campaign {
 public:
  Campaign(Options o, std::string work)
      : o_(std::move(o)),
        work_(std::move(work)),
        fs_(o_.fs, work_),
        sock_(work_ + "/s.sock"),
        root_(work_ + "/mnt/root") {}

  int Run();

 private:
  enum class Outcome { kDone, kSkip, kAbort };

  Outcome Round(int round);
  Outcome WriteAndCut(int round);
  Outcome Verify(int round);
  void Writer(int round, int t, CampaignClient* client, uint64_t seed);
  void PrepareCommit(int round, int t, const std::string& key,
                     std::mt19937_64& rng, CampaignClient* client);
  void PrepareRemove(int round, const std::string& key, std::mt19937_64& rng,
                     CampaignClient* client);
  void RemoveLeaf(int round, int t, std::mt19937_64& rng,
                  CampaignClient* client);
  // Checks that commit `r` is there on its parent and that a view of it,
  // mounted on `mnt`, shows its chain's files; reports a loss if not.
  void VerifyCommit(int round, const CommitRecord& r, CampaignClient* client,
                    const std::string& mnt);
  // Why a view of `r`, mounted on `mnt`, does not show exactly its chain's
  // files, or "".
  std::string CheckView(int round, const CommitRecord& r,
                        CampaignClient* client, const std::string& mnt);
  // |snapshots/ entries − records| + committed records without a directory.
  // after_restart: also count (and quote the first few of) the committed
  // records without a directory that the daemon's recovery reported in `log`.
  long Orphans(CampaignClient* client, const std::string& log, const char* when,
               bool after_restart);
  void Cleanup(CampaignClient* client);
  int Prune(int round, CampaignClient* client);
  bool StartDaemon(const std::string& log);
  void StopDaemon();
  void UnmountLeftovers();

  // An error a writer met. Before the cut it fails the round; after it, it
  // is expected and only ends the writer's iteration.
  void CheckIndex(const std::vector<campaign_pb::Info>& infos,
                  const std::string& status, const char* when);
  void WriterError(const std::string& what) {
    if (cut_.load()) {
      errors_after_cut_++;
      // Until the writers are stopped, do not spin on a dead daemon.
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      return;
    }
    Fail("before the cut: " + what);
  }
  void Fail(const std::string& why) {
    std::lock_guard<std::mutex> l(fail_mu_);
    std::printf("FAIL: %s\n", why.c_str());
    std::fflush(stdout);
    failures_++;
  }
  void Lost(const std::string& why) {
    std::lock_guard<std::mutex> l(fail_mu_);
    std::printf("LOST: %s\n", why.c_str());
    std::fflush(stdout);
    lost_++;
    round_lost_++;
  }
  std::string Log(const std::string& phase, int round) const {
    return work_ + "/daemon-r" + std::to_string(round) + "-" + phase + ".log";
  }

  Options o_;
  std::string work_;
  CampaignFs fs_;
  std::string sock_;
  std::string root_;
  Daemon daemon_;
  Ledger ledger_;
  std::atomic<bool> cut_{false};
  std::atomic<bool> stop_{false};
  std::mutex fail_mu_;
  int failures_ = 0;  // GUARDED_BY(fail_mu_) while writers run
  std::atomic<long> commits_{0};
  std::atomic<long> removes_{0};
  std::atomic<long> round_commits_{0};
  std::atomic<long> round_removes_{0};
  std::atomic<long> errors_after_cut_{0};
  std::atomic<long> space_waits_{0};
  long lost_ = 0;
  long orphans_ = 0;
  long round_lost_ = 0;
  std::atomic<int> checked_{0};
  int rounds_done_ = 0;
  std::string cut_exit_;
  double write_seconds_ = 0;
};

bool Campaign::StartDaemon(const std::string& log) {
  // No containerd: the diff service stays off.
  std::vector<std::string> args{"--root", root_, "--address", sock_};
  args.insert(args.end(), {"--backend", o_.backend, "--containerd-address", "",
                           "--log-level", "info"});
  args.insert(args.end(), o_.daemon_args.begin(), o_.daemon_args.end());
  daemon_ = Start(args, log);
  if (WaitReady(sock_)) return true;
  kill(daemon_.pid, SIGKILL);
  waitpid(daemon_.pid, nullptr, 0);
  daemon_.pid = -1;
  Fail("the daemon did not serve on " + sock_ + "; its log:\n" + Slurp(log));
  return false;
}

void Campaign::StopDaemon() {
  if (daemon_.pid <= 0) return;
  kill(daemon_.pid, SIGTERM);
  int code = WaitExit(daemon_.pid, 30);
  if (code != 0) {
    Fail("the daemon did not exit 0 on SIGTERM (" + std::to_string(code) +
         "); its log:\n" + Slurp(daemon_.log));
  }
  daemon_.pid = -1;
}

void Campaign::UnmountLeftovers() {
  for (const std::string& dir : {work_ + "/m", root_}) {
    for (const std::string& m : MountsUnder(dir)) {
      if (!UnmountHard(m))
        Fail("cannot unmount " + m + ": " + std::strerror(errno));
    }
  }
}

void Campaign::PrepareCommit(int round, int t, const std::string& key,
                             std::mt19937_64& rng, CampaignClient* client) {
  std::string parent = ledger_.PickParent(rng);
  std::vector<Mount> mounts;
  grpc::Status s = client->Prepare(key, parent, &mounts);
  if (!s.ok())
    return WriterError("prepare " + key + " on \"" + parent +
                       "\": " + Describe(s));
  std::string data = ContentFor(key);
  std::string upper = o_.apply == "upper" ? UpperDir(mounts) : "";
  if (o_.apply == "import") {
    std::string tar =
        MakeEntry(Spec(key, '0', false, data.size()), data) +
        MakeEntry(Spec("shared-small", '0', false, SharedSmall().size()),
                  SharedSmall()) +
        MakeEntry(Spec("shared-big", '0', false, SharedBig().size()),
                  SharedBig()) +
        EndOfArchive();
    if (grpc::Status is = client->Import(key, tar); !is.ok())
      return WriterError("import into " + key + ": " + Describe(is));
  } else if (!upper.empty()) {
    // containerd's applier writes an overlay layer straight into its
    // upperdir: no mount, so no sync of the upper filesystem at unmount.
    if (!WriteNewFile(upper + "/" + key, data)) {
      return WriterError("write " + key + " in " + upper + ": " +
                         std::strerror(errno));
    }
  } else {
    std::string mnt = work_ + "/m/w" + std::to_string(t);
    if (Status m = MountAll(mounts, mnt); !m.ok()) {
      UnmountHard(mnt);
      return WriterError("mount " + key + ": " + m.ToString());
    }
    bool wrote = WriteNewFile(mnt + "/" + key, data);
    int write_errno = errno;
    if (!UnmountHard(mnt))
      return WriterError("unmount " + mnt + ": " + std::strerror(errno));
    if (!wrote)
      return WriterError("write " + key + ": " + std::strerror(write_errno));
  }
  if (o_.client_syncfs && !SyncFs(fs_.path())) {
    return WriterError(std::string("syncfs: ") + std::strerror(errno));
  }
  std::string name = "c-" + key;
  s = client->Commit(name, key);
  if (!s.ok())
    return WriterError("commit " + key + " as " + name + ": " + Describe(s));
  CommitRecord r;
  r.name = name;
  r.key = key;
  r.parent = parent;
  r.size = data.size();
  r.hash = Fnv64(data);
  r.round = round;
  r.writer = t;
  ledger_.AddCommit(std::move(r));
  commits_++;
  round_commits_++;
}

void Campaign::PrepareRemove(int round, const std::string& key,
                             std::mt19937_64& rng, CampaignClient* client) {
  std::string parent = ledger_.PickParent(rng);
  std::vector<Mount> mounts;
  grpc::Status s = client->Prepare(key, parent, &mounts);
  if (!s.ok())
    return WriterError("prepare " + key + " on \"" + parent +
                       "\": " + Describe(s));
  s = client->Remove(key);
  if (!s.ok()) return WriterError("remove active " + key + ": " + Describe(s));
  ledger_.AddRemove(key, round);
  removes_++;
  round_removes_++;
}

void Campaign::RemoveLeaf(int round, int t, std::mt19937_64& rng,
                          CampaignClient* client) {
  std::optional<std::string> name = ledger_.TakeLeaf(t, rng);
  if (!name) return;
  grpc::Status s = client->Remove(*name);
  if (s.ok()) {
    ledger_.AddRemove(*name, round);
    removes_++;
    round_removes_++;
  } else if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
    ledger_.RemoveFailed(*name, /*known=*/true);  // it has children: keep it
  } else {
    ledger_.RemoveFailed(*name, /*known=*/false);
    WriterError("remove " + *name + ": " + Describe(s));
  }
}

void Campaign::Writer(int round, int t, CampaignClient* client, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (int n = 0; !stop_.load(); ++n) {
    if (LowOnSpace(fs_.path())) {
      // Past the space budget a fast machine would meet ENOSPC, which is not
      // what the campaign tests: wait for the cut instead.
      space_waits_++;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    std::string key = "r" + std::to_string(round) + "-w" + std::to_string(t) +
                      "-" + std::to_string(n);
    switch (rng() % 10) {
      case 0:
      case 1:
        PrepareRemove(round, key, rng, client);
        break;
      case 2:
        RemoveLeaf(round, t, rng, client);
        break;
      default:
        PrepareCommit(round, t, key, rng, client);
    }
  }
}

Campaign::Outcome Campaign::WriteAndCut(int round) {
  if (!StartDaemon(Log("write", round))) return Outcome::kAbort;
  std::mt19937_64 rng(o_.seed * 1000003 + static_cast<uint64_t>(round));
  auto delay = std::chrono::milliseconds(300 + rng() % 2201);
  cut_ = false;
  stop_ = false;
  round_commits_ = 0;
  round_removes_ = 0;
  errors_after_cut_ = 0;
  space_waits_ = 0;
  CampaignClient client(sock_);
  std::vector<std::thread> writers;
  auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < o_.writers; ++t) {
    writers.emplace_back(&Campaign::Writer, this, round, t, &client, rng());
  }
  std::this_thread::sleep_for(delay);

  cut_ = true;
  write_seconds_ = Seconds(std::chrono::steady_clock::now() - start);
  Outcome out = Outcome::kDone;
  int wstatus = 0;
  if (o_.mode == "kill") {
    kill(daemon_.pid, SIGKILL);
    waitpid(daemon_.pid, &wstatus, 0);
    cut_exit_ = "SIGKILLed: " + DescribeWait(wstatus);
  } else {
    int err = fs_.GoingDown();
    if (err == ENOTTY || err == EOPNOTSUPP || err == ENOSYS) {
      std::printf("SKIP: %s cannot be shut down (FS_IOC_GOINGDOWN: %s)\n",
                  o_.fs.c_str(), std::strerror(err));
      out = Outcome::kSkip;
    } else if (err != 0) {
      Fail(std::string("FS_IOC_GOINGDOWN on ") + fs_.path() + ": " +
           std::strerror(err));
      out = Outcome::kAbort;
    }
    // The daemon may notice its dead root itself (it checks each second);
    // give it that chance, then cut it off like the power would.
    bool exited = false;
    for (int i = 0; i < 150 && !exited; ++i) {
      exited = waitpid(daemon_.pid, &wstatus, WNOHANG) == daemon_.pid;
      if (!exited) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (exited) {
      cut_exit_ = "exited by itself: " + DescribeWait(wstatus);
    } else {
      kill(daemon_.pid, SIGKILL);
      waitpid(daemon_.pid, &wstatus, 0);
      cut_exit_ =
          "still running after 1.5 s, SIGKILLed: " + DescribeWait(wstatus);
    }
  }
  daemon_.pid = -1;
  stop_ = true;
  for (std::thread& w : writers) w.join();
  UnmountLeftovers();
  if (out != Outcome::kDone || o_.mode == "kill") return out;

  // Power back on: the image mounts again, replaying its journal.
  if (std::string e = fs_.Unmount(); !e.empty()) {
    Fail("after the power cut: " + e);
    return Outcome::kAbort;
  }
  if (std::string e = fs_.Mount(); !e.empty()) {
    Fail("the " + o_.fs + " image does not mount after the power cut: " + e);
    return Outcome::kAbort;
  }
  return Outcome::kDone;
}

std::string Campaign::CheckView(int round, const CommitRecord& r,
                                CampaignClient* client,
                                const std::string& mnt) {
  std::vector<CommitRecord> chain = ledger_.Chain(r.name);
  if (!chain.back().parent.empty()) {
    return "ancestor " + chain.back().parent + " is not in the ledger";
  }
  std::string vkey = "verify-r" + std::to_string(round) + "-" + r.name;
  std::vector<Mount> mounts;
  grpc::Status s = client->View(vkey, r.name, &mounts);
  if (!s.ok()) return "view " + vkey + ": " + Describe(s);
  for (Mount& m : mounts) {
    if (std::find(m.options.begin(), m.options.end(), "ro") ==
        m.options.end()) {
      m.options.push_back("ro");
    }
  }
  std::string why;
  if (Status m = MountAll(mounts, mnt); !m.ok()) {
    why = "mount the view: " + m.ToString();
  } else {
    std::string data;
    for (const CommitRecord& c : chain) {
      std::string who = "file " + c.key + " of " + c.name;
      if (!ReadWholeFile(mnt + "/" + c.key, &data)) {
        why += (why.empty() ? "" : "; ") + who + " missing (" +
               std::strerror(errno) + ")";
      } else if (data.size() != c.size || Fnv64(data) != c.hash) {
        char buf[160];
        std::snprintf(buf, sizeof(buf),
                      " has %zu bytes, fnv64 %016" PRIx64 "; expected %" PRIu64
                      " bytes, fnv64 %016" PRIx64,
                      data.size(), Fnv64(data), c.size, c.hash);
        why += (why.empty() ? "" : "; ") + who + buf;
      }
    }
    long expected = static_cast<long>(chain.size());
    if (o_.apply == "import") {
      expected += 2;
      for (const auto& [name, want] :
           {std::pair<const char*, const std::string&>{"shared-small",
                                                       SharedSmall()},
            {"shared-big", SharedBig()}}) {
        if (!ReadWholeFile(mnt + "/" + name, &data) || data != want) {
          why += (why.empty() ? "" : "; ") + std::string("shared file ") +
                 name + " of " + r.name + " does not hold its bytes";
        }
      }
    }
    long entries = CountEntries(mnt);
    if (why.empty() && entries != expected) {
      why = "the view holds " + std::to_string(entries) +
            " entries, expected " + std::to_string(expected);
    }
  }
  UnmountHard(mnt);
  if (grpc::Status rs = client->Remove(vkey); !rs.ok()) {
    Fail("remove view " + vkey + ": " + Describe(rs));
  }
  return why;
}

long Campaign::Orphans(CampaignClient* client, const std::string& log,
                       const char* when, bool after_restart) {
  std::vector<campaign_pb::Info> infos;
  if (grpc::Status s = client->List(&infos); !s.ok()) {
    Fail(std::string("list ") + when + ": " + Describe(s));
    return 0;
  }
  long dirs = CountEntries(root_ + "/snapshots");
  long records = static_cast<long>(infos.size());
  // Recovery's report: committed records whose directory is gone.
  long missing = 0;
  int quoted = 0;
  std::istringstream lines(after_restart ? Slurp(log) : "");
  for (std::string line; std::getline(lines, line);) {
    if (line.find("msg=serving") != std::string::npos) {
      size_t p = line.find(" missing_dirs=");
      if (p != std::string::npos) missing = std::atol(line.c_str() + p + 14);
      // The content index changes only inside the records' transactions:
      // recovery must never find a row to prune.
      p = line.find(" content_pruned=");
      if (p != std::string::npos && std::atol(line.c_str() + p + 16) != 0) {
        Fail(std::string("recovery ") + when +
             " pruned content index rows: " + line.substr(p + 1, 40));
      }
    }
    if (line.find("committed snapshot has no directory") != std::string::npos &&
        quoted++ < 5) {
      std::printf("  daemon log: %s\n", line.c_str());
    }
  }
  long extra = dirs - (records - missing);
  long orphans = std::labs(extra) + missing;
  if (orphans != 0) {
    std::printf(
        "ORPHANS %s: %ld entries in %s/snapshots, %ld records (List), "
        "%ld committed records without a directory\n",
        when, dirs, root_.c_str(), records, missing);
  }
  // `strata status` counts the same records by kind.
  std::string out;
  long long committed = -1, active = -1, views = -1;
  if (Cli(sock_, "status", &out) != 0) {
    Fail(std::string("strata status ") + when + ": " + out);
  } else if (size_t p = out.find("snapshots:");
             p == std::string::npos ||
             std::sscanf(out.c_str() + p,
                         "snapshots: %lld committed, %lld active, %lld views",
                         &committed, &active, &views) != 3) {
    Fail("cannot read strata status: " + out);
  } else if (committed + active + views != records) {
    Fail(std::string("strata status ") + when + " counts " +
         std::to_string(committed + active + views) + " snapshots, List " +
         std::to_string(records));
  }
  // The index is kept where sharing is on: FICLONE (XFS), or hardlinks.
  const bool hardlinks = std::find(o_.daemon_args.begin(), o_.daemon_args.end(),
                                   "hardlinks") != o_.daemon_args.end();
  if (o_.apply == "import" && (o_.fs == "xfs" || hardlinks))
    CheckIndex(infos, out, when);
  return orphans;
}

// The content index against the records: every committed import holds its
// own file and the two shared ones; nothing else is indexed.
void Campaign::CheckIndex(const std::vector<campaign_pb::Info>& infos,
                          const std::string& status, const char* when) {
  long long want = 0;
  for (const auto& i : infos) {
    if (i.kind() != campaign_pb::COMMITTED || i.name().rfind("c-", 0) != 0)
      continue;
    want += 3;  // its own file and the two shared ones, all non-empty
  }
  long long digests = -1, holders = -1, pending = -1;
  size_t p = status.find("index: ");
  if (p == std::string::npos ||
      std::sscanf(status.c_str() + p,
                  "index: %lld contents, %lld holders, %lld pending", &digests,
                  &holders, &pending) != 3) {
    Fail(std::string("no content index in strata status ") + when + ": " +
         status);
  } else if (holders != want) {
    Fail(std::string("content index ") + when + ": " + std::to_string(holders) +
         " holders, the records need " + std::to_string(want));
  }
}

void Campaign::Cleanup(CampaignClient* client) {
  // What the ledger does not hold: actives of unfinished iterations, commits
  // whose answer the cut swallowed. Uncommitted ones first (they may be
  // children of commits), then commits, until nothing more goes.
  std::vector<campaign_pb::Info> infos;
  if (grpc::Status s = client->List(&infos); !s.ok()) {
    Fail("list for cleanup: " + Describe(s));
    return;
  }
  std::vector<campaign_pb::Info> todo;
  for (const auto& i : infos) {
    if (!ledger_.Has(i.name())) todo.push_back(i);
  }
  std::stable_partition(todo.begin(), todo.end(),
                        [](const campaign_pb::Info& i) {
                          return i.kind() != campaign_pb::COMMITTED;
                        });
  for (bool progress = true; progress && !todo.empty();) {
    progress = false;
    std::vector<campaign_pb::Info> left;
    for (const auto& i : todo) {
      if (client->Remove(i.name()).ok()) {
        progress = true;
      } else {
        left.push_back(i);
      }
    }
    todo.swap(left);
  }
  for (const auto& i : todo) {
    Fail("cannot remove unacknowledged leftover " + i.name() + " (" +
         KindWord(i.kind()) + ")");
  }
  // Lost commits are reported once; remove what the daemon lets go.
  for (bool progress = true; progress;) {
    progress = false;
    for (const CommitRecord& r : ledger_.Records()) {
      if (r.state == CommitRecord::State::kRetired &&
          client->Remove(r.name).ok()) {
        ledger_.Forget(r.name);
        progress = true;
      }
    }
  }
  ledger_.RecountChildren();
}

int Campaign::Prune(int round, CampaignClient* client) {
  int pruned = 0;
  for (;;) {
    std::vector<CommitRecord> leaves;
    size_t live = 0;
    for (const CommitRecord& r : ledger_.Records()) {
      if (r.state != CommitRecord::State::kLive) continue;
      live++;
      if (r.children == 0) leaves.push_back(r);
    }
    if (live <= (pruned > 0 ? kPruneTo : kPruneAbove) || leaves.empty()) break;
    leaves.resize(std::min(leaves.size(), live - kPruneTo));
    for (const CommitRecord& r : leaves) {
      grpc::Status s = client->Remove(r.name);
      if (!s.ok()) {
        Fail("prune " + r.name + ": " + Describe(s));
        return pruned;
      }
      ledger_.AddRemove(r.name, round);
      removes_++;
      round_removes_++;
      pruned++;
    }
    ledger_.RecountChildren();
  }
  return pruned;
}

void Campaign::VerifyCommit(int round, const CommitRecord& r,
                            CampaignClient* client, const std::string& mnt) {
  campaign_pb::Info info;
  grpc::Status s = client->Stat(r.name, &info);
  if (r.state == CommitRecord::State::kUncertain) {
    // Its Remove got no answer: gone is as fine as present.
    if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
      ledger_.Forget(r.name);
      return;
    }
    ledger_.SetState(r.name, CommitRecord::State::kLive);
  }
  std::string why;
  if (!s.ok()) {
    why = "stat: " + Describe(s);
  } else if (info.kind() != campaign_pb::COMMITTED ||
             info.parent() != r.parent) {
    why = std::string("stats as ") + KindWord(info.kind()) + " on parent \"" +
          info.parent() + "\", expected committed on \"" + r.parent + "\"";
  } else {
    why = CheckView(round, r, client, mnt);
  }
  checked_++;
  if (!why.empty()) {
    Lost("acknowledged commit " + r.name + " (round " +
         std::to_string(r.round) + ", writer " + std::to_string(r.writer) +
         ", parent \"" + r.parent + "\"): " + why);
    ledger_.SetState(r.name, CommitRecord::State::kRetired);
  }
}

Campaign::Outcome Campaign::Verify(int round) {
  std::string log = Log("verify", round);
  if (!StartDaemon(log)) return Outcome::kAbort;
  CampaignClient client(sock_);
  round_lost_ = 0;
  checked_ = 0;
  long orphans = Orphans(&client, log, "after the restart", true);

  for (const RemoveRecord& r : ledger_.Removes()) {
    campaign_pb::Info info;
    grpc::Status s = client.Stat(r.key, &info);
    if (s.error_code() == grpc::StatusCode::NOT_FOUND) continue;
    if (s.ok()) {
      Lost("the remove of " + r.key + " (acknowledged in round " +
           std::to_string(r.round) + ") is undone: it stats as " +
           KindWord(info.kind()));
    } else {
      Lost("stat removed " + r.key + ": " + Describe(s) +
           " (expected NotFound)");
    }
  }

  // Views are checked by a few threads: each View and Remove waits for a
  // durable metadata commit, which the daemon shares among concurrent ones.
  std::vector<CommitRecord> todo;
  for (CommitRecord& r : ledger_.Records()) {
    if (r.state != CommitRecord::State::kRetired) todo.push_back(std::move(r));
  }
  std::atomic<size_t> next{0};
  std::vector<std::thread> verifiers;
  for (int v = 0; v < kVerifiers; ++v) {
    verifiers.emplace_back([&, v] {
      std::string mnt = work_ + "/m/v" + std::to_string(v);
      for (size_t i; (i = next++) < todo.size();)
        VerifyCommit(round, todo[i], &client, mnt);
    });
  }
  for (std::thread& t : verifiers) t.join();

  Cleanup(&client);
  int pruned = Prune(round, &client);
  orphans = std::max(orphans, Orphans(&client, log, "after cleanup", false));
  orphans_ += orphans;
  StopDaemon();

  std::printf(
      "round %d %s/%s: wrote %.2f s, commits +%ld (total %ld), "
      "removes +%ld (total %ld, pruned %d), verified %d commits and %zu "
      "removes, lost %ld, orphans %ld; daemon at the cut: %s; %ld writer "
      "errors after the cut%s\n",
      round, o_.mode.c_str(), o_.fs.c_str(), write_seconds_,
      round_commits_.load(), commits_.load(), round_removes_.load(),
      removes_.load(), pruned, checked_.load(), ledger_.Removes().size(),
      round_lost_, orphans, cut_exit_.c_str(), errors_after_cut_.load(),
      space_waits_.load() > 0 ? "; writers waited at 70% full" : "");
  std::fflush(stdout);
  return Outcome::kDone;
}

Campaign::Outcome Campaign::Round(int round) {
  Outcome o = WriteAndCut(round);
  if (o != Outcome::kDone) return o;
  return Verify(round);
}

int Campaign::Run() {
  std::printf("campaign %s %s: seed %" PRIu64
              ", %d rounds, %d writers, backend %s, apply %s%s, work %s\n",
              o_.mode.c_str(), o_.fs.c_str(), o_.seed, o_.rounds, o_.writers,
              o_.backend.c_str(), o_.apply.c_str(),
              o_.client_syncfs ? ", client syncfs" : "", work_.c_str());
  std::fflush(stdout);
  if (std::string e = fs_.Create(); !e.empty()) {
    std::printf("SKIP: cannot make a loop-mounted %s: %s\n", o_.fs.c_str(),
                e.c_str());
    return kExitSkip;
  }
  for (int t = 0; t < o_.writers; ++t)
    MakeDirs(work_ + "/m/w" + std::to_string(t)).IgnoreError();
  for (int v = 0; v < kVerifiers; ++v)
    MakeDirs(work_ + "/m/v" + std::to_string(v)).IgnoreError();

  Outcome o = Outcome::kDone;
  for (int round = 1; round <= o_.rounds && o == Outcome::kDone; ++round) {
    o = Round(round);
    if (o == Outcome::kDone) rounds_done_++;
  }
  if (daemon_.pid > 0) StopDaemon();
  if (o == Outcome::kSkip) return kExitSkip;

  std::printf(
      "campaign %s %s: rounds %d, acknowledged commits %ld, "
      "acknowledged removes %ld, lost %ld, orphans %ld\n",
      o_.mode.c_str(), o_.fs.c_str(), rounds_done_, commits_.load(),
      removes_.load(), lost_, orphans_);
  bool ok = lost_ == 0 && orphans_ == 0 && failures_ == 0 &&
            rounds_done_ == o_.rounds;
  if (!ok) {
    std::string extra;
    for (const std::string& a : o_.daemon_args)
      extra += " --daemon-arg '" + a + "'";
    std::printf(
        "FAILED (%d other failures); replay: strata_crash_campaign "
        "--mode %s --fs %s --rounds %d --writers %d --seed %" PRIu64
        " --backend %s --apply %s%s%s\n",
        failures_, o_.mode.c_str(), o_.fs.c_str(), o_.rounds, o_.writers,
        o_.seed, o_.backend.c_str(), o_.apply.c_str(),
        o_.client_syncfs ? " --client-syncfs" : "", extra.c_str());
  }
  UnmountLeftovers();
  std::string unmounted = fs_.Unmount();
  if (!ok && !o_.keep.empty() && unmounted.empty()) {
    std::string cmd = "mkdir -p '" + o_.keep + "' && mv '" + work_ + "'/img '" +
                      work_ + "'/*.log '" + o_.keep + "'/";
    if (std::system(cmd.c_str()) == 0) {
      std::printf("kept the image and the daemon logs in %s\n",
                  o_.keep.c_str());
    } else {
      std::printf("could not keep the image: %s failed\n", cmd.c_str());
    }
  }
  if (unmounted.empty() && MountsUnder(work_).empty()) {
    RemoveAll(work_).IgnoreError();
  } else {
    std::printf("left %s in place: %s\n", work_.c_str(), unmounted.c_str());
  }
  std::fflush(stdout);
  return ok ? 0 : 1;
}

int Main(int argc, char** argv) {
  Options o;
  if (std::string e = ParseFlags(argc, argv, &o); !e.empty()) {
    std::fprintf(stderr, "strata_crash_campaign: %s\n%s", e.c_str(), kUsage);
    return 2;
  }
  if (!o.seed_set) {
    o.seed = static_cast<uint64_t>(
                 std::chrono::system_clock::now().time_since_epoch().count()) %
             1000000000;
  }
  if (std::string why = CampaignFs::CannotRun(o.fs); !why.empty()) {
    std::printf("SKIP: %s\n", why.c_str());
    return kExitSkip;
  }
  // A private mount namespace: whatever is left mounted (even if this
  // process dies) disappears with it instead of leaking to the host. Only
  // possible while single-threaded, which is now.
  if (unshare(CLONE_NEWNS) != 0 ||
      mount("", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    std::printf(
        "note: no private mount namespace (%s); mounts are the host's\n",
        std::strerror(errno));
  }
  const char* base = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(base && *base ? base : "/tmp") + "/strata-campaign-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::printf("cannot make a work directory %s: %s\n", tmpl.c_str(),
                std::strerror(errno));
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  return Campaign(std::move(o), tmpl).Run();
}

}  // namespace
}  // namespace strata

int main(int argc, char** argv) { return strata::Main(argc, argv); }
