#include "bench/harness/cow_ops.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "io/base/errno.h"
#include "io/base/unique_fd.h"
#include "io/fs/fs_util.h"

namespace strata {

std::string_view CowOpName(CowOp op) {
  switch (op) {
    case CowOp::kWriteMid:
      return "write-mid";
    case CowOp::kAppend:
      return "append";
    case CowOp::kChmod:
      return "chmod";
    case CowOp::kRename:
      return "rename";
    case CowOp::kDelete:
      return "delete";
  }
  return "?";
}

namespace {

Status WriteAll(int fd, const char* p, size_t n, off_t off,
                const std::string& path) {
  while (n > 0) {
    ssize_t w = off < 0 ? write(fd, p, n) : pwrite(fd, p, n, off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return PosixError("write " + path, errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
    if (off >= 0) off += w;
  }
  return Status::Ok();
}

Status RunOp(CowOp op, const std::string& path, uint64_t size) {
  static const char kBytes[4] = {'c', 'o', 'w', '!'};
  switch (op) {
    case CowOp::kWriteMid:
    case CowOp::kAppend: {
      int flags = O_WRONLY | O_CLOEXEC | (op == CowOp::kAppend ? O_APPEND : 0);
      UniqueFd fd(open(path.c_str(), flags));
      if (!fd.valid()) return PosixError("open " + path, errno);
      off_t off = op == CowOp::kAppend ? -1 : static_cast<off_t>(size / 2);
      STRATA_RETURN_IF_ERROR(
          WriteAll(fd.get(), kBytes, sizeof(kBytes), off, path));
      if (close(fd.release()) != 0) return PosixError("close " + path, errno);
      return Status::Ok();
    }
    case CowOp::kChmod:
      if (chmod(path.c_str(), 0600) != 0)
        return PosixError("chmod " + path, errno);
      return Status::Ok();
    case CowOp::kRename:
      if (rename(path.c_str(), (path + ".renamed").c_str()) != 0) {
        return PosixError("rename " + path, errno);
      }
      return Status::Ok();
    case CowOp::kDelete:
      if (unlink(path.c_str()) != 0) return PosixError("unlink " + path, errno);
      return Status::Ok();
  }
  return InvalidArgument("unknown op");
}

// xorshift64*: fast, and incompressible enough for any filesystem.
void Fill(std::vector<char>& buf, uint64_t& state) {
  for (size_t i = 0; i + 8 <= buf.size(); i += 8) {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    uint64_t v = state * 2685821657736338717ULL;
    std::memcpy(buf.data() + i, &v, 8);
  }
}

Status UpdateMiddle(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return PosixError("open " + path, errno);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return PosixError("stat " + path, errno);
  static const char kBytes[4] = {1, 2, 3, 4};
  STRATA_RETURN_IF_ERROR(WriteAll(fd.get(), kBytes, 4, st.st_size / 2, path));
  if (close(fd.release()) != 0) return PosixError("close " + path, errno);
  return Status::Ok();
}

}  // namespace

Result<double> TimeCowOp(CowOp op, const std::string& path, uint64_t size) {
  auto t0 = std::chrono::steady_clock::now();
  STRATA_RETURN_IF_ERROR(RunOp(op, path, size));
  return std::chrono::duration<double, std::micro>(
             std::chrono::steady_clock::now() - t0)
      .count();
}

Status WriteRandomFile(const std::string& path, uint64_t size, uint64_t seed,
                       int mode) {
  UniqueFd fd(
      open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd.valid()) return PosixError("create " + path, errno);
  std::vector<char> buf(std::min<uint64_t>(size, 1 << 20) + 8);
  uint64_t state = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (uint64_t done = 0; done < size;) {
    Fill(buf, state);
    size_t n =
        static_cast<size_t>(std::min<uint64_t>(size - done, buf.size() - 8));
    STRATA_RETURN_IF_ERROR(WriteAll(fd.get(), buf.data(), n, -1, path));
    done += n;
  }
  if (close(fd.release()) != 0) return PosixError("close " + path, errno);
  return Status::Ok();
}

void EvictFromCache(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.valid()) posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED);
}

Result<int64_t> SyncedUsedBytes(const std::string& dir) {
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return PosixError("open " + dir, errno);
  STRATA_RETURN_IF_ERROR(SyncFs(fd.get()).WithContext(dir));
  struct statfs st;
  if (fstatfs(fd.get(), &st) != 0) return PosixError("statfs " + dir, errno);
  return static_cast<int64_t>(st.f_blocks - st.f_bfree) *
         static_cast<int64_t>(st.f_frsize);
}

Status ApplyBenchsuiteLayer(const std::string& root, int index,
                            uint64_t file_bytes, uint64_t seed) {
  // 'c' create, 'u' update 4 bytes mid-file, 'r' remove: files /a../j.
  const char* plan = index % 3 == 0   ? "uucuucrcuc"
                     : index % 2 == 0 ? "ucrcurcucu"
                                      : "cccccccccc";
  for (int i = 0; i < 10; ++i) {
    std::string path = root + "/" + static_cast<char>('a' + i);
    switch (plan[i]) {
      case 'c':
        STRATA_RETURN_IF_ERROR(
            WriteRandomFile(path, file_bytes, seed + i, 0777));
        break;
      case 'u':
        STRATA_RETURN_IF_ERROR(UpdateMiddle(path));
        break;
      case 'r':
        if (unlink(path.c_str()) != 0 && errno != ENOENT) {
          return PosixError("remove " + path, errno);
        }
        break;
    }
  }
  return Status::Ok();
}

}  // namespace strata
