// Adapts a TarReader to the extractor's EntryStream, and counts/digests the
// uncompressed bytes it consumes (the layer's DiffID).
#ifndef STRATA_IO_EXTRACT_TAR_ENTRY_STREAM_H_
#define STRATA_IO_EXTRACT_TAR_ENTRY_STREAM_H_

#include "io/base/sha256.h"
#include "io/decompress/source.h"
#include "io/extract/extractor.h"
#include "io/tar/tar_reader.h"

namespace strata {

// A Source that digests and counts what passes through it.
class DigestingSource final : public Source {
 public:
  explicit DigestingSource(Source& in) : in_(in) {}
  Result<size_t> Read(char* buf, size_t n) override {
    STRATA_ASSIGN_OR_RETURN(size_t got, in_.Read(buf, n));
    hash_.Update(std::string_view(buf, got));
    bytes_ += static_cast<int64_t>(got);
    return got;
  }
  // Reads what is left (tar padding after the end marker), then the digest.
  Result<std::string> Finish() {
    char buf[64 << 10];
    while (true) {
      STRATA_ASSIGN_OR_RETURN(size_t n, Read(buf, sizeof(buf)));
      if (n == 0) break;
    }
    return hash_.Digest();
  }
  int64_t bytes() const { return bytes_; }

 private:
  Source& in_;
  Sha256 hash_;
  int64_t bytes_ = 0;
};

class TarEntryStream final : public EntryStream {
 public:
  explicit TarEntryStream(TarReader& r) : r_(r) {}
  Result<bool> Next(TarEntry* e) override { return r_.Next(e); }
  Result<size_t> ReadData(char* buf, size_t n) override { return r_.ReadData(buf, n); }

 private:
  TarReader& r_;
};

}  // namespace strata

#endif  // STRATA_IO_EXTRACT_TAR_ENTRY_STREAM_H_
