// TarReader: a streaming reader of tar archives (layer tarballs) in the POSIX
// ustar and pax formats and GNU tar's format, turning a Source of bytes into
// TarEntry records and their data.
//
// Supported: ustar prefix + name; GNU long names and link names ('L', 'K');
// pax 'x' and global 'g' headers (path, linkpath, size, uid, gid, mtime and
// atime with fractions, SCHILY.xattr.*, LIBARCHIVE.xattr.*); GNU sparse
// files, old 'S' headers and pax sparse 0.0, 0.1 and 1.0; base-256 numeric
// fields; checksums summed as unsigned or signed bytes. Entry types: '0',
// '\0' and '7' regular ('\0' with a trailing '/' is a directory, as in Go's
// archive/tar), '1' hardlink, '2' symlink, '3' char, '4' block, '5'
// directory, '6' fifo, 'S' GNU sparse regular. Types '1'-'6' carry no data,
// whatever their size field says (as in Go's archive/tar, which containerd
// uses).
//
// Paths are returned as in the archive, NOT sanitized: "../x" and "/abs" parse
// fine here; the extractor resolves them under the layer root.
//
// Errors name the entry (its path, or the header's name field before the path
// is known) and the header's byte offset, and are sticky: once Next or
// ReadData fails, every later call returns the same error.
//   - malformed input (bad checksum, bad numeric field, unknown type, bad pax
//     record, NUL in a name, limits in tar_header.h exceeded: names over 4095
//     bytes, sizes over 1 TiB, pax headers over 1 MiB) -> InvalidArgument
//   - the stream ends inside a header, its data or its padding -> DataLoss
//   - errors of the Source beneath keep their class
// Memory is bounded whatever the archive: a 64 KiB read buffer, one pax
// header (1 MiB), global pax xattrs (8 KiB), one sparse map (4 MiB).
//
// Thread-safety: one thread at a time.
#ifndef STRATA_IO_TAR_TAR_READER_H_
#define STRATA_IO_TAR_TAR_READER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/base/buffered_reader.h"
#include "io/base/result.h"
#include "io/base/source.h"
#include "io/tar/pax.h"
#include "io/tar/tar_header.h"

namespace strata {

struct TarEntry {
  enum class Type {
    kFile,
    kDirectory,
    kSymlink,
    kHardlink,
    kCharDevice,
    kBlockDevice,
    kFifo
  };
  Type type = Type::kFile;
  // As in the archive (after PAX/GNU long-name resolution), NOT sanitized.
  std::string path;
  std::string link_target;  // symlink target or hardlink source path
  uint32_t mode = 0;  // permission bits incl. setuid/setgid/sticky (07777)
  uint32_t uid = 0, gid = 0;
  // Regular files: bytes of data (for sparse files the logical size; the
  // stored data is the sum of the segment lengths). 0 otherwise.
  int64_t size = 0;
  int64_t mtime_sec = 0;
  int32_t mtime_nsec = 0;
  int64_t atime_sec = 0;  // atime = mtime when the archive has none
  int32_t atime_nsec = 0;
  uint32_t dev_major = 0, dev_minor = 0;
  // From PAX SCHILY.xattr.* (and LIBARCHIVE.xattr.* base64) in archive order;
  // one entry per name (the last value wins).
  std::vector<std::pair<std::string, std::string>> xattrs;
  // (offset, length) data segments of a GNU/PAX sparse file, in increasing
  // order, within [0, size); empty if not sparse. A sparse file has at least
  // one segment (an all-hole file has (size, 0)).
  std::vector<std::pair<int64_t, int64_t>> sparse;
};

std::string_view TarEntryTypeName(TarEntry::Type type);

class TarReader {
 public:
  // Does not own in; in must outlive the reader.
  explicit TarReader(Source& in);
  TarReader(const TarReader&) = delete;
  TarReader& operator=(const TarReader&) = delete;

  // Advances to the next entry (skipping unread data of the previous one).
  // Returns false at end of archive (two zero blocks, a zero block then end
  // of stream, or clean EOF at a block boundary); it then reads the stream
  // to its end, so bytes_consumed() is the whole uncompressed size and a
  // digesting Source beneath sees every byte.
  Result<bool> Next(TarEntry* entry);

  // Reads the current regular file's data (for sparse files: the packed data
  // segments in order); 0 at the end of this entry's data, and for entries
  // without data.
  Result<size_t> ReadData(char* buf, size_t n);

  // Uncompressed bytes read so far (for diffID/size reporting).
  int64_t bytes_consumed() const;

 private:
  Result<bool> ReadNext(TarEntry* entry);
  Status ReadEndOfArchive();
  Result<std::string> ReadMetaBody(const char* header, size_t limit,
                                   std::string_view what);
  Status ApplyGlobal(std::string_view body);
  Status BuildEntry(const char* header, TarEntry* e);
  Result<PaxOverrides> EntryPax();
  void HeaderPaths(const char* header, TarFormat format, TarEntry* e,
                   std::string* link);
  Status PaxPaths(const PaxOverrides& pax, TarEntry* e, std::string* link);
  Status ReadType(const char* header, TarEntry* e, bool* old_gnu_sparse);
  Status ReadOwnership(const char* header, const PaxOverrides& pax,
                       TarEntry* e);
  Status ReadTimes(const char* header, TarFormat format,
                   const PaxOverrides& pax, TarEntry* e);
  Status ReadDevice(const char* header, TarFormat format, TarEntry* e);
  Status ReadSize(const char* header, const PaxOverrides& pax,
                  bool old_gnu_sparse, TarEntry* e);
  Status ReadSparseMap(const char* header, bool old_gnu, const PaxSparse& s,
                       TarEntry* e);
  Status SkipEntryRest();
  Result<int64_t> HeaderNumber(const char* header, TarField field,
                               std::string_view what);
  Status CheckName(std::string_view name, std::string_view what);

  // "tar entry \"<name>\" (header at byte <n>)" for messages.
  std::string Where() const;
  Status Bad(std::string_view what) const;        // InvalidArgument
  Status Truncated(std::string_view what) const;  // DataLoss

  BufferedReader in_;
  Status error_;
  bool done_ = false;

  // The metadata headers seen since the last entry.
  std::string long_name_, long_link_;
  bool have_long_name_ = false, have_long_link_ = false;
  std::string local_pax_;  // body of the last 'x' header
  bool have_local_pax_ = false;
  PaxOverrides global_;  // accumulated 'g' records

  std::string entry_name_;      // for messages
  uint64_t header_offset_ = 0;  // of the current header block
  int64_t data_remaining_ = 0;  // of the current entry
  int64_t padding_ = 0;         // after its data
};

}  // namespace strata

#endif  // STRATA_IO_TAR_TAR_READER_H_
