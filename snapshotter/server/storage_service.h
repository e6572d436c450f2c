// StorageService: Strata's own strata.services.storage.v1.Storage, for
// `strata df` and `strata dedup` (engine/space.h does the work). A dedup
// stops when its caller goes away or the daemon drains.
//
// Thread-safety: thread-safe; one dedup at a time (the engine refuses more).
#ifndef STRATA_SNAPSHOTTER_SERVER_STORAGE_SERVICE_H_
#define STRATA_SNAPSHOTTER_SERVER_STORAGE_SERVICE_H_

#include <chrono>

#include "snapshotter/server/rpc_gate.h"
#include "strata/services/storage/v1/storage.grpc.pb.h"

namespace strata {

class Engine;

class StorageService final
    : public strata::services::storage::v1::Storage::Service {
 public:
  // REQUIRES: engine outlives the service.
  explicit StorageService(Engine& engine) : engine_(engine) {}

  // Graceful stop: a running dedup stops at its next file.
  bool Drain(std::chrono::milliseconds timeout) { return gate_.Drain(timeout); }

  grpc::Status Df(grpc::ServerContext* ctx,
                  const strata::services::storage::v1::DfRequest* req,
                  strata::services::storage::v1::DfResponse* resp) override;
  grpc::Status Dedup(
      grpc::ServerContext* ctx,
      const strata::services::storage::v1::DedupRequest* req,
      grpc::ServerWriter<strata::services::storage::v1::DedupProgress>* writer)
      override;

 private:
  Engine& engine_;
  RpcGate gate_;
};

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_SERVER_STORAGE_SERVICE_H_
