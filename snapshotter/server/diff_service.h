// DiffService: containerd.services.diff.v1.Diff, served on the daemon's
// socket beside Snapshots, for containerd's `type = "diff"` proxy plugin
// (containerd >= 1.7.4).
//
// Apply extracts a layer straight into a Strata snapshot's directory with the
// io/ engine (no mounting): the blob streams from containerd's content store
// (ContentClient), is verified against its digest, decompressed (gzip, zstd
// or plain), and the tar applied through the one apply pipeline
// (io/extract/apply_layer.h) with the whiteouts the snapshot's backend needs
// (overlay: overlay whiteouts, also in a parentless snapshot, since the
// layer may be committed onto a parent later; full trees: deletions). The
// answer is the uncompressed
// descriptor (media type application/vnd.oci.image.layer.v1.tar, the diffID,
// the tar's length), as containerd's own applier gives. Requests Strata does
// not serve (foreign mounts, unknown or encrypted media types, payloads, a
// containerd that cannot be reached) get Unimplemented, so containerd falls
// back to its next differ.
//
// Diff (containerd's Compare) writes the changes of one of Strata's
// snapshots against its parent (Engine::CompareMounts: right must be a
// snapshot's mounts, left its parent's view) as a layer straight from what
// the backend knows (io/diff: the overlay upper directory alone, or the two
// full trees with shared extents skipped), compressed as the request's
// media type asks (tar, tar+gzip, tar+zstd; gzip when empty), into
// containerd's content store through its Content API, under the request's
// ref (or a generated one) and labels plus containerd.io/uncompressed (the
// DiffID) for compressed types, as the walking differ does; the answer is
// the blob's descriptor. Mounts that are not Strata's, other media types
// and a containerd that cannot be reached get Unimplemented before
// anything is written, so containerd uses its next differ.
//
// Thread-safety: thread-safe; each Apply works on its own snapshot directory.
#ifndef STRATA_SNAPSHOTTER_SERVER_DIFF_SERVICE_H_
#define STRATA_SNAPSHOTTER_SERVER_DIFF_SERVICE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string>

#include "containerd/services/diff/v1/diff.grpc.pb.h"
#include "io/extract/apply_layer.h"
#include "io/extract/extractor.h"
#include "snapshotter/server/apply_slots.h"
#include "snapshotter/server/metrics.h"
#include "snapshotter/server/rpc_gate.h"

namespace strata {

class ApplyTarget;
class BlobSource;
class ContentClient;
class Engine;

class DiffService final : public containerd::services::diff::v1::Diff::Service {
 public:
  // `engine` resolves the mounts to one of its active snapshots
  // (Engine::ResolveApplyTarget: only those are written, held against Remove
  // and Commit while the layer applies); `content` reads blobs from
  // containerd; `slots` bounds concurrent Applies. REQUIRES: all three
  // outlive the service.
  DiffService(Engine& engine, ContentClient& content, ApplySlots& slots);

  // Graceful stop: new RPCs get Unavailable; waits for running Applies to
  // finish (true) or `timeout` (false).
  bool Drain(std::chrono::milliseconds timeout) { return gate_.Drain(timeout); }

  using Ctx = grpc::ServerContext;
  grpc::Status Apply(Ctx*, const containerd::services::diff::v1::ApplyRequest*,
                     containerd::services::diff::v1::ApplyResponse*) override;
  grpc::Status Diff(Ctx*, const containerd::services::diff::v1::DiffRequest*,
                    containerd::services::diff::v1::DiffResponse*) override;

  // Since start: layers applied, Apply calls declined (Unimplemented, so
  // containerd used its next differ), Apply calls that failed otherwise, and
  // the compressed and uncompressed bytes of the applied layers.
  // Whether containerd's content API answers now (ContentClient::Probe).
  Status ProbeContent(std::chrono::milliseconds timeout) const;
  uint64_t applied() const { return applied_.load(); }
  uint64_t declined() const { return declined_.load(); }
  uint64_t failed() const { return failed_.load(); }
  uint64_t blob_bytes() const { return blob_bytes_.load(); }
  uint64_t tar_bytes() const { return tar_bytes_.load(); }
  // Since start: Diff calls Strata answered, declined (Unimplemented) and
  // failed otherwise, and the bytes of the layers it wrote (as stored).
  uint64_t compared() const { return compared_.load(); }
  uint64_t compare_declined() const { return compare_declined_.load(); }
  uint64_t compare_failed() const { return compare_failed_.load(); }
  uint64_t compare_bytes() const { return compare_bytes_.load(); }
  // Metrics: declined Applies by the step that declined them, failed ones
  // by gRPC code, and the seconds applied layers took.
  static constexpr const char* kDeclineSteps[] = {"media_type", "payloads",
                                                  "snapshot", "content"};
  static constexpr size_t kSteps = std::size(kDeclineSteps);
  uint64_t declined_at(size_t step) const { return declined_at_[step].load(); }
  uint64_t failed_with(int code) const { return failed_with_[code].load(); }
  const Histogram& apply_seconds() const { return apply_seconds_; }

 private:
  // One Apply call, as its log lines name it.
  struct Call {
    std::string digest;
    std::string ns;        // the client's namespace, or how it was found
    std::string snapshot;  // the target's key, once resolved
    std::chrono::steady_clock::time_point start;
    size_t step = 0;  // kDeclineSteps: how far Admit got
  };
  // What an admitted Apply holds while it extracts.
  struct Admitted {
    std::unique_ptr<ApplyTarget> target;
    ApplySlots::Slot slot;
    std::string blob_ns;  // the namespace that holds the blob
  };
  Result<Admitted> Admit(
      Ctx& ctx, const containerd::services::diff::v1::ApplyRequest& req,
      Call& call);
  grpc::Status Decline(const Call& call,
                       const containerd::services::diff::v1::ApplyRequest& req,
                       const Status& why);
  grpc::Status Fail(const Call& call, const Status& s);
  // Diff's steps: the layer written and committed, or the reason.
  Result<containerd::types::Descriptor> Compare(
      Ctx& ctx, const containerd::services::diff::v1::DiffRequest& req,
      Call& call);
  void Record(const Call& call,
              const containerd::services::diff::v1::ApplyRequest& req,
              const BlobSource& blob, const AppliedLayer& applied);

  Engine& engine_;
  ContentClient& content_;
  ApplySlots& slots_;
  RpcGate gate_;
  std::atomic<uint64_t> applied_{0};
  std::atomic<uint64_t> declined_{0};
  std::atomic<uint64_t> failed_{0};
  std::atomic<uint64_t> blob_bytes_{0};
  std::atomic<uint64_t> tar_bytes_{0};
  std::atomic<uint64_t> compared_{0};
  std::atomic<uint64_t> compare_declined_{0};
  std::atomic<uint64_t> compare_failed_{0};
  std::atomic<uint64_t> compare_bytes_{0};
  std::atomic<uint64_t> declined_at_[kSteps] = {};
  std::atomic<uint64_t> failed_with_[17] = {};  // by grpc::StatusCode
  Histogram apply_seconds_{LatencyBounds()};
};

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_SERVER_DIFF_SERVICE_H_
