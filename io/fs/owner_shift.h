// Rewrites the owners of every entry of a directory tree through an ID map,
// crash-safely: the plan (each changed inode's owners before and after, its
// mode and its security.capability) is written durably beside the tree
// first, then applied. Because the plan holds absolute owners, applying it
// again (or rolling it back) is idempotent, whatever the map: a shift that a
// crash cut short is finished or undone from the journal, never applied
// twice.
//
// Used at Commit of an ID-mapped overlay snapshot (issue 17): its upper was
// written by the container as host IDs and is stored as container IDs, so
// the committed layer can be shared by pods with any mapping.
//
// What a rewrite keeps: chown clears set-user-ID/set-group-ID bits and file
// capabilities; both are put back. A v3 capability (one a user namespace
// set, carrying its root's host uid) is rewritten through the uid map, to v2
// when that root maps to 0. The named user and group entries of POSIX ACLs
// (a file's, and a directory's default) are rewritten through the maps.
//
// Hostile trees: the walk is tree_walk.h's (bounded depth state, no symlink
// followed, no mount crossed); entries are changed relative to their parent
// directory's descriptor, and an entry reopened to restore its mode is
// checked to be the inode the plan named.
//
// Thread-safety: reentrant; one shift per tree at a time (the caller's).
#ifndef STRATA_IO_FS_OWNER_SHIFT_H_
#define STRATA_IO_FS_OWNER_SHIFT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "io/base/result.h"

namespace strata {

// The map: the new ID for an old one (return the same ID to leave it).
struct OwnerMap {
  std::function<uint32_t(uint32_t)> uid;
  std::function<uint32_t(uint32_t)> gid;
};

struct ShiftStats {
  uint64_t entries = 0;  // entries walked (the root included)
  uint64_t changed = 0;  // inodes whose owners changed
};

// At most this many changed inodes per shift (the plan is kept in memory:
// 88 bytes each, an index entry, and their ACLs: 64 MiB at most): a Commit past
// it fails with ResourceExhausted, and the snapshot stays as it was.
inline constexpr uint64_t kMaxShiftedInodes = uint64_t{1} << 20;

// Plans the shift of `tree` (its root included) through `map`, writes the
// plan durably to `journal` (a path beside the tree, on the same
// filesystem), and applies it. The journal stays: the caller removes it
// (RemoveShiftJournal) once what depended on the shift is durable, or rolls
// the shift back. A journal already there is refused (FailedPrecondition):
// finish or roll back the earlier shift first.
Result<ShiftStats> ShiftOwners(const std::string& tree, const OwnerMap& map,
                               const std::string& journal);

// Applies `journal` to `tree` again: forward (the shifted owners) or back
// (the owners before). OK with nothing done when there is no journal.
enum class ShiftDirection { kForward, kBack };
Status ReplayShiftJournal(const std::string& tree, const std::string& journal,
                          ShiftDirection direction);

// Removes the journal (OK when there is none) and syncs its directory.
Status RemoveShiftJournal(const std::string& journal);

// A security.capability value with a v3 capability's namespace root (the
// host uid of the user namespace that set it) rewritten through `uid`, as
// a v2 capability when that becomes 0; any other value unchanged. Also what
// a layer written from an ID-mapped upper carries (io/diff/layer_writer).
std::string MapCapabilityRoot(std::string_view cap,
                              const std::function<uint32_t(uint32_t)>& uid);

}  // namespace strata

#endif  // STRATA_IO_FS_OWNER_SHIFT_H_
