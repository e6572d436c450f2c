// Where the bytes are (strata df) and sharing what is already stored
// (strata dedup): README "Storage efficiency".
//
// Both walk the snapshots' own directories (overlay: each layer; reflink and
// copy: each full tree) with io/fs WalkTree, so no hostile tree can make them
// follow a symlink, leave the snapshot or cross into another mount, and both
// run beside the daemon's operations: a snapshot removed meanwhile is
// skipped, never an error.
//
// Thread-safety: MeasureSpace may run concurrently with anything; at most one
// Dedup runs at a time (the second is FailedPrecondition).
#ifndef STRATA_SNAPSHOTTER_ENGINE_SPACE_H_
#define STRATA_SNAPSHOTTER_ENGINE_SPACE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/base/result.h"
#include "snapshotter/engine/engine.h"

namespace strata {

// One snapshot's bytes. "Its files" are those of its own directory: an
// overlay layer, or a full tree for the reflink and copy backends.
struct SnapshotSpace {
  Info info;
  Usage usage;  // the Usage RPC's answer (exclusive, what containerd sees)
  // What its files would occupy with nothing shared: their extents, plus
  // every other inode's allocated blocks.
  int64_t logical = 0;
  // Of those, bytes whose extents another snapshot's files map too.
  int64_t shared = 0;
  // Bytes not stored again for it: extents already counted for an older
  // snapshot (the lowest id mapping them), or twice within its own files.
  int64_t saved = 0;
  int64_t on_disk() const { return logical - saved; }
};

struct SpaceReport {
  std::vector<SnapshotSpace> snapshots;  // in id order
  int64_t logical = 0;
  int64_t shared = 0;  // physical bytes mapped by two or more snapshots
  int64_t saved = 0;
  int64_t on_disk() const { return logical - saved; }
  // The root's filesystem (statvfs) and the metadata store's file.
  int64_t fs_size = 0, fs_used = 0, fs_available = 0;
  int64_t metadata_bytes = 0;
};

// Measures every snapshot (FIEMAP of its regular files; shared extents are
// swept once across all snapshots). ResourceExhausted past kMaxSharedExtents
// shared extents (the sweep's memory bound).
inline constexpr size_t kMaxSharedExtents = size_t{1} << 22;
Result<SpaceReport> MeasureSpace(Engine& engine);

struct DedupProgress {
  enum class Phase { kScan, kDigest, kShare, kDone };
  Phase phase = Phase::kScan;
  int64_t snapshots = 0;       // committed snapshots walked
  int64_t files_examined = 0;  // regular files of min_bytes or more
  int64_t candidates = 0;      // of those, files another has the size of
  int64_t bytes_to_digest = 0, bytes_digested = 0;
  int64_t files_shared = 0;  // files now sharing an equal file's extents
  int64_t bytes_shared = 0;
  int64_t bytes_freed = 0;     // their extents no other file mapped
  int64_t already_shared = 0;  // equal files that mapped the same extents
  int64_t skipped = 0;         // removed, changed or refused meanwhile
  double seconds = 0;
  bool interrupted = false;
};

struct DedupOptions {
  bool dry_run = false;  // digest and count, share nothing
  int64_t min_bytes = 4096;
  // Polled between files: true stops the run (what is shared stays shared:
  // each FIDEDUPERANGE is atomic and needs no record).
  std::function<bool()> cancelled;
  // Called on each phase change and at most every 100 ms.
  std::function<void(const DedupProgress&)> progress;
};

// Finds equal regular files across committed snapshots (size first, then
// SHA-256) and makes each share the extents of the first holder (lowest
// snapshot id) with FIDEDUPERANGE: the kernel compares the bytes itself, so
// files that differ, or change meanwhile, never share. Files are reopened by
// handle (name_to_handle_at at the walk), never by path. Unimplemented where
// the root's filesystem cannot dedupe. ResourceExhausted past
// kMaxDedupFiles files of min_bytes or more.
inline constexpr size_t kMaxDedupFiles = size_t{1} << 22;
Result<DedupProgress> Dedup(Engine& engine, const DedupOptions& options);

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_ENGINE_SPACE_H_
