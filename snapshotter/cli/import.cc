#include "snapshotter/cli/import.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>

#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "io/base/errno.h"
#include "io/base/result.h"
#include "io/base/sha256.h"
#include "io/base/unique_fd.h"
#include "strata/services/import/v1/import.grpc.pb.h"

namespace strata {
namespace {

namespace pb = containerd::services::snapshots::v1;
namespace ipb = strata::services::import::v1;

void Remove(pb::Snapshots::Stub& stub, const std::string& key) {
  grpc::ClientContext ctx;
  pb::RemoveSnapshotRequest req;
  req.set_key(key);
  google::protobuf::Empty resp;
  grpc::Status s = stub.Remove(&ctx, req, &resp);
  if (!s.ok())
    std::fprintf(stderr, "strata import: cleanup of %s failed: %s\n",
                 key.c_str(), s.error_message().c_str());
}

// One line on a terminal, redrawn at most 10 times a second.
class Progress {
 public:
  explicit Progress(std::string file)
      : file_(std::move(file)),
        tty_(isatty(STDERR_FILENO)),
        start_(std::chrono::steady_clock::now()) {}
  ~Progress() {
    if (drawn_) std::fputs("\r\033[K", stderr);
  }
  void Update(int64_t sent) {
    if (!tty_) return;
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    double secs = std::chrono::duration<double>(now - start_).count();
    double mib = static_cast<double>(sent) / (1 << 20);
    std::fprintf(stderr, "\r\033[K%s: %.1f MiB sent, %.1f MiB/s", file_.c_str(),
                 mib, secs > 0 ? mib / secs : 0.0);
    drawn_ = true;
  }

 private:
  std::string file_;
  bool tty_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

// Streams `file` to the daemon, which applies it to the active snapshot
// `key` (the daemon's Import service: the one apply pipeline).
Result<ipb::ApplyResponse> Apply(ipb::Import::Stub& stub,
                                 const std::string& file,
                                 const std::string& key, bool sync) {
  UniqueFd fd(open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return PosixError("open " + file, errno);
  grpc::ClientContext ctx;
  ipb::ApplyResponse resp;
  auto writer = stub.Apply(&ctx, &resp);
  Progress progress(file);
  ipb::ApplyRequest req;
  req.set_key(key);
  req.set_sync_fs(sync);
  constexpr size_t kChunk = 1 << 20;
  std::string buf(kChunk, '\0');
  int64_t sent = 0;
  Status read_error;
  while (true) {
    ssize_t n = read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      read_error = PosixError("read " + file, errno);
      break;
    }
    if (n == 0) break;
    req.set_data(buf.data(), static_cast<size_t>(n));
    if (!writer->Write(req))
      break;  // the daemon answered early: Finish says why
    sent += n;
    progress.Update(sent);
    req.clear_key();
  }
  if (!read_error.ok()) {
    ctx.TryCancel();
    writer->Finish().ok();
    return read_error;
  }
  if (sent == 0) writer->Write(req);  // an empty file still names the snapshot
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  if (!s.ok())
    return Status(static_cast<Code>(s.error_code()), s.error_message());
  return resp;
}

}  // namespace

int RunImport(const std::shared_ptr<grpc::Channel>& channel,
              const std::vector<std::string>& args) {
  auto snapshots = pb::Snapshots::NewStub(channel);
  pb::Snapshots::Stub& stub = *snapshots;
  auto importer = ipb::Import::NewStub(channel);
  std::string parent, name;
  std::vector<std::string> files;
  bool sync = true;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--parent" && i + 1 < args.size())
      parent = args[++i];
    else if (args[i] == "--name" && i + 1 < args.size())
      name = args[++i];
    else if (args[i] == "--no-sync")
      sync = false;
    else
      files.push_back(args[i]);
  }
  if (files.empty() || (!name.empty() && files.size() > 1)) {
    std::fprintf(
        stderr,
        "usage: strata import [--parent NAME] [--name NAME] [--no-sync] "
        "LAYER...\n"
        "  --name only with one layer; default names are ChainIDs.\n"
        "  Each layer is synced (syncfs) before Commit unless --no-sync.\n");
    return 2;
  }
  for (const std::string& file : files) {
    auto t0 = std::chrono::steady_clock::now();
    std::string key = "strata-import/" + std::to_string(getpid()) + "/" + file;
    grpc::ClientContext ctx;
    pb::PrepareSnapshotRequest req;
    req.set_key(key);
    req.set_parent(parent);
    pb::PrepareSnapshotResponse resp;
    grpc::Status s = stub.Prepare(&ctx, req, &resp);
    if (!s.ok()) {
      std::fprintf(stderr, "strata import: prepare on \"%s\": %s\n",
                   parent.c_str(), s.error_message().c_str());
      return 1;
    }
    auto layer = Apply(*importer, file, key, sync);
    if (!layer.ok()) {
      Remove(stub, key);
      std::fprintf(stderr, "strata import: %s: %s\n", file.c_str(),
                   layer.status().ToString().c_str());
      return 1;
    }
    std::string committed =
        name.empty() ? ChainId(parent, layer->diff_id()) : name;
    grpc::ClientContext cctx;
    pb::CommitSnapshotRequest creq;
    creq.set_key(key);
    creq.set_name(committed);
    google::protobuf::Empty cresp;
    s = stub.Commit(&cctx, creq, &cresp);
    bool exists = s.error_code() == grpc::ALREADY_EXISTS;
    if (!s.ok()) {
      Remove(stub, key);
      if (!exists) {
        std::fprintf(stderr, "strata import: commit %s: %s\n",
                     committed.c_str(), s.error_message().c_str());
        return 1;
      }
    }
    double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    std::printf(
        "%s\t%s\tdiff_id=%s\tcompression=%s\ttar_bytes=%lld\tentries=%"
        "lld\tfiles=%lld\tshared_files=%lld\tshared_bytes=%lld\t%.3fs%s\n",
        file.c_str(), committed.c_str(), layer->diff_id().c_str(),
        layer->compression().c_str(),
        static_cast<long long>(layer->tar_bytes()),
        static_cast<long long>(layer->entries()),
        static_cast<long long>(layer->files()),
        static_cast<long long>(layer->shared_files()),
        static_cast<long long>(layer->shared_bytes()), secs,
        exists ? "\t(already present)" : "");
    parent = committed;
  }
  return 0;
}

}  // namespace strata
