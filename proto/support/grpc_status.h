// The only place a strata::Status becomes a grpc::Status, and back. Codes are
// equal by construction (status.h), so this is a cast plus the message.
#ifndef STRATA_PROTO_SUPPORT_GRPC_STATUS_H_
#define STRATA_PROTO_SUPPORT_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "io/base/status.h"

namespace strata {

// Messages longer than this are cut in the middle.
inline constexpr size_t kMaxMessageBytes = 1024;
grpc::Status ToGrpc(const Status& s);

// A status from a gRPC call Strata made (as a client), prefixed with
// `context`. Codes outside containerd's errdefs classes become Internal.
Status FromGrpc(const grpc::Status& s, std::string_view context);

}  // namespace strata

#endif  // STRATA_PROTO_SUPPORT_GRPC_STATUS_H_
