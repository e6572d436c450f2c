// `strata import`: unpacks OCI layer tarballs into new committed snapshots of
// a running daemon, through its gRPC API only: Prepare, stream the file to
// the daemon's Import service (which applies it with the same pipeline as
// the diff service), Commit under the layer's ChainID. A failed apply
// removes the half-made snapshot.
#ifndef STRATA_SNAPSHOTTER_CLI_IMPORT_H_
#define STRATA_SNAPSHOTTER_CLI_IMPORT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

namespace strata {

// args: [--parent NAME] [--name NAME] [--no-sync] LAYER... (applied in order,
// each on the previous; each synced with syncfs before Commit unless
// --no-sync). Returns the process exit code.
int RunImport(const std::shared_ptr<grpc::Channel>& channel,
              const std::vector<std::string>& args);

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_CLI_IMPORT_H_
