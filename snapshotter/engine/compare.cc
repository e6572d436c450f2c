// Engine::CompareMounts and CompareSnapshot: which of this engine's
// snapshots a Compare's mounts show, and their trees (engine.h).
#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "io/diff/changes.h"
#include "snapshotter/backend/backend.h"
#include "snapshotter/engine/engine.h"
#include "snapshotter/meta/snapshot_store.h"

namespace strata {
namespace {

// The directory a mount list shows on top: an overlay's upperdir, or its
// first lowerdir for a read-only one; a bind mount's source.
Result<std::string> TopDir(const std::vector<Mount>& mounts) {
  if (mounts.size() != 1) {
    return Unimplemented("want exactly one mount, got " +
                         std::to_string(mounts.size()));
  }
  const Mount& m = mounts[0];
  std::string dir;
  if (m.type == "overlay") {
    if (MountOptionValue(m.options, "upperdir", &dir)) return dir;
    if (!MountOptionValue(m.options, "lowerdir", &dir))
      return Unimplemented("overlay mount without lowerdir=");
    return dir.substr(0, dir.find(':'));
  }
  if (m.type == "bind" || m.type == "rbind") return m.source;
  return Unimplemented("mount type \"" + m.type.substr(0, 64) + "\"");
}

}  // namespace

Status CompareTrees::Walk(const ChangeVisitor& visit) const {
  if (overlay) {
    std::vector<int> fds;
    for (const UniqueFd& l : lowers) fds.push_back(l.get());
    return OverlayChanges(upper.get(), fds, visit);
  }
  return TreeChanges(lowers.empty() ? -1 : lowers[0].get(), upper.get(), visit);
}

void CompareTrees::SetOwnerMaps(LayerOptions& opts) const {
  if (!unmap.mapped()) return;
  OwnerMap m = ToContainerIds(unmap);
  opts.uid_map = std::move(m.uid);
  opts.gid_map = std::move(m.gid);
}

Result<CompareTrees> Engine::TreesOf(uint64_t id, std::string_view key) {
  CompareTrees t;
  std::vector<uint64_t> parents;
  STRATA_RETURN_IF_ERROR(store_->View([&](ReadTxn& txn) -> Status {
    auto r = key.empty() ? GetSnapshotById(txn, id) : GetSnapshot(txn, key);
    if (!r.ok() && r.status().code() == Code::kNotFound && key.empty())
      return NotFound("snapshot " + std::to_string(id) + " was removed");
    STRATA_RETURN_IF_ERROR(r.status());
    id = r->id;
    t.key = r->key;
    t.kind = r->kind;
    STRATA_ASSIGN_OR_RETURN(parents, ParentIds(txn, *r));
    // What Commit would store (UnmapUpperOwners): a mapped overlay upper.
    auto map = IdMapFromLabels(r->labels);
    if (map.ok() && map->mapped() && opts_.remap_ids &&
        r->kind == Kind::kActive && !parents.empty() &&
        backend_->Whiteouts() == WhiteoutMode::kOverlay) {
      t.unmap = std::move(*map);
    }
    if (!parents.empty()) {
      STRATA_ASSIGN_OR_RETURN(SnapshotRecord p,
                              GetSnapshotById(txn, parents[0]));
      t.parent = p.key;
    }
    return Status::Ok();
  }));
  t.overlay = backend_->Whiteouts() == WhiteoutMode::kOverlay;
  auto open_dir = [&](uint64_t which) -> Result<UniqueFd> {
    std::string dir = layout_.FsDir(which);
    UniqueFd fd(
        open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) {
      return Internal(SnapshotName(t.key) + ": open " +
                      (which == id ? "its" : "a parent's") +
                      " directory: " + std::strerror(errno));
    }
    return fd;
  };
  STRATA_ASSIGN_OR_RETURN(t.upper, open_dir(id));
  for (uint64_t p : parents) {
    STRATA_ASSIGN_OR_RETURN(UniqueFd fd, open_dir(p));
    t.lowers.push_back(std::move(fd));
    if (!t.overlay) break;  // a full tree: the parent's alone
  }
  return t;
}

Result<CompareTrees> Engine::CompareMounts(const std::vector<Mount>& left,
                                           const std::vector<Mount>& right) {
  STRATA_ASSIGN_OR_RETURN(std::string rdir, TopDir(right));
  uint64_t rid = IdOfDir(rdir);
  if (rid == 0) return NotOurDir(rdir);
  // The left side must show right's parent chain: its top directory is the
  // parent's, or, for a snapshot without parent, an empty view's own.
  std::string ldir;
  if (left.empty()) {
    ldir = "";
  } else {
    STRATA_ASSIGN_OR_RETURN(ldir, TopDir(left));
  }
  uint64_t lid = ldir.empty() ? 0 : IdOfDir(ldir);
  if (!ldir.empty() && lid == 0) return NotOurDir(ldir);
  STRATA_ASSIGN_OR_RETURN(CompareTrees t, TreesOf(rid, ""));
  if (t.kind == Kind::kView) {
    // A view of nothing (its own empty directory) has no changes to offer;
    // a view's mounts otherwise name its parent's directory.
    return Unimplemented(SnapshotName(t.key) + " is a view without parent");
  }
  uint64_t want_parent = 0;
  std::string lkey;
  Kind lkind = Kind::kUnknown;
  uint64_t lparent = 0;
  STRATA_RETURN_IF_ERROR(store_->View([&](ReadTxn& txn) -> Status {
    auto r = GetSnapshotById(txn, rid);
    STRATA_RETURN_IF_ERROR(r.status());
    want_parent = r->parent_id;
    if (lid != 0) {
      auto l = GetSnapshotById(txn, lid);
      if (!l.ok()) return Unimplemented("the left side's snapshot is gone");
      lkey = l->key;
      lkind = l->kind;
      lparent = l->parent_id;
    }
    return Status::Ok();
  }));
  const bool left_is_parent = lid != 0 && lid == want_parent;
  const bool left_is_empty =
      want_parent == 0 &&
      (lid == 0 ? ldir.empty() : lkind == Kind::kView && lparent == 0);
  if (!left_is_parent && !left_is_empty) {
    return Unimplemented(
        "the left side (" +
        (lkey.empty() ? std::string("no snapshot") : SnapshotName(lkey)) +
        ") is not the parent of " + SnapshotName(t.key));
  }
  return t;
}

Result<CompareTrees> Engine::CompareSnapshot(std::string_view key) {
  STRATA_RETURN_IF_ERROR(ValidateKey("key", key));
  STRATA_ASSIGN_OR_RETURN(CompareTrees t, TreesOf(0, key));
  if (t.kind == Kind::kView) {
    return FailedPrecondition(SnapshotName(key) +
                              " is a view: it has no changes of its own");
  }
  return t;
}

}  // namespace strata
