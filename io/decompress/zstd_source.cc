#include "io/decompress/zstd_source.h"

#include <zstd.h>

#include <string>
#include <utility>

#include "io/base/buffered_reader.h"

namespace strata {
namespace {

constexpr size_t kInputBufferBytes = 128 << 10;

struct DCtxDeleter {
  void operator()(ZSTD_DCtx* ctx) const { ZSTD_freeDCtx(ctx); }
};

class ZstdSource final : public Source {
 public:
  ZstdSource(std::unique_ptr<Source> raw, ZSTD_DCtx* ctx)
      : raw_(std::move(raw)), in_(*raw_, kInputBufferBytes), ctx_(ctx) {}

  Result<size_t> Read(char* buf, size_t n) override {
    while (true) {
      ZSTD_inBuffer in{in_.data(), in_.size(), 0};
      ZSTD_outBuffer out{buf, n, 0};
      size_t rc = ZSTD_decompressStream(ctx_.get(), &out, &in);
      in_.Consume(in.pos);
      if (ZSTD_isError(rc)) {
        return InvalidArgument(std::string("zstd: ") + ZSTD_getErrorName(rc) +
                               " near compressed offset " +
                               std::to_string(in_.consumed()));
      }
      // 0: a frame is complete and fully flushed. Anything else: the frame
      // needs more input or holds output not yet flushed. A call that moved
      // nothing says nothing new (at a frame boundary it asks for a header).
      if (in.pos > 0 || out.pos > 0) frame_complete_ = rc == 0;
      if (out.pos > 0) return out.pos;
      if (in.pos > 0) continue;

      if (in_.size() > 0) {
        return Internal("zstd: decoder made no progress at compressed offset " +
                        std::to_string(in_.consumed()));
      }
      STRATA_ASSIGN_OR_RETURN(bool more, in_.Fill());
      if (!more) {
        if (frame_complete_) return size_t{0};
        return DataLoss("zstd: stream truncated inside a frame after " +
                        std::to_string(in_.consumed()) + " compressed bytes");
      }
    }
  }

 private:
  std::unique_ptr<Source> raw_;
  BufferedReader in_;
  std::unique_ptr<ZSTD_DCtx, DCtxDeleter> ctx_;
  bool frame_complete_ = false;
};

}  // namespace

Result<std::unique_ptr<Source>> NewZstdSource(std::unique_ptr<Source> raw) {
  ZSTD_DCtx* ctx = ZSTD_createDCtx();
  if (ctx == nullptr)
    return ResourceExhausted("zstd: cannot allocate a decoder");
  return std::unique_ptr<Source>(
      std::make_unique<ZstdSource>(std::move(raw), ctx));
}

}  // namespace strata
