// strata::Status: the outcome of an operation, as a code from containerd's
// errdefs classes plus a message.
//
// The codes are numerically equal to grpc::StatusCode so the server layer can
// pass them through unchanged, but this header knows nothing about gRPC. An OK
// status holds no allocation (leveldb's null-state trick).
//
// Thread-safety: a Status is a value; distinct objects may be used from
// different threads without synchronisation.
#ifndef STRATA_IO_BASE_STATUS_H_
#define STRATA_IO_BASE_STATUS_H_

#include <memory>
#include <string>
#include <string_view>

namespace strata {

enum class Code : int {
  kOk = 0,
  kCanceled = 1,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
};

std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string_view message);
  Status(const Status& other);
  Status& operator=(const Status& other);
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

  static Status Ok() { return Status(); }

  bool ok() const { return rep_ == nullptr; }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  const std::string& message() const;

  // "<CodeName>: <message>", or "OK".
  std::string ToString() const;

  // Returns a status with the same code whose message is "<prefix>: <message>"
  // (containerd's "%s: %w" wrapping). OK stays OK.
  Status WithContext(std::string_view prefix) const&;
  Status WithContext(std::string_view prefix) &&;

  // Explicitly discards the status where ignoring an error is the intent.
  void IgnoreError() const {}

 private:
  struct Rep {
    Code code;
    std::string message;
  };
  std::unique_ptr<Rep> rep_;
};

inline Status InvalidArgument(std::string_view m) {
  return Status(Code::kInvalidArgument, m);
}
inline Status NotFound(std::string_view m) {
  return Status(Code::kNotFound, m);
}
inline Status AlreadyExists(std::string_view m) {
  return Status(Code::kAlreadyExists, m);
}
inline Status FailedPrecondition(std::string_view m) {
  return Status(Code::kFailedPrecondition, m);
}
inline Status Unimplemented(std::string_view m) {
  return Status(Code::kUnimplemented, m);
}
inline Status Canceled(std::string_view m) {
  return Status(Code::kCanceled, m);
}
inline Status Internal(std::string_view m) {
  return Status(Code::kInternal, m);
}
inline Status DataLoss(std::string_view m) {
  return Status(Code::kDataLoss, m);
}
inline Status ResourceExhausted(std::string_view m) {
  return Status(Code::kResourceExhausted, m);
}
inline Status Unavailable(std::string_view m) {
  return Status(Code::kUnavailable, m);
}

}  // namespace strata

#define STRATA_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::strata::Status strata_status_ = (expr);        \
    if (!strata_status_.ok()) return strata_status_; \
  } while (0)

#endif  // STRATA_IO_BASE_STATUS_H_
