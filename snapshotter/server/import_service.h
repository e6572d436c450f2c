// ImportService: Strata's own strata.services.import.v1.Import, for
// `strata import`. The client streams a layer file; the daemon applies it to
// an active snapshot the engine lends (Engine::ApplyTargetFor: held against
// Remove and Commit meanwhile) through the same pipeline and apply slots as
// the diff service, so the CLI never writes into the root itself.
//
// Thread-safety: thread-safe; each call works on its own snapshot.
#ifndef STRATA_SNAPSHOTTER_SERVER_IMPORT_SERVICE_H_
#define STRATA_SNAPSHOTTER_SERVER_IMPORT_SERVICE_H_

#include <chrono>

#include "snapshotter/server/rpc_gate.h"
#include "strata/services/import/v1/import.grpc.pb.h"

namespace strata {

class ApplySlots;
class Engine;

class ImportService final
    : public strata::services::import::v1::Import::Service {
 public:
  // REQUIRES: engine and slots outlive the service.
  ImportService(Engine& engine, ApplySlots& slots)
      : engine_(engine), slots_(slots) {}

  // Graceful stop, as DiffService::Drain.
  bool Drain(std::chrono::milliseconds timeout) { return gate_.Drain(timeout); }

  grpc::Status Apply(
      grpc::ServerContext* ctx,
      grpc::ServerReader<strata::services::import::v1::ApplyRequest>* reader,
      strata::services::import::v1::ApplyResponse* resp) override;

 private:
  Engine& engine_;
  ApplySlots& slots_;
  RpcGate gate_;
};

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_SERVER_IMPORT_SERVICE_H_
