#include "snapshotter/cli/storage.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "snapshotter/cli/cli_util.h"
#include "strata/services/storage/v1/storage.grpc.pb.h"

namespace strata {
namespace {

namespace spb = strata::services::storage::v1;

std::string Bytes(int64_t n, bool exact) {
  return exact ? std::to_string(n)
               : HumanBytes(static_cast<uint64_t>(std::max<int64_t>(n, 0)));
}

int Fail(const char* cmd, const grpc::Status& s) {
  std::fprintf(stderr, "strata %s: code %d: %s\n", cmd, s.error_code(),
               s.error_message().c_str());
  return 1;
}

std::string Percent(int64_t part, int64_t whole) {
  if (whole <= 0) return "0%";
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%.1f%%",
                100.0 * static_cast<double>(part) / static_cast<double>(whole));
  return buf;
}

void PrintDf(const spb::DfResponse& r, bool exact) {
  std::map<std::string, const spb::SnapshotSpace*> by_name;
  std::map<std::string, std::vector<const spb::SnapshotSpace*>> children;
  for (const auto& s : r.snapshots()) by_name[s.name()] = &s;
  std::vector<const spb::SnapshotSpace*> bases;
  for (const auto& s : r.snapshots()) {
    if (s.parent().empty() || !by_name.count(s.parent())) {
      bases.push_back(&s);
    } else {
      children[s.parent()].push_back(&s);
    }
  }
  std::printf("%-40s %-9s %5s %11s %11s %11s %11s %11s %8s\n", "NAME", "KIND",
              "DEPTH", "USAGE", "LOGICAL", "ON-DISK", "SHARED", "SAVED",
              "INODES");
  // Depth-first from each base: parents print before their children.
  std::function<void(const spb::SnapshotSpace&, int)> walk =
      [&](const spb::SnapshotSpace& s, int depth) {
        std::string shown = std::string(2 * (depth - 1), ' ') + s.name();
        std::printf("%-40s %-9s %5d %11s %11s %11s %11s %11s %8" PRId64 "\n",
                    shown.c_str(), s.kind().c_str(), depth,
                    Bytes(s.usage_bytes(), exact).c_str(),
                    Bytes(s.logical_bytes(), exact).c_str(),
                    Bytes(s.disk_bytes(), exact).c_str(),
                    Bytes(s.shared_bytes(), exact).c_str(),
                    Bytes(s.saved_bytes(), exact).c_str(), s.inodes());
        for (const auto* child : children[s.name()]) walk(*child, depth + 1);
      };
  for (const auto* base : bases) walk(*base, 1);
  std::printf(
      "total: %d snapshots: logical %s, on disk %s, shared %s, saved %s (%s)\n",
      r.snapshots_size(), Bytes(r.logical_bytes(), exact).c_str(),
      Bytes(r.disk_bytes(), exact).c_str(),
      Bytes(r.shared_bytes(), exact).c_str(),
      Bytes(r.saved_bytes(), exact).c_str(),
      Percent(r.saved_bytes(), r.logical_bytes()).c_str());
  std::printf("metadata: %s\n", Bytes(r.metadata_bytes(), exact).c_str());
  std::printf("filesystem %s: size %s, used %s, available %s\n",
              r.root().c_str(), Bytes(r.fs_size_bytes(), exact).c_str(),
              Bytes(r.fs_used_bytes(), exact).c_str(),
              Bytes(r.fs_available_bytes(), exact).c_str());
}

// The progress bar, redrawn in place on a terminal.
void DrawProgress(const spb::DedupProgress& p) {
  double frac = p.done() ? 1 : 0;
  if (!p.done() && (p.phase() == "digest" || p.phase() == "share")) {
    frac = p.bytes_to_digest() > 0
               ? static_cast<double>(p.bytes_digested()) /
                     static_cast<double>(p.bytes_to_digest())
               : 1;
  }
  constexpr int kWidth = 30;
  int filled = static_cast<int>(frac * kWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr,
               "\r[%s] %3d%% %-6s %" PRId64 " files, %s digested, %" PRId64
               " shared \033[K",
               bar.c_str(), static_cast<int>(frac * 100), p.phase().c_str(),
               p.files_examined(),
               HumanBytes(static_cast<uint64_t>(p.bytes_digested())).c_str(),
               p.files_shared());
  std::fflush(stderr);
}

void PrintDedup(const spb::DedupProgress& p, bool exact) {
  const char* verb = p.dry_run() ? "would share" : "shared";
  std::printf("dedup%s%s\n", p.dry_run() ? " (dry run)" : "",
              p.interrupted() ? ": interrupted" : "");
  std::printf("  %-26s %14" PRId64 "\n", "snapshots walked", p.snapshots());
  std::printf("  %-26s %14" PRId64 "\n", "files examined", p.files_examined());
  std::printf("  %-26s %14" PRId64 "\n", "files of a shared size",
              p.candidates());
  std::printf("  %-26s %14s\n", "bytes digested",
              Bytes(p.bytes_digested(), exact).c_str());
  std::printf("  %-26s %14" PRId64 "\n",
              p.dry_run() ? "files that would share" : "files shared",
              p.files_shared());
  std::printf("  %-26s %14" PRId64 "\n", "files already shared",
              p.already_shared());
  std::printf("  %-26s %14" PRId64 "\n", "files skipped (changed)",
              p.skipped());
  std::printf("  %-26s %14s\n", (std::string("bytes ") + verb).c_str(),
              Bytes(p.bytes_shared(), exact).c_str());
  std::printf("  %-26s %14s\n",
              p.dry_run() ? "bytes freed (at least)" : "bytes freed",
              Bytes(p.bytes_freed(), exact).c_str());
  std::printf("  %-26s %13.1fs\n", "time", p.seconds());
}

}  // namespace

