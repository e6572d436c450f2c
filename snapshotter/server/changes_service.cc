#include "snapshotter/server/changes_service.h"

#include <string>

#include "io/diff/layer_writer.h"
#include "proto/support/grpc_status.h"
#include "snapshotter/engine/engine.h"

namespace strata {
namespace {

namespace cpb = strata::services::changes::v1;

constexpr size_t kBatch = 1000;
constexpr size_t kChunk = 1 << 20;

// Layer bytes to the caller in 1 MiB messages.
class StreamSink final : public ByteSink {
 public:
  StreamSink(grpc::ServerContext& ctx,
             grpc::ServerWriter<cpb::ExportResponse>& out)
      : ctx_(ctx), out_(out) {}
  Status Write(std::string_view bytes) override {
    buf_.append(bytes);
    if (buf_.size() >= kChunk) return Flush();
    return Status::Ok();
  }
  Status Flush() {
    if (buf_.empty()) return Status::Ok();
    if (ctx_.IsCancelled()) return Canceled("the caller went away");
    cpb::ExportResponse m;
    m.set_data(std::move(buf_));
    buf_.clear();
    if (!out_.Write(m)) return Canceled("the caller went away");
    return Status::Ok();
  }

 private:
  grpc::ServerContext& ctx_;
  grpc::ServerWriter<cpb::ExportResponse>& out_;
  std::string buf_;
};

}  // namespace

grpc::Status ChangesService::List(
    grpc::ServerContext* ctx, const cpb::ListChangesRequest* req,
    grpc::ServerWriter<cpb::ListChangesResponse>* writer) {
  RpcGate::Pass pass(gate_);
  if (!pass.admitted()) return RpcGate::Refused();
  auto trees = engine_.CompareSnapshot(req->key());
  if (!trees.ok()) return ToGrpc(trees.status());
  cpb::ListChangesResponse batch;
  batch.set_key(trees->key);
  batch.set_parent(trees->parent);
  bool first = true;
  auto send = [&]() -> Status {
    if (ctx->IsCancelled() || gate_.draining())
      return Canceled("list changes of " + req->key().substr(0, 128));
    if (!writer->Write(batch)) return Canceled("the caller went away");
    batch.Clear();
    first = false;
    return Status::Ok();
  };
  Status s = trees->Walk([&](const Change& c) -> Status {
    char letter = ChangeLetter(c.kind);
    if (letter == ' ') return Status::Ok();
    cpb::Change* m = batch.add_changes();
    m->set_kind(std::string(1, letter));
    m->set_path("/" + std::string(c.path));
    if (static_cast<size_t>(batch.changes_size()) >= kBatch) return send();
    return Status::Ok();
  });
  if (s.ok() && (first || batch.changes_size() > 0)) s = send();
  return ToGrpc(s);
}

grpc::Status ChangesService::Export(
    grpc::ServerContext* ctx, const cpb::ExportRequest* req,
    grpc::ServerWriter<cpb::ExportResponse>* writer) {
  RpcGate::Pass pass(gate_);
  if (!pass.admitted()) return RpcGate::Refused();
  std::string media_type = req->media_type();
  auto c = LayerCompression(&media_type);
  if (!c.ok()) return ToGrpc(InvalidArgument(c.status().message()));
  auto trees = engine_.CompareSnapshot(req->key());
  if (!trees.ok()) return ToGrpc(trees.status());
  StreamSink sink(*ctx, *writer);
  LayerOptions opts;
  trees->SetOwnerMaps(opts);
  auto layer = WriteLayer(
      [&](const ChangeVisitor& v) { return trees->Walk(v); }, *c, sink, opts);
  Status s = layer.ok() ? sink.Flush() : layer.status();
  if (!s.ok()) return ToGrpc(s);
  cpb::ExportResponse done;
  done.set_done(true);
  done.set_media_type(media_type);
  done.set_digest(layer->digest);
  done.set_size(layer->size);
  done.set_diff_id(layer->diff_id);
  done.set_tar_bytes(layer->tar_bytes);
  done.set_entries(layer->entries);
  if (!writer->Write(done)) return ToGrpc(Canceled("the caller went away"));
  return grpc::Status::OK;
}

}  // namespace strata
