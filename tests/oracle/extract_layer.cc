// extract_layer: the io/ extraction engine alone, for the GNU tar oracle
// (tests/oracle/run.sh) and for timing without a daemon.
//
//   extract_layer [--delete-whiteouts] LAYER DIR
//
// Decompresses LAYER (plain, gzip or zstd, by magic bytes; compressed ones
// on a prefetch thread) and extracts it into DIR with the default file sink (STRATA_IO
// picks another: uring, threads, sync). Whiteouts become overlayfs
// whiteouts, or with --delete-whiteouts delete what they name (full-tree
// backends). Prints the counts and the sink used; exits 1 with the error.
#include <fcntl.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "io/base/errno.h"
#include "io/decompress/source.h"
#include "io/extract/extractor.h"
#include "io/extract/file_sink.h"
#include "io/extract/layer_stream.h"
#include "io/extract/tar_entry_stream.h"
#include "io/tar/tar_reader.h"

namespace strata {
namespace {

Result<ExtractStats> Run(const std::string& layer, const std::string& dir, WhiteoutMode mode,
                         const char** sink_name) {
  int fd = open(layer.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return PosixError("open " + layer, errno);
  Compression z = Compression::kNone;
  STRATA_ASSIGN_OR_RETURN(auto plain, OpenDecompressed(std::make_unique<FdSource>(fd), {}, &z));
  LayerStream layer_stream(std::move(plain), /*prefetch=*/z != Compression::kNone);
  TarReader reader(layer_stream);
  TarEntryStream entries(reader);
  auto sink = MakeFileSink();
  *sink_name = sink->Name();
  ExtractOptions opts;
  opts.whiteouts = mode;
  Extractor x(dir, *sink, opts);
  return x.Apply(entries);
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
    std::fprintf(stderr, "usage: extract_layer [--delete-whiteouts] LAYER DIR\n");
    return 2;
  }
  const char* sink = "?";
  auto r = strata::Run(argv[i], argv[i + 1], mode, &sink);
  if (!r.ok()) {
    std::fprintf(stderr, "extract_layer: %s: %s\n", argv[i], r.status().ToString().c_str());
    return 1;
  }
  std::printf("sink=%s entries=%lld files=%lld dirs=%lld links=%lld whiteouts=%lld bytes=%lld\n",
              sink, static_cast<long long>(r->entries), static_cast<long long>(r->files),
              static_cast<long long>(r->dirs), static_cast<long long>(r->links),
              static_cast<long long>(r->whiteouts), static_cast<long long>(r->file_bytes));
  return 0;
}
