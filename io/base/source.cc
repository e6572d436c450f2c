#include "io/base/source.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "io/base/errno.h"

namespace strata {

FdSource::FdSource(int fd) : fd_(fd) {}

Result<size_t> FdSource::Read(char* buf, size_t n) {
  while (true) {
    ssize_t r = ::read(fd_, buf, n);
    if (r >= 0) return static_cast<size_t>(r);
    if (errno != EINTR) return PosixError("read", errno);
  }
}

MemorySource::MemorySource(std::string_view data) : data_(data) {}

Result<size_t> MemorySource::Read(char* buf, size_t n) {
  size_t k = std::min(n, data_.size());
  if (k > 0) std::memcpy(buf, data_.data(), k);
  data_.remove_prefix(k);
  return k;
}

}  // namespace strata
