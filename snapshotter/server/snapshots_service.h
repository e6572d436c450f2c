// SnapshotsService: containerd.services.snapshots.v1.Snapshots over the
// Engine. Each RPC converts the request, calls the engine once and converts
// the result; List streams results in batches of kListBatch infos per message
// (containerd's own service sends 100).
//
// Uses gRPC's synchronous API: the engine blocks on fsync and directory walks,
// and gRPC's sync server already runs handlers on its own thread pool, which
// is the worker pool the callback API would need.
//
// Thread-safety: thread-safe; the engine serialises writers.
#ifndef STRATA_SNAPSHOTTER_SERVER_SNAPSHOTS_SERVICE_H_
#define STRATA_SNAPSHOTTER_SERVER_SNAPSHOTS_SERVICE_H_

#include <chrono>

#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "snapshotter/server/rpc_gate.h"

namespace strata {

class Engine;

class SnapshotsService final
    : public containerd::services::snapshots::v1::Snapshots::Service {
 public:
  static constexpr int kListBatch = 100;

  // REQUIRES: engine outlives the service.
  explicit SnapshotsService(Engine& engine) : engine_(engine) {}

  // Graceful stop: from now on new RPCs fail with Unavailable; returns once
  // the RPCs already running have finished, or after `timeout` (false).
  // gRPC's own Shutdown(deadline) also waits for idle client connections
  // (containerd keeps one open), so the daemon drains here and then shuts the
  // server down at once.
  bool Drain(std::chrono::milliseconds timeout);

  using Ctx = grpc::ServerContext;
  grpc::Status Prepare(
      Ctx*, const containerd::services::snapshots::v1::PrepareSnapshotRequest*,
      containerd::services::snapshots::v1::PrepareSnapshotResponse*) override;
  grpc::Status View(
      Ctx*, const containerd::services::snapshots::v1::ViewSnapshotRequest*,
      containerd::services::snapshots::v1::ViewSnapshotResponse*) override;
  grpc::Status Mounts(
      Ctx*, const containerd::services::snapshots::v1::MountsRequest*,
      containerd::services::snapshots::v1::MountsResponse*) override;
  grpc::Status Commit(
      Ctx*, const containerd::services::snapshots::v1::CommitSnapshotRequest*,
      google::protobuf::Empty*) override;
  grpc::Status Remove(
      Ctx*, const containerd::services::snapshots::v1::RemoveSnapshotRequest*,
      google::protobuf::Empty*) override;
  grpc::Status Stat(
      Ctx*, const containerd::services::snapshots::v1::StatSnapshotRequest*,
      containerd::services::snapshots::v1::StatSnapshotResponse*) override;
  grpc::Status Update(
      Ctx*, const containerd::services::snapshots::v1::UpdateSnapshotRequest*,
      containerd::services::snapshots::v1::UpdateSnapshotResponse*) override;
  grpc::Status List(
      Ctx*, const containerd::services::snapshots::v1::ListSnapshotsRequest*,
      grpc::ServerWriter<
          containerd::services::snapshots::v1::ListSnapshotsResponse>*)
      override;
  grpc::Status Usage(
      Ctx*, const containerd::services::snapshots::v1::UsageRequest*,
      containerd::services::snapshots::v1::UsageResponse*) override;
  grpc::Status Cleanup(
      Ctx*, const containerd::services::snapshots::v1::CleanupRequest*,
      google::protobuf::Empty*) override;

 private:
  Engine& engine_;
  RpcGate gate_;
};

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_SERVER_SNAPSHOTS_SERVICE_H_
