#include "io/decompress/detect.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "io/decompress/gzip_source.h"
#include "io/decompress/zstd_source.h"

namespace strata {
namespace {

// Replays the sniffed bytes, then reads the rest of the stream.
class PrefixSource final : public Source {
 public:
  PrefixSource(std::string prefix, std::unique_ptr<Source> rest)
      : prefix_(std::move(prefix)), rest_(std::move(rest)) {}

  Result<size_t> Read(char* buf, size_t n) override {
    if (pos_ < prefix_.size()) {
      size_t k = std::min(n, prefix_.size() - pos_);
      std::memcpy(buf, prefix_.data() + pos_, k);
      pos_ += k;
      return k;
    }
    return rest_->Read(buf, n);
  }

 private:
  std::string prefix_;
  size_t pos_ = 0;
  std::unique_ptr<Source> rest_;
};

// Fails once more than max bytes have come out: the decompression-bomb limit.
class LimitSource final : public Source {
 public:
  LimitSource(std::unique_ptr<Source> in, uint64_t max, Compression c)
      : in_(std::move(in)), max_(max), compression_(c) {}

  Result<size_t> Read(char* buf, size_t n) override {
    // Ask for at most one byte past the limit, so exceeding it is noticed
    // without decoding much further.
    // (total_ <= max_ here: passing the limit fails the read that does.)
    if (max_ - total_ < n) n = static_cast<size_t>(max_ - total_ + 1);
    STRATA_ASSIGN_OR_RETURN(size_t got, in_->Read(buf, n));
    total_ += got;
    if (total_ > max_) {
      return ResourceExhausted(
          std::string(CompressionName(compression_)) +
          ": decompressed stream exceeds the max_output_bytes "
          "limit of " +
          std::to_string(max_) + " bytes");
    }
    return got;
  }

 private:
  std::unique_ptr<Source> in_;
  const uint64_t max_;
  const Compression compression_;
  uint64_t total_ = 0;
};

}  // namespace

Compression DetectCompression(std::string_view head) {
  auto b = [&](size_t i) { return static_cast<unsigned char>(head[i]); };
  if (head.size() >= 2 && b(0) == 0x1f && b(1) == 0x8b)
    return Compression::kGzip;
  if (head.size() >= 4 && b(1) == 0xb5 && b(2) == 0x2f && b(3) == 0xfd &&
      b(0) == 0x28) {
    return Compression::kZstd;
  }
  if (head.size() >= 4 && (b(0) & 0xf0) == 0x50 && b(1) == 0x2a &&
      b(2) == 0x4d && b(3) == 0x18) {
    return Compression::kZstd;  // skippable frame, then (we expect) zstd frames
  }
  return Compression::kNone;
}

Result<std::unique_ptr<Source>> OpenDecompressed(std::unique_ptr<Source> raw,
                                                 const DecompressOptions& opts,
                                                 Compression* detected) {
  std::string head(kCompressionMagicBytes, '\0');
  size_t got = 0;
  while (got < head.size()) {
    STRATA_ASSIGN_OR_RETURN(size_t k,
                            raw->Read(head.data() + got, head.size() - got));
    if (k == 0) break;
    got += k;
  }
  head.resize(got);
  const Compression c = DetectCompression(head);
  if (detected != nullptr) *detected = c;

  std::unique_ptr<Source> stream =
      std::make_unique<PrefixSource>(std::move(head), std::move(raw));
  if (c == Compression::kGzip) {
    STRATA_ASSIGN_OR_RETURN(stream,
                            NewGzipSource(std::move(stream), opts.gzip_engine));
  } else if (c == Compression::kZstd) {
    STRATA_ASSIGN_OR_RETURN(stream, NewZstdSource(std::move(stream)));
  }
  return std::unique_ptr<Source>(std::make_unique<LimitSource>(
      std::move(stream), opts.max_output_bytes, c));
}

}  // namespace strata
