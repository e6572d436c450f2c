#include "snapshotter/cli/import.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include <grpcpp/grpcpp.h>

#include "io/base/errno.h"
#include "io/base/unique_fd.h"
#include "io/decompress/source.h"
#include "io/extract/extractor.h"
#include "io/extract/file_sink.h"
#include "io/extract/layer_stream.h"
#include "io/extract/tar_entry_stream.h"
#include "io/tar/tar_reader.h"

namespace strata {
namespace {

namespace pb = containerd::services::snapshots::v1;

// The directory a fresh snapshot's mounts write into: the overlay upperdir,
// or the source of a read-write bind mount.
std::string WritableDir(const pb::PrepareSnapshotResponse& resp) {
  if (resp.mounts_size() != 1) return "";
  const auto& m = resp.mounts(0);
  if (m.type() == "bind") return m.source();
  for (const std::string& o : m.options()) {
    if (o.rfind("upperdir=", 0) == 0) return o.substr(9);
  }
  return "";
}

void Remove(pb::Snapshots::Stub& stub, const std::string& key) {
  grpc::ClientContext ctx;
  pb::RemoveSnapshotRequest req;
  req.set_key(key);
  google::protobuf::Empty resp;
  grpc::Status s = stub.Remove(&ctx, req, &resp);
  if (!s.ok()) std::fprintf(stderr, "strata import: cleanup of %s failed: %s\n", key.c_str(), s.error_message().c_str());
}

struct Layer {
  std::string diff_id;
  int64_t tar_bytes = 0;
  ExtractStats stats;
  Compression compression = Compression::kNone;
};

// A bind mount is a full tree (the first layer of any backend, or a child of
// the reflink/copy backends): whiteouts delete, as containerd's applier does
// for bind mounts. An overlay upperdir keeps them as overlay whiteouts.
WhiteoutMode WhiteoutsFor(const pb::PrepareSnapshotResponse& resp) {
  return resp.mounts_size() == 1 && resp.mounts(0).type() == "bind" ? WhiteoutMode::kDelete
                                                                     : WhiteoutMode::kOverlay;
}

// One line on a terminal, redrawn at most 10 times a second.
class Progress {
 public:
  Progress(std::string file, const LayerStream& in)
      : file_(std::move(file)), in_(in), tty_(isatty(STDERR_FILENO)),
        start_(std::chrono::steady_clock::now()) {}
  ~Progress() {
    if (drawn_) std::fputs("\r\033[K", stderr);
  }
  void Update(const ExtractStats& st) {
    if (!tty_) return;
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    double secs = std::chrono::duration<double>(now - start_).count();
    double mib = static_cast<double>(in_.bytes()) / (1 << 20);
    std::fprintf(stderr, "\r\033[K%s: %.1f MiB, %lld entries, %.1f MiB/s", file_.c_str(), mib,
                 static_cast<long long>(st.entries), secs > 0 ? mib / secs : 0.0);
    drawn_ = true;
  }

 private:
  std::string file_;
  const LayerStream& in_;
  bool tty_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

// syncfs(2) of the filesystem holding dir: the layer is durable before Commit.
Status SyncFilesystem(const std::string& dir) {
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return PosixError("open " + dir, errno);
  if (syncfs(fd.get()) != 0) return PosixError("syncfs " + dir, errno);
  return Status::Ok();
}

Result<Layer> Extract(const std::string& file, const std::string& dir, bool sync,
                      WhiteoutMode whiteouts) {
  UniqueFd fd(open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return PosixError("open " + file, errno);
  Layer layer;
  STRATA_ASSIGN_OR_RETURN(
      auto plain, OpenDecompressed(std::make_unique<FdSource>(fd.get()), {}, &layer.compression));
  // Decompression and digest on their own thread when compressed.
  LayerStream digesting(std::move(plain), layer.compression != Compression::kNone);
  TarReader reader(digesting);
  TarEntryStream entries(reader);
  auto sink = MakeFileSink();
  Progress progress(file, digesting);
  ExtractOptions opts;
  opts.progress = [&](const ExtractStats& st) { progress.Update(st); };
  opts.whiteouts = whiteouts;
  Extractor extractor(dir, *sink, opts);
  STRATA_ASSIGN_OR_RETURN(layer.stats, extractor.Apply(entries));
  STRATA_ASSIGN_OR_RETURN(layer.diff_id, digesting.Finish());
  layer.tar_bytes = digesting.bytes();
  if (sync) STRATA_RETURN_IF_ERROR(SyncFilesystem(dir));
  return layer;
}

}  // namespace

int RunImport(pb::Snapshots::Stub& stub, const std::vector<std::string>& args) {
  std::string parent, name;
  std::vector<std::string> files;
  bool sync = true;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--parent" && i + 1 < args.size()) parent = args[++i];
    else if (args[i] == "--name" && i + 1 < args.size()) name = args[++i];
    else if (args[i] == "--no-sync") sync = false;
    else files.push_back(args[i]);
  }
  if (files.empty() || (!name.empty() && files.size() > 1)) {
    std::fprintf(stderr,
                 "usage: strata import [--parent NAME] [--name NAME] [--no-sync] LAYER...\n"
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
      std::fprintf(stderr, "strata import: prepare on \"%s\": %s\n", parent.c_str(), s.error_message().c_str());
      return 1;
    }
    std::string dir = WritableDir(resp);
    if (dir.empty()) {
      Remove(stub, key);
      std::fprintf(stderr, "strata import: unexpected mounts from the daemon\n");
      return 1;
    }
    auto layer = Extract(file, dir, sync, WhiteoutsFor(resp));
    if (!layer.ok()) {
      Remove(stub, key);
      std::fprintf(stderr, "strata import: %s: %s\n", file.c_str(), layer.status().ToString().c_str());
      return 1;
    }
    std::string committed = name.empty() ? ChainId(parent, layer->diff_id) : name;
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
        std::fprintf(stderr, "strata import: commit %s: %s\n", committed.c_str(), s.error_message().c_str());
        return 1;
      }
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s\t%s\tdiff_id=%s\tcompression=%s\ttar_bytes=%lld\tentries=%lld\tfiles=%lld\t%.3fs%s\n",
                file.c_str(), committed.c_str(), layer->diff_id.c_str(),
                std::string(CompressionName(layer->compression)).c_str(), static_cast<long long>(layer->tar_bytes),
                static_cast<long long>(layer->stats.entries),
                static_cast<long long>(layer->stats.files), secs,
                exists ? "\t(already present)" : "");
    parent = committed;
  }
  return 0;
}

}  // namespace strata
