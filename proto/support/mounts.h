// containerd's wire Mount (containerd.types.Mount) and io/fs's Mount, both
// ways: the one conversion the server, the CLI, the benchmark harness and
// the tests share.
//
// Thread-safety: pure functions.
#ifndef STRATA_PROTO_SUPPORT_MOUNTS_H_
#define STRATA_PROTO_SUPPORT_MOUNTS_H_

#include <vector>

#include "containerd/types/mount.pb.h"
#include "io/fs/mount.h"

namespace strata {

using ProtoMounts =
    google::protobuf::RepeatedPtrField<containerd::types::Mount>;

std::vector<Mount> MountsFromProto(const ProtoMounts& in);
void MountsToProto(const std::vector<Mount>& in, ProtoMounts* out);

}  // namespace strata

#endif  // STRATA_PROTO_SUPPORT_MOUNTS_H_
