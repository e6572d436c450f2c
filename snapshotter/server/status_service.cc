#include "snapshotter/server/status_service.h"

#include <unistd.h>

#include <utility>

#include "proto/support/grpc_status.h"
#include "snapshotter/engine/engine.h"
#include "snapshotter/server/diff_service.h"

namespace strata {

namespace spb = strata::services::status::v1;

StatusService::StatusService(Engine& engine, const DiffService* diff,
                             std::string containerd_address)
    : engine_(engine),
      diff_(diff),
      containerd_address_(std::move(containerd_address)),
      start_(std::chrono::steady_clock::now()) {}

grpc::Status StatusService::Get(grpc::ServerContext*,
                                const spb::GetStatusRequest*,
                                spb::GetStatusResponse* resp) {
  auto counts = engine_.Counts();
  if (!counts.ok())
    return ToGrpc(counts.status().WithContext("status: count snapshots"));
  resp->set_active(counts->active);
  resp->set_views(counts->views);
  resp->set_committed(counts->committed);
  resp->set_root(engine_.layout().root());
  resp->set_backend(std::string(engine_.backend_name()));
  resp->set_uptime_seconds(std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::steady_clock::now() - start_)
                               .count());
  resp->set_pid(getpid());
  resp->set_metadata_bytes(engine_.MetadataBytes());
  const RecoveryReport& rec = engine_.recovery();
  spb::Recovery* r = resp->mutable_recovery();
  r->set_staging_removed(rec.staging_removed);
  r->set_orphans_removed(rec.orphans_removed);
  r->set_trash_removed(rec.trash_removed);
  r->set_trash_restored(rec.trash_restored);
  r->set_dirs_rebuilt(rec.dirs_rebuilt);
  r->set_quarantined(rec.quarantined);
  r->set_content_pruned(rec.content_pruned);
  r->set_shifts_finished(rec.shifts_finished);
  r->set_shifts_undone(rec.shifts_undone);
  spb::UserNamespaces* u = resp->mutable_userns();
  u->set_remap_ids(engine_.remap_ids());
  u->set_idmap_ok(engine_.idmap_support().ok());
  u->set_idmap_error(engine_.idmap_support().message());
  for (std::string& key : engine_.Damaged()) r->add_damaged(std::move(key));
  resp->mutable_durability()->set_commit_sync(engine_.commit_sync());
  resp->mutable_durability()->set_data_syncs(engine_.DataSyncs());
  SharingInfo sh = engine_.Sharing();
  auto* s = resp->mutable_sharing();
  s->set_enabled(sh.enabled);
  s->set_state(sh.reason);
  s->set_shared_files(sh.shared_files);
  s->set_shared_bytes(sh.shared_bytes);
  s->set_refused(sh.refused);
  s->set_digests(sh.digests);
  s->set_holders(sh.holders);
  s->set_pending(sh.pending);
  QuotaInfo qi = engine_.Quotas();
  spb::Quotas* q = resp->mutable_quotas();
  q->set_enabled(qi.enabled);
  q->set_state(qi.reason);
  q->set_default_max_size(qi.default_max_size);
  q->set_usage_from_quota(qi.usage_from_quota);
  q->set_usage_walked(qi.usage_walked);
  spb::DiffStats* d = resp->mutable_diff();
  d->set_enabled(diff_ != nullptr);
  d->set_containerd_address(containerd_address_);
  if (diff_ != nullptr) {
    // Asked live: the answer is now, not what it was at start-up.
    Status reach = diff_->ProbeContent(std::chrono::seconds(1));
    d->set_content_reachable(reach.ok());
    d->set_content_error(reach.message());
    d->set_applied(diff_->applied());
    d->set_declined(diff_->declined());
    d->set_failed(diff_->failed());
    d->set_blob_bytes(diff_->blob_bytes());
    d->set_tar_bytes(diff_->tar_bytes());
    d->set_compared(diff_->compared());
    d->set_compare_declined(diff_->compare_declined());
    d->set_compare_failed(diff_->compare_failed());
    d->set_compare_bytes(diff_->compare_bytes());
  }
  return grpc::Status::OK;
}

}  // namespace strata
