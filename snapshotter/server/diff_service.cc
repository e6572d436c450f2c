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
#include "io/extract/apply_layer.h"
#include "snapshotter/engine/engine.h"
#include "snapshotter/meta/snapshot_store.h"
#include "snapshotter/server/apply_slots.h"
#include "snapshotter/server/apply_target.h"
#include "snapshotter/server/content_source.h"
#include "snapshotter/server/grpc_status.h"

namespace strata {
namespace {

namespace pb = containerd::services::diff::v1;

constexpr const char* kTarMediaType = "application/vnd.oci.image.layer.v1.tar";

std::vector<Mount> ToMounts(
    const google::protobuf::RepeatedPtrField<containerd::types::Mount>& in) {
  std::vector<Mount> out;
  for (const auto& m : in) {
    out.push_back(
        {m.type(), m.source(), {m.options().begin(), m.options().end()}});
  }
  return out;
}

std::string IncomingNamespace(const grpc::ServerContext& ctx) {
  const auto& md = ctx.client_metadata();
  auto it = md.find(kNamespaceHeader);
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
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
Result<AppliedLayer> Extract(BlobSource& blob, const ApplyTarget& target,
                             bool sync) {
  ApplyOptions opts;
  opts.whiteouts = target.whiteouts();
  opts.extract.max_depth = target.max_depth();
  // Blob reads, decompression and digest on their own thread, overlapping
  // extraction.
  opts.prefetch = ApplyOptions::Prefetch::kAlways;
  opts.sync = sync;
  auto applied =
      ApplyLayer(std::make_unique<SourceRef>(blob), target.dir(), opts);
  Status verified = blob.Finish();
  if (!verified.ok()) return verified;
  return applied;
}

}  // namespace

DiffService::DiffService(Engine& engine, ContentClient& content,
                         ApplySlots& slots)
    : engine_(engine), content_(content), slots_(slots) {}

grpc::Status DiffService::Apply(Ctx* ctx, const pb::ApplyRequest* req,
                                pb::ApplyResponse* resp) {
  RpcGate::Pass pass(gate_);
  if (!pass.admitted()) return RpcGate::Refused();
  auto t0 = std::chrono::steady_clock::now();
  const std::string& digest = req->diff().digest();
  std::string ns = IncomingNamespace(*ctx);
  std::string target_dir;
  auto decline = [&](const Status& why) {
    ++declined_;
    Log(LogLevel::kInfo, "diff",
        "apply declined; containerd uses its next differ",
        {{"digest", digest},
         {"media_type", req->diff().media_type()},
         {"reason", why.message()}});
    return ToGrpc(why);
  };
  auto fail = [&](const Status& s) {
    uint64_t n = ++failed_;
    Log(s.code() == Code::kInternal ? LogLevel::kError : LogLevel::kWarn,
        "diff", "apply failed",
        {{"digest", digest},
         {"snapshot", target_dir},
         {"namespace", ns},
         {"code", CodeName(s.code())},
         {"error", s.message()},
         {"failed_count", std::to_string(n)}});
    return ToGrpc(s);
  };

  if (Status s = CheckLayerMediaType(req->diff().media_type()); !s.ok())
    return decline(s);
  if (!req->payloads().empty()) {
    return decline(
        Unimplemented("payloads (" + req->payloads().begin()->first + ")"));
  }
  if (Status s = CheckSha256Digest(digest); !s.ok()) {
    return s.code() == Code::kUnimplemented ? decline(s) : fail(s);
  }
  auto target = engine_.ResolveApplyTarget(ToMounts(req->mounts()));
  if (!target.ok()) {
    if (target.status().code() == Code::kUnimplemented)
      return decline(target.status());
    return fail(target.status());
  }
  target_dir = (*target)->key();
  ApplySlots::Slot slot;
  if (Status s = slots_.Acquire([ctx] { return ctx->IsCancelled(); }, &slot);
      !s.ok()) {
    return fail(s);
  }

  int64_t size = 0;
  auto found = content_.FindBlob(ns, digest, &size);
  if (!found.ok()) {
    // Nothing is written yet: containerd's own differ can still do the job.
    Code c = found.status().code();
    if (c == Code::kUnavailable || c == Code::kDeadlineExceeded ||
        c == Code::kUnimplemented) {
      return decline(Unimplemented("containerd's content API: " +
                                   found.status().message()));
    }
    return fail(found.status());
  }
  if (req->diff().size() > 0 && size != req->diff().size()) {
    return fail(FailedPrecondition(
        "blob " + digest + ": content store has " + std::to_string(size) +
        " bytes, descriptor says " + std::to_string(req->diff().size())));
  }
  if (ns.empty()) ns = "(" + *found + ", looked up)";

  auto blob = content_.Open(*found, digest, req->diff().size());
  auto applied = Extract(*blob, **target, req->sync_fs());
  if (!applied.ok()) {
    return fail(applied.status().WithContext("apply " + digest + " to " +
                                             SnapshotName(target_dir)));
  }

  auto* out = resp->mutable_applied();
  out->set_media_type(kTarMediaType);
  out->set_digest(applied->diff_id);
  out->set_size(applied->tar_bytes);

  blob_bytes_ += static_cast<uint64_t>(blob->bytes());
  tar_bytes_ += static_cast<uint64_t>(applied->tar_bytes);
  uint64_t n = ++applied_;
  auto ms = std::chrono::duration<double, std::milli>(
      std::chrono::steady_clock::now() - t0);
  Log(LogLevel::kInfo, "diff", "applied",
      {{"digest", digest},
       {"diff_id", applied->diff_id},
       {"snapshot", target_dir},
       {"namespace", ns},
       {"compression", CompressionName(applied->compression)},
       {"blob_bytes", std::to_string(blob->bytes())},
       {"blob_messages", std::to_string(blob->messages())},
       {"blob_wait_ms", std::to_string(blob->wait_ns() / 1000000)},
       {"tar_bytes", std::to_string(applied->tar_bytes)},
       {"entries", std::to_string(applied->stats.entries)},
       {"sync_fs", req->sync_fs() ? "true" : "false"},
       {"ms", std::to_string(static_cast<int64_t>(ms.count()))},
       {"apply_count", std::to_string(n)}});
  return grpc::Status::OK;
}

grpc::Status DiffService::Diff(Ctx*, const pb::DiffRequest*,
                               pb::DiffResponse*) {
  return grpc::Status(grpc::UNIMPLEMENTED, "strata: Diff is not implemented");
}

}  // namespace strata
