#include "bench/harness/client.h"

#include <grpcpp/grpcpp.h>
#include <sys/mount.h>

#include <cerrno>

#include "io/base/errno.h"
#include "proto/support/grpc_status.h"

namespace strata {

namespace pb = containerd::services::snapshots::v1;

SnapshotClient::SnapshotClient(const std::string& socket) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  stub_ = pb::Snapshots::NewStub(grpc::CreateCustomChannel(
      "unix:" + socket, grpc::InsecureChannelCredentials(), args));
}

Result<SnapshotMounts> SnapshotClient::Prepare(const std::string& key,
                                               const std::string& parent) {
  grpc::ClientContext ctx;
  pb::PrepareSnapshotRequest req;
  req.set_snapshotter("strata");
  req.set_key(key);
  req.set_parent(parent);
  pb::PrepareSnapshotResponse resp;
  STRATA_RETURN_IF_ERROR(FromGrpc(stub_->Prepare(&ctx, req, &resp),
                                  "prepare snapshot \"" + key + "\""));
  return MountsFromProto(resp.mounts());
}

Status SnapshotClient::Commit(const std::string& name, const std::string& key) {
  grpc::ClientContext ctx;
  pb::CommitSnapshotRequest req;
  req.set_snapshotter("strata");
  req.set_name(name);
  req.set_key(key);
  google::protobuf::Empty resp;
  return FromGrpc(stub_->Commit(&ctx, req, &resp),
                  "commit snapshot \"" + key + "\"");
}

Status SnapshotClient::Remove(const std::string& key) {
  grpc::ClientContext ctx;
  pb::RemoveSnapshotRequest req;
  req.set_snapshotter("strata");
  req.set_key(key);
  google::protobuf::Empty resp;
  return FromGrpc(stub_->Remove(&ctx, req, &resp),
                  "remove snapshot \"" + key + "\"");
}

}  // namespace strata
