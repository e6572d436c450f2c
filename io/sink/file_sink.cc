#include "io/sink/file_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "io/base/errno.h"
#include "io/base/log.h"
#include "io/base/unique_fd.h"
#include "io/fs/path_fd.h"
#include "io/sink/threaded_file_sink.h"
#include "io/sink/uring_file_sink.h"

namespace strata {

mode_t CurrentUmask() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Umask:", 0) == 0)
      return static_cast<mode_t>(std::strtoul(line.c_str() + 6, nullptr, 8));
  }
  return 022;
}

CreatePlan::CreatePlan()
    : uid_(geteuid()), gid_(getegid()), umask_(CurrentUmask()) {}

CreatePlan::Needs CreatePlan::For(const FileJob& job) {
  if (parent_ != job.parent) {
    parent_ = job.parent;
    struct stat st;
    if (fstat(parent_->get(), &st) == 0) {
      parent_setgid_ = (st.st_mode & S_ISGID) != 0;
      parent_gid_ = st.st_gid;
      // A default ACL replaces the umask for new files: trust no create mode.
      std::string proc = "/proc/self/fd/" + std::to_string(parent_->get());
      parent_keeps_mode_ =
          getxattr(proc.c_str(), "system.posix_acl_default", nullptr, 0) < 0;
    } else {
      parent_setgid_ = true;  // unknown: assume the worst, make every call
      parent_keeps_mode_ = false;
    }
  }
  Needs n;
  if (job.chown) {
    gid_t got = parent_setgid_ ? parent_gid_ : gid_;
    n.chown = job.uid != uid_ || job.gid != got;
  }
  n.chmod = (job.mode & ~0777u) != 0 || (job.mode & umask_) != 0 ||
            !parent_keeps_mode_;
  return n;
}

Status WriteFileNow(const FileJob& job, const char* data, size_t len,
                    CreatePlan& plan) {
  CreatePlan::Needs needs = plan.For(job);
  UniqueFd fd(openat(job.parent->get(), job.name.c_str(),
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     job.mode & 0777));
  if (!fd.valid()) return PosixError("create", errno);
  // Content sharing (content_share.h): a clone of an equal stored file.
  std::string digest;
  if (job.share != nullptr) digest = Sha256::RawOf({data, len});
  STRATA_RETURN_IF_ERROR(
      WriteOrShare(fd.get(), {data, len}, digest, job.share, job.share_log));
  STRATA_RETURN_IF_ERROR(FinishOpenFile(fd.get(), job, needs));
  if (job.share != nullptr) {
    job.share_log->Digested(std::move(digest), static_cast<int64_t>(len),
                            job.path, fd.get());
  }
  return Status::Ok();
}

Status FinishOpenFile(int fd, const FileJob& job, CreatePlan::Needs needs) {
  if (needs.chown && fchown(fd, job.uid, job.gid) != 0)
    return PosixError("chown", errno);
  // chown clears setuid/setgid, so chmod comes after it.
  if ((needs.chmod || needs.chown) && fchmod(fd, job.mode) != 0) {
    return PosixError("chmod", errno);
  }
  for (const auto& [k, v] : job.xattrs) {
    if (fsetxattr(fd, k.c_str(), v.data(), v.size(), 0) != 0) {
      return PosixError("set xattr " + k, errno);
    }
  }
  if (futimens(fd, job.times) != 0) return PosixError("set times", errno);
  return Status::Ok();
}

Status FinishFileNoFollow(const FileJob& job, CreatePlan::Needs needs) {
  if (!needs.chown && !needs.chmod && job.xattrs.empty()) {
    // Times only (most files of a layer): one call by name, not following a
    // symlink. The name is still this file: the extractor flushes a Busy()
    // path before it replaces or removes it.
    if (utimensat(job.parent->get(), job.name.c_str(), job.times,
                  AT_SYMLINK_NOFOLLOW) != 0) {
      return PosixError("set times", errno);
    }
    return Status::Ok();
  }
  struct stat st;
  STRATA_ASSIGN_OR_RETURN(UniqueFd fd,
                          OpenNoFollow(job.parent->get(), job.name, &st));
  if (!S_ISREG(st.st_mode))
    return Internal("replaced by another entry while it was written");
  if (needs.chown) STRATA_RETURN_IF_ERROR(ChownFd(fd.get(), job.uid, job.gid));
  if (needs.chmod || needs.chown)
    STRATA_RETURN_IF_ERROR(ChmodFd(fd.get(), job.mode));
  for (const auto& [k, v] : job.xattrs)
    STRATA_RETURN_IF_ERROR(SetXattrFd(fd.get(), k, v));
  return SetTimesFd(fd.get(), job.times);
}

Result<char*> SyncFileSink::AcquireBuffer(size_t) {
  if (!buf_) buf_.reset(new char[kBufferSize]);
  return buf_.get();
}

Status SyncFileSink::Submit(FileJob job, char* buf, size_t len) {
  Status s = WriteFileNow(job, buf, len, plan_);
  if (!s.ok()) return s.WithContext("file \"" + job.path + "\"");
  return s;
}

namespace {

// Threads: faster than io_uring and plain syscalls on every layer of
// bench/extract.py (README "Benchmarks", "Fast extraction"): io_uring has no
// chmod/chown/utimes opcodes and punts every O_CREAT openat to io-wq.
constexpr SinkKind kDefaultSink = SinkKind::kThreads;

}  // namespace

std::unique_ptr<FileSink> MakeFileSink(SinkKind kind) {
  if (kind == SinkKind::kUring) {
    auto uring = UringFileSink::Create();
    if (uring.ok()) return std::move(*uring);
    Log(LogLevel::kInfo, "extract",
        "io_uring unavailable; using the threaded sink",
        {{"reason", uring.status().message()}});
    kind = SinkKind::kThreads;
  }
  if (kind == SinkKind::kThreads) return std::make_unique<ThreadedFileSink>();
  return std::make_unique<SyncFileSink>();
}

std::unique_ptr<FileSink> MakeFileSink() {
  const char* env = std::getenv("STRATA_IO");
  std::string_view mode = env != nullptr ? env : "";
  if (mode == "uring") return MakeFileSink(SinkKind::kUring);
  if (mode == "sync") return MakeFileSink(SinkKind::kSync);
  if (mode == "threads") return MakeFileSink(SinkKind::kThreads);
  return MakeFileSink(kDefaultSink);
}

}  // namespace strata
