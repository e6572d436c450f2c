// extract_layer: the io/ extraction engine alone, for the GNU tar oracle
// (tests/oracle/run.sh) and for timing without a daemon.
//
//   extract_layer [--delete-whiteouts] LAYER DIR
//
// Applies LAYER (plain, gzip or zstd, by magic bytes; compressed ones on a
// prefetch thread) to DIR through ApplyLayer, with the default file sink
// (STRATA_IO picks another: uring, threads, sync). Whiteouts become overlayfs
// whiteouts, or with --delete-whiteouts delete what they name (full-tree
// backends). Prints the counts and the sink used; exits 1 with the error.
#include <fcntl.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "io/base/errno.h"
#include "io/base/unique_fd.h"
#include "io/decompress/source.h"
#include "io/extract/apply_layer.h"

namespace strata {
namespace {

Result<AppliedLayer> Run(const std::string& layer, const std::string& dir,
                         WhiteoutMode mode) {
  int fd = open(layer.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return PosixError("open " + layer, errno);
  UniqueFd target(
      open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!target.valid()) return PosixError("open " + dir, errno);
  ApplyOptions opts;
  opts.whiteouts = mode;
  return ApplyLayer(std::make_unique<FdSource>(fd), target.get(), opts);
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
  if (argc - i != 2) {
    std::fprintf(stderr,
                 "usage: extract_layer [--delete-whiteouts] LAYER DIR\n");
    return 2;
  }
  const char* sink = strata::MakeFileSink()->Name();
  auto r = strata::Run(argv[i], argv[i + 1], mode);
  if (!r.ok()) {
    std::fprintf(stderr, "extract_layer: %s: %s\n", argv[i],
                 r.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "sink=%s entries=%lld files=%lld dirs=%lld links=%lld whiteouts=%lld "
      "bytes=%lld\n",
      sink, static_cast<long long>(r->stats.entries),
      static_cast<long long>(r->stats.files),
      static_cast<long long>(r->stats.dirs),
      static_cast<long long>(r->stats.links),
      static_cast<long long>(r->stats.whiteouts),
      static_cast<long long>(r->stats.file_bytes));
  return 0;
}
