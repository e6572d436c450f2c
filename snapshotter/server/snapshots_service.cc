#include "snapshotter/server/snapshots_service.h"

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
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

// The async reads. Each pending call is a Call object whose address is its
// completion-queue tag: the first event (ok) is its request's arrival, and
// the loop arms a fresh call for the method, then answers inline or hands the
// call to a walker; the second event is its Finish, after which it deletes
// itself. Every operation on the queue (arming, finishing) starts under mu_
// and only while open_, so nothing is added to the queue after its
// Shutdown() (gRPC aborts on that).
class SnapshotsService::Reads {
 public:
  Reads(SnapshotsService& svc, grpc::ServerCompletionQueue& cq)
      : svc_(svc), cq_(cq) {}
  ~Reads() { Stop(); }

  void Start() {
    Arm<StatCall>();
    Arm<MountsCall>();
    Arm<UsageCall>();
    loop_ = std::thread([this] { Loop(); });
  }

  void Stop() {
    {
      std::unique_lock<std::mutex> l(mu_);
      if (!open_) return;
      stopping_ = true;
      work_.notify_all();
    }
    for (std::thread& t : walkers_) t.join();  // they empty the queue first
    {
      std::lock_guard<std::mutex> l(mu_);
      open_ = false;
    }
    cq_.Shutdown();
    if (loop_.joinable()) loop_.join();  // drains the queue
  }

 private:
  struct Call {
    virtual ~Call() = default;
    // One event for this tag; ok is gRPC's.
    virtual void Proceed(bool ok) = 0;
  };

  // One call of a unary method: RequestFn is its generated Request<Method>,
  // ServeFn answers inline (a nullopt hands the call to a walker) and WalkFn,
  // for a method that can return nullopt, answers on a walker.
  template <class Req, class Resp, auto RequestFn, auto ServeFn,
            auto WalkFn = nullptr>
  struct Unary final : Call {
    explicit Unary(Reads& r) : reads(r) {}
    void Request() {
      (reads.svc_.*RequestFn)(&ctx, &req, &writer, &reads.cq_, &reads.cq_,
                              this);
    }
    void Proceed(bool ok) override {
      if (finishing || !ok) {
        delete this;
        return;
      }
      reads.Arm<Unary>();
      std::optional<grpc::Status> s = (reads.svc_.*ServeFn)(req, &resp);
      if (s.has_value()) {
        Finish(*s);
      } else {
        reads.Defer(this);
      }
    }
    void Walk() {
      if constexpr (std::is_same_v<decltype(WalkFn), std::nullptr_t>) {
        Finish(grpc::Status(grpc::INTERNAL, "no walk for this method"));
      } else {
        Finish((reads.svc_.*WalkFn)(req, &resp));
      }
    }
    void Finish(const grpc::Status& s) {
      finishing = true;
      std::lock_guard<std::mutex> l(reads.mu_);
      if (reads.open_) {
        writer.Finish(resp, s, this);
      } else {
        delete this;  // the server is gone; so is the client's call
      }
    }

    Reads& reads;
    grpc::ServerContext ctx;
    Req req;
    Resp resp;
    grpc::ServerAsyncResponseWriter<Resp> writer{&ctx};
    bool finishing = false;
  };

  using StatCall =
      Unary<pb::StatSnapshotRequest, pb::StatSnapshotResponse,
            &SnapshotsService::RequestStat, &SnapshotsService::DoStat>;
  using MountsCall =
      Unary<pb::MountsRequest, pb::MountsResponse,
            &SnapshotsService::RequestMounts, &SnapshotsService::DoMounts>;
  using UsageCall =
      Unary<pb::UsageRequest, pb::UsageResponse,
            &SnapshotsService::RequestUsage, &SnapshotsService::DoUsageInline,
            &SnapshotsService::WalkUsage>;

  // Waits for the next request of this method.
  template <class C>
  void Arm() {
    std::lock_guard<std::mutex> l(mu_);
    if (!open_) return;
    (new C(*this))->Request();
  }

