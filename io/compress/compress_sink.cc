#include "io/compress/compress_sink.h"

#include <zlib.h>
#include <zstd.h>
#ifdef STRATA_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace strata {
namespace {

constexpr size_t kOutChunk = 256 << 10;

class PassSink final : public CompressSink {
 public:
  explicit PassSink(ByteSink& out) : out_(out) {}
  Status Write(std::string_view b) override { return out_.Write(b); }
  Status Finish() override { return Status::Ok(); }

 private:
  ByteSink& out_;
};

#ifdef STRATA_HAVE_ISAL
class IsalGzipSink final : public CompressSink {
 public:
  explicit IsalGzipSink(ByteSink& out)
      : out_(out), level_buf_(ISAL_DEF_LVL1_DEFAULT), buf_(kOutChunk) {
    isal_deflate_init(&z_);
    z_.level = 1;
    z_.level_buf = level_buf_.data();
    z_.level_buf_size = static_cast<uint32_t>(level_buf_.size());
    z_.gzip_flag = IGZIP_GZIP;
  }
  Status Write(std::string_view b) override { return Run(b, false); }
  Status Finish() override { return Run({}, true); }

 private:
  Status Run(std::string_view in, bool end) {
    z_.next_in = reinterpret_cast<uint8_t*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uint32_t>(in.size());
    z_.end_of_stream = end ? 1 : 0;
    z_.flush = NO_FLUSH;
    do {
      z_.next_out = buf_.data();
      z_.avail_out = static_cast<uint32_t>(buf_.size());
      int rc = isal_deflate(&z_);
      if (rc != COMP_OK)
        return Internal("gzip (isal_deflate) error " + std::to_string(rc));
      size_t n = buf_.size() - z_.avail_out;
      if (n > 0) {
        STRATA_RETURN_IF_ERROR(out_.Write(
            std::string_view(reinterpret_cast<char*>(buf_.data()), n)));
      }
    } while (z_.avail_in > 0 || (end && z_.internal_state.state != ZSTATE_END));
    return Status::Ok();
  }

  ByteSink& out_;
  isal_zstream z_;
  std::vector<uint8_t> level_buf_;
  std::vector<uint8_t> buf_;
};
#endif

class ZlibGzipSink final : public CompressSink {
 public:
  explicit ZlibGzipSink(ByteSink& out) : out_(out), buf_(kOutChunk) {
    // 15 + 16: a gzip wrapper (header mtime 0).
    ok_ = deflateInit2(&z_, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) ==
          Z_OK;
  }
  ~ZlibGzipSink() override {
    if (ok_) deflateEnd(&z_);
  }
  Status Write(std::string_view b) override { return Run(b, Z_NO_FLUSH); }
  Status Finish() override { return Run({}, Z_FINISH); }

 private:
  Status Run(std::string_view in, int flush) {
    if (!ok_) return Internal("gzip (zlib) could not start");
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    int rc = Z_OK;
    do {
      z_.next_out = buf_.data();
      z_.avail_out = static_cast<uInt>(buf_.size());
      rc = deflate(&z_, flush);
      if (rc == Z_STREAM_ERROR) return Internal("gzip (zlib) stream error");
      size_t n = buf_.size() - z_.avail_out;
      if (n > 0) {
        STRATA_RETURN_IF_ERROR(out_.Write(
            std::string_view(reinterpret_cast<char*>(buf_.data()), n)));
      }
    } while (z_.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
    return Status::Ok();
  }

  ByteSink& out_;
  z_stream z_{};
  bool ok_ = false;
  std::vector<Bytef> buf_;
};

class ZstdSink final : public CompressSink {
 public:
  explicit ZstdSink(ByteSink& out)
      : out_(out), ctx_(ZSTD_createCCtx()), buf_(ZSTD_CStreamOutSize()) {
    if (ctx_ != nullptr) {
      ZSTD_CCtx_setParameter(ctx_, ZSTD_c_compressionLevel, 3);
      // An 8 MiB window (containerd's klauspost encoder uses one) with
      // long-distance matching: files repeated across a layer compress
      // against each other at no measurable cost in speed.
      ZSTD_CCtx_setParameter(ctx_, ZSTD_c_windowLog, 23);
      ZSTD_CCtx_setParameter(ctx_, ZSTD_c_enableLongDistanceMatching, 1);
    }
  }
  ~ZstdSink() override { ZSTD_freeCCtx(ctx_); }
  Status Write(std::string_view b) override { return Run(b, ZSTD_e_continue); }
  Status Finish() override { return Run({}, ZSTD_e_end); }

