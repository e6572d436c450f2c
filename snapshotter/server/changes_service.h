// ChangesService: Strata's own strata.services.changes.v1.Changes, for
// `strata diff`: a snapshot's changes against its parent (Engine::
// CompareSnapshot and io/diff's walkers, the code the diff service's
// Compare runs), listed or written as a layer and streamed to the caller.
// A call stops when its caller goes away or the daemon drains.
//
// Thread-safety: thread-safe; calls share nothing but the engine.
#ifndef STRATA_SNAPSHOTTER_SERVER_CHANGES_SERVICE_H_
#define STRATA_SNAPSHOTTER_SERVER_CHANGES_SERVICE_H_

#include <chrono>

#include "snapshotter/server/rpc_gate.h"
#include "strata/services/changes/v1/changes.grpc.pb.h"

namespace strata {

class Engine;

class ChangesService final
    : public strata::services::changes::v1::Changes::Service {
 public:
  // REQUIRES: engine outlives the service.
  explicit ChangesService(Engine& engine) : engine_(engine) {}

  bool Drain(std::chrono::milliseconds timeout) { return gate_.Drain(timeout); }

  grpc::Status List(
      grpc::ServerContext* ctx,
      const strata::services::changes::v1::ListChangesRequest* req,
      grpc::ServerWriter<strata::services::changes::v1::ListChangesResponse>*
          writer) override;
  grpc::Status Export(
      grpc::ServerContext* ctx,
      const strata::services::changes::v1::ExportRequest* req,
      grpc::ServerWriter<strata::services::changes::v1::ExportResponse>* writer)
      override;

 private:
  Engine& engine_;
  RpcGate gate_;
};

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_SERVER_CHANGES_SERVICE_H_
