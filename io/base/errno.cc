#include "io/base/errno.h"

#include <cerrno>
#include <cstring>
#include <string>

namespace strata {

Status PosixError(std::string_view context, int err) {
  Code code = Code::kInternal;
  switch (err) {
    case ENOENT: code = Code::kNotFound; break;
    case EEXIST: code = Code::kAlreadyExists; break;
    case ENOSPC:
    case EDQUOT: code = Code::kResourceExhausted; break;
    case ENOSYS:
    case EOPNOTSUPP: code = Code::kUnimplemented; break;
    case EINVAL: code = Code::kInvalidArgument; break;
    default: break;
  }
  std::string m(context);
  m += ": ";
  m += std::strerror(err);
  return Status(code, m);
}

}  // namespace strata
