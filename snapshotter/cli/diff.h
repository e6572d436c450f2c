// `strata diff`: what a snapshot changed against its parent, from the
// daemon's Changes service (the CLI never reads the root).
//
//   strata diff [--json] SNAPSHOT
//       One line per change, like `docker diff`: "A /path" added, "C /path"
//       changed, "D /path" deleted (a deleted directory is one line), in
//       containerd's order. Directories above a change are not listed
//       unless they changed themselves; a directory's mtime alone is no
//       change (containerd's rule).
//   strata diff --output FILE [--media-type TYPE] SNAPSHOT
//       Writes the changes as an OCI layer: compressed as TYPE, or as FILE's
//       name says (.tar, .tar.gz/.tgz, .tar.zst; gzip otherwise), and prints
//       its digest, size and DiffID. FILE is written beside itself and
//       renamed into place, so a failure leaves no partial layer.
#ifndef STRATA_SNAPSHOTTER_CLI_DIFF_H_
#define STRATA_SNAPSHOTTER_CLI_DIFF_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

namespace strata {

// Returns the process exit code (2: bad arguments; 1: the call failed).
int RunDiff(const std::shared_ptr<grpc::Channel>& channel,
            const std::vector<std::string>& args);

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_CLI_DIFF_H_
