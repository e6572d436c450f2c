// strata: command-line client of a running strata-snapshotter (gRPC only).
//
//   strata [--address SOCK] ls [FILTER...]
//   strata [--address SOCK] stat KEY
//   strata [--address SOCK] import [--parent NAME] [--name NAME] [--no-sync]
//          LAYER...
//   strata [--address SOCK] df [--bytes] [--json]
//   strata [--address SOCK] dedup [--dry-run] [--min-size BYTES] [--json]
//   strata [--address SOCK] status [--json]
//   strata [--address SOCK] bench latency|ops|cow|density ...
//
// The benchmarks are not in this binary: `strata bench` runs strata-bench
// (bench/harness), installed beside it.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "snapshotter/cli/cli_util.h"
#include "snapshotter/cli/diff.h"
#include "snapshotter/cli/import.h"
#include "snapshotter/cli/status.h"
#include "snapshotter/cli/storage.h"

namespace {

namespace pb = containerd::services::snapshots::v1;
using Clock = std::chrono::steady_clock;

constexpr const char* kUsage =
    "usage: strata [--address SOCK] ls [FILTER...]\n"
    "       strata [--address SOCK] stat KEY\n"
    "       strata [--address SOCK] import [--parent NAME] [--name NAME] "
    "[--no-sync] LAYER...\n"
    "       strata [--address SOCK] df [--bytes] [--json]\n"
    "       strata [--address SOCK] dedup [--dry-run] [--min-size BYTES] "
    "[--bytes] [--json]\n"
    "       strata [--address SOCK] diff [--json] SNAPSHOT\n"
    "       strata [--address SOCK] diff --output LAYER.tar[.gz|.zst] "
    "[--media-type TYPE] SNAPSHOT\n"
    "       strata [--address SOCK] status [--json]\n"
    "       strata [--address SOCK] bench latency|ops|cow|density ...   (runs "
    "strata-bench)\n";

int Check(const grpc::Status& s, const std::string& what) {
  if (s.ok()) return 0;
  std::fprintf(stderr, "strata: %s: code %d: %s\n", what.c_str(),
               s.error_code(), s.error_message().c_str());
  return 1;
}

void PrintInfo(const pb::Info& info) {
  std::printf("%s\t%s\t%s", info.name().c_str(),
              std::string(strata::WireKindName(info.kind())).c_str(),
              info.parent().c_str());
  for (const auto& [k, v] : info.labels())
    std::printf("\t%s=%s", k.c_str(), v.c_str());
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

// `strata bench ...` is the benchmark harness, a binary of its own
// (bench/harness): exec it from beside this one (or PATH) with the same
// words, --address passed on.
int ExecBench(const std::string& address, bool address_given,
              const std::vector<std::string>& words) {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  std::string dir = n > 0 ? std::string(self, static_cast<size_t>(n)) : "";
  dir = dir.substr(0, dir.rfind('/') + 1);
  std::string beside = dir + "strata-bench";
  std::vector<std::string> argv{"strata-bench"};
  argv.insert(argv.end(), words.begin(), words.end());
  if (address_given && !words.empty())
    argv.insert(argv.begin() + 2, {"--address", address});
  std::vector<char*> cargs;
  for (std::string& a : argv) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  if (access(beside.c_str(), X_OK) == 0) execv(beside.c_str(), cargs.data());
  execvp("strata-bench", cargs.data());
  std::fprintf(
      stderr,
      "strata: bench: cannot run strata-bench (beside %s or on PATH): %s\n",
      dir.c_str(), std::strerror(errno));
  return 127;
}

}  // namespace

int main(int argc, char** argv) {
  std::string address = "/run/strata/strata.sock";
  // `strata [--address SOCK] bench WORDS...`: every word after "bench" goes
  // to strata-bench untouched (its commands have their own --address).
  {
    int i = 1;
    bool given = false;
    if (i + 1 < argc && std::string(argv[i]) == "--address") {
      address = argv[i + 1];
      given = true;
      i += 2;
    }
    if (i < argc && std::string(argv[i]) == "bench")
      return ExecBench(address, given, {argv + i + 1, argv + argc});
  }
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
  if (help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (args.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  auto channel = grpc::CreateChannel("unix:" + address,
                                     grpc::InsecureChannelCredentials());
  auto stub = pb::Snapshots::NewStub(channel);
  const std::string& cmd = args[0];
  if (cmd == "ls") return Ls(*stub, {args.begin() + 1, args.end()});
  if (cmd == "stat" && args.size() == 2) return Stat(*stub, args[1]);
  if (cmd == "import")
    return strata::RunImport(channel, {args.begin() + 1, args.end()});
  if (cmd == "df")
    return strata::RunDf(channel, {args.begin() + 1, args.end()});
  if (cmd == "dedup")
    return strata::RunDedup(channel, {args.begin() + 1, args.end()});
  if (cmd == "diff")
    return strata::RunDiff(channel, {args.begin() + 1, args.end()});
  if (cmd == "status")
    return strata::RunStatus(channel, {args.begin() + 1, args.end()});
  std::fputs(kUsage, stderr);
  return 2;
}
