// BufferedReader: a fixed-size read-ahead buffer over a Source, with a peek
// interface for decoders (data/size/Consume/Fill) and a read interface for
// parsers (ReadFull/ReadSome/Skip). Memory is the capacity, whatever the
// stream's length; reads of at least the capacity bypass the buffer.
//
// Thread-safety: one thread at a time, like the Source beneath.
#ifndef STRATA_IO_BASE_BUFFERED_READER_H_
#define STRATA_IO_BASE_BUFFERED_READER_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "io/base/result.h"
#include "io/base/source.h"

namespace strata {

class BufferedReader {
 public:
  // Does not own src; src must outlive the reader. REQUIRES: capacity > 0.
  BufferedReader(Source& src, size_t capacity);

  // Buffered bytes not yet consumed.
  const char* data() const { return buf_.get() + pos_; }
  size_t size() const { return len_ - pos_; }
  // REQUIRES: n <= size().
  void Consume(size_t n);
  // Moves the buffered bytes to the front and reads once from the source into
  // the free space. Returns false (and sets eof()) when the source is at its
  // end. REQUIRES: size() < capacity.
  Result<bool> Fill();
  // Fills until size() >= n or end of stream; returns size() >= n.
  // REQUIRES: n <= capacity.
  Result<bool> Ensure(size_t n);
  bool eof() const { return eof_; }

  // Reads n bytes; fewer only at end of stream.
  Result<size_t> ReadFull(char* buf, size_t n);
  // Reads 1..n bytes; 0 only at end of stream. REQUIRES: n > 0.
  Result<size_t> ReadSome(char* buf, size_t n);
  // Discards n bytes; returns how many were discarded, fewer only at end.
  Result<uint64_t> Skip(uint64_t n);

  // Bytes consumed or read through this reader so far (not read-ahead).
  uint64_t consumed() const { return consumed_; }

 private:
  Source& src_;
  const size_t capacity_;
  std::unique_ptr<char[]> buf_;
  size_t pos_ = 0;
  size_t len_ = 0;
  uint64_t consumed_ = 0;
  bool eof_ = false;
};

}  // namespace strata

#endif  // STRATA_IO_BASE_BUFFERED_READER_H_
