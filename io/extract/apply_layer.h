// ApplyLayer: the one way a layer reaches a directory. Every caller (the diff
// service, `strata import` through the daemon, the tools and the fuzzers)
// goes through it, so what makes extraction safe lives in one place:
//
//   raw bytes -> OpenDecompressed (gzip/zstd/plain by magic, bomb limit)
//             -> LayerStream (read/inflate and DiffID digest, each on a
//                thread of its own)
//             -> TarReader -> Extractor (into an open directory descriptor)
//             -> optional syncfs of the target's filesystem.
//
// Memory per call is bounded whatever the layer: the file sink's window
// (ThreadedFileSink: 2,048 files / 32 MiB of buffers), one 1 MiB buffer for
// large files, the prefetch ring and the decompressor's window (a few MiB);
// with content sharing, one large file held whole until its digest is known
// (64 MiB at most, only when a stored file may have its size).
//
// Thread-safety: reentrant; calls share nothing.
#ifndef STRATA_IO_EXTRACT_APPLY_LAYER_H_
#define STRATA_IO_EXTRACT_APPLY_LAYER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/base/result.h"
#include "io/decompress/source.h"
#include "io/extract/extractor.h"
#include "io/sink/file_sink.h"

namespace strata {

struct ApplyOptions {
  // The target's form of whiteouts; its backend decides.
  WhiteoutMode whiteouts = WhiteoutMode::kOverlay;
  // syncfs(2) of the target's filesystem before returning.
  bool sync = false;
  DecompressOptions decompress;
  // The sink kind; unset: MakeFileSink()'s default (STRATA_IO overrides).
  std::optional<SinkKind> sink;
  // Extraction options other than whiteouts (owners, devices, progress).
  ExtractOptions extract;
};

struct AppliedLayer {
  std::string diff_id;  // "sha256:<hex>" of the uncompressed tar
  int64_t tar_bytes = 0;
  Compression compression = Compression::kNone;
  ExtractStats stats;
  // The regular files digested for content sharing (ExtractOptions::share).
  std::vector<DigestedFile> files;
};

// Applies the layer read from `raw` to the directory open at target_fd
// (kept open by the caller until this returns). On error the target may be
// partly written: the caller removes the snapshot.
Result<AppliedLayer> ApplyLayer(std::unique_ptr<Source> raw, int target_fd,
                                const ApplyOptions& opts);

}  // namespace strata

#endif  // STRATA_IO_EXTRACT_APPLY_LAYER_H_
