// Backend: how a snapshot's directory is built, mounted and measured. The
// engine owns metadata and ordering; a backend only knows directories by id
// (through Layout) and never touches the metadata store.
//
// Thread-safety: implementations are thread-safe; calls for different ids
// never interfere.
#ifndef STRATA_SNAPSHOTTER_BACKEND_BACKEND_H_
#define STRATA_SNAPSHOTTER_BACKEND_BACKEND_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "io/base/result.h"
#include "io/extract/extractor.h"
#include "io/fs/fs_ops.h"
#include "io/fs/fs_util.h"
#include "snapshotter/types.h"

namespace strata {

class Backend {
 public:
  virtual ~Backend() = default;

  // Stable name recorded in the metadata store ("overlay").
  virtual std::string_view Name() const = 0;

  // Builds the skeleton of a new snapshot in `dir` (a staging directory that
  // will be renamed to the snapshot's directory), its directories made through
  // `fs` (the engine's fault-injection seam). parent_ids: nearest first.
  virtual Status BuildDir(FsOps& fs, const std::string& dir, Kind kind,
                          const std::vector<uint64_t>& parent_ids) = 0;

  // Whether BuildDir of `kind` over `parent_ids` writes file data (a clone
  // of the parent tree), which must then be synced before the snapshot is
  // recorded (engine.h's protocol).
  virtual bool BuildWritesData(
      Kind kind, const std::vector<uint64_t>& parent_ids) const = 0;

  // The mounts that present snapshot `id` of `kind` over its parents.
  // REQUIRES: kind is kActive or kView.
  virtual Result<std::vector<Mount>> Mounts(
      uint64_t id, Kind kind, const std::vector<uint64_t>& parent_ids) = 0;

  // Bytes and inodes the snapshot's own layer holds now; ResourceExhausted
  // past max_inodes inodes (kNoInodeLimit: none).
  virtual Result<Usage> MeasureUsage(uint64_t id, int64_t max_inodes) = 0;

  // The form of whiteouts a layer applied into one of this backend's active
  // snapshots takes: overlay whiteouts for a layer that is a diff over its
  // parents (also when parentless, so containerd 2.x can commit it onto a
  // parent later), deletions for a full tree.
  virtual WhiteoutMode Whiteouts() const = 0;

  // The deepest directory level a layer applied into one of its snapshots
  // may reach (0: no limit): what its walks can later clone.
  virtual int MaxLayerDepth() const = 0;

  // Whether snapshot `id`, built and filled without a parent, can be
  // committed onto `parent_ids` (nearest first; containerd 2.x's "rebase").
  // OK only where a layer is a diff that keeps its whiteouts (overlay);
  // FailedPrecondition, naming why, otherwise. Never touches the filesystem:
  // the engine calls it inside the commit transaction.
  virtual Status CheckRebase(uint64_t id,
                             const std::vector<uint64_t>& parent_ids) const = 0;

  // Derived data a backend may keep beside the snapshot directories (overlay:
  // short links under <root>/l), never anything the metadata records: losing
  // it costs nothing, it is rebuilt on demand. Open makes its directories
  // (once, at engine start); Forget drops what belongs to a removed id;
  // Prune drops what belongs to any id `keep` rejects and returns how many
  // entries went (recovery and Cleanup).
  virtual Status Open() { return Status::Ok(); }
  virtual void Forget(FsOps& /*fs*/, uint64_t /*id*/) {}
  virtual Result<int> Prune(FsOps& /*fs*/,
                            const std::function<bool(uint64_t)>& /*keep*/) {
    return 0;
  }
};

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_BACKEND_BACKEND_H_
