// Test helpers for Sources: read everything, split reads, compress fixtures.
#ifndef STRATA_IO_DECOMPRESS_TEST_UTIL_H_
#define STRATA_IO_DECOMPRESS_TEST_UTIL_H_

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "io/decompress/source.h"

namespace strata {

// Reads src to its end with reads of at most chunk bytes.
inline Result<std::string> ReadAll(Source& src, size_t chunk = 64 << 10) {
  std::string out;
  std::string buf(chunk, '\0');
  while (true) {
    STRATA_ASSIGN_OR_RETURN(size_t got, src.Read(buf.data(), buf.size()));
    if (got == 0) return out;
    out.append(buf.data(), got);
  }
}

// Hands out at most `step` bytes a read, to exercise every buffer boundary.
class TrickleSource final : public Source {
 public:
  TrickleSource(std::string_view data, size_t step)
      : data_(data), step_(step) {}
  Result<size_t> Read(char* buf, size_t n) override {
    size_t k = std::min({n, step_, data_.size()});
    std::memcpy(buf, data_.data(), k);
    data_.remove_prefix(k);
    return k;
  }

 private:
  std::string_view data_;
  size_t step_;
};

// data whole (trickle 0) or `trickle` bytes a read.
inline std::unique_ptr<Source> TestSource(std::string_view data,
                                          size_t trickle = 0) {
  if (trickle == 0) return std::make_unique<MemorySource>(data);
  return std::make_unique<TrickleSource>(data, trickle);
}

// Half compressible text, half random bytes.
inline std::string TestPayload(size_t n, unsigned seed = 1) {
  std::mt19937 rng(seed);
  std::string s;
  s.reserve(n);
  while (s.size() < n) {
    if (s.size() % 8192 < 4096) {
      s += "line " + std::to_string(s.size()) + " of the test payload\n";
    } else {
      s.push_back(static_cast<char>(rng()));
    }
  }
  s.resize(n);
  return s;
}

// One gzip member of data (zlib's deflate with a gzip wrapper).
inline std::string GzipMember(std::string_view data, int level = 6) {
  z_stream zs{};
  deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, data.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

inline std::string ZstdFrame(std::string_view data, int level = 3) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n =
      ZSTD_compress(out.data(), out.size(), data.data(), data.size(), level);
  out.resize(ZSTD_isError(n) ? 0 : n);
  return out;
}

}  // namespace strata

#endif  // STRATA_IO_DECOMPRESS_TEST_UTIL_H_
