#include "proto/support/grpc_status.h"

#include <string>

namespace strata {

static_assert(static_cast<int>(Code::kInvalidArgument) ==
              grpc::INVALID_ARGUMENT);
static_assert(static_cast<int>(Code::kNotFound) == grpc::NOT_FOUND);
static_assert(static_cast<int>(Code::kAlreadyExists) == grpc::ALREADY_EXISTS);
static_assert(static_cast<int>(Code::kFailedPrecondition) ==
              grpc::FAILED_PRECONDITION);
static_assert(static_cast<int>(Code::kUnimplemented) == grpc::UNIMPLEMENTED);
static_assert(static_cast<int>(Code::kResourceExhausted) ==
              grpc::RESOURCE_EXHAUSTED);
static_assert(static_cast<int>(Code::kDataLoss) == grpc::DATA_LOSS);
static_assert(static_cast<int>(Code::kUnavailable) == grpc::UNAVAILABLE);

grpc::Status ToGrpc(const Status& s) {
  if (s.ok()) return grpc::Status::OK;
  // The message travels in gRPC metadata (8 KiB for all headers by default):
  // a message that quotes a deep path is cut in its middle, keeping the
  // snapshot's name at the front and the failing call at the end.
  std::string msg = s.message();
  if (msg.size() > kMaxMessageBytes) {
    size_t keep = (kMaxMessageBytes - 5) / 2;
    msg = msg.substr(0, keep) + " ... " + msg.substr(msg.size() - keep);
  }
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), msg);
}

Status FromGrpc(const grpc::Status& s, std::string_view context) {
  if (s.ok()) return Status::Ok();
  std::string msg = std::string(context) + ": " + s.error_message();
  switch (s.error_code()) {
    case grpc::CANCELLED:
    case grpc::INVALID_ARGUMENT:
    case grpc::DEADLINE_EXCEEDED:
    case grpc::NOT_FOUND:
    case grpc::ALREADY_EXISTS:
    case grpc::RESOURCE_EXHAUSTED:
    case grpc::FAILED_PRECONDITION:
    case grpc::UNIMPLEMENTED:
    case grpc::UNAVAILABLE:
    case grpc::DATA_LOSS:
      return Status(static_cast<Code>(s.error_code()), msg);
    default:
      return Internal(msg + " (grpc code " + std::to_string(s.error_code()) +
                      ")");
  }
}

}  // namespace strata
