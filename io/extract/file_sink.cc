#include "io/extract/file_sink.h"

#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "io/base/errno.h"
#include "io/base/unique_fd.h"

namespace strata {

mode_t CurrentUmask() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Umask:", 0) == 0) return static_cast<mode_t>(std::strtoul(line.c_str() + 6, nullptr, 8));
  }
  return 022;
}

Status WriteFileNow(const FileJob& job, const char* data, size_t len) {
  UniqueFd fd(openat(job.parent->get(), job.name.c_str(),
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return PosixError("create", errno);
  while (len > 0) {
    ssize_t n = write(fd.get(), data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError("write", errno);
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  if (job.chown && fchown(fd.get(), job.uid, job.gid) != 0) return PosixError("chown", errno);
  if (fchmod(fd.get(), job.mode) != 0) return PosixError("chmod", errno);
  for (const auto& [k, v] : job.xattrs) {
    if (fsetxattr(fd.get(), k.c_str(), v.data(), v.size(), 0) != 0) {
      return PosixError("set xattr " + k, errno);
    }
  }
  if (futimens(fd.get(), job.times) != 0) return PosixError("set times", errno);
  return Status::Ok();
}

Status FinishFileByName(const FileJob& job, bool mode_ok) {
  int dir = job.parent->get();
  const char* name = job.name.c_str();
  if (job.chown && fchownat(dir, name, job.uid, job.gid, AT_SYMLINK_NOFOLLOW) != 0) {
    return PosixError("chown", errno);
  }
  // chown clears setuid/setgid, so chmod comes after it.
  if ((!mode_ok || job.chown) && fchmodat(dir, name, job.mode, 0) != 0) {
    return PosixError("chmod", errno);
  }
  if (!job.xattrs.empty()) {
    std::string proc = "/proc/self/fd/" + std::to_string(dir) + "/" + job.name;
    for (const auto& [k, v] : job.xattrs) {
      if (lsetxattr(proc.c_str(), k.c_str(), v.data(), v.size(), 0) != 0) {
        return PosixError("set xattr " + k, errno);
      }
    }
  }
  if (utimensat(dir, name, job.times, AT_SYMLINK_NOFOLLOW) != 0) {
    return PosixError("set times", errno);
  }
  return Status::Ok();
}

Result<char*> SyncFileSink::AcquireBuffer() {
  if (!buf_) buf_.reset(new char[kBufferSize]);
  return buf_.get();
}

Status SyncFileSink::Submit(FileJob job, char* buf, size_t len) {
  Status s = WriteFileNow(job, buf, len);
  if (!s.ok()) return s.WithContext("file \"" + job.path + "\"");
  return s;
}

}  // namespace strata

#include "io/base/log.h"
#include "io/uring/uring_file_sink.h"

namespace strata {

std::unique_ptr<FileSink> MakeFileSink() {
  // Plain syscalls by default: on the hosts measured so far (ext4, 2 cores)
  // the io_uring sink was slower, since every O_CREAT openat is punted to an
  // io-wq worker (README "Benchmarks"). STRATA_IO=uring selects it.
  const char* mode = std::getenv("STRATA_IO");
  if (mode != nullptr && std::string_view(mode) == "uring") {
    auto uring = UringFileSink::Create();
    if (uring.ok()) return std::move(*uring);
    Log(LogLevel::kInfo, "extract", "io_uring unavailable; using plain syscalls",
        {{"reason", uring.status().message()}});
  }
  return std::make_unique<SyncFileSink>();
}

}  // namespace strata
