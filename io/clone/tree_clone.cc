#include "io/clone/tree_clone.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "io/base/errno.h"
#include "io/base/unique_fd.h"
#include "io/fs/fs_util.h"

namespace strata {
namespace {

// Jobs that spawn jobs, run by n threads (or by the waiting caller when n is
// 0). LIFO, so the walk goes depth first and the directories in flight (and
// their open fds) stay few. The first failure wins; later jobs are dropped.
class JobPool {
 public:
  explicit JobPool(int n) {
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { Work(/*until_idle=*/false); });
  }
  ~JobPool() { Finish().IgnoreError(); }

  void Submit(std::function<Status()> job) {
    std::lock_guard<std::mutex> l(mu_);
    jobs_.push_back(std::move(job));
    cv_.notify_one();
  }
  bool failed() {
    std::lock_guard<std::mutex> l(mu_);
    return !first_.ok();
  }
  // Waits until no job is queued or running, stops the threads, returns the
  // first error.
  Status Finish() {
    if (threads_.empty()) {
      Work(/*until_idle=*/true);
    } else {
      std::unique_lock<std::mutex> l(mu_);
      idle_.wait(l, [&] { return jobs_.empty() && running_ == 0; });
      stop_ = true;
      cv_.notify_all();
    }
    for (std::thread& t : threads_) t.join();
    threads_.clear();
    std::lock_guard<std::mutex> l(mu_);
    return first_;
  }

