#include "snapshotter/cli/diff.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "snapshotter/cli/cli_util.h"
#include "strata/services/changes/v1/changes.grpc.pb.h"

namespace strata {
namespace {

namespace cpb = strata::services::changes::v1;

constexpr const char* kUsage =
    "usage: strata diff [--json] SNAPSHOT\n"
    "       strata diff --output FILE [--media-type TYPE] SNAPSHOT\n";
constexpr const char* kTar = "application/vnd.oci.image.layer.v1.tar";

bool EndsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() &&
         s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string MediaTypeFor(const std::string& file) {
  if (EndsWith(file, ".tar")) return kTar;
  if (EndsWith(file, ".zst") || EndsWith(file, ".zstd"))
    return std::string(kTar) + "+zstd";
  return std::string(kTar) + "+gzip";
}

int Failed(const grpc::Status& s, const std::string& what) {
  std::fprintf(stderr, "strata diff: %s: code %d: %s\n", what.c_str(),
               s.error_code(), s.error_message().c_str());
  return 1;
}

int List(cpb::Changes::Stub& stub, const std::string& key, bool json) {
  grpc::ClientContext ctx;
  cpb::ListChangesRequest req;
  req.set_key(key);
  auto reader = stub.List(&ctx, req);
  cpb::ListChangesResponse batch, all;
  while (reader->Read(&batch)) {
    if (json) {
      all.MergeFrom(batch);
      continue;
    }
    for (const cpb::Change& c : batch.changes())
      std::printf("%s %s\n", c.kind().c_str(), c.path().c_str());
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return Failed(s, key);
  if (json) return PrintJson(all) ? 0 : 1;
  return 0;
}

int Export(cpb::Changes::Stub& stub, const std::string& key,
           const std::string& file, std::string media_type) {
  if (media_type.empty()) media_type = MediaTypeFor(file);
  std::string tmp = file + ".strata-tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "strata diff: create %s: %s\n", tmp.c_str(),
                 std::strerror(errno));
    return 1;
  }
  grpc::ClientContext ctx;
  cpb::ExportRequest req;
  req.set_key(key);
  req.set_media_type(media_type);
  auto reader = stub.Export(&ctx, req);
  cpb::ExportResponse m, done;
  int err = 0;
  while (reader->Read(&m)) {
    if (m.done()) {
      done = m;
      continue;
    }
    const std::string& d = m.data();
    for (size_t off = 0; off < d.size() && err == 0;) {
      ssize_t n = write(fd, d.data() + off, d.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0)
        err = errno;
      else
        off += static_cast<size_t>(n);
    }
    if (err != 0) ctx.TryCancel();
  }
  grpc::Status s = reader->Finish();
  if (err == 0 && fsync(fd) != 0) err = errno;
  close(fd);
  if (err != 0 || !s.ok() || !done.done()) {
    unlink(tmp.c_str());
    if (err != 0) {
      std::fprintf(stderr, "strata diff: write %s: %s\n", tmp.c_str(),
                   std::strerror(err));
      return 1;
    }
    if (!s.ok()) return Failed(s, key);
    std::fprintf(stderr, "strata diff: %s: the daemon ended the layer early\n",
                 key.c_str());
    return 1;
  }
  if (rename(tmp.c_str(), file.c_str()) != 0) {
    std::fprintf(stderr, "strata diff: rename to %s: %s\n", file.c_str(),
                 std::strerror(errno));
    unlink(tmp.c_str());
    return 1;
  }
  std::printf(
      "%s\n  media type: %s\n  digest:     %s\n  size:       %lld\n"
      "  diff id:    %s\n  entries:    %lld\n",
      file.c_str(), done.media_type().c_str(), done.digest().c_str(),
      static_cast<long long>(done.size()), done.diff_id().c_str(),
      static_cast<long long>(done.entries()));
  return 0;
}

}  // namespace

int RunDiff(const std::shared_ptr<grpc::Channel>& channel,
            const std::vector<std::string>& args) {
  bool json = false;
  std::string output, media_type, key;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json") {
      json = true;
    } else if ((a == "--output" || a == "-o") && i + 1 < args.size()) {
      output = args[++i];
    } else if (a == "--media-type" && i + 1 < args.size()) {
      media_type = args[++i];
    } else if (!a.empty() && a[0] != '-' && key.empty()) {
      key = a;
    } else {
      std::fprintf(stderr, "strata diff: unexpected argument \"%s\"\n%s",
                   a.c_str(), kUsage);
      return 2;
    }
  }
  if (key.empty() || (json && !output.empty()) ||
      (!media_type.empty() && output.empty())) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  auto stub = cpb::Changes::NewStub(channel);
  if (!output.empty()) return Export(*stub, key, output, media_type);
  return List(*stub, key, json);
}

}  // namespace strata