 private:
  Status Run(std::string_view b, ZSTD_EndDirective mode) {
    if (ctx_ == nullptr) return Internal("zstd could not start");
    ZSTD_inBuffer in{b.data(), b.size(), 0};
    for (;;) {
      ZSTD_outBuffer out{buf_.data(), buf_.size(), 0};
      size_t left = ZSTD_compressStream2(ctx_, &out, &in, mode);
      if (ZSTD_isError(left))
        return Internal(std::string("zstd: ") + ZSTD_getErrorName(left));
      if (out.pos > 0) {
        STRATA_RETURN_IF_ERROR(
            out_.Write(std::string_view(buf_.data(), out.pos)));
      }
      bool done = mode == ZSTD_e_end ? left == 0 : in.pos == in.size;
      if (done) return Status::Ok();
    }
  }

  ByteSink& out_;
  ZSTD_CCtx* ctx_;
  std::vector<char> buf_;
};

}  // namespace

AsyncSink::AsyncSink(ByteSink& out, size_t chunk, size_t depth)
    : out_(out), chunk_(chunk), depth_(depth), thread_([this] { Run(); }) {}

AsyncSink::~AsyncSink() {
  {
    std::lock_guard<std::mutex> l(mu_);
    closing_ = true;
    if (error_.ok()) error_ = Canceled("the layer was abandoned");
    queue_.clear();
  }
  changed_.notify_all();
  thread_.join();
}

void AsyncSink::Run() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    changed_.wait(l, [this] { return closing_ || !queue_.empty(); });
    if (queue_.empty()) return;  // closing, all written
    std::string chunk = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    l.unlock();
    changed_.notify_all();  // room for the producer
    Status s = out_.Write(chunk);
    l.lock();
    busy_ = false;
    if (!s.ok() && error_.ok()) {
      error_ = s;
      queue_.clear();
    }
    changed_.notify_all();
  }
}

Status AsyncSink::Push(std::string chunk) {
  std::unique_lock<std::mutex> l(mu_);
  changed_.wait(l, [this] { return queue_.size() < depth_ || !error_.ok(); });
  if (!error_.ok()) return error_;
  queue_.push_back(std::move(chunk));
  l.unlock();
  changed_.notify_all();
  return Status::Ok();
}

Status AsyncSink::Write(std::string_view bytes) {
  while (!bytes.empty()) {
    size_t n = std::min(bytes.size(), chunk_ - buf_.size());
    buf_.append(bytes.substr(0, n));
    bytes.remove_prefix(n);
    if (buf_.size() == chunk_) {
      std::string full;
      full.reserve(chunk_);
      full.swap(buf_);
      STRATA_RETURN_IF_ERROR(Push(std::move(full)));
    }
  }
  return Status::Ok();
}

Status AsyncSink::Finish() {
  if (!buf_.empty()) STRATA_RETURN_IF_ERROR(Push(std::move(buf_)));
  buf_.clear();
  std::unique_lock<std::mutex> l(mu_);
  changed_.wait(l,
                [this] { return (queue_.empty() && !busy_) || !error_.ok(); });
  return error_;
}

std::unique_ptr<CompressSink> NewCompressSink(Compression c, ByteSink& out) {
  switch (c) {
    case Compression::kGzip:
#ifdef STRATA_HAVE_ISAL
      return std::make_unique<IsalGzipSink>(out);
#else
      return std::make_unique<ZlibGzipSink>(out);
#endif
    case Compression::kZstd:
      return std::make_unique<ZstdSink>(out);
    case Compression::kNone:
      break;
  }
  return std::make_unique<PassSink>(out);
}

}  // namespace strata
