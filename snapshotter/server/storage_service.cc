#include "snapshotter/server/storage_service.h"

#include <string>

#include "io/base/log.h"
#include "proto/support/grpc_status.h"
#include "snapshotter/engine/engine.h"
#include "snapshotter/engine/space.h"

namespace strata {
namespace {

namespace spb = strata::services::storage::v1;

const char* PhaseName(DedupProgress::Phase p) {
  switch (p) {
    case DedupProgress::Phase::kScan:
      return "scan";
    case DedupProgress::Phase::kDigest:
      return "digest";
    case DedupProgress::Phase::kShare:
      return "share";
    case DedupProgress::Phase::kDone:
      return "done";
  }
  return "?";
}

spb::DedupProgress ToWire(const DedupProgress& p, bool dry_run) {
  spb::DedupProgress m;
  m.set_phase(PhaseName(p.phase));
  m.set_snapshots(p.snapshots);
  m.set_files_examined(p.files_examined);
  m.set_candidates(p.candidates);
  m.set_bytes_to_digest(p.bytes_to_digest);
  m.set_bytes_digested(p.bytes_digested);
  m.set_files_shared(p.files_shared);
  m.set_bytes_shared(p.bytes_shared);
  m.set_bytes_freed(p.bytes_freed);
  m.set_already_shared(p.already_shared);
  m.set_skipped(p.skipped);
  m.set_seconds(p.seconds);
  m.set_interrupted(p.interrupted);
  m.set_done(p.phase == DedupProgress::Phase::kDone);
  m.set_dry_run(dry_run);
  return m;
}

}  // namespace

grpc::Status StorageService::Df(grpc::ServerContext*, const spb::DfRequest*,
                                spb::DfResponse* resp) {
  RpcGate::Pass pass(gate_);
  if (!pass.admitted()) return RpcGate::Refused();
  auto report = MeasureSpace(engine_);
  if (!report.ok()) return ToGrpc(report.status());
  resp->set_root(engine_.layout().root());
  for (const SnapshotSpace& s : report->snapshots) {
    spb::SnapshotSpace* m = resp->add_snapshots();
    m->set_name(s.info.name);
    m->set_parent(s.info.parent);
    m->set_kind(std::string(KindName(s.info.kind)));
    m->set_usage_bytes(s.usage.size);
    m->set_inodes(s.usage.inodes);
    m->set_logical_bytes(s.logical);
    m->set_saved_bytes(s.saved);
    m->set_disk_bytes(s.on_disk());
    m->set_shared_bytes(s.shared);
  }
  resp->set_logical_bytes(report->logical);
  resp->set_saved_bytes(report->saved);
  resp->set_disk_bytes(report->on_disk());
  resp->set_shared_bytes(report->shared);
  resp->set_metadata_bytes(report->metadata_bytes);
  resp->set_fs_size_bytes(report->fs_size);
  resp->set_fs_used_bytes(report->fs_used);
  resp->set_fs_available_bytes(report->fs_available);
  return grpc::Status::OK;
}

grpc::Status StorageService::Dedup(
    grpc::ServerContext* ctx, const spb::DedupRequest* req,
    grpc::ServerWriter<spb::DedupProgress>* writer) {
  RpcGate::Pass pass(gate_);
  if (!pass.admitted()) return RpcGate::Refused();
  if (req->min_bytes() < 0) {
    return grpc::Status(grpc::INVALID_ARGUMENT,
                        "dedup: min_bytes must not be negative");
  }
  DedupOptions opts;
  opts.dry_run = req->dry_run();
  if (req->min_bytes() > 0) opts.min_bytes = req->min_bytes();
  bool writable = true;
  opts.cancelled = [&] {
    return !writable || ctx->IsCancelled() || gate_.draining();
  };
  opts.progress = [&](const DedupProgress& p) {
    if (p.phase == DedupProgress::Phase::kDone) return;  // sent below
    if (writable) writable = writer->Write(ToWire(p, opts.dry_run));
  };
  Log(LogLevel::kInfo, "storage", "dedup started",
      {{"dry_run", opts.dry_run ? "true" : "false"},
       {"min_bytes", std::to_string(opts.min_bytes)}});
  auto done = strata::Dedup(engine_, opts);
  if (!done.ok()) return ToGrpc(done.status());
  Log(LogLevel::kInfo, "storage", "dedup finished",
      {{"dry_run", opts.dry_run ? "true" : "false"},
       {"files_examined", std::to_string(done->files_examined)},
       {"files_shared", std::to_string(done->files_shared)},
       {"bytes_shared", std::to_string(done->bytes_shared)},
       {"bytes_freed", std::to_string(done->bytes_freed)},
       {"interrupted", done->interrupted ? "true" : "false"}});
  if (writable) writer->Write(ToWire(*done, opts.dry_run));
  return grpc::Status::OK;
}

}  // namespace strata
