// The only place a strata::Status becomes a grpc::Status. Codes are equal by
// construction (status.h), so this is a cast plus the message.
#ifndef STRATA_SNAPSHOTTER_SERVER_GRPC_STATUS_H_
#define STRATA_SNAPSHOTTER_SERVER_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "io/base/status.h"

namespace strata {

grpc::Status ToGrpc(const Status& s);

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_SERVER_GRPC_STATUS_H_
