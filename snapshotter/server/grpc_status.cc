#include "snapshotter/server/grpc_status.h"

namespace strata {

static_assert(static_cast<int>(Code::kInvalidArgument) == grpc::INVALID_ARGUMENT);
static_assert(static_cast<int>(Code::kNotFound) == grpc::NOT_FOUND);
static_assert(static_cast<int>(Code::kAlreadyExists) == grpc::ALREADY_EXISTS);
static_assert(static_cast<int>(Code::kFailedPrecondition) == grpc::FAILED_PRECONDITION);
static_assert(static_cast<int>(Code::kUnimplemented) == grpc::UNIMPLEMENTED);
static_assert(static_cast<int>(Code::kResourceExhausted) == grpc::RESOURCE_EXHAUSTED);
static_assert(static_cast<int>(Code::kDataLoss) == grpc::DATA_LOSS);
static_assert(static_cast<int>(Code::kUnavailable) == grpc::UNAVAILABLE);

grpc::Status ToGrpc(const Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), s.message());
}

}  // namespace strata
