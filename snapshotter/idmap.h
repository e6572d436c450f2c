// User-namespace ID mappings on snapshots (issue 17), in containerd's words:
// the labels containerd.io/snapshot/uidmapping and .../gidmapping carry
// "<container>:<host>:<size>[,...]" (containerd's internal/userns IDMap
// Marshal; containerd 2.x sets them on Prepare and View for pods and
// `ctr run --uidmap/--gidmap` when the snapshotter declares the
// `remap-ids` capability). A mapped snapshot's mounts carry the same
// values as `uidmap=`/`gidmap=` options, which containerd's mount code
// turns into idmapped mounts (mount_setattr MOUNT_ATTR_IDMAP); its
// writable directory is owned by the host IDs container root maps to.
//
// Thread-safety: plain values and pure functions.
#ifndef STRATA_SNAPSHOTTER_IDMAP_H_
#define STRATA_SNAPSHOTTER_IDMAP_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "io/base/result.h"
#include "io/fs/owner_shift.h"
#include "snapshotter/types.h"

namespace strata {

inline constexpr const char* kUidMappingLabel =
    "containerd.io/snapshot/uidmapping";
inline constexpr const char* kGidMappingLabel =
    "containerd.io/snapshot/gidmapping";

struct IdRange {
  uint32_t container = 0;
  uint32_t host = 0;
  uint32_t size = 0;
};

struct SnapshotIdMap {
  std::string uid_label, gid_label;  // as given ("" when absent)
  std::vector<IdRange> uids, gids;
  bool mapped() const { return !uid_label.empty() || !gid_label.empty(); }
  // The host IDs container root (0) maps to; an axis without a mapping
  // maps 1:1 (containerd's toHost).
  uint32_t root_uid = 0, root_gid = 0;
};

// At most this many ranges per label: the kernel's limit for one user
// namespace's uid_map or gid_map (340 extents).
inline constexpr size_t kMaxIdRanges = 340;

// The mapping labels' meaning. InvalidArgument naming the label for a bad
// value: not "<u32>:<u32>:<u32>" ranges separated by commas, a zero size, a
// range past 2^32-1 on either side, ranges overlapping on either side, more
// than kMaxIdRanges, or a map under which container root has no host ID.
Result<SnapshotIdMap> IdMapFromLabels(const Labels& labels);

// The container ID a host ID maps to; the same ID when no range holds it.
uint32_t HostToContainer(const std::vector<IdRange>& ranges, uint32_t host);

// The mapping's inverse on both axes (HostToContainer): how a mapped
// overlay upper's host-owned entries are stored and written into layers.
OwnerMap ToContainerIds(const SnapshotIdMap& map);

// `mounts` with uidmap=/gidmap= options first, as containerd's overlayfs
// snapshotter gives them, when `map` is mapped.
void AddIdMapOptions(const SnapshotIdMap& map, std::vector<Mount>* mounts);

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_IDMAP_H_
