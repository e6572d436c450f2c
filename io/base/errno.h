// Maps errno values to Status codes in one place (leveldb's PosixError).
//
// ENOENT->NotFound, EEXIST->AlreadyExists, ENOSPC/EDQUOT->ResourceExhausted,
// ENOSYS/EOPNOTSUPP->Unimplemented, EINVAL->InvalidArgument, anything else
// Internal. Callers that know better (the engine) re-class the result.
#ifndef STRATA_IO_BASE_ERRNO_H_
#define STRATA_IO_BASE_ERRNO_H_

#include <cstdint>
#include <string_view>

#include "io/base/status.h"

namespace strata {

// Returns "<context>: <strerror(err)>" with the mapped code. REQUIRES: err !=
// 0.
Status PosixError(std::string_view context, int err);

// How many EIO errors PosixError has reported in this process: a cheap signal
// that the filesystem under something may be failing (the daemon then
// probes its root, Engine::Health).
uint64_t IoErrorsSeen();

}  // namespace strata

#endif  // STRATA_IO_BASE_ERRNO_H_
