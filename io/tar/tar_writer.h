// TarWriter: a layer tar as containerd's walking differ writes one (and as
// every OCI applier reads one): POSIX ustar headers, with a PAX 'x' header
// before an entry whose path or link target does not fit ustar's fields,
// whose numbers overflow them, or that carries xattrs (SCHILY.xattr.*).
// Owners are numeric (uname and gname empty), mtime whole seconds; the
// archive ends with two zero blocks.
//
// Entries are TarEntry values (tar_reader.h): what the reader yields, the
// writer takes. A regular file's header is followed by exactly `size` bytes
// through Data(); sparse entries are not written (a file is written whole).
//
// Thread-safety: one writer per stream.
#ifndef STRATA_IO_TAR_TAR_WRITER_H_
#define STRATA_IO_TAR_TAR_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "io/base/byte_sink.h"
#include "io/base/status.h"
#include "io/tar/tar_reader.h"

namespace strata {

class TarWriter {
 public:
  // Does not own out; out must outlive the writer.
  explicit TarWriter(ByteSink& out) : out_(out) {}
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  // Starts entry e. REQUIRES: the previous entry's data is complete. A
  // directory's path gets a trailing '/'. InvalidArgument for an empty path,
  // a path or link target over kMaxTarPathBytes, a NUL in either, a sparse
  // entry, or data on a non-file.
  Status Add(const TarEntry& e);
  // The current regular file's data, in any number of pieces.
  // FailedPrecondition past its size.
  Status Data(std::string_view bytes);
  // Pads the last entry and writes the end-of-archive blocks.
  // FailedPrecondition if the last file's data is short.
  Status Close();

  // Bytes written so far.
  int64_t bytes_written() const { return written_; }

 private:
  Status Emit(std::string_view bytes);
  Status Pad();

  ByteSink& out_;
  int64_t left_ = 0;     // data bytes the current entry still needs
  int64_t padding_ = 0;  // zeros after them, to the block boundary
  int64_t written_ = 0;
  bool closed_ = false;
};

}  // namespace strata

#endif  // STRATA_IO_TAR_TAR_WRITER_H_
