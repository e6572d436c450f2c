// `strata status`: the daemon's backend, root, uptime, snapshot counts and
// diff-service counters (layers applied by Strata, declined to containerd's
// next differ, failed), from Strata's own Status service on the daemon's
// socket. `--json` prints one JSON object (for scripts and tests).
#ifndef STRATA_SNAPSHOTTER_CLI_STATUS_H_
#define STRATA_SNAPSHOTTER_CLI_STATUS_H_

#include <grpcpp/channel.h>

#include <memory>
#include <string>
#include <vector>

namespace strata {

// args: [--json]. Returns the process exit code (1 if the daemon cannot be
// asked, 2 on bad arguments).
int RunStatus(const std::shared_ptr<grpc::Channel>& channel,
              const std::vector<std::string>& args);

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_CLI_STATUS_H_
