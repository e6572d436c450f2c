// SnapshotsService: containerd.services.snapshots.v1.Snapshots over the
// Engine. Each RPC converts the request, calls the engine once and converts
// the result; List streams results in batches of kListBatch infos per message
// (containerd's own service sends 100).
//
// Writes (and List, which streams) use gRPC's synchronous API: the engine
// blocks on fsync, and gRPC's sync server runs handlers on its own thread
// pool, which is the worker pool the callback API would need.
//
// The reads containerd polls (Stat, Mounts, Usage) are gRPC async methods on
// a completion queue of their own, answered inline by one thread: an LMDB
// read transaction costs microseconds, while the sync server's hand-off
// between its polling and working threads costs a context switch or two per
// call. So reads never wait behind a write's fsync or for a thread, and cost
// the daemon less than half the CPU per call (bench/ops.sh's CPU column).
// Usage of an active snapshot walks its directory: past kInlineWalkInodes
// inodes the call goes to one of two walker threads (kMaxQueuedWalks queued
// at most) so that the loop never blocks on a big walk.
//
// Lifecycle: AddTo(builder), builder.BuildAndStart(), StartReads(); at the
// end server->Shutdown(), then StopReads() (also run by the destructor).
//
// Thread-safety: thread-safe; the engine serialises writers.
#ifndef STRATA_SNAPSHOTTER_SERVER_SNAPSHOTS_SERVICE_H_
#define STRATA_SNAPSHOTTER_SERVER_SNAPSHOTS_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <optional>

#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "snapshotter/server/rpc_gate.h"

namespace strata {

class Engine;

namespace snapshots_grpc {
using Api = containerd::services::snapshots::v1::Snapshots;
// The generated service with Stat, Mounts and Usage made async.
using Base = Api::WithAsyncMethod_Stat<
    Api::WithAsyncMethod_Mounts<Api::WithAsyncMethod_Usage<Api::Service>>>;
}  // namespace snapshots_grpc

class SnapshotsService final : public snapshots_grpc::Base {
 public:
  static constexpr int kListBatch = 100;
  static constexpr size_t kMaxQueuedWalks = 256;
  // An active snapshot's Usage is walked inline up to this many inodes (a
  // container's upper directory usually holds a few).
  static constexpr int64_t kInlineWalkInodes = 64;

  // REQUIRES: engine outlives the service.
  explicit SnapshotsService(Engine& engine);
  ~SnapshotsService() override;

  // Registers the service on builder, with the completion queue its reads
  // are served from.
  void AddTo(grpc::ServerBuilder& builder);
  // After builder.BuildAndStart(): starts serving the async reads.
  void StartReads();
  // After the server's Shutdown(): lets queued usage walks answer, shuts the
  // read queue down and joins its threads. Idempotent.
  void StopReads();

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
  grpc::Status Commit(
      Ctx*, const containerd::services::snapshots::v1::CommitSnapshotRequest*,
      google::protobuf::Empty*) override;
  grpc::Status Remove(
      Ctx*, const containerd::services::snapshots::v1::RemoveSnapshotRequest*,
      google::protobuf::Empty*) override;
  grpc::Status Update(
      Ctx*, const containerd::services::snapshots::v1::UpdateSnapshotRequest*,
      containerd::services::snapshots::v1::UpdateSnapshotResponse*) override;
  grpc::Status List(
      Ctx*, const containerd::services::snapshots::v1::ListSnapshotsRequest*,
      grpc::ServerWriter<
          containerd::services::snapshots::v1::ListSnapshotsResponse>*)
      override;
  grpc::Status Cleanup(
      Ctx*, const containerd::services::snapshots::v1::CleanupRequest*,
      google::protobuf::Empty*) override;

 private:
  class Reads;  // the completion queue, its thread and the usage walkers

  // The async reads' handlers. DoUsageInline walks an active snapshot's
  // directory only up to kInlineWalkInodes inodes and returns nullopt past
  // them; WalkUsage then walks it all on a walker.
  grpc::Status DoStat(
      const containerd::services::snapshots::v1::StatSnapshotRequest& req,
      containerd::services::snapshots::v1::StatSnapshotResponse* resp);
  grpc::Status DoMounts(
      const containerd::services::snapshots::v1::MountsRequest& req,
      containerd::services::snapshots::v1::MountsResponse* resp);
  std::optional<grpc::Status> DoUsageInline(
      const containerd::services::snapshots::v1::UsageRequest& req,
      containerd::services::snapshots::v1::UsageResponse* resp);
  std::optional<grpc::Status> DoUsage(
      const containerd::services::snapshots::v1::UsageRequest& req,
      int64_t max_inodes,
      containerd::services::snapshots::v1::UsageResponse* resp);
  grpc::Status WalkUsage(
      const containerd::services::snapshots::v1::UsageRequest& req,
      containerd::services::snapshots::v1::UsageResponse* resp);

  Engine& engine_;
  RpcGate gate_;
  std::unique_ptr<grpc::ServerCompletionQueue> cq_;  // set by AddTo
  std::unique_ptr<Reads> reads_;                     // set by StartReads
};

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_SERVER_SNAPSHOTS_SERVICE_H_
