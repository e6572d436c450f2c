#include "snapshotter/server/snapshots_service.h"

#include <string>
#include <vector>

#include "io/base/log.h"
#include "proto/support/grpc_status.h"
#include "proto/support/mounts.h"
#include "snapshotter/engine/engine.h"

namespace strata {
namespace {

namespace pb = containerd::services::snapshots::v1;
using google::protobuf::RepeatedPtrField;

Labels ToLabels(const google::protobuf::Map<std::string, std::string>& m) {
  return Labels(m.begin(), m.end());
}

void SetTimestamp(int64_t ns, google::protobuf::Timestamp* ts) {
  ts->set_seconds(ns / 1000000000);
  ts->set_nanos(static_cast<int32_t>(ns % 1000000000));
}

void ToProto(const Info& info, pb::Info* out) {
  out->set_name(info.name);
  out->set_parent(info.parent);
  out->set_kind(static_cast<pb::Kind>(info.kind));
  SetTimestamp(info.created_ns, out->mutable_created_at());
  SetTimestamp(info.updated_ns, out->mutable_updated_at());
  for (const auto& [k, v] : info.labels) (*out->mutable_labels())[k] = v;
}

// Logs a failed RPC once, at the edge, with method, key and code.
grpc::Status Finish(std::string_view method, std::string_view key,
                    const Status& s) {
  if (!s.ok()) {
    LogLevel level = s.code() == Code::kInternal || s.code() == Code::kDataLoss
                         ? LogLevel::kError
                         : LogLevel::kInfo;
    Log(level, "server", "rpc failed",
        {{"method", method},
         {"key", key},
         {"code", CodeName(s.code())},
         {"error", s.message()}});
  }
  return ToGrpc(s);
}

}  // namespace

#define STRATA_ADMIT()            \
  RpcGate::Pass admission(gate_); \
  if (!admission.admitted()) return RpcGate::Refused()

bool SnapshotsService::Drain(std::chrono::milliseconds timeout) {
  return gate_.Drain(timeout);
}

grpc::Status SnapshotsService::Prepare(Ctx*,
                                       const pb::PrepareSnapshotRequest* req,
                                       pb::PrepareSnapshotResponse* resp) {
  STRATA_ADMIT();
  auto r = engine_.Prepare(req->key(), req->parent(), ToLabels(req->labels()));
  if (r.ok()) MountsToProto(*r, resp->mutable_mounts());
  return Finish("Prepare", req->key(), r.status());
}

grpc::Status SnapshotsService::View(Ctx*, const pb::ViewSnapshotRequest* req,
                                    pb::ViewSnapshotResponse* resp) {
  STRATA_ADMIT();
  auto r = engine_.View(req->key(), req->parent(), ToLabels(req->labels()));
  if (r.ok()) MountsToProto(*r, resp->mutable_mounts());
  return Finish("View", req->key(), r.status());
}

grpc::Status SnapshotsService::Mounts(Ctx*, const pb::MountsRequest* req,
                                      pb::MountsResponse* resp) {
  STRATA_ADMIT();
  auto r = engine_.Mounts(req->key());
  if (r.ok()) MountsToProto(*r, resp->mutable_mounts());
  return Finish("Mounts", req->key(), r.status());
}

grpc::Status SnapshotsService::Commit(Ctx*,
                                      const pb::CommitSnapshotRequest* req,
                                      google::protobuf::Empty*) {
  STRATA_ADMIT();
  // parent: containerd 2.x's "rebase" (parallel unpack), see Engine::Commit.
  return Finish("Commit", req->key(),
                engine_.Commit(req->name(), req->key(), ToLabels(req->labels()),
                               req->parent()));
}

grpc::Status SnapshotsService::Remove(Ctx*,
                                      const pb::RemoveSnapshotRequest* req,
                                      google::protobuf::Empty*) {
  STRATA_ADMIT();
  return Finish("Remove", req->key(), engine_.Remove(req->key()));
}

grpc::Status SnapshotsService::Stat(Ctx*, const pb::StatSnapshotRequest* req,
                                    pb::StatSnapshotResponse* resp) {
  STRATA_ADMIT();
  auto r = engine_.Stat(req->key());
  if (r.ok()) ToProto(*r, resp->mutable_info());
  return Finish("Stat", req->key(), r.status());
}

grpc::Status SnapshotsService::Update(Ctx*,
                                      const pb::UpdateSnapshotRequest* req,
                                      pb::UpdateSnapshotResponse* resp) {
  STRATA_ADMIT();
  Info in;
  in.name = req->info().name();
  in.labels = ToLabels(req->info().labels());
  std::vector<std::string> paths(req->update_mask().paths().begin(),
                                 req->update_mask().paths().end());
  auto r = engine_.Update(in, paths);
  if (r.ok()) ToProto(*r, resp->mutable_info());
  return Finish("Update", in.name, r.status());
}

grpc::Status SnapshotsService::List(
    Ctx* ctx, const pb::ListSnapshotsRequest* req,
    grpc::ServerWriter<pb::ListSnapshotsResponse>* writer) {
  STRATA_ADMIT();
  std::vector<std::string> filters(req->filters().begin(),
                                   req->filters().end());
  auto r = engine_.List(filters);
  if (!r.ok()) return Finish("List", "", r.status());
  pb::ListSnapshotsResponse batch;
  for (const Info& info : *r) {
    ToProto(info, batch.add_info());
    if (batch.info_size() == kListBatch) {
      if (ctx->IsCancelled() || !writer->Write(batch)) {
        return grpc::Status(grpc::CANCELLED, "list: client went away");
      }
      batch.Clear();
    }
  }
  if (batch.info_size() > 0 && !writer->Write(batch)) {
    return grpc::Status(grpc::CANCELLED, "list: client went away");
  }
  return grpc::Status::OK;
}

grpc::Status SnapshotsService::Usage(Ctx*, const pb::UsageRequest* req,
                                     pb::UsageResponse* resp) {
  STRATA_ADMIT();
  auto r = engine_.GetUsage(req->key());
  if (r.ok()) {
    resp->set_size(r->size);
    resp->set_inodes(r->inodes);
  }
  return Finish("Usage", req->key(), r.status());
}

grpc::Status SnapshotsService::Cleanup(Ctx*, const pb::CleanupRequest*,
                                       google::protobuf::Empty*) {
  STRATA_ADMIT();
  return Finish("Cleanup", "", engine_.Cleanup());
}

}  // namespace strata
