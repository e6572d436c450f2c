// extract_layer: the io/ extraction engine alone, for the GNU tar oracle
// (tests/oracle/run.sh) and for timing without a daemon.
//
//   extract_layer [--delete-whiteouts] [--share-from SEED] LAYER DIR
//
// Applies LAYER (plain, gzip or zstd, by magic bytes; compressed ones on a
// prefetch thread) to DIR through ApplyLayer, with the default file sink
// (STRATA_IO picks another: uring, threads, sync). Whiteouts become overlayfs
// whiteouts, or with --delete-whiteouts delete what they name (full-tree
// backends). Prints the counts and the sink used; exits 1 with the error.
//
// --share-from SEED: content sharing (README "Storage efficiency") as the
// daemon runs it: LAYER is first extracted into SEED, digesting every file;
// then into DIR with every file proposed the SEED file of equal digest, so
// DIR's files are FICLONEs wherever SEED's filesystem can clone. DIR must
// still equal GNU tar's extraction.
#include <fcntl.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/base/errno.h"
#include "io/base/unique_fd.h"
#include "io/decompress/source.h"
#include "io/extract/apply_layer.h"
#include "io/fs/root_dir.h"
#include "io/sink/content_share.h"

namespace strata {
namespace {

// Proposes nothing: the first pass only digests.
class NoShare final : public ContentShare {
 public:
  UniqueFd Open(std::string_view, int64_t) override { return UniqueFd(); }
};

// Proposes the seed's file of each digest (the daemon's index, in memory).
class SeedShare final : public ContentShare {
 public:
  SeedShare(int seed_dir, const std::vector<DigestedFile>& files)
      : seed_dir_(seed_dir) {
    for (const DigestedFile& f : files) paths_[f.digest] = f.path;
  }
  UniqueFd Open(std::string_view digest, int64_t size) override {
    auto it = paths_.find(std::string(digest));
    if (it == paths_.end()) return UniqueFd();
    auto fd = OpenFileNoSymlinks(seed_dir_, it->second);
    auto id = fd.ok() ? IdentityOf(fd->get()) : Result<FileIdentity>(Status());
    if (!fd.ok() || !id.ok() || id->size != size) return UniqueFd();
    return std::move(*fd);
  }

 private:
  int seed_dir_;
  std::map<std::string, std::string> paths_;
};

Result<AppliedLayer> Run(const std::string& layer, const std::string& dir,
                         WhiteoutMode mode, ContentShare* share) {
  int fd = open(layer.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return PosixError("open " + layer, errno);
  UniqueFd target(
      open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!target.valid()) return PosixError("open " + dir, errno);
  ApplyOptions opts;
  opts.whiteouts = mode;
  opts.extract.share = share;
  return ApplyLayer(std::make_unique<FdSource>(fd), target.get(), opts);
}

Result<AppliedLayer> RunShared(const std::string& layer,
                               const std::string& seed, const std::string& dir,
                               WhiteoutMode mode) {
  NoShare none;
  STRATA_ASSIGN_OR_RETURN(AppliedLayer first, Run(layer, seed, mode, &none));
  UniqueFd seed_dir(
      open(seed.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!seed_dir.valid()) return PosixError("open " + seed, errno);
  SeedShare share(seed_dir.get(), first.files);
  return Run(layer, dir, mode, &share);
}

}  // namespace
}  // namespace strata

int main(int argc, char** argv) {
  strata::WhiteoutMode mode = strata::WhiteoutMode::kOverlay;
  int i = 1;
  if (i < argc && std::strcmp(argv[i], "--delete-whiteouts") == 0) {
    mode = strata::WhiteoutMode::kDelete;
    ++i;
  }
  std::string seed;
  if (i + 1 < argc && std::strcmp(argv[i], "--share-from") == 0) {
    seed = argv[i + 1];
    i += 2;
  }
  if (argc - i != 2) {
    std::fprintf(stderr,
                 "usage: extract_layer [--delete-whiteouts] [--share-from "
                 "SEED] LAYER DIR\n");
    return 2;
  }
  const char* sink = strata::MakeFileSink()->Name();
  auto r = seed.empty() ? strata::Run(argv[i], argv[i + 1], mode, nullptr)
                        : strata::RunShared(argv[i], seed, argv[i + 1], mode);
  if (!r.ok()) {
    std::fprintf(stderr, "extract_layer: %s: %s\n", argv[i],
                 r.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "sink=%s entries=%lld files=%lld dirs=%lld links=%lld whiteouts=%lld "
      "bytes=%lld shared_files=%lld shared_bytes=%lld\n",
      sink, static_cast<long long>(r->stats.entries),
      static_cast<long long>(r->stats.files),
      static_cast<long long>(r->stats.dirs),
      static_cast<long long>(r->stats.links),
      static_cast<long long>(r->stats.whiteouts),
      static_cast<long long>(r->stats.file_bytes),
      static_cast<long long>(r->stats.shared_files),
      static_cast<long long>(r->stats.shared_bytes));
  return 0;
}
