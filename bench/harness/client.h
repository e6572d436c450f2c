// SnapshotClient: the few synchronous Snapshots calls the benchmark tools
// make, against any server of containerd.services.snapshots.v1 (Strata or
// strata-peer), with errors as Status naming the snapshot, and mounts as
// io/fs's Mount (io/fs/mount.h performs them).
//
// Thread-safety: a SnapshotClient may be shared by threads (gRPC stubs are).
#ifndef STRATA_BENCH_HARNESS_CLIENT_H_
#define STRATA_BENCH_HARNESS_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "io/base/result.h"
#include "io/fs/mount.h"
#include "proto/support/mounts.h"

namespace strata {

using SnapshotMounts = std::vector<Mount>;

class SnapshotClient {
 public:
  // A channel of its own to unix socket `socket` (no shared subchannel: a
  // previous server on the same path must not hand us its dead connection).
  explicit SnapshotClient(const std::string& socket);

  Result<SnapshotMounts> Prepare(const std::string& key,
                                 const std::string& parent);
  Status Commit(const std::string& name, const std::string& key);
  Status Remove(const std::string& key);

 private:
  std::unique_ptr<containerd::services::snapshots::v1::Snapshots::Stub> stub_;
};

}  // namespace strata

#endif  // STRATA_BENCH_HARNESS_CLIENT_H_
