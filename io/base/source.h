// Pull streams of bytes: the interface every reader of layer bytes takes
// (the tar reader, extraction), and two plain implementations. io/decompress
// implements it for gzip and zstd streams.
//
// Thread-safety: a Source is used by one thread at a time.
#ifndef STRATA_IO_BASE_SOURCE_H_
#define STRATA_IO_BASE_SOURCE_H_

#include <cstddef>
#include <string_view>

#include "io/base/result.h"

namespace strata {

// A pull stream of bytes.
class Source {
 public:
  virtual ~Source() = default;
  // Reads up to n bytes into buf; returns 0 only at end of stream.
  // REQUIRES: n > 0.
  virtual Result<size_t> Read(char* buf, size_t n) = 0;
};

// Reads a file descriptor with read(2), retrying EINTR. Does not own fd; fd
// must outlive the FdSource.
class FdSource final : public Source {
 public:
  explicit FdSource(int fd);
  Result<size_t> Read(char* buf, size_t n) override;

 private:
  int fd_;
};

// Reads a memory buffer. Does not copy: data must outlive the MemorySource.
class MemorySource final : public Source {
 public:
  explicit MemorySource(std::string_view data);
  Result<size_t> Read(char* buf, size_t n) override;

 private:
  std::string_view data_;
};

}  // namespace strata

#endif  // STRATA_IO_BASE_SOURCE_H_
