// strata-snapshotter: containerd's Snapshots API on a unix socket.
//
// Startup order: parse flags, block SIGTERM/SIGINT (before gRPC starts
// threads), lock the root, claim the socket, open the engine (recovery runs
// before the socket opens), serve. A signal shuts the server down: in-flight
// RPCs finish, then the metadata store closes and the socket is removed.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include <grpcpp/grpcpp.h>

#include "io/base/log.h"
#include "io/fs/fs_util.h"
#include "snapshotter/daemon/root_lock.h"
#include "snapshotter/engine/engine.h"
#include "snapshotter/server/snapshots_service.h"

namespace strata {
namespace {

constexpr const char* kUsage =
    "usage: strata-snapshotter [--root DIR] [--address SOCK] [--log-level LEVEL]\n"
    "\n"
    "Serves containerd's Snapshots API (containerd.services.snapshots.v1) on a\n"
    "unix socket. Register it in containerd's config.toml:\n"
    "  [proxy_plugins.strata]\n"
    "    type = \"snapshot\"\n"
    "    address = \"/run/strata/strata.sock\"\n"
    "\n"
    "  --root DIR         state directory (default /var/lib/strata)\n"
    "  --address SOCK     unix socket path (default /run/strata/strata.sock)\n"
    "  --log-level LEVEL  debug|info|warn|error (default info)\n";

struct Flags {
  std::string root = "/var/lib/strata";
  std::string address = "/run/strata/strata.sock";
  LogLevel log_level = LogLevel::kInfo;
};

// Returns 0 to run, or an exit code (2 for usage errors, 0 for --help).
int ParseFlags(int argc, char** argv, Flags& flags) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    bool has_value = false;
    if (size_t eq = arg.find('='); arg.substr(0, 2) == "--" && eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    auto take = [&](std::string_view name) -> bool {
      if (has_value) return true;
      if (i + 1 >= argc) {
        std::fprintf(stderr, "strata-snapshotter: %s needs a value\n", std::string(name).c_str());
        return false;
      }
      value = argv[++i];
      return true;
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return -1;
    } else if (arg == "--root") {
      if (!take(arg)) return 2;
      flags.root = value;
    } else if (arg == "--address") {
      if (!take(arg)) return 2;
      flags.address = value;
    } else if (arg == "--log-level") {
      if (!take(arg)) return 2;
      if (!ParseLogLevel(value, flags.log_level)) {
        std::fprintf(stderr, "strata-snapshotter: bad --log-level \"%s\"\n",
                     std::string(value).c_str());
        return 2;
      }
    } else {
      std::fprintf(stderr, "strata-snapshotter: unknown argument \"%s\"\n%s",
                   std::string(arg).c_str(), kUsage);
      return 2;
    }
  }
  if (flags.root.empty() || flags.root[0] != '/') {
    std::fprintf(stderr, "strata-snapshotter: --root must be an absolute path\n");
    return 2;
  }
  while (flags.root.size() > 1 && flags.root.back() == '/') flags.root.pop_back();
  return 0;
}

int Fail(const std::string& what, const Status& s) {
  Log(LogLevel::kError, "daemon", what, {{"error", s.ToString()}});
  std::fprintf(stderr, "strata-snapshotter: %s: %s\n", what.c_str(), s.ToString().c_str());
  return 1;
}

int Run(int argc, char** argv) {
  auto start = std::chrono::steady_clock::now();
  Flags flags;
  if (int rc = ParseFlags(argc, argv, flags); rc != 0) return rc < 0 ? 0 : rc;
  SetLogLevel(flags.log_level);

  // Block the shutdown signals before any thread exists, so they are delivered
  // only to sigwait below.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  if (Status s = MakeDirs(flags.root, 0700); !s.ok()) return Fail("create root", s);
  auto lock = RootLock::Acquire(flags.root + "/lock");
  if (!lock.ok()) return Fail("lock root", lock.status());
  if (Status s = ClaimSocketPath(flags.address); !s.ok()) return Fail("claim socket", s);

  EngineOptions eopts;
  eopts.root = flags.root;
  auto engine = Engine::Open(eopts);
  if (!engine.ok()) return Fail("open root " + flags.root, engine.status());
  const RecoveryReport& rec = (*engine)->recovery();

  SnapshotsService service(**engine);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + flags.address, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(16 << 20);
  // Sync-server pollers wake this often to notice shutdown; the default (10 s)
  // would hold SIGTERM that long while containerd keeps its connection open.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::CQ_TIMEOUT_MSEC, 200);
  mode_t old_umask = umask(0117);  // socket mode 0660
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  umask(old_umask);
  if (!server) return Fail("listen", Unavailable("cannot serve on unix:" + flags.address));
  chmod(flags.address.c_str(), 0660);

  auto ready_us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  Log(LogLevel::kInfo, "daemon", "serving",
      {{"address", flags.address},
       {"root", flags.root},
       {"backend", (*engine)->backend_name()},
       {"metadata_bytes", std::to_string((*engine)->MetadataBytes())},
       {"recovered_staging", std::to_string(rec.staging_removed)},
       {"recovered_orphans", std::to_string(rec.orphans_removed)},
       {"recovered_trash", std::to_string(rec.trash_removed + rec.trash_restored)},
       {"rebuilt_dirs", std::to_string(rec.dirs_rebuilt)},
       {"missing_dirs", std::to_string(rec.missing_dirs)},
       {"startup_us", std::to_string(ready_us)}});

  int sig = 0;
  sigwait(&sigs, &sig);
  Log(LogLevel::kInfo, "daemon", "shutting down", {{"signal", strsignal(sig)}});
  // Running RPCs get a grace period to finish; new ones are refused.
  if (!service.Drain(std::chrono::seconds(10))) {
    Log(LogLevel::kWarn, "daemon", "RPCs still running after 10s; cancelling them");
  }
  // Nothing runs now; the short deadline lets connected clients see GOAWAY
  // and reconnect cleanly to the next daemon instead of hitting a dead socket.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  server->Wait();
  server.reset();
  engine->reset();  // closes LMDB
  unlink(flags.address.c_str());
  Log(LogLevel::kInfo, "daemon", "stopped");
  return 0;
}

}  // namespace
}  // namespace strata

int main(int argc, char** argv) { return strata::Run(argc, argv); }
