// SnapshotClient: the few synchronous Snapshots calls the benchmark tools
// make, against any server of containerd.services.snapshots.v1 (Strata or
// strata-peer), with errors as Status naming the snapshot; and MountAll /
// Unmount, which perform a Mounts answer (bind or overlay) the way
// containerd's mount.All does.
//
// Thread-safety: a SnapshotClient may be shared by threads (gRPC stubs are).
#ifndef STRATA_BENCH_HARNESS_CLIENT_H_
#define STRATA_BENCH_HARNESS_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "io/base/result.h"

namespace strata {

using SnapshotMounts = std::vector<containerd::types::Mount>;

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

// Mounts `mounts` on `target` (bind: MS_BIND|MS_REC; overlay: its options as
// data). REQUIRES: root.
Status MountAll(const SnapshotMounts& mounts, const std::string& target);
// Unmounts target; detaches lazily if it is busy.
Status Unmount(const std::string& target);
// The directory a fresh active snapshot writes into without mounting: the
// bind source or the overlay upperdir; empty for other shapes.
std::string WritableDir(const SnapshotMounts& mounts);

}  // namespace strata

#endif  // STRATA_BENCH_HARNESS_CLIENT_H_
