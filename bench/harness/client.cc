#include "bench/harness/client.h"

#include <grpcpp/grpcpp.h>
#include <sys/mount.h>

#include <cerrno>

#include "io/base/errno.h"

namespace strata {
namespace {

namespace pb = containerd::services::snapshots::v1;

Status FromGrpc(const grpc::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  return Status(static_cast<Code>(s.error_code()),
                what + ": " + s.error_message());
}

}  // namespace

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
  return SnapshotMounts(resp.mounts().begin(), resp.mounts().end());
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

Status MountAll(const SnapshotMounts& mounts, const std::string& target) {
  for (const auto& m : mounts) {
    unsigned long flags = 0;
    bool ro = false;
    std::string data;
    for (const std::string& o : m.options()) {
      if (o == "ro")
        ro = true;
      else if (o == "rw")
        continue;
      else if (o == "rbind")
        flags |= MS_BIND | MS_REC;
      else if (o == "bind")
        flags |= MS_BIND;
      else
        data += (data.empty() ? "" : ",") + o;
    }
    bool bind = m.type() == "bind" || (flags & MS_BIND);
    if (bind) flags |= MS_BIND;
    if (mount(m.source().c_str(), target.c_str(),
              bind ? nullptr : m.type().c_str(),
              flags | (ro && !bind ? MS_RDONLY : 0),
              bind ? nullptr : data.c_str()) != 0) {
      return PosixError(
          "mount " + m.type() + " " + m.source() + " on " + target, errno);
    }
    if (ro && bind &&
        mount(nullptr, target.c_str(), nullptr,
              MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0) {
      return PosixError("remount read-only " + target, errno);
    }
  }
  return Status::Ok();
}

Status Unmount(const std::string& target) {
  if (umount2(target.c_str(), 0) == 0) return Status::Ok();
  int err = errno;
  umount2(target.c_str(), MNT_DETACH);
  return PosixError("unmount " + target, err);
}

std::string WritableDir(const SnapshotMounts& mounts) {
  if (mounts.size() != 1) return "";
  const auto& m = mounts[0];
  if (m.type() == "bind") return m.source();
  for (const std::string& o : m.options()) {
    if (o.rfind("upperdir=", 0) == 0) return o.substr(9);
  }
  return "";
}

}  // namespace strata
