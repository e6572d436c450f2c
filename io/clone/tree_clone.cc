#include "io/clone/tree_clone.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "io/base/errno.h"
#include "io/base/unique_fd.h"

namespace strata {
namespace {

// Bounded queue of jobs run by n threads; the first failure wins and later
// jobs are dropped. Submit blocks while the queue is full, which bounds the
// file descriptors the walk keeps open.
class WorkerPool {
 public:
  explicit WorkerPool(int n) {
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~WorkerPool() { Finish().IgnoreError(); }

  void Submit(std::function<Status()> job) {
    if (threads_.empty()) {
      Record(job());
      return;
    }
    std::unique_lock<std::mutex> l(mu_);
    space_.wait(l, [&] { return queue_.size() < kMaxQueued; });
    queue_.push_back(std::move(job));
    ready_.notify_one();
  }
  bool failed() {
    std::lock_guard<std::mutex> l(mu_);
    return !first_.ok();
  }
  // Waits for every job; returns the first error.
  Status Finish() {
    {
      std::lock_guard<std::mutex> l(mu_);
      done_ = true;
      ready_.notify_all();
    }
    for (std::thread& t : threads_) t.join();
    threads_.clear();
    std::lock_guard<std::mutex> l(mu_);
    return first_;
  }

 private:
  static constexpr size_t kMaxQueued = 128;
  void Record(Status s) {
    if (s.ok()) return;
    std::lock_guard<std::mutex> l(mu_);
    if (first_.ok()) first_ = std::move(s);
  }
  void Run() {
    for (;;) {
      std::function<Status()> job;
      {
        std::unique_lock<std::mutex> l(mu_);
        ready_.wait(l, [&] { return done_ || !queue_.empty(); });
        if (queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
        space_.notify_one();
        if (!first_.ok()) continue;  // drop: the clone failed already
      }
      Record(job());
    }
  }

  std::mutex mu_;
  std::condition_variable ready_, space_;
  std::deque<std::function<Status()>> queue_;
  bool done_ = false;
  Status first_;
  std::vector<std::thread> threads_;
};

bool Unsupported(int err) { return err == ENOTSUP || err == ENOSYS; }

// Copies every xattr with the given accessors (fd- or path-based).
template <typename List, typename Get, typename Set>
Status CopyXattrs(List list, Get get, Set set, const std::string& what) {
  std::vector<char> names(4096);
  ssize_t n;
  while ((n = list(names.data(), names.size())) < 0 && errno == ERANGE) {
    names.resize(names.size() * 4);
  }
  if (n < 0) return Unsupported(errno) ? Status::Ok() : PosixError("listxattr " + what, errno);
  std::vector<char> value(4096);
  for (ssize_t off = 0; off < n;) {
    const char* name = names.data() + off;
    off += std::strlen(name) + 1;
    ssize_t v;
    while ((v = get(name, value.data(), value.size())) < 0 && errno == ERANGE) {
      value.resize(value.size() * 4);
    }
    if (v < 0) {
      if (errno == ENODATA) continue;  // removed meanwhile
      return PosixError("getxattr " + what + " " + name, errno);
    }
    if (set(name, value.data(), static_cast<size_t>(v)) != 0) {
      return PosixError("setxattr " + what + " " + name, errno);
    }
  }
  return Status::Ok();
}

Status CopyXattrsFd(int src, int dst, const std::string& what) {
  return CopyXattrs([&](char* b, size_t n) { return flistxattr(src, b, n); },
                    [&](const char* k, char* b, size_t n) { return fgetxattr(src, k, b, n); },
                    [&](const char* k, const char* b, size_t n) {
                      return fsetxattr(dst, k, b, n, 0);
                    },
                    what);
}

Status CopyXattrsPath(const std::string& src, const std::string& dst) {
  return CopyXattrs(
      [&](char* b, size_t n) { return llistxattr(src.c_str(), b, n); },
      [&](const char* k, char* b, size_t n) { return lgetxattr(src.c_str(), k, b, n); },
      [&](const char* k, const char* b, size_t n) {
        return lsetxattr(dst.c_str(), k, b, n, 0);
      },
      src);
}

// chown may fail without privilege; that is only an error when we have it.
bool ChownFailed(int rc) { return rc != 0 && !(errno == EPERM && geteuid() != 0); }

// Owner, xattrs, mode, times of an open file or directory, in that order:
// chown clears setuid bits and security.capability, so both come after it.
Status ApplyFdMetadata(int src_fd, int dst_fd, const struct stat& st, const std::string& what) {
  if (ChownFailed(fchown(dst_fd, st.st_uid, st.st_gid))) {
    return PosixError("chown " + what, errno);
  }
  STRATA_RETURN_IF_ERROR(CopyXattrsFd(src_fd, dst_fd, what));
  if (fchmod(dst_fd, st.st_mode & 07777) != 0) return PosixError("chmod " + what, errno);
  timespec times[2] = {st.st_atim, st.st_mtim};
  if (futimens(dst_fd, times) != 0) return PosixError("utimens " + what, errno);
  return Status::Ok();
}

struct InodeKey {
  dev_t dev;
  ino_t ino;
  bool operator<(const InodeKey& o) const {
    return dev != o.dev ? dev < o.dev : ino < o.ino;
  }
};

class TreeCloner {
 public:
  TreeCloner(std::string src, std::string dst, const CloneOptions& opts)
      : src_(std::move(src)), dst_(std::move(dst)), opts_(opts), pool_(opts.workers) {}
  ~TreeCloner() { pool_.Finish().IgnoreError(); }

  Result<CloneStats> Run() {
    UniqueFd src_fd(open(src_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!src_fd.valid()) return PosixError("open " + src_, errno);
    struct stat st;
    if (fstat(src_fd.get(), &st) != 0) return PosixError("stat " + src_, errno);
    dev_ = st.st_dev;
    if (mkdir(dst_.c_str(), 0700) != 0) return PosixError("mkdir " + dst_, errno);
    UniqueFd dst_fd(open(dst_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dst_fd.valid()) return PosixError("open " + dst_, errno);
    dst_root_ = dst_fd.get();
    Status s = CloneDir(src_fd.get(), dst_fd.get(), "");
    Status pool = pool_.Finish();
    STRATA_RETURN_IF_ERROR(s);
    STRATA_RETURN_IF_ERROR(pool);
    STRATA_RETURN_IF_ERROR(ApplyFdMetadata(src_fd.get(), dst_fd.get(), st, src_));
    stats_.dirs++;
    stats_.cloned = cloned_.load();
    stats_.copied = copied_.load();
    return stats_;
  }

 private:
  // rel: the directory's path below the roots ("" or "a/b/").
  Status CloneDir(int src_dir, int dst_dir, const std::string& rel) {
    int dup_fd = fcntl(src_dir, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0) return PosixError("dup", errno);
    DIR* dir = fdopendir(dup_fd);
    if (dir == nullptr) {
      ::close(dup_fd);
      return PosixError("opendir " + src_ + "/" + rel, errno);
    }
    Status status;
    while (status.ok()) {
      errno = 0;
      dirent* ent = readdir(dir);
      if (ent == nullptr) {
        if (errno != 0) status = PosixError("readdir " + src_ + "/" + rel, errno);
        break;
      }
      std::string_view name = ent->d_name;
      if (name == "." || name == "..") continue;
      status = CloneEntry(src_dir, dst_dir, rel, ent->d_name);
      if (status.ok() && pool_.failed()) break;  // Finish() reports it
    }
    closedir(dir);
    return status;
  }

  Status CloneEntry(int src_dir, int dst_dir, const std::string& rel, const char* name) {
    std::string path = rel + name;
    struct stat st;
    if (fstatat(src_dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return PosixError("stat " + src_ + "/" + path, errno);
    }
    if (S_ISDIR(st.st_mode)) return CloneSubdir(src_dir, dst_dir, path, name, st);
    if (st.st_nlink > 1) {
      auto [it, fresh] = links_.try_emplace(InodeKey{st.st_dev, st.st_ino}, path);
      if (!fresh) {
        if (linkat(dst_root_, it->second.c_str(), dst_dir, name, 0) != 0) {
          return PosixError("link " + dst_ + "/" + path, errno);
        }
        stats_.hardlinks++;
        return Status::Ok();
      }
    }
    if (S_ISREG(st.st_mode)) return CloneFile(src_dir, dst_dir, path, name, st);
    std::string dst_path = dst_ + "/" + path;
    if (S_ISLNK(st.st_mode)) {
      std::vector<char> target(static_cast<size_t>(st.st_size) + 2);
      ssize_t n = readlinkat(src_dir, name, target.data(), target.size());
      if (n < 0) return PosixError("readlink " + src_ + "/" + path, errno);
      if (static_cast<size_t>(n) >= target.size()) {
        return Internal("symlink " + src_ + "/" + path + " changed while cloning");
      }
      target[n] = '\0';
      if (symlinkat(target.data(), dst_dir, name) != 0) {
        return PosixError("symlink " + dst_path, errno);
      }
      stats_.symlinks++;
    } else {
      if (mknodat(dst_dir, name, (st.st_mode & S_IFMT) | 0600, st.st_rdev) != 0) {
        return PosixError("mknod " + dst_path, errno);
      }
      stats_.specials++;
    }
    if (ChownFailed(fchownat(dst_dir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW))) {
      return PosixError("chown " + dst_path, errno);
    }
    STRATA_RETURN_IF_ERROR(CopyXattrsPath(src_ + "/" + path, dst_path));
    if (!S_ISLNK(st.st_mode) && fchmodat(dst_dir, name, st.st_mode & 07777, 0) != 0) {
      return PosixError("chmod " + dst_path, errno);
    }
    timespec times[2] = {st.st_atim, st.st_mtim};
    if (utimensat(dst_dir, name, times, AT_SYMLINK_NOFOLLOW) != 0) {
      return PosixError("utimens " + dst_path, errno);
    }
    return Status::Ok();
  }

  Status CloneSubdir(int src_dir, int dst_dir, const std::string& path, const char* name,
                     const struct stat& st) {
    if (mkdirat(dst_dir, name, 0700) != 0) return PosixError("mkdir " + dst_ + "/" + path, errno);
    UniqueFd s(openat(src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!s.valid()) return PosixError("open " + src_ + "/" + path, errno);
    UniqueFd d(openat(dst_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d.valid()) return PosixError("open " + dst_ + "/" + path, errno);
    // A mount point keeps its directory, not the other filesystem's contents.
    if (st.st_dev == dev_) STRATA_RETURN_IF_ERROR(CloneDir(s.get(), d.get(), path + "/"));
    stats_.dirs++;
    // After the contents: creating entries changed the directory's mtime.
    return ApplyFdMetadata(s.get(), d.get(), st, dst_ + "/" + path);
  }

  Status CloneFile(int src_dir, int dst_dir, const std::string& path, const char* name,
                   const struct stat& st) {
    UniqueFd s(openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!s.valid()) return PosixError("open " + src_ + "/" + path, errno);
    UniqueFd d(openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!d.valid()) return PosixError("create " + dst_ + "/" + path, errno);
    stats_.files++;
    stats_.bytes += st.st_size;
    std::string what = dst_ + "/" + path;
    // The job owns both fds; shared_ptr keeps std::function copyable.
    auto fds = std::make_shared<std::pair<UniqueFd, UniqueFd>>(std::move(s), std::move(d));
    pool_.Submit([this, fds, st, what = std::move(what)]() -> Status {
      int src_fd = fds->first.get(), dst_fd = fds->second.get();
      auto outcome = CloneFileData(src_fd, dst_fd, st.st_size, opts_.data);
      if (!outcome.ok()) return outcome.status().WithContext(what);
      (*outcome == DataOutcome::kCloned ? cloned_ : copied_)++;
      STRATA_RETURN_IF_ERROR(ApplyFdMetadata(src_fd, dst_fd, st, what));
      fds->first.reset();
      fds->second.reset();
      return Status::Ok();
    });
    return Status::Ok();
  }

  const std::string src_, dst_;
  const CloneOptions opts_;
  WorkerPool pool_;
  dev_t dev_ = 0;
  int dst_root_ = -1;
  std::map<InodeKey, std::string> links_;  // first clone path of a multi-link inode
  CloneStats stats_;
  std::atomic<int64_t> cloned_{0}, copied_{0};
};

}  // namespace

Result<CloneStats> CloneTree(const std::string& src, const std::string& dst,
                             const CloneOptions& opts) {
  TreeCloner cloner(src, dst, opts);
  return cloner.Run();
}

}  // namespace strata
