#include "io/base/errno.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

namespace strata {

namespace {
std::atomic<uint64_t> io_errors{0};
}  // namespace

uint64_t IoErrorsSeen() { return io_errors.load(std::memory_order_relaxed); }

Status PosixError(std::string_view context, int err) {
  if (err == EIO) io_errors.fetch_add(1, std::memory_order_relaxed);
  Code code = Code::kInternal;
  switch (err) {
    case ENOENT:
      code = Code::kNotFound;
      break;
    case EEXIST:
      code = Code::kAlreadyExists;
      break;
    case ENOSPC:
    case EDQUOT:
      code = Code::kResourceExhausted;
      break;
    case ENOSYS:
    case EOPNOTSUPP:
      code = Code::kUnimplemented;
      break;
    case EINVAL:
      code = Code::kInvalidArgument;
      break;
    default:
      break;
  }
  std::string m(context);
  m += ": ";
  m += std::strerror(err);
  return Status(code, m);
}

}  // namespace strata
