// The filesystem work `strata bench cow` times inside a mounted snapshot:
// the first operation on a file that lives in a lower layer, and the layer
// writes of containerd's snapshots/benchsuite.
//
// Thread-safety: plain functions; no shared state.
#ifndef STRATA_BENCH_HARNESS_COW_OPS_H_
#define STRATA_BENCH_HARNESS_COW_OPS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "io/base/result.h"

namespace strata {

// The first operation a container makes on a file of its image.
//   kWriteMid: open(O_WRONLY) + pwrite of 4 bytes at size/2 + close
//   kAppend:   open(O_WRONLY|O_APPEND) + write of 4 bytes + close
//   kChmod:    chmod 0600
//   kRename:   rename to "<name>.renamed" in the same directory
//   kDelete:   unlink
// None of them calls fsync; overlayfs fsyncs a copied-up file itself.
enum class CowOp { kWriteMid, kAppend, kChmod, kRename, kDelete };
inline constexpr CowOp kAllCowOps[] = {CowOp::kWriteMid, CowOp::kAppend,
                                       CowOp::kChmod, CowOp::kRename,
                                       CowOp::kDelete};
std::string_view CowOpName(CowOp op);

// Runs `op` on `path` (a file of `size` bytes) and returns its wall time in
// microseconds.
Result<double> TimeCowOp(CowOp op, const std::string& path, uint64_t size);

// Creates `path` with `size` bytes of pseudo-random data from `seed` (so no
// filesystem can compress or deduplicate it), mode `mode`.
Status WriteRandomFile(const std::string& path, uint64_t size, uint64_t seed,
                       int mode = 0644);

// Drops `path`'s cached pages (posix_fadvise DONTNEED), so the next read of
// a lower file comes from the disk as a container's first touch would.
// REQUIRES: the file's dirty data was synced.
void EvictFromCache(const std::string& path);

// syncfs on the filesystem holding `dir`, then its used bytes (statfs:
// (f_blocks - f_bfree) * f_frsize).
Result<int64_t> SyncedUsedBytes(const std::string& dir);

// Applies layer `index` (1-based) of containerd's benchsuite to `root`: by
// index % 3 == 0, % 2 == 0 or otherwise, creates random files of
// `file_bytes` among /a../j, updates 4 bytes in the middle of others, or
// removes them (benchmark.go's makeApplier).
Status ApplyBenchsuiteLayer(const std::string& root, int index,
                            uint64_t file_bytes, uint64_t seed);

}  // namespace strata

#endif  // STRATA_BENCH_HARNESS_COW_OPS_H_
