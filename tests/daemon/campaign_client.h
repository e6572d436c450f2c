// The crash campaign's Snapshots client: containerd's Snapshots API on the
// daemon's socket, every call with a deadline so nothing hangs on a daemon
// that was killed or whose filesystem went down, and mounts converted for
// MountAll (io/fs/mount.h).
//
// Thread-safety: one client may be shared by threads (gRPC stubs are).
// Dial a new one after each daemon restart.
#ifndef STRATA_TESTS_DAEMON_CAMPAIGN_CLIENT_H_
#define STRATA_TESTS_DAEMON_CAMPAIGN_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "snapshotter/types.h"
#include "strata/services/import/v1/import.grpc.pb.h"
#include "tests/daemon/daemon_process.h"

namespace strata {

namespace campaign_pb = containerd::services::snapshots::v1;

class CampaignClient {
 public:
  explicit CampaignClient(
      const std::string& sock,
      std::chrono::seconds deadline = std::chrono::seconds(10))
      : stub_(Dial(sock)),
        import_(
            strata::services::import::v1::Import::NewStub(grpc::CreateChannel(
                "unix:" + sock, grpc::InsecureChannelCredentials()))),
        deadline_(deadline) {}

  // strata import's RPC: applies `tar` to active snapshot `key`.
  grpc::Status Import(const std::string& key, const std::string& tar) {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    strata::services::import::v1::ApplyResponse resp;
    auto writer = import_->Apply(&ctx, &resp);
    strata::services::import::v1::ApplyRequest req;
    req.set_key(key);
    req.set_data(tar);
    writer->Write(req);
    writer->WritesDone();
    return writer->Finish();
  }

  grpc::Status Prepare(const std::string& key, const std::string& parent,
                       std::vector<Mount>* mounts) {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    campaign_pb::PrepareSnapshotRequest req;
    req.set_key(key);
    req.set_parent(parent);
    campaign_pb::PrepareSnapshotResponse resp;
    grpc::Status s = stub_->Prepare(&ctx, req, &resp);
    if (s.ok()) *mounts = MountsFromProto(resp.mounts());
    return s;
  }
  grpc::Status View(const std::string& key, const std::string& parent,
                    std::vector<Mount>* mounts) {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    campaign_pb::ViewSnapshotRequest req;
    req.set_key(key);
    req.set_parent(parent);
    campaign_pb::ViewSnapshotResponse resp;
    grpc::Status s = stub_->View(&ctx, req, &resp);
    if (s.ok()) *mounts = MountsFromProto(resp.mounts());
    return s;
  }
  grpc::Status Commit(const std::string& name, const std::string& key) {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    campaign_pb::CommitSnapshotRequest req;
    req.set_name(name);
    req.set_key(key);
    google::protobuf::Empty resp;
    return stub_->Commit(&ctx, req, &resp);
  }
  grpc::Status Remove(const std::string& key) {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    campaign_pb::RemoveSnapshotRequest req;
    req.set_key(key);
    google::protobuf::Empty resp;
    return stub_->Remove(&ctx, req, &resp);
  }
  grpc::Status Stat(const std::string& key, campaign_pb::Info* info) {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    campaign_pb::StatSnapshotRequest req;
    req.set_key(key);
    campaign_pb::StatSnapshotResponse resp;
    grpc::Status s = stub_->Stat(&ctx, req, &resp);
    if (s.ok()) *info = resp.info();
    return s;
  }
  // Every snapshot (List with no filter).
  grpc::Status List(std::vector<campaign_pb::Info>* out) {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    auto reader = stub_->List(&ctx, campaign_pb::ListSnapshotsRequest());
    campaign_pb::ListSnapshotsResponse resp;
    out->clear();
    while (reader->Read(&resp)) {
      out->insert(out->end(), resp.info().begin(), resp.info().end());
    }
    return reader->Finish();
  }

 private:
  void SetDeadline(grpc::ClientContext& ctx) const {
    ctx.set_deadline(std::chrono::system_clock::now() + deadline_);
  }

  std::unique_ptr<campaign_pb::Snapshots::Stub> stub_;
  std::unique_ptr<strata::services::import::v1::Import::Stub> import_;
  std::chrono::seconds deadline_;
};

}  // namespace strata

#endif  // STRATA_TESTS_DAEMON_CAMPAIGN_CLIENT_H_
