// StatusService: Strata's own strata.services.status.v1.Status, served on the
// daemon's socket beside containerd's services, for `strata status`: backend,
// root, uptime, snapshot counts and the diff service's Apply counters (how
// many layers Strata applied itself, declined to containerd's next differ,
// or failed). Kept out of containerd's services so those stay wire-identical.
//
// Thread-safety: thread-safe (reads atomics and one metadata read txn).
#ifndef STRATA_SNAPSHOTTER_SERVER_STATUS_SERVICE_H_
#define STRATA_SNAPSHOTTER_SERVER_STATUS_SERVICE_H_

#include <chrono>
#include <string>

#include "strata/services/status/v1/status.grpc.pb.h"

namespace strata {

class DiffService;
class Engine;

class StatusService final
    : public strata::services::status::v1::Status::Service {
 public:
  // `diff` may be null (no diff service). Uptime counts from construction.
  // REQUIRES: engine and diff outlive the service.
  StatusService(Engine& engine, const DiffService* diff,
                std::string containerd_address);

  grpc::Status Get(grpc::ServerContext*,
                   const strata::services::status::v1::GetStatusRequest*,
                   strata::services::status::v1::GetStatusResponse*) override;

 private:
  Engine& engine_;
  const DiffService* diff_;
  std::string containerd_address_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_SERVER_STATUS_SERVICE_H_
