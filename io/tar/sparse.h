// Sparse file maps: the (offset, length) data segments of GNU tar's sparse
// formats, i.e. the old GNU 'S' header with its extension blocks and the pax
// formats 0.0 (offset/numbytes records, see pax.h), 0.1 (a comma list) and
// 1.0 (decimal lines at the start of the entry's data).
//
// Errors are InvalidArgument with a bare message; TarReader names the entry.
//
// Thread-safety: pure functions; a SparseMapDecoder is used by one thread.
#ifndef STRATA_IO_TAR_SPARSE_H_
#define STRATA_IO_TAR_SPARSE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/base/result.h"
#include "io/base/status.h"

namespace strata {

using SparseMap = std::vector<std::pair<int64_t, int64_t>>;  // (offset, length)

// Appends up to count old-GNU entries (offset[12], numbytes[12]) starting at
// p, stopping at the first whose offset field is empty.
Status AppendGnuSparseEntries(const char* p, size_t count, SparseMap* map);

// Parses pax 0.1's GNU.sparse.map, "offset,length[,offset,length...]".
Status ParseSparseMapList(std::string_view list, SparseMap* map);

// Decodes pax 1.0's map: "count\n" then count "offset\nlength\n" pairs,
// padded with anything to a 512-byte block boundary.
class SparseMapDecoder {
 public:
  // Feeds the next block of the entry's data. Returns true once the map is
  // complete; the rest of that block is padding. REQUIRES: 512 bytes.
  Result<bool> Feed(const char* block);
  SparseMap Take() { return std::move(map_); }

 private:
  Status EndNumber();

  int64_t count_ = -1;   // segments announced; -1 until read
  std::string digits_;   // of the number being read, across blocks
  int64_t offset_ = -1;  // of the segment being read
  SparseMap map_;
};

// Checks that the segments lie within [0, logical_size) in increasing,
// non-overlapping order and that their lengths add up to packed_size, the
// data bytes stored. A map without segments gets (logical_size, 0), so that
// a sparse entry always has at least one segment.
Status ValidateSparseMap(int64_t logical_size, int64_t packed_size,
                         SparseMap* map);

}  // namespace strata

#endif  // STRATA_IO_TAR_SPARSE_H_
