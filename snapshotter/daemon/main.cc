// strata-snapshotter: containerd's Snapshots API on a unix socket.
//
// Startup order: parse flags and the config file, block SIGTERM/SIGINT (before
// gRPC starts threads), lock the root, take systemd's socket or claim our own,
// open the engine (recovery runs before the socket serves), serve, then tell
// systemd READY=1. A signal shuts the server down: STOPPING=1, in-flight RPCs
// finish, then the metadata store closes and our own socket is removed (never
// systemd's).
#include <absl/synchronization/mutex.h>
#include <grpcpp/grpcpp.h>
#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "io/base/log.h"
#include "io/fs/fs_util.h"
#include "snapshotter/daemon/config.h"
#include "snapshotter/daemon/metrics_http.h"
#include "snapshotter/daemon/root_lock.h"
#include "snapshotter/daemon/sd_notify.h"
#include "snapshotter/daemon/socket_activation.h"
#include "snapshotter/engine/engine.h"
#include "snapshotter/server/apply_slots.h"
#include "snapshotter/server/changes_service.h"
#include "snapshotter/server/content_source.h"
#include "snapshotter/server/diff_service.h"
#include "snapshotter/server/import_service.h"
#include "snapshotter/server/metrics.h"
#include "snapshotter/server/snapshots_service.h"
#include "snapshotter/server/status_service.h"
#include "snapshotter/server/storage_service.h"

