// ContentShare: where the extractor finds an already stored file with the
// content of one it is about to write, so the new file shares that file's
// extents instead of storing the bytes again (README "Storage efficiency").
//
// The store only proposes; the extractor proves. A file the extractor can
// hold whole (up to its sink's buffer size) is compared byte for byte with
// the proposal before FICLONE makes it share the proposal's extents; a
// larger one is written as usual and then handed to FIDEDUPERANGE, where the
// kernel compares the bytes. So a wrong, stale or hostile proposal costs a
// comparison, never a file with another file's bytes.
//
// Thread-safety: implementations are called from one extraction at a time
// per extractor, but from several extractions at once.
#ifndef STRATA_IO_EXTRACT_CONTENT_SHARE_H_
#define STRATA_IO_EXTRACT_CONTENT_SHARE_H_

#include <cstdint>
#include <string_view>

#include "io/base/unique_fd.h"

namespace strata {

class ContentShare {
 public:
  virtual ~ContentShare() = default;
  // A read-only descriptor of a regular file claimed to hold `size` bytes
  // whose SHA-256 (raw) is `digest`; an invalid one when there is none.
  virtual UniqueFd Open(std::string_view digest, int64_t size) = 0;
};

}  // namespace strata

#endif  // STRATA_IO_EXTRACT_CONTENT_SHARE_H_
