// `strata df` and `strata dedup`: the Storage service's commands.
//
// `strata df`: where a running daemon's bytes are, from its Storage.Df RPC
// (the daemon walks its snapshots; the CLI never reads the root).
//
// One row per snapshot, parents before children (names indented by depth):
//   USAGE    the Usage RPC's answer, what containerd sees (exclusive bytes)
//   LOGICAL  what its own files would occupy with nothing shared (overlay:
//            its layer; reflink and copy: its whole tree)
//   ON-DISK  LOGICAL minus SAVED: what it adds to the filesystem
//   SHARED   bytes whose extents another snapshot's files map too
//   SAVED    bytes not stored again for it (held by an older snapshot, or
//            twice within its own files)
// A total line (shared bytes counted once), the metadata store's size and
// the root filesystem's statfs follow.
#ifndef STRATA_SNAPSHOTTER_CLI_STORAGE_H_
#define STRATA_SNAPSHOTTER_CLI_STORAGE_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

namespace strata {

// args: [--bytes] [--json]. --bytes prints exact byte counts instead of
// KiB/MiB/GiB; --json prints the RPC's answer as JSON. Returns the process
// exit code (2: bad arguments; 1: the RPC failed).
int RunDf(const std::shared_ptr<grpc::Channel>& channel,
          const std::vector<std::string>& args);

// `strata dedup [--dry-run] [--min-size BYTES]`: shares equal files of
// committed snapshots (Storage.Dedup), drawing a progress bar on a terminal,
// then a table. Ctrl-C stops it (what was shared stays shared).
int RunDedup(const std::shared_ptr<grpc::Channel>& channel,
             const std::vector<std::string>& args);

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_CLI_STORAGE_H_
