#include "io/base/buffered_reader.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace strata {

BufferedReader::BufferedReader(Source& src, size_t capacity)
    : src_(src), capacity_(capacity), buf_(new char[capacity]) {
  assert(capacity > 0);
}

void BufferedReader::Consume(size_t n) {
  assert(n <= size());
  pos_ += n;
  consumed_ += n;
}

Result<bool> BufferedReader::Fill() {
  assert(size() < capacity_);
  if (pos_ > 0) {
    std::memmove(buf_.get(), buf_.get() + pos_, size());
    len_ -= pos_;
    pos_ = 0;
  }
  STRATA_ASSIGN_OR_RETURN(size_t got,
                          src_.Read(buf_.get() + len_, capacity_ - len_));
  if (got == 0) {
    eof_ = true;
    return false;
  }
  len_ += got;
  return true;
}

Result<bool> BufferedReader::Ensure(size_t n) {
  assert(n <= capacity_);
  while (size() < n) {
    STRATA_ASSIGN_OR_RETURN(bool more, Fill());
    if (!more) return false;
  }
  return true;
}

Result<size_t> BufferedReader::ReadSome(char* buf, size_t n) {
  assert(n > 0);
  if (size() == 0) {
    if (n >= capacity_) {
      // Large reads go straight to the caller's buffer: no copy.
      STRATA_ASSIGN_OR_RETURN(size_t got, src_.Read(buf, n));
      if (got == 0) eof_ = true;
      consumed_ += got;
      return got;
    }
    STRATA_ASSIGN_OR_RETURN(bool more, Fill());
    if (!more) return size_t{0};
  }
  size_t k = std::min(n, size());
  std::memcpy(buf, data(), k);
  Consume(k);
  return k;
}

Result<size_t> BufferedReader::ReadFull(char* buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    STRATA_ASSIGN_OR_RETURN(size_t got, ReadSome(buf + done, n - done));
    if (got == 0) break;
    done += got;
  }
  return done;
}

Result<uint64_t> BufferedReader::Skip(uint64_t n) {
  uint64_t done = 0;
  while (done < n) {
    if (size() == 0) {
      STRATA_ASSIGN_OR_RETURN(bool more, Fill());
      if (!more) break;
    }
    size_t k = static_cast<size_t>(std::min<uint64_t>(n - done, size()));
    Consume(k);
    done += k;
  }
  return done;
}

}  // namespace strata
