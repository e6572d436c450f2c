// Layout: every path under a Strata root. Only ids become paths, and only
// here (containerd's upperPath(id)); client keys never do.
//
//   <root>/lock                  flock held by the running daemon
//   <root>/metadata/             LMDB environment (data.mdb, lock.mdb)
//   <root>/snapshots/<id>/fs     a snapshot's own layer (overlay upperdir)
//   <root>/snapshots/<id>/work   overlay workdir (active snapshots)
//   <root>/staging/new-XXXXXX/   a snapshot being built, not yet recorded
//   <root>/trash/<id>-<n>/       a removed snapshot awaiting deletion
//   <root>/quarantine/          what recovery could not remove, for an operator
//   <root>/l/<id>                overlay only: short symlink to
//                                snapshots/<id>/fs, in lowerdir= only when
//                                full paths overflow a page
//
// Thread-safety: immutable after construction.
#ifndef STRATA_SNAPSHOTTER_LAYOUT_H_
#define STRATA_SNAPSHOTTER_LAYOUT_H_

#include <cstdint>
#include <string>

namespace strata {

class Layout {
 public:
  explicit Layout(std::string root) : root_(std::move(root)) {}

  const std::string& root() const { return root_; }
  std::string LockFile() const { return root_ + "/lock"; }
  std::string MetadataDir() const { return root_ + "/metadata"; }
  std::string SnapshotsDir() const { return root_ + "/snapshots"; }
  std::string StagingDir() const { return root_ + "/staging"; }
  std::string TrashDir() const { return root_ + "/trash"; }
  std::string LinksDir() const { return root_ + "/l"; }
  std::string QuarantineDir() const { return root_ + "/quarantine"; }
  // Journals of owner shifts in flight (io/fs/owner_shift.h), one per id.
  std::string ShiftsDir() const { return root_ + "/shifts"; }
  std::string ShiftJournal(uint64_t id) const {
    return ShiftsDir() + "/" + std::to_string(id);
  }

  std::string SnapshotDir(uint64_t id) const {
    return SnapshotsDir() + "/" + std::to_string(id);
  }
  std::string FsDir(uint64_t id) const { return SnapshotDir(id) + "/fs"; }
  std::string WorkDir(uint64_t id) const { return SnapshotDir(id) + "/work"; }
  std::string LinkPath(uint64_t id) const {
    return LinksDir() + "/" + std::to_string(id);
  }
  // The link's target, relative so the root can move.
  static std::string LinkTarget(uint64_t id) {
    return "../snapshots/" + std::to_string(id) + "/fs";
  }

 private:
  std::string root_;
};

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_LAYOUT_H_