int RunDf(const std::shared_ptr<grpc::Channel>& channel,
          const std::vector<std::string>& args) {
  bool exact = false, json = false;
  for (const std::string& a : args) {
    if (a == "--bytes") {
      exact = true;
    } else if (a == "--json") {
      json = true;
    } else {
      std::fprintf(stderr,
                   "strata df: unknown argument \"%s\"\nusage: strata df "
                   "[--bytes] [--json]\n",
                   a.c_str());
      return 2;
    }
  }
  auto stub = spb::Storage::NewStub(channel);
  grpc::ClientContext ctx;
  spb::DfResponse r;
  grpc::Status s = stub->Df(&ctx, spb::DfRequest(), &r);
  if (!s.ok()) return Fail("df", s);
  if (json) return PrintJson(r) ? 0 : 1;
  PrintDf(r, exact);
  return 0;
}

int RunDedup(const std::shared_ptr<grpc::Channel>& channel,
             const std::vector<std::string>& args) {
  spb::DedupRequest req;
  bool exact = false, json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--dry-run") {
      req.set_dry_run(true);
    } else if (a == "--bytes") {
      exact = true;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--min-size" && i + 1 < args.size() &&
               args[i + 1].find_first_not_of("0123456789") ==
                   std::string::npos &&
               !args[i + 1].empty() && args[i + 1].size() < 18) {
      req.set_min_bytes(std::stoll(args[++i]));
    } else {
      std::fprintf(stderr,
                   "strata dedup: bad argument \"%s\"\nusage: strata dedup "
                   "[--dry-run] [--min-size BYTES] [--bytes] [--json]\n",
                   a.c_str());
      return 2;
    }
  }
  auto stub = spb::Storage::NewStub(channel);
  grpc::ClientContext ctx;
  // Ctrl-C or SIGTERM cancels the call: the daemon stops at its next file.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  std::atomic<bool> interrupted{false}, finished{false};
  std::thread watcher([&] {
    int sig = 0;
    sigwait(&stop, &sig);
    if (!finished) {
      interrupted = true;
      ctx.TryCancel();
    }
  });
  const bool bar = !json && isatty(STDERR_FILENO);
  spb::DedupProgress last;
  auto reader = stub->Dedup(&ctx, req);
  for (spb::DedupProgress p; reader->Read(&p);) {
    last = p;
    if (bar) DrawProgress(p);
  }
  grpc::Status s = reader->Finish();
  if (bar) std::fprintf(stderr, "\n");
  finished = true;
  if (!interrupted) pthread_kill(watcher.native_handle(), SIGTERM);  // wake it
  watcher.join();
  if (interrupted) {
    last.set_interrupted(true);
    last.set_dry_run(req.dry_run());
  } else if (!s.ok()) {
    return Fail("dedup", s);
  }
  if (json) {
    if (!PrintJson(last)) return 1;
  } else {
    PrintDedup(last, exact);
  }
  return interrupted ? 130 : 0;
}

}  // namespace strata
