#include <zlib.h>

#include <algorithm>
#include <climits>
#include <string>

#include "io/decompress/inflater.h"

namespace strata {
namespace {

class ZlibInflater final : public Inflater {
 public:
  ZlibInflater() = default;
  ~ZlibInflater() override {
    if (initialized_) inflateEnd(&zs_);
  }

  Status Init() {
    // 16 + MAX_WBITS: gzip wrapper only; a zlib or raw stream is an error.
    if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK) {
      return Internal("zlib: inflateInit2 failed");
    }
    initialized_ = true;
    return Status();
  }

  Result<Step> Inflate(const char* in, size_t in_len, char* out,
                       size_t out_len) override {
    const uInt in_avail = static_cast<uInt>(std::min<size_t>(in_len, UINT_MAX));
    const uInt out_avail =
        static_cast<uInt>(std::min<size_t>(out_len, UINT_MAX));
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in));
    zs_.avail_in = in_avail;
    zs_.next_out = reinterpret_cast<Bytef*>(out);
    zs_.avail_out = out_avail;
    int rc = inflate(&zs_, Z_NO_FLUSH);
    Step step;
    step.consumed = in_avail - zs_.avail_in;
    step.produced = out_avail - zs_.avail_out;
    switch (rc) {
      case Z_OK:
      case Z_BUF_ERROR:  // no progress possible: needs input
        return step;
      case Z_STREAM_END:
        step.member_end = true;
        return step;
      case Z_MEM_ERROR:
        return ResourceExhausted("zlib: out of memory");
      default:
        return InvalidArgument(
            std::string("corrupt data: ") +
            (zs_.msg != nullptr ? zs_.msg : "inflate error"));
    }
  }

  Status Reset() override {
    if (inflateReset(&zs_) != Z_OK)
      return Internal("zlib: inflateReset failed");
    return Status();
  }

 private:
  z_stream zs_{};
  bool initialized_ = false;
};

}  // namespace

Result<std::unique_ptr<Inflater>> NewZlibInflater() {
  auto inflater = std::make_unique<ZlibInflater>();
  STRATA_RETURN_IF_ERROR(inflater->Init());
  return std::unique_ptr<Inflater>(std::move(inflater));
}

}  // namespace strata
