// ByteSink: where a stream of bytes goes (a layer being written: the tar
// writer, the compressors, a digest, containerd's content store, a caller's
// gRPC stream). StringSink keeps them in memory (tests, small archives).
//
// Thread-safety: one writer per sink.
#ifndef STRATA_IO_BASE_BYTE_SINK_H_
#define STRATA_IO_BASE_BYTE_SINK_H_

#include <string>
#include <string_view>

#include "io/base/status.h"

namespace strata {

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual Status Write(std::string_view bytes) = 0;
};

// Appends to a string (tests, small archives).
class StringSink final : public ByteSink {
 public:
  Status Write(std::string_view bytes) override {
    out_.append(bytes);
    return Status::Ok();
  }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

}  // namespace strata

#endif  // STRATA_IO_BASE_BYTE_SINK_H_