namespace strata {
namespace {

constexpr const char* kUsage =
    "usage: strata-snapshotter [--config FILE] [--root DIR] [--address SOCK]\n"
    "                          [--containerd-address SOCK] [--log-level "
    "LEVEL]\n"
    "                          [--backend NAME] [--overlay-metacopy on|off]\n"
    "                          [--remap-ids on|off]\n"
    "                          [--commit-sync on|off] [--content-sharing "
    "auto|off]\n"
    "                          [--print-config]\n"
    "\n"
    "Serves containerd's Snapshots API (containerd.services.snapshots.v1) on "
    "a\n"
    "unix socket. Register it in containerd's config.toml:\n"
    "  [proxy_plugins.strata]\n"
    "    type = \"snapshot\"\n"
    "    address = \"/run/strata/strata.sock\"\n"
    "It also serves containerd's Diff API (containerd >= 1.7.4) there:\n"
    "  [proxy_plugins.strata-diff]\n"
    "    type = \"diff\"\n"
    "    address = \"/run/strata/strata.sock\"\n"
    "\n"
    "  --config FILE      TOML config file; flags override its keys (default\n"
    "                     " STRATA_DEFAULT_CONFIG
    ", which may be absent)\n"
    "  --root DIR         state directory (key root, default /var/lib/strata)\n"
    "  --address SOCK     unix socket path (key address, default\n"
    "                     /run/strata/strata.sock); ignored when systemd "
    "passes\n"
    "                     the listening socket (socket activation)\n"
    "  --containerd-address SOCK\n"
    "                     containerd's socket, where the diff service reads "
    "layer\n"
    "                     blobs (key containerd_address, default\n"
    "                     /run/containerd/containerd.sock; empty: no diff "
    "service)\n"
    "  --log-level LEVEL  debug|info|warn|error (key log_level, default info)\n"
    "  --backend NAME     auto|overlay|reflink|copy (key backend, default "
    "auto):\n"
    "                     auto probes a new root (overlay if it mounts there,\n"
    "                     else reflink if FICLONE works, else copy) and keeps\n"
    "                     the backend recorded in an existing root\n"
    "  --commit-sync on|off\n"
    "                     Commit syncs the snapshot's data to disk before it\n"
    "                     answers (key commit_sync, default on); off risks\n"
    "                     committed layers lost to a power cut (README)\n"
    "  --content-sharing auto|off|hardlinks\n"
    "                     files of applied layers share the extents of equal\n"
    "                     stored files where the filesystem can (FICLONE; key\n"
    "                     content_sharing, default auto); hardlinks: also "
    "link\n"
    "                     equal files of committed overlay layers where it\n"
    "                     cannot (ext4)\n"
    "  --overlay-metacopy on|off\n"
    "                     overlay mounts with metacopy=on where the kernel has "
    "it\n"
    "                     (key overlay_metacopy, default off); safe only when\n"
    "                     Strata applies every layer (see README)\n"
    "  --remap-ids on|off idmapped mounts for snapshots with containerd's\n"
    "                     uid/gid mapping labels (key remap_ids, default "
    "off);\n"
    "                     on exactly when the proxy plugin declares\n"
    "                     capabilities = [\"remap-ids\"] (overlay backend)\n"
    "  --quota auto|on|off\n"
    "                     project quotas for active snapshots (overlay): "
    "Usage\n"
    "                     without a walk, size limits (key quota, default "
    "auto:\n"
    "                     where the filesystem enforces them; on: refuse to "
    "start\n"
    "                     without)\n"
    "  --default-max-size SIZE\n"
    "                     size limit of active snapshots without containerd's\n"
    "                     containerd.io/snapshot/max-size label (key\n"
    "                     default_max_size: bytes or K/M/G/T, default 0: "
    "none)\n"
    "  --quota-project-base N\n"
    "                     project IDs are N + snapshot id (key\n"
    "                     quota_project_base, default 1073741824)\n"
    "  --metrics-address ADDR\n"
    "                     serve Prometheus metrics at http://ADDR/metrics "
    "(key\n"
    "                     metrics_address: host:port, unix:/path or /path;\n"
    "                     default empty: off)\n"
    "  --print-config     print the effective configuration as TOML and exit\n"
    "\n"
    "Exit status: 0 after SIGTERM/SIGINT, 1 on a runtime failure, 2 on bad "
    "flags\n"
    "or a bad config file.\n";

int Fail(const std::string& what, const Status& s) {
  Log(LogLevel::kError, "daemon", what, {{"error", s.ToString()}});
  std::fprintf(stderr, "strata-snapshotter: %s: %s\n", what.c_str(),
               s.ToString().c_str());
  return 1;
}

// LMDB reads its data file through a shared map: when the filesystem under
// the root fails (a shutdown, a dead disk), touching a page the kernel cannot
// read raises SIGBUS. Say so and exit (async-signal-safe calls only) instead
// of dying on the bare signal.
void OnSigbus(int /*sig*/) {
  static constexpr char kMsg[] =
      "strata-snapshotter: SIGBUS: I/O error reading the metadata map; the "
      "filesystem under the root failed. Exiting; restart once it is "
      "repaired (recovery checks the root at start).\n";
  ssize_t ignored = write(STDERR_FILENO, kMsg, sizeof(kMsg) - 1);
  (void)ignored;
  _exit(1);
}

void Notify(const std::string& state) {
  if (Status s = SdNotify(state); !s.ok()) {
    Log(LogLevel::kWarn, "daemon", "sd_notify", {{"error", s.ToString()}});
  }
}

// Flags and the config file. Sets *exit_code when the daemon should not
// start: bad input (2), --help or --print-config (0).
std::optional<Config> LoadConfig(int argc, char** argv, Flags* flags,
                                 int* exit_code) {
  auto parsed =
      ParseFlags(std::vector<std::string_view>(argv + 1, argv + argc));
  if (!parsed.ok()) {
    std::fprintf(stderr, "strata-snapshotter: %s\n%s",
                 parsed.status().message().c_str(), kUsage);
    *exit_code = 2;
    return std::nullopt;
  }
  *flags = std::move(*parsed);
  if (flags->help) {
    std::fputs(kUsage, stdout);
    *exit_code = 0;
    return std::nullopt;
  }
  auto config = ResolveConfig(*flags);
  if (!config.ok()) {
    std::fprintf(stderr, "strata-snapshotter: %s\n",
                 config.status().message().c_str());
    *exit_code = 2;
    return std::nullopt;
  }
  if (flags->print_config) {
    bool found = access(flags->config_path.c_str(), F_OK) == 0;
    std::printf(
        "# strata-snapshotter: effective configuration (defaults, then %s%s, "
        "then flags)\n%s",
        flags->config_path.c_str(), found ? "" : " (absent)",
        FormatConfig(*config).c_str());
    *exit_code = 0;
    return std::nullopt;
  }
  return std::move(*config);
}

// Blocks the shutdown signals before any thread exists, so they are
// delivered only to WaitForStop; installs the SIGBUS diagnosis.
sigset_t BlockShutdownSignals() {
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);
  struct sigaction bus = {};
  bus.sa_handler = OnSigbus;
  sigaction(SIGBUS, &bus, nullptr);
  return sigs;
}

// Where the daemon serves. With socket activation systemd owns the socket
// (and its path and mode); otherwise the daemon claims --address, refusing a
// live server and replacing a stale file.
struct Listener {
  UniqueFd fd;             // systemd's socket, until the Acceptor takes it
  bool activated = false;  // systemd passed the socket
  std::string address;
};

Result<Listener> OpenListener(const Config& config) {
  Listener l;
  auto fd = TakeListenFd();
  if (!fd.ok()) return fd.status().WithContext("socket activation");
  l.fd = std::move(*fd);
  l.activated = l.fd.valid();
  l.address = l.activated ? SocketPath(l.fd.get()) : config.address;
  if (l.activated && l.address != config.address) {
    Log(LogLevel::kWarn, "daemon",
        "serving the socket systemd passed, not the configured address",
        {{"passed", l.address}, {"configured", config.address}});
  }
  if (!l.activated) {
    STRATA_RETURN_IF_ERROR(
        ClaimSocketPath(l.address).WithContext("claim socket"));
  }
  return l;
}

// The gRPC services over one engine: Snapshots, Status, Import, Storage and
// Changes always, Diff when containerd's address is configured (it reads
// layer blobs there and writes Compare's layers there).
class Services {
 public:
  Services(Engine& engine, const Config& config)
      : snapshots_(engine),
        apply_slots_(config.max_concurrent_applies),
        import_(engine, apply_slots_),
        storage_(engine),
        changes_(engine),
        count_rpcs_(!config.metrics_address.empty()) {
    if (!config.containerd_address.empty()) {
      content_ = std::make_unique<ContentClient>(config.containerd_address);
      diff_ = std::make_unique<DiffService>(engine, *content_, apply_slots_);
    }
    status_ = std::make_unique<StatusService>(engine, diff_.get(),
                                              config.containerd_address);
  }

