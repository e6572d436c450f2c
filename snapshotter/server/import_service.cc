#include "snapshotter/server/import_service.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "io/base/log.h"
#include "io/extract/apply_layer.h"
#include "proto/support/grpc_status.h"
#include "snapshotter/engine/engine.h"
#include "snapshotter/meta/snapshot_store.h"
#include "snapshotter/server/apply_slots.h"

namespace strata {
namespace {

namespace ipb = strata::services::import::v1;

// The layer bytes of the request stream, the first message's included.
class RequestSource final : public Source {
 public:
  RequestSource(grpc::ServerReader<ipb::ApplyRequest>& reader,
                std::string first)
      : reader_(reader), chunk_(std::move(first)) {}

  Result<size_t> Read(char* buf, size_t n) override {
    while (pos_ == chunk_.size()) {
      if (done_) return size_t{0};
      ipb::ApplyRequest req;
      if (!reader_.Read(&req)) {
        done_ = true;
        return size_t{0};
      }
      chunk_ = std::move(*req.mutable_data());
      pos_ = 0;
    }
    size_t k = std::min(n, chunk_.size() - pos_);
    std::memcpy(buf, chunk_.data() + pos_, k);
    pos_ += k;
    return k;
  }

 private:
  grpc::ServerReader<ipb::ApplyRequest>& reader_;
  std::string chunk_;
  size_t pos_ = 0;
  bool done_ = false;
};

}  // namespace

grpc::Status ImportService::Apply(grpc::ServerContext* ctx,
                                  grpc::ServerReader<ipb::ApplyRequest>* reader,
                                  ipb::ApplyResponse* resp) {
  RpcGate::Pass pass(gate_);
  if (!pass.admitted()) return RpcGate::Refused();
  ipb::ApplyRequest first;
  if (!reader->Read(&first)) {
    return ToGrpc(InvalidArgument("import: the stream carried no request"));
  }
  std::string key = first.key();
  auto fail = [&](const Status& s) {
    Log(LogLevel::kWarn, "import", "apply failed",
        {{"key", key}, {"code", CodeName(s.code())}, {"error", s.message()}});
    return ToGrpc(s);
  };
  auto target = engine_.ApplyTargetFor(key);
  if (!target.ok()) return fail(target.status());
  ApplySlots::Slot slot;
  if (Status s = slots_.Acquire([ctx] { return ctx->IsCancelled(); }, &slot);
      !s.ok()) {
    return fail(s);
  }
  auto applied =
      (*target)->Apply(std::make_unique<RequestSource>(
                           *reader, std::move(*first.mutable_data())),
                       first.sync_fs());
  if (!applied.ok())
    return fail(
        applied.status().WithContext("import into " + SnapshotName(key)));
  resp->set_diff_id(applied->diff_id);
  resp->set_tar_bytes(applied->tar_bytes);
  resp->set_compression(std::string(CompressionName(applied->compression)));
  resp->set_entries(applied->stats.entries);
  resp->set_files(applied->stats.files);
  resp->set_shared_files(applied->stats.shared_files);
  resp->set_shared_bytes(applied->stats.shared_bytes);
  Log(LogLevel::kInfo, "import", "applied",
      {{"key", key},
       {"diff_id", applied->diff_id},
       {"tar_bytes", std::to_string(applied->tar_bytes)},
       {"entries", std::to_string(applied->stats.entries)}});
  return grpc::Status::OK;
}

}  // namespace strata