 private:
  void Work(bool until_idle) {
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      if (until_idle && jobs_.empty()) return;
      cv_.wait(l, [&] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stop_
      std::function<Status()> job = std::move(jobs_.back());
      jobs_.pop_back();
      if (!first_.ok()) {  // drop: the clone failed already
        if (jobs_.empty() && running_ == 0) idle_.notify_all();
        continue;
      }
      ++running_;
      l.unlock();
      Status s = job();
      job = nullptr;  // release what the job holds (fds) outside the lock
      l.lock();
      --running_;
      if (!s.ok() && first_.ok()) first_ = std::move(s);
      if (jobs_.empty() && running_ == 0) idle_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_, idle_;
  std::vector<std::function<Status()>> jobs_;
  int running_ = 0;
  bool stop_ = false;
  Status first_;
  std::vector<std::thread> threads_;
};

bool Unsupported(int err) { return err == ENOTSUP || err == ENOSYS; }

// Copies every xattr with the given accessors (fd- or path-based).
template <typename List, typename Get, typename Set>
Status CopyXattrs(List list, Get get, Set set, const std::string& what) {
  char small[1024];
  std::vector<char> names;
  char* list_buf = small;
  size_t list_size = sizeof(small);
  ssize_t n;
  while ((n = list(list_buf, list_size)) < 0 && errno == ERANGE) {
    names.resize(list_size * 4);
    list_buf = names.data();
    list_size = names.size();
  }
  if (n < 0) return Unsupported(errno) ? Status::Ok() : PosixError("listxattr " + what, errno);
  if (n == 0) return Status::Ok();  // the common case: nothing more to do
  std::vector<char> value(4096);
  for (ssize_t off = 0; off < n;) {
    const char* name = list_buf + off;
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

// The process umask without changing it (umask(2) would race other threads).
mode_t CurrentUmask() {
  FILE* f = std::fopen("/proc/self/status", "re");
  mode_t mask = 07777;  // unknown: never assume the create mode stuck
  if (f == nullptr) return mask;
  char line[256];
  while (std::fgets(line, sizeof(line), f)) {
    unsigned m;
    if (std::sscanf(line, "Umask: %o", &m) == 1) {
      mask = static_cast<mode_t>(m);
      break;
    }
  }
  std::fclose(f);
  return mask;
}

// Who creates the clone's entries, and what a new file gets: decides when
// chown and chmod of a new file can be skipped.
struct Identity {
  uid_t uid = geteuid();
  gid_t gid = getegid();
  mode_t umask = CurrentUmask();
  // False when new entries may not get exactly (uid, gid, mode & ~umask):
  // dst's root is setgid (files take its group) or has a default ACL.
  bool exact = true;
};

// Owner, xattrs, mode, times of an open file or directory, in that order:
// chown clears setuid bits and security.capability, so both come after it.
// created_mode: the mode dst was created with (before the umask), or
// kUnknownMode; chown and chmod are skipped when they would change nothing
// (dst is new, owned by us, in a directory without setgid while cloning).
constexpr mode_t kUnknownMode = ~mode_t{0};
Status ApplyFdMetadata(int src_fd, int dst_fd, const struct stat& st, const std::string& what,
                       const Identity& me, mode_t created_mode = kUnknownMode) {
  bool chowned = false;
  const bool fresh = created_mode != kUnknownMode && me.exact;
  if (!fresh || st.st_uid != me.uid || st.st_gid != me.gid) {
    if (ChownFailed(fchown(dst_fd, st.st_uid, st.st_gid))) {
      return PosixError("chown " + what, errno);
    }
    chowned = true;
  }
  STRATA_RETURN_IF_ERROR(CopyXattrsFd(src_fd, dst_fd, what));
  mode_t want = st.st_mode & 07777;
  if (!fresh || chowned || want != (created_mode & ~me.umask & 07777)) {
    if (fchmod(dst_fd, want) != 0) return PosixError("chmod " + what, errno);
  }
  timespec times[2] = {st.st_atim, st.st_mtim};
  if (futimens(dst_fd, times) != 0) return PosixError("utimens " + what, errno);
  return Status::Ok();
}

// Opens rel (a directory path below root_fd, "" for the root) without
// following symlinks and without leaving root_fd.
int OpenDirBelow(int root_fd, const std::string& rel) {
  if (rel.empty()) return fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
  open_how how{};
  how.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  int fd = static_cast<int>(syscall(SYS_openat2, root_fd, rel.c_str(), &how, sizeof(how)));
  if (fd < 0 && errno == ENOSYS) {
    fd = openat(root_fd, rel.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  }
  return fd;
}

class TreeCloner {
 public:
  TreeCloner(std::string src, std::string dst, const CloneOptions& opts)
      : src_(std::move(src)), dst_(std::move(dst)), opts_(opts), pool_(opts.workers) {}
  ~TreeCloner() { pool_.Finish().IgnoreError(); }

  Result<CloneStats> Run() {
    src_root_.reset(open(src_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!src_root_.valid()) return PosixError("open " + src_, errno);
    struct stat st;
    if (fstat(src_root_.get(), &st) != 0) return PosixError("stat " + src_, errno);
    dev_ = st.st_dev;
    if (mkdir(dst_.c_str(), 0700) != 0) return PosixError("mkdir " + dst_, errno);
    dst_root_.reset(open(dst_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dst_root_.valid()) return PosixError("open " + dst_, errno);
    struct stat dst_st;
    if (fstat(dst_root_.get(), &dst_st) != 0) return PosixError("stat " + dst_, errno);
    if ((dst_st.st_mode & S_ISGID) ||
        fgetxattr(dst_root_.get(), "system.posix_acl_default", nullptr, 0) >= 0) {
      me_.exact = false;
    }
    auto root = std::make_shared<Dir>();
    root->st = st;
    pool_.Submit([this, root] { return ListDir(root); });
    STRATA_RETURN_IF_ERROR(pool_.Finish());
    CloneStats stats;
    stats.dirs = dirs_;
    stats.files = files_;
    stats.cloned = cloned_;
    stats.copied = copied_;
    stats.hardlinks = hardlinks_;
    stats.symlinks = symlinks_;
    stats.specials = specials_;
    stats.bytes = bytes_;
    return stats;
  }

 private:
  // A directory being cloned. Its metadata (times above all) is applied once
  // everything below it is done: `pending` counts its listing, its chunks and
  // its subdirectories; the last to finish applies it and releases the parent.
  struct Dir {
    std::string rel;  // "" for the root, else "a/b/"
    struct stat st;
    std::shared_ptr<Dir> parent;
    std::atomic<int> pending{1};
  };
  // Both directories open while a directory's chunks run; closed with the
  // last chunk, so the open fds stay proportional to the jobs in flight.
  struct DirFds {
    UniqueFd src, dst;
  };
  static constexpr size_t kChunk = 64;

  Status ListDir(const std::shared_ptr<Dir>& dir) {
    auto fds = std::make_shared<DirFds>();
    fds->src.reset(OpenDirBelow(src_root_.get(), dir->rel));
    if (!fds->src.valid()) return PosixError("open " + src_ + "/" + dir->rel, errno);
    fds->dst.reset(OpenDirBelow(dst_root_.get(), dir->rel));
    if (!fds->dst.valid()) return PosixError("open " + dst_ + "/" + dir->rel, errno);
    int dup_fd = fcntl(fds->src.get(), F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0) return PosixError("dup", errno);
    DIR* d = fdopendir(dup_fd);
    if (d == nullptr) {
      ::close(dup_fd);
      return PosixError("opendir " + src_ + "/" + dir->rel, errno);
    }
    std::vector<std::string> names;
    Status status;
    for (;;) {
      errno = 0;
      dirent* ent = readdir(d);
      if (ent == nullptr) {
        if (errno != 0) status = PosixError("readdir " + src_ + "/" + dir->rel, errno);
        break;
      }
      std::string_view name = ent->d_name;
      if (name == "." || name == "..") continue;
      names.emplace_back(name);
      if (names.size() == kChunk) {
        SubmitChunk(dir, fds, std::move(names));
        names.clear();
      }
    }
    closedir(d);
    STRATA_RETURN_IF_ERROR(status);
    if (!names.empty()) {
      // The last chunk runs here: no queueing for small directories.
      STRATA_RETURN_IF_ERROR(CloneEntries(dir, *fds, names));
    }
    fds.reset();
    return Release(dir);
  }

  void SubmitChunk(const std::shared_ptr<Dir>& dir, const std::shared_ptr<DirFds>& fds,
                   std::vector<std::string> names) {
    dir->pending.fetch_add(1);
    pool_.Submit([this, dir, fds, names = std::move(names)]() -> Status {
      STRATA_RETURN_IF_ERROR(CloneEntries(dir, *fds, names));
      return Release(dir);
    });
  }

  // One finished part of dir; the last applies dir's metadata.
  Status Release(std::shared_ptr<Dir> dir) {
    while (dir && dir->pending.fetch_sub(1) == 1) {
      STRATA_RETURN_IF_ERROR(FinishDir(*dir));
      dir = dir->parent;
    }
    return Status::Ok();
  }

  Status FinishDir(const Dir& dir) {
    UniqueFd s(OpenDirBelow(src_root_.get(), dir.rel));
    if (!s.valid()) return PosixError("open " + src_ + "/" + dir.rel, errno);
    UniqueFd d(OpenDirBelow(dst_root_.get(), dir.rel));
    if (!d.valid()) return PosixError("open " + dst_ + "/" + dir.rel, errno);
    dirs_++;
    // After the contents: creating entries changed the directory's mtime.
    return ApplyFdMetadata(s.get(), d.get(), dir.st, dst_ + "/" + dir.rel, me_);
  }

  Status CloneEntries(const std::shared_ptr<Dir>& dir, const DirFds& fds,
                      const std::vector<std::string>& names) {
    for (const std::string& name : names) {
      if (pool_.failed()) return Status::Ok();  // Finish() reports it
      STRATA_RETURN_IF_ERROR(CloneEntry(dir, fds.src.get(), fds.dst.get(), name));
    }
    return Status::Ok();
  }

  Status CloneEntry(const std::shared_ptr<Dir>& dir, int src_dir, int dst_dir,
                    const std::string& name) {
    std::string path = dir->rel + name;
    struct stat st;
    if (fstatat(src_dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return PosixError("stat " + src_ + "/" + path, errno);
    }
    if (S_ISDIR(st.st_mode)) {
      if (mkdirat(dst_dir, name.c_str(), 0700) != 0) {
        return PosixError("mkdir " + dst_ + "/" + path, errno);
      }
      auto child = std::make_shared<Dir>();
      child->rel = path + "/";
      child->st = st;
      child->parent = dir;
      dir->pending.fetch_add(1);
      if (st.st_dev != dev_) {
        // A mount point keeps its directory, not the other filesystem's
        // contents.
        return Release(child);
      }
      pool_.Submit([this, child] { return ListDir(child); });
      return Status::Ok();
    }
    if (S_ISREG(st.st_mode)) return CloneFile(src_dir, dst_dir, path, name, st);
    if (st.st_nlink > 1) {
      std::lock_guard<std::mutex> l(links_mu_);
      auto [it, fresh] = links_.try_emplace(InodeKey{st.st_dev, st.st_ino}, path);
      if (!fresh) return Link(it->second, dst_dir, path, name);
      return CloneSpecial(src_dir, dst_dir, path, name, st);
    }
    return CloneSpecial(src_dir, dst_dir, path, name, st);
  }

  // REQUIRES: links_mu_ held (the first name exists by then).
  Status Link(const std::string& first, int dst_dir, const std::string& path,
              const std::string& name) {
    if (linkat(dst_root_.get(), first.c_str(), dst_dir, name.c_str(), 0) != 0) {
      return PosixError("link " + dst_ + "/" + path, errno);
    }
    hardlinks_++;
    return Status::Ok();
  }

  Status CloneSpecial(int src_dir, int dst_dir, const std::string& path, const std::string& name,
                      const struct stat& st) {
    std::string dst_path = dst_ + "/" + path;
    if (S_ISLNK(st.st_mode)) {
      std::vector<char> target(static_cast<size_t>(st.st_size) + 2);
      ssize_t n = readlinkat(src_dir, name.c_str(), target.data(), target.size());
      if (n < 0) return PosixError("readlink " + src_ + "/" + path, errno);
      if (static_cast<size_t>(n) >= target.size()) {
        return Internal("symlink " + src_ + "/" + path + " changed while cloning");
      }
      target[n] = '\0';
      if (symlinkat(target.data(), dst_dir, name.c_str()) != 0) {
        return PosixError("symlink " + dst_path, errno);
      }
      symlinks_++;
    } else {
      if (mknodat(dst_dir, name.c_str(), (st.st_mode & S_IFMT) | 0600, st.st_rdev) != 0) {
        return PosixError("mknod " + dst_path, errno);
      }
      specials_++;
    }
    if (ChownFailed(fchownat(dst_dir, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW))) {
      return PosixError("chown " + dst_path, errno);
    }
    STRATA_RETURN_IF_ERROR(CopyXattrsPath(src_ + "/" + path, dst_path));
    if (!S_ISLNK(st.st_mode) && fchmodat(dst_dir, name.c_str(), st.st_mode & 07777, 0) != 0) {
      return PosixError("chmod " + dst_path, errno);
    }
    timespec times[2] = {st.st_atim, st.st_mtim};
    if (utimensat(dst_dir, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
      return PosixError("utimens " + dst_path, errno);
    }
    return Status::Ok();
  }

  Status CloneFile(int src_dir, int dst_dir, const std::string& path, const std::string& name,
                   const struct stat& st) {
    const mode_t create_mode = st.st_mode & 0777;
    UniqueFd d;
    if (st.st_nlink > 1) {
      // Create the first name under the lock, so a later name can link to it.
      std::lock_guard<std::mutex> l(links_mu_);
      auto [it, fresh] = links_.try_emplace(InodeKey{st.st_dev, st.st_ino}, path);
      if (!fresh) return Link(it->second, dst_dir, path, name);
      d.reset(openat(dst_dir, name.c_str(),
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, create_mode));
    } else {
      d.reset(openat(dst_dir, name.c_str(),
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, create_mode));
    }
    if (!d.valid()) return PosixError("create " + dst_ + "/" + path, errno);
    UniqueFd s(openat(src_dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!s.valid()) return PosixError("open " + src_ + "/" + path, errno);
    files_++;
    bytes_ += st.st_size;
    if (st.st_size == 0) {
      // Nothing to share or copy: counted as the mode would have done it.
      (opts_.data == DataMode::kCopy ? copied_ : cloned_)++;
    } else {
      auto outcome = CloneFileData(s.get(), d.get(), st.st_size, opts_.data);
      if (!outcome.ok()) return outcome.status().WithContext(dst_ + "/" + path);
      (*outcome == DataOutcome::kCloned ? cloned_ : copied_)++;
    }
    return ApplyFdMetadata(s.get(), d.get(), st, dst_ + "/" + path, me_, create_mode);
  }

  const std::string src_, dst_;
  const CloneOptions opts_;
  Identity me_;  // set before the first job runs
  UniqueFd src_root_, dst_root_;
  dev_t dev_ = 0;
  std::mutex links_mu_;
  std::map<InodeKey, std::string> links_;  // first clone path of a multi-link inode
  std::atomic<int64_t> dirs_{0}, files_{0}, cloned_{0}, copied_{0}, hardlinks_{0}, symlinks_{0},
      specials_{0}, bytes_{0};
  JobPool pool_;  // last: its threads stop before the members they use go
};

}  // namespace

Result<CloneStats> CloneTree(const std::string& src, const std::string& dst,
                             const CloneOptions& opts) {
  TreeCloner cloner(src, dst, opts);
  return cloner.Run();
}

}  // namespace strata
