// Adapts a TarReader to the extractor's EntryStream. (The DiffID digest of
// the bytes it consumes is LayerStream's, io/extract/layer_stream.h.)
#ifndef STRATA_IO_EXTRACT_TAR_ENTRY_STREAM_H_
#define STRATA_IO_EXTRACT_TAR_ENTRY_STREAM_H_

#include "io/decompress/source.h"
#include "io/extract/extractor.h"
#include "io/tar/tar_reader.h"

namespace strata {

class TarEntryStream final : public EntryStream {
 public:
  explicit TarEntryStream(TarReader& r) : r_(r) {}
  Result<bool> Next(TarEntry* e) override { return r_.Next(e); }
  Result<size_t> ReadData(char* buf, size_t n) override {
    return r_.ReadData(buf, n);
  }

 private:
  TarReader& r_;
};

}  // namespace strata

#endif  // STRATA_IO_EXTRACT_TAR_ENTRY_STREAM_H_
