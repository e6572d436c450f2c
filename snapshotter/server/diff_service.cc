#include "snapshotter/server/diff_service.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <vector>

#include "io/base/errno.h"
#include "io/base/log.h"
#include "io/base/unique_fd.h"
#include "io/decompress/source.h"
#include "io/diff/layer_writer.h"
#include "io/extract/apply_layer.h"
#include "proto/support/grpc_status.h"
#include "proto/support/mounts.h"
#include "snapshotter/engine/engine.h"
#include "snapshotter/meta/snapshot_store.h"
#include "snapshotter/server/apply_slots.h"
#include "snapshotter/server/apply_target.h"
#include "snapshotter/server/content_source.h"

namespace strata {
namespace {

namespace pb = containerd::services::diff::v1;

constexpr const char* kTarMediaType = "application/vnd.oci.image.layer.v1.tar";

std::string IncomingNamespace(const grpc::ServerContext& ctx) {
  const auto& md = ctx.client_metadata();
  auto it = md.find(kNamespaceHeader);
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

// A containerd that cannot be reached (or lacks the call) before anything
// was written: Unimplemented, so that its next differ does the job.
Status DeclineIfUnreachable(const Status& s) {
  Code c = s.code();
  if (c == Code::kUnavailable || c == Code::kDeadlineExceeded ||
      c == Code::kUnimplemented) {
    return Unimplemented("containerd's content API: " + s.message());
  }
  return s;
}

// Lends a Source to OpenDecompressed, which wants to own one.
class SourceRef final : public Source {
 public:
  explicit SourceRef(Source& s) : s_(s) {}
  Result<size_t> Read(char* buf, size_t n) override { return s_.Read(buf, n); }

 private:
  Source& s_;
};

// Streams the blob into `target`. On an extraction error the rest of the
// blob is still read, so a corrupt download reports the digest mismatch that
// caused it rather than the tar error it led to.
Result<AppliedLayer> Extract(BlobSource& blob, ApplyTarget& target, bool sync) {
  auto applied = target.Apply(std::make_unique<SourceRef>(blob), sync);
  Status verified = blob.Finish();
  if (!verified.ok()) return verified;
  return applied;
}

}  // namespace

DiffService::DiffService(Engine& engine, ContentClient& content,
                         ApplySlots& slots)
    : engine_(engine), content_(content), slots_(slots) {}

// Apply, in steps: Admit (checks, the target snapshot, a slot, the blob's
// namespace), Extract, answer, record. Nothing is written before Extract, so
// an Unimplemented from Admit declines and containerd's next differ applies
// the layer; every other error fails the call.
grpc::Status DiffService::Apply(Ctx* ctx, const pb::ApplyRequest* req,
                                pb::ApplyResponse* resp) {
  RpcGate::Pass pass(gate_);
  if (!pass.admitted()) return RpcGate::Refused();
  Call call{req->diff().digest(), IncomingNamespace(*ctx), "",
            std::chrono::steady_clock::now()};
  auto admitted = Admit(*ctx, *req, call);
  if (!admitted.ok()) {
    if (admitted.status().code() == Code::kUnimplemented)
      return Decline(call, *req, admitted.status());
    return Fail(call, admitted.status());
  }
  auto blob = content_.Open(admitted->blob_ns, call.digest, req->diff().size());
  auto applied = Extract(*blob, *admitted->target, req->sync_fs());
  if (!applied.ok()) {
    return Fail(call,
                applied.status().WithContext("apply " + call.digest + " to " +
                                             SnapshotName(call.snapshot)));
  }
  auto* out = resp->mutable_applied();
  out->set_media_type(kTarMediaType);
  out->set_digest(applied->diff_id);
  out->set_size(applied->tar_bytes);
  Record(call, *req, *blob, *applied);
  return grpc::Status::OK;
}

Result<DiffService::Admitted> DiffService::Admit(Ctx& ctx,
                                                 const pb::ApplyRequest& req,
                                                 Call& call) {
  call.step = 0;  // media_type
  STRATA_RETURN_IF_ERROR(CheckLayerMediaType(req.diff().media_type()));
  call.step = 1;  // payloads
  if (!req.payloads().empty()) {
    return Unimplemented("payloads (" + req.payloads().begin()->first + ")");
  }
  STRATA_RETURN_IF_ERROR(CheckSha256Digest(call.digest));
  Admitted a;
  call.step = 2;  // snapshot
  STRATA_ASSIGN_OR_RETURN(
      a.target, engine_.ResolveApplyTarget(MountsFromProto(req.mounts())));
  call.snapshot = a.target->key();
  STRATA_RETURN_IF_ERROR(
      slots_.Acquire([&ctx] { return ctx.IsCancelled(); }, &a.slot));
  call.step = 3;  // content
  int64_t size = 0;
  auto found = content_.FindBlob(call.ns, call.digest, &size);
  if (!found.ok()) return DeclineIfUnreachable(found.status());
  if (req.diff().size() > 0 && size != req.diff().size()) {
    return FailedPrecondition(
        "blob " + call.digest + ": content store has " + std::to_string(size) +
        " bytes, descriptor says " + std::to_string(req.diff().size()));
  }
  a.blob_ns = *found;
  if (call.ns.empty()) call.ns = "(" + *found + ", looked up)";
  return a;
}

Status DiffService::ProbeContent(std::chrono::milliseconds timeout) const {
  return content_.Probe(timeout);
}

grpc::Status DiffService::Decline(const Call& call, const pb::ApplyRequest& req,
                                  const Status& why) {
  ++declined_;
  ++declined_at_[call.step];
  Log(LogLevel::kInfo, "diff",
      "apply declined; containerd uses its next differ",
      {{"digest", call.digest},
       {"media_type", req.diff().media_type()},
       {"reason", why.message()}});
  return ToGrpc(why);
}

grpc::Status DiffService::Fail(const Call& call, const Status& s) {
  uint64_t n = ++failed_;
  ++failed_with_[static_cast<int>(ToGrpc(s).error_code()) % 17];
  Log(s.code() == Code::kInternal ? LogLevel::kError : LogLevel::kWarn, "diff",
      "apply failed",
      {{"digest", call.digest},
       {"snapshot", call.snapshot},
       {"namespace", call.ns},
       {"code", CodeName(s.code())},
       {"error", s.message()},
       {"failed_count", std::to_string(n)}});
  return ToGrpc(s);
}

void DiffService::Record(const Call& call, const pb::ApplyRequest& req,
                         const BlobSource& blob, const AppliedLayer& applied) {
  blob_bytes_ += static_cast<uint64_t>(blob.bytes());
  tar_bytes_ += static_cast<uint64_t>(applied.tar_bytes);
  uint64_t n = ++applied_;
  auto ms = std::chrono::duration<double, std::milli>(
      std::chrono::steady_clock::now() - call.start);
  apply_seconds_.Observe(ms.count() / 1000);
  Log(LogLevel::kInfo, "diff", "applied",
      {{"digest", call.digest},
       {"diff_id", applied.diff_id},
       {"snapshot", call.snapshot},
       {"namespace", call.ns},
       {"compression", CompressionName(applied.compression)},
       {"blob_bytes", std::to_string(blob.bytes())},
       {"blob_messages", std::to_string(blob.messages())},
       {"blob_wait_ms", std::to_string(blob.wait_ns() / 1000000)},
       {"tar_bytes", std::to_string(applied.tar_bytes)},
       {"entries", std::to_string(applied.stats.entries)},
       {"sync_fs", req.sync_fs() ? "true" : "false"},
       {"ms", std::to_string(static_cast<int64_t>(ms.count()))},
       {"apply_count", std::to_string(n)}});
}

// Diff (Compare), in steps: the media type, the trees (Strata's snapshot
// and its parent), the namespace and an ingest in containerd's content
// store; then the layer, written and committed. Every Unimplemented comes
// before a byte is committed, so containerd's next differ can answer.
grpc::Status DiffService::Diff(Ctx* ctx, const pb::DiffRequest* req,
                               pb::DiffResponse* resp) {
  RpcGate::Pass pass(gate_);
  if (!pass.admitted()) return RpcGate::Refused();
  Call call{"", IncomingNamespace(*ctx), "", std::chrono::steady_clock::now()};
  auto desc = Compare(*ctx, *req, call);
  if (!desc.ok()) {
    if (desc.status().code() == Code::kUnimplemented) {
      ++compare_declined_;
      Log(LogLevel::kInfo, "diff",
          "compare declined; containerd uses its next differ",
          {{"media_type", req->media_type()},
           {"snapshot", call.snapshot},
           {"reason", desc.status().message()}});
      return ToGrpc(desc.status());
    }
    uint64_t n = ++compare_failed_;
    Log(desc.status().code() == Code::kInternal ? LogLevel::kError
                                                : LogLevel::kWarn,
        "diff", "compare failed",
        {{"snapshot", call.snapshot},
         {"namespace", call.ns},
         {"code", CodeName(desc.status().code())},
         {"error", desc.status().message()},
         {"failed_count", std::to_string(n)}});
    return ToGrpc(desc.status());
  }
  *resp->mutable_diff() = *desc;
  return grpc::Status::OK;
}

Result<containerd::types::Descriptor> DiffService::Compare(
    Ctx& ctx, const pb::DiffRequest& req, Call& call) {
  std::string media_type = req.media_type();
  STRATA_ASSIGN_OR_RETURN(Compression compression,
                          LayerCompression(&media_type));
  STRATA_ASSIGN_OR_RETURN(CompareTrees trees,
                          engine_.CompareMounts(MountsFromProto(req.left()),
                                                MountsFromProto(req.right())));
  call.snapshot = trees.key;
  // containerd's proxy keys are "<namespace>/<n>/<key>": the namespace the
  // blob belongs in when the call did not say.
  std::string ns = call.ns;
  if (ns.empty()) ns = trees.key.substr(0, trees.key.find('/'));
  if (call.ns.empty()) call.ns = "(" + ns + ", from the key)";
  std::string lease;
  auto md = ctx.client_metadata().find(kLeaseHeader);
  if (md != ctx.client_metadata().end())
    lease.assign(md->second.data(), md->second.size());
  std::string ref = req.ref();
  const bool own_ref = ref.empty();
  if (own_ref) {
    // containerd's form: unix nanoseconds, a dash, a unique suffix.
    static std::atomic<uint64_t> seq{0};
    ref = "strata-compare-" +
          std::to_string(
              std::chrono::system_clock::now().time_since_epoch().count()) +
          "-" + std::to_string(getpid()) + "-" + std::to_string(++seq);
  }
  auto writer = content_.Writer(ns, lease, ref);
  if (!writer.ok()) return DeclineIfUnreachable(writer.status());
  LayerOptions opts;
  if (req.has_source_date_epoch())
    opts.source_date_epoch = req.source_date_epoch().seconds();
  trees.SetOwnerMaps(opts);
  // A caller that went away, or a daemon stopping, ends the walk.
  uint64_t seen = 0;
  auto walk = [&](const ChangeVisitor& v) {
    return trees.Walk([&](const Change& c) -> Status {
      if (++seen % 1024 == 0 && (ctx.IsCancelled() || gate_.draining()))
        return Canceled("compare " + SnapshotName(trees.key) + ": canceled");
      return v(c);
    });
  };
  auto layer = WriteLayer(walk, compression, **writer, opts);
  Labels labels(req.labels().begin(), req.labels().end());
  if (layer.ok() && compression != Compression::kNone)
    labels["containerd.io/uncompressed"] = layer->diff_id;
  Status committed = layer.ok()
                         ? (*writer)->Commit(layer->size, layer->digest, labels)
                         : layer.status();
  if (!committed.ok()) {
    if (own_ref) (*writer)->Abort();
    return committed.WithContext("compare " + SnapshotName(trees.key));
  }
  containerd::types::Descriptor d;
  d.set_media_type(media_type);
  d.set_digest(layer->digest);
  d.set_size(layer->size);
  compare_bytes_ += static_cast<uint64_t>(layer->size);
  uint64_t n = ++compared_;
  auto ms = std::chrono::duration<double, std::milli>(
      std::chrono::steady_clock::now() - call.start);
  apply_seconds_.Observe(ms.count() / 1000);
  Log(LogLevel::kInfo, "diff", "compared",
      {{"snapshot", trees.key},
       {"parent", trees.parent},
       {"namespace", call.ns},
       {"media_type", media_type},
       {"digest", layer->digest},
       {"diff_id", layer->diff_id},
       {"size", std::to_string(layer->size)},
       {"tar_bytes", std::to_string(layer->tar_bytes)},
       {"entries", std::to_string(layer->entries)},
       {"ms", std::to_string(static_cast<int64_t>(ms.count()))},
       {"compare_count", std::to_string(n)}});
  return d;
}

}  // namespace strata
