// `strata df`: disk usage of a running daemon's snapshots, through its gRPC
// API only (List, then Usage of each snapshot), plus the real usage of the
// filesystem under the daemon's root (statfs) when --root names it: the
// snapshots API does not reveal the root, so the CLI never guesses it.
//
// One row per snapshot, parents before children (a tree, names indented by
// depth): EXCLUSIVE is the snapshot's Usage (overlay: its own layer; reflink:
// the bytes it does not share with its parent plus its inodes; committed
// snapshots keep the figure measured at Commit), LOGICAL is the sum of
// EXCLUSIVE over the snapshot's chain (itself and its ancestors: what the tree
// would hold as an independent copy). The total line sums EXCLUSIVE over all
// snapshots (what they occupy) and LOGICAL over the chain tips, the snapshots
// without children (what as many independent copies would occupy).
#ifndef STRATA_SNAPSHOTTER_CLI_DF_H_
#define STRATA_SNAPSHOTTER_CLI_DF_H_

#include <string>
#include <vector>

#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"

namespace strata {

// args: [--root DIR] [--bytes]. --bytes prints exact byte counts instead of
// KiB/MiB/GiB. Returns the process exit code (2: bad arguments; 1: an RPC or
// statfs failed).
int RunDf(containerd::services::snapshots::v1::Snapshots::Stub& stub,
          const std::vector<std::string>& args);

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_CLI_DF_H_
