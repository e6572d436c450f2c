// `strata import`: unpacks OCI layer tarballs into new committed snapshots of
// a running daemon, through its gRPC API only: Prepare, extract straight into
// the returned mount's writable directory (no mounting), Commit under the
// layer's ChainID. A failed extraction removes the half-made snapshot.
#ifndef STRATA_SNAPSHOTTER_CLI_IMPORT_H_
#define STRATA_SNAPSHOTTER_CLI_IMPORT_H_

#include <string>
#include <vector>

#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"

namespace strata {

// args: [--parent NAME] [--name NAME] [--no-sync] LAYER... (applied in order,
// each on the previous; each synced with syncfs before Commit unless
// --no-sync). Returns the process exit code.
int RunImport(containerd::services::snapshots::v1::Snapshots::Stub& stub,
              const std::vector<std::string>& args);

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_CLI_IMPORT_H_