  void Register(grpc::ServerBuilder& builder) {
    // RPCs are counted only when metrics are served: the interceptor costs
    // every call an object and a pass over each of its operation batches.
    if (count_rpcs_) {
      std::vector<std::unique_ptr<
          grpc::experimental::ServerInterceptorFactoryInterface>>
          interceptors;
      interceptors.push_back(rpc_metrics_.InterceptorFactory());
      builder.experimental().SetInterceptorCreators(std::move(interceptors));
    }
    snapshots_.AddTo(builder);
    if (diff_) builder.RegisterService(diff_.get());
    builder.RegisterService(status_.get());
    builder.RegisterService(&import_);
    builder.RegisterService(&storage_);
    builder.RegisterService(&changes_);
  }

  bool has_diff() const { return diff_ != nullptr; }
  std::string Metrics(Engine& engine) const {
    return CollectMetrics(engine, rpc_metrics_, diff_.get());
  }
  const DiffService* diff() const { return diff_.get(); }
  // After the server started / after it shut down (SnapshotsService).
  void StartReads() { snapshots_.StartReads(); }
  void StopReads() { snapshots_.StopReads(); }

  // Running RPCs get `grace` to finish; new ones are refused. False if some
  // were still running.
  bool Drain(std::chrono::seconds grace) {
    bool drained = snapshots_.Drain(grace);
    if (diff_) drained = diff_->Drain(grace) && drained;
    drained = storage_.Drain(grace) && drained;
    drained = changes_.Drain(grace) && drained;
    return import_.Drain(grace) && drained;
  }

