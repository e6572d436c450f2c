#include "io/clone/reflink.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "io/base/errno.h"
#include "io/base/unique_fd.h"

namespace strata {
namespace {

bool CannotClone(int err) {
  return err == EOPNOTSUPP || err == EXDEV || err == EINVAL || err == ENOTTY ||
         err == ENOSYS;
}

Status ReadWrite(int src_fd, int dst_fd, off_t off, off_t end) {
  // One buffer per thread: a fresh 1 MiB vector per file would be an
  // mmap/munmap pair per small file on the copy path.
  thread_local std::vector<char> buf(1 << 20);
  while (off < end) {
    size_t want = static_cast<size_t>(std::min<off_t>(end - off, buf.size()));
    ssize_t n = pread(src_fd, buf.data(), want, off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return PosixError("read", errno);
    if (n == 0) break;  // shrank under us: the length is fixed by ftruncate
    for (ssize_t done = 0; done < n;) {
      ssize_t w = pwrite(dst_fd, buf.data() + done, n - done, off + done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return PosixError("write", errno);
      done += w;
    }
    off += n;
  }
  return Status::Ok();
}

// Copies [off, end) with copy_file_range, falling back to read/write.
Status CopyRange(int src_fd, int dst_fd, off_t off, off_t end, bool& use_cfr) {
  while (use_cfr && off < end) {
    loff_t in = off, out = off;
    ssize_t n = copy_file_range(src_fd, &in, dst_fd, &out, end - off, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
                  errno == EOPNOTSUPP)) {
      use_cfr = false;
      break;
    }
    if (n < 0) return PosixError("copy_file_range", errno);
    if (n == 0) return Status::Ok();
    off += n;
  }
  return ReadWrite(src_fd, dst_fd, off, end);
}

}  // namespace

Status CopyFileData(int src_fd, int dst_fd, int64_t size) {
  bool use_cfr = true;
  off_t off = 0;
  while (off < size) {
    off_t data = lseek(src_fd, off, SEEK_DATA);
    if (data < 0 && errno == ENXIO) break;  // only a hole is left
    if (data < 0) {
      // No SEEK_DATA: the whole rest is data.
      STRATA_RETURN_IF_ERROR(CopyRange(src_fd, dst_fd, off, size, use_cfr));
      break;
    }
    off_t hole = lseek(src_fd, data, SEEK_HOLE);
    if (hole < 0 || hole > size) hole = size;
    STRATA_RETURN_IF_ERROR(CopyRange(src_fd, dst_fd, data, hole, use_cfr));
    off = hole;
  }
  if (ftruncate(dst_fd, size) != 0) return PosixError("ftruncate", errno);
  return Status::Ok();
}

Result<DataOutcome> CloneFileData(int src_fd, int dst_fd, int64_t size,
                                  DataMode mode) {
  if (mode != DataMode::kCopy) {
    if (ioctl(dst_fd, FICLONE, src_fd) == 0) return DataOutcome::kCloned;
    int err = errno;
    if (!CannotClone(err) || mode == DataMode::kReflink)
      return PosixError("FICLONE", err);
  }
  STRATA_RETURN_IF_ERROR(CopyFileData(src_fd, dst_fd, size));
  return DataOutcome::kCopied;
}

Result<DedupeOutcome> DedupeFileData(int src_fd, int dst_fd, int64_t size) {
  constexpr int64_t kChunk = 16 << 20;
  std::vector<char> buf(sizeof(file_dedupe_range) +
                        sizeof(file_dedupe_range_info));
  auto* range = reinterpret_cast<file_dedupe_range*>(buf.data());
  DedupeOutcome out;
  for (int64_t off = 0; off < size;) {
    std::memset(buf.data(), 0, buf.size());
    range->src_offset = static_cast<uint64_t>(off);
    range->src_length = static_cast<uint64_t>(std::min(kChunk, size - off));
    range->dest_count = 1;
    range->info[0].dest_fd = dst_fd;
    range->info[0].dest_offset = static_cast<uint64_t>(off);
    if (ioctl(src_fd, FIDEDUPERANGE, range) != 0) {
      if (errno == EINTR) continue;
      return PosixError("FIDEDUPERANGE", errno);
    }
    const file_dedupe_range_info& info = range->info[0];
    if (info.status == FILE_DEDUPE_RANGE_DIFFERS) {
      out.differs = true;
      return out;
    }
    if (info.status < 0) return PosixError("FIDEDUPERANGE", -info.status);
    if (info.bytes_deduped == 0) break;  // the file shrank under us
    out.bytes += static_cast<int64_t>(info.bytes_deduped);
    off += static_cast<int64_t>(info.bytes_deduped);
  }
  return out;
}

bool CanReflink(const std::string& dir) {
  std::string a = dir + "/.reflink-probe-XXXXXX";
  UniqueFd src(mkostemp(a.data(), O_CLOEXEC));
  if (!src.valid()) return false;
  unlink(a.c_str());
  std::string b = dir + "/.reflink-probe-XXXXXX";
  UniqueFd dst(mkostemp(b.data(), O_CLOEXEC));
  if (!dst.valid()) return false;
  unlink(b.c_str());
  std::vector<char> block(4096, 'r');
  if (pwrite(src.get(), block.data(), block.size(), 0) !=
      static_cast<ssize_t>(block.size())) {
    return false;
  }
  return ioctl(dst.get(), FICLONE, src.get()) == 0;
}

}  // namespace strata