  // Hands a call whose answer needs a walk to a walker (started on first
  // use), or refuses it when stopping or when kMaxQueuedWalks wait already.
  template <class C>
  void Defer(C* call) {
    grpc::Status refusal;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stopping_) {
        refusal = RpcGate::Refused();
      } else if (walks_.size() >= kMaxQueuedWalks) {
        refusal = grpc::Status(grpc::UNAVAILABLE,
                               "usage: too many directory walks queued");
      } else {
        if (walkers_.empty()) {
          for (int i = 0; i < kWalkers; ++i) {
            walkers_.emplace_back([this] { WalkLoop(); });
          }
        }
        walks_.push_back([call] { call->Walk(); });
        work_.notify_one();
        return;
      }
    }
    call->Finish(refusal);
  }

  void Loop() {
    void* tag = nullptr;
    bool ok = false;
    while (cq_.Next(&tag, &ok)) static_cast<Call*>(tag)->Proceed(ok);
  }

  void WalkLoop() {
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      work_.wait(l, [&] { return stopping_ || !walks_.empty(); });
      if (walks_.empty()) return;  // stopping, nothing left
      std::function<void()> walk = std::move(walks_.front());
      walks_.pop_front();
      l.unlock();
      walk();
      l.lock();
    }
  }

  static constexpr int kWalkers = 2;
  SnapshotsService& svc_;
  grpc::ServerCompletionQueue& cq_;
  std::mutex mu_;
  std::condition_variable work_;             // walks_ or stopping_
  bool open_ = true;                         // GUARDED_BY(mu_)
  bool stopping_ = false;                    // GUARDED_BY(mu_)
  std::deque<std::function<void()>> walks_;  // GUARDED_BY(mu_)
  std::vector<std::thread> walkers_;         // GUARDED_BY(mu_) to grow
  std::thread loop_;
};

SnapshotsService::SnapshotsService(Engine& engine) : engine_(engine) {}

SnapshotsService::~SnapshotsService() { StopReads(); }

void SnapshotsService::AddTo(grpc::ServerBuilder& builder) {
  builder.RegisterService(this);
  cq_ = builder.AddCompletionQueue();
}

void SnapshotsService::StartReads() {
  reads_ = std::make_unique<Reads>(*this, *cq_);
  reads_->Start();
}

void SnapshotsService::StopReads() {
  if (reads_) reads_->Stop();
}

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

grpc::Status SnapshotsService::DoMounts(const pb::MountsRequest& req,
                                        pb::MountsResponse* resp) {
  STRATA_ADMIT();
  auto r = engine_.Mounts(req.key());
  if (r.ok()) MountsToProto(*r, resp->mutable_mounts());
  return Finish("Mounts", req.key(), r.status());
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

grpc::Status SnapshotsService::DoStat(const pb::StatSnapshotRequest& req,
                                      pb::StatSnapshotResponse* resp) {
  STRATA_ADMIT();
  auto r = engine_.Stat(req.key());
  if (r.ok()) ToProto(*r, resp->mutable_info());
  return Finish("Stat", req.key(), r.status());
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

std::optional<grpc::Status> SnapshotsService::DoUsageInline(
    const pb::UsageRequest& req, pb::UsageResponse* resp) {
  return DoUsage(req, kInlineWalkInodes, resp);
}

grpc::Status SnapshotsService::WalkUsage(const pb::UsageRequest& req,
                                         pb::UsageResponse* resp) {
  return *DoUsage(req, kNoInodeLimit, resp);
}

std::optional<grpc::Status> SnapshotsService::DoUsage(
    const pb::UsageRequest& req, int64_t max_inodes, pb::UsageResponse* resp) {
  STRATA_ADMIT();
  auto r = engine_.GetUsage(req.key(), max_inodes);
  if (max_inodes != kNoInodeLimit && !r.ok() &&
      r.status().code() == Code::kResourceExhausted) {
    return std::nullopt;  // a bigger tree (or out of descriptors): a walker
  }
  if (r.ok()) {
    resp->set_size(r->size);
    resp->set_inodes(r->inodes);
  }
  return Finish("Usage", req.key(), r.status());
}

grpc::Status SnapshotsService::Cleanup(Ctx*, const pb::CleanupRequest*,
                                       google::protobuf::Empty*) {
  STRATA_ADMIT();
  return Finish("Cleanup", "", engine_.Cleanup());
}

}  // namespace strata