 private:
  SnapshotsService snapshots_;
  ApplySlots apply_slots_;
  ImportService import_;
  StorageService storage_;
  ChangesService changes_;
  std::unique_ptr<ContentClient> content_;
  std::unique_ptr<DiffService> diff_;
  std::unique_ptr<StatusService> status_;
  const bool count_rpcs_;
  RpcMetrics rpc_metrics_;
};

// Says once whether containerd's content API answers. containerd usually
// starts after its proxy plugins, so it asks every second for kPatience
// before it warns; without that API every Apply is declined and containerd
// applies the layer itself (or, with 2.x's transfer service, the user sees
// only "method Transfer not implemented").
class ContentWatch {
 public:
  static constexpr int kPatience = 30;  // seconds
  ContentWatch(const DiffService& diff, std::string address)
      : thread_([this, &diff, address] { Run(diff, address); }) {}
  ~ContentWatch() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void Run(const DiffService& diff, const std::string& address) {
    Status last;
    for (int i = 0; i < kPatience; ++i) {
      last = diff.ProbeContent(std::chrono::seconds(1));
      if (last.ok()) {
        Log(LogLevel::kInfo, "diff", "containerd's content API answers",
            {{"address", address}});
        return;
      }
      std::unique_lock<std::mutex> l(mu_);
      if (cv_.wait_for(l, std::chrono::seconds(1), [&] { return stop_; }))
        return;
    }
    Log(LogLevel::kWarn, "diff",
        "containerd's content API does not answer: every Apply is declined "
        "and containerd applies layers itself until it does (check "
        "containerd_address)",
        {{"address", address},
         {"waited_s", std::to_string(kPatience)},
         {"reason", last.message()}});
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

Result<std::unique_ptr<grpc::Server>> StartServer(Services& services,
                                                  const Listener& listener) {
  grpc::ServerBuilder builder;
  // Activated: no listening port; the Acceptor hands connections over.
  if (!listener.activated) {
    builder.AddListeningPort("unix:" + listener.address,
                             grpc::InsecureServerCredentials());
  }
  services.Register(builder);
  builder.SetMaxReceiveMessageSize(16 << 20);
  // Sync-server pollers wake this often to notice shutdown; the default (10 s)
  // would hold SIGTERM that long while containerd keeps its connection open.
  builder.SetSyncServerOption(
      grpc::ServerBuilder::SyncServerOption::CQ_TIMEOUT_MSEC, 200);
  mode_t old_umask = umask(0117);  // socket mode 0660
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  umask(old_umask);
  if (!server) return Unavailable("cannot serve on unix:" + listener.address);
  services.StartReads();
  if (!listener.activated) chmod(listener.address.c_str(), 0660);
  return server;
}

void LogServing(const Engine& engine, const Config& config, const Flags& flags,
                const Listener& listener, bool diff, int64_t startup_us) {
  const RecoveryReport& rec = engine.recovery();
  if (engine.remap_ids() && !engine.idmap_support().ok()) {
    Log(LogLevel::kWarn, "daemon",
        "idmapped mounts unavailable: snapshots with uid/gid mapping labels "
        "are refused (remap_ids is on)",
        {{"reason", engine.idmap_support().message()}});
  }
  Log(LogLevel::kInfo, "daemon", "serving",
      {{"address", listener.address},
       {"socket", listener.activated ? "systemd" : "own"},
       {"root", config.root},
       {"config", flags.config_path},
       {"backend", engine.backend_name()},
       {"diff_service",
        diff ? "on, content from " + config.containerd_address : "off"},
       {"metadata_bytes", std::to_string(engine.MetadataBytes())},
       {"recovered_staging", std::to_string(rec.staging_removed)},
       {"recovered_orphans", std::to_string(rec.orphans_removed)},
       {"recovered_trash", std::to_string(rec.trash_removed)},
       {"restored_removals", std::to_string(rec.trash_restored)},
       {"recovered_links", std::to_string(rec.links_removed)},
       {"rebuilt_dirs", std::to_string(rec.dirs_rebuilt)},
       {"missing_dirs", std::to_string(rec.missing_dirs)},
       {"quarantined", std::to_string(rec.quarantined)},
       {"content_pruned", std::to_string(rec.content_pruned)},
       {"shifts_finished", std::to_string(rec.shifts_finished)},
       {"shifts_undone", std::to_string(rec.shifts_undone)},
       {"startup_us", std::to_string(startup_us)}});
}

// Waits for a shutdown signal (exit 0), watching the root's health meanwhile:
// once its filesystem fails (an I/O error under LMDB or a syncfs), serving on
// would only answer errors, so the daemon stops and says why (exit 1;
// systemd's Restart= brings it back and recovery then checks the root).
int WaitForStop(const sigset_t& sigs, Engine& engine, const std::string& root) {
  for (;;) {
    timespec tick{1, 0};
    int sig = sigtimedwait(&sigs, nullptr, &tick);
    if (sig > 0) {
      Notify("STOPPING=1\nSTATUS=shutting down");
      Log(LogLevel::kInfo, "daemon", "shutting down",
          {{"signal", strsignal(sig)}});
      return 0;
    }
    if (Status h = engine.Health(); !h.ok()) {
      Notify("STOPPING=1\nSTATUS=root failed: " + h.message().substr(0, 200));
      Log(LogLevel::kError, "daemon",
          "the filesystem under the root failed; stopping",
          {{"root", root}, {"error", h.ToString()}});
      return 1;
    }
  }
}

int Run(int argc, char** argv) {
  auto start = std::chrono::steady_clock::now();
  // Debian builds Abseil without NDEBUG, so every absl::Mutex gRPC locks
  // also maintains a lock-order graph for deadlock detection: about 5% of
  // the daemon's CPU under polling reads (perf). gRPC does not need it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Apply's big buffers (a file held whole up to 64 MiB, the prefetch ring)
  // come and go with each layer. glibc raises its mmap threshold at the
  // first free of such a buffer, so later ones land in the threads' heap
  // arenas and stay resident: 23-28 MiB of anonymous memory after unpacking
  // a 3,000-file image, 10-12 MiB with the threshold fixed above the 1 MiB
  // chunk size (chunks stay in the heap, reused; bigger buffers are mmapped).
  mallopt(M_MMAP_THRESHOLD, 2 << 20);
  Flags flags;
  int exit_code = 0;
  std::optional<Config> config = LoadConfig(argc, argv, &flags, &exit_code);
  if (!config) return exit_code;
  SetLogLevel(config->log_level);
  const sigset_t sigs = BlockShutdownSignals();

  const std::string& root = config->root;
  if (Status s = MakeDirs(root, 0700); !s.ok()) return Fail("create root", s);
  auto lock = RootLock::Acquire(root + "/lock");
  if (!lock.ok()) return Fail("lock root", lock.status());
  auto listener = OpenListener(*config);
  if (!listener.ok()) return Fail("listen", listener.status());

  Notify("STATUS=opening " + root + " and recovering");
  EngineOptions eopts;
  eopts.root = root;
  eopts.backend = config->backend;
  eopts.overlay_metacopy = config->overlay_metacopy;
  eopts.remap_ids = config->remap_ids;
  eopts.commit_sync = config->commit_sync;
  eopts.content_sharing = config->content_sharing;
  eopts.hardlink_sharing = config->hardlink_sharing;
  eopts.max_layer_depth = config->max_layer_depth;
  eopts.quota = config->quota == "on"    ? EngineOptions::QuotaMode::kOn
                : config->quota == "off" ? EngineOptions::QuotaMode::kOff
                                         : EngineOptions::QuotaMode::kAuto;
  eopts.default_max_size = config->default_max_size;
  eopts.quota_project_base = config->quota_project_base;
  auto engine = Engine::Open(eopts);
  if (!engine.ok()) return Fail("open root " + root, engine.status());
  // Recovery's maps over every record are freed by now; hand their pages
  // back (10 MiB of resident heap at 100,000 snapshots otherwise).
  malloc_trim(0);

  Services services(**engine, *config);
  auto server = StartServer(services, *listener);
  if (!server.ok()) return Fail("listen", server.status());
  const bool activated = listener->activated;
  std::unique_ptr<Acceptor> acceptor;
  if (activated) {
    auto a = Acceptor::Start(std::move(listener->fd), server->get());
    if (!a.ok()) return Fail("accept on the passed socket", a.status());
    acceptor = std::move(*a);
  }
  std::unique_ptr<MetricsHttp> metrics;
  if (!config->metrics_address.empty()) {
    auto m = MetricsHttp::Start(config->metrics_address,
                                [&] { return services.Metrics(**engine); });
    if (!m.ok()) return Fail("serve metrics", m.status());
    metrics = std::move(*m);
    Log(LogLevel::kInfo, "daemon", "serving metrics",
        {{"address", metrics->address()}, {"path", "/metrics"}});
  }
  LogServing(**engine, *config, flags, *listener, services.has_diff(),
             std::chrono::duration_cast<std::chrono::microseconds>(
                 std::chrono::steady_clock::now() - start)
                 .count());
  // Only now: the store is open, recovery has run and the socket serves.
  Notify("READY=1\nSTATUS=serving on " + listener->address);
  std::optional<ContentWatch> content_watch;
  if (services.diff() != nullptr)
    content_watch.emplace(*services.diff(), config->containerd_address);
  exit_code = WaitForStop(sigs, **engine, root);
  metrics.reset();
  content_watch.reset();
  // Connections not accepted yet wait on systemd's socket for the next daemon.
  if (acceptor) acceptor->Stop();
  if (!services.Drain(std::chrono::seconds(10))) {
    Log(LogLevel::kWarn, "daemon",
        "RPCs still running after 10s; cancelling them");
  }
  // Nothing runs now; the short deadline lets connected clients see GOAWAY
  // and reconnect cleanly to the next daemon instead of hitting a dead socket.
  (*server)->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(500));
  (*server)->Wait();
  services.StopReads();
  server->reset();
  acceptor.reset();  // closes our copy of the listening socket; systemd keeps
                     // its own
  engine->reset();   // closes LMDB
  if (!activated) unlink(listener->address.c_str());
  Log(LogLevel::kInfo, "daemon", "stopped");
  return exit_code;
}

}  // namespace
}  // namespace strata

int main(int argc, char** argv) { return strata::Run(argc, argv); }
