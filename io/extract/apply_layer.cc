#include "io/extract/apply_layer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "io/base/errno.h"
#include "io/base/unique_fd.h"
#include "io/extract/layer_stream.h"
#include "io/extract/tar_entry_stream.h"
#include "io/fs/fs_util.h"
#include "io/fs/path_fd.h"
#include "io/tar/tar_reader.h"

namespace strata {

Result<AppliedLayer> ApplyLayer(std::unique_ptr<Source> raw, int target_fd,
                                const ApplyOptions& opts) {
  AppliedLayer out;
  STRATA_ASSIGN_OR_RETURN(
      auto plain,
      OpenDecompressed(std::move(raw), opts.decompress, &out.compression));
  LayerStream layer(std::move(plain));
  TarReader reader(layer);
  TarEntryStream entries(reader);
  std::unique_ptr<FileSink> sink =
      opts.sink ? MakeFileSink(*opts.sink) : MakeFileSink();
  ExtractOptions xopts = opts.extract;
  xopts.whiteouts = opts.whiteouts;
  Extractor extractor(target_fd, *sink, xopts);
  STRATA_ASSIGN_OR_RETURN(out.stats, extractor.Apply(entries));
  out.files = std::move(extractor.digested());
  STRATA_ASSIGN_OR_RETURN(out.diff_id, layer.Finish());
  out.tar_bytes = layer.bytes();
  if (opts.sync) STRATA_RETURN_IF_ERROR(SyncFs(target_fd));
  return out;
}

}  // namespace strata
