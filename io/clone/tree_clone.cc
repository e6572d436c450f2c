#include "io/clone/tree_clone.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
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
#include "io/base/unique_dir.h"
#include "io/base/unique_fd.h"
#include "io/fs/fs_util.h"
#include "io/fs/walk_util.h"

namespace strata {
namespace {

// Jobs run by n threads. One thread (the walker) submits; when n is 0 or
// max_queued jobs already wait, Submit runs the job in the caller, so the
// jobs in flight (and what they hold open) stay bounded. The first failure
// wins; later jobs are dropped.
class JobPool {
 public:
  JobPool(int n, size_t max_queued) : max_queued_(max_queued) {
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { Work(); });
  }
  ~JobPool() { Finish().IgnoreError(); }

  // REQUIRES: called by one thread only, the one that calls Finish.
  void Submit(std::function<Status()> job) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!first_.ok()) return;
      if (!threads_.empty() && jobs_.size() < max_queued_) {
        jobs_.push_back(std::move(job));
        cv_.notify_one();
        return;
      }
      ++running_;
    }
    Run(job);
  }
  bool failed() {
    std::lock_guard<std::mutex> l(mu_);
    return !first_.ok();
  }
  // Waits until no job is queued or running, stops the threads, returns the
  // first error.
  Status Finish() {
    {
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
  // REQUIRES: running_ counts this job.
  void Run(std::function<Status()>& job) {
    Status s = job();
    job = nullptr;  // release what the job holds (fds) outside the lock
    std::lock_guard<std::mutex> l(mu_);
    --running_;
    if (!s.ok() && first_.ok()) first_ = std::move(s);
    if (jobs_.empty() && running_ == 0) idle_.notify_all();
  }

  void Work() {
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
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
      Run(job);
      l.lock();
    }
  }

  const size_t max_queued_;
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
  if (n < 0)
    return Unsupported(errno) ? Status::Ok()
                              : PosixError("listxattr " + what, errno);
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
  return CopyXattrs(
      [&](char* b, size_t n) { return flistxattr(src, b, n); },
      [&](const char* k, char* b, size_t n) { return fgetxattr(src, k, b, n); },
      [&](const char* k, const char* b, size_t n) {
        return fsetxattr(dst, k, b, n, 0);
      },
      what);
}

Status CopyXattrsPath(const std::string& src, const std::string& dst) {
  return CopyXattrs(
      [&](char* b, size_t n) { return llistxattr(src.c_str(), b, n); },
      [&](const char* k, char* b, size_t n) {
        return lgetxattr(src.c_str(), k, b, n);
      },
      [&](const char* k, const char* b, size_t n) {
        return lsetxattr(dst.c_str(), k, b, n, 0);
      },
      src);
}

// chown may fail without privilege; that is only an error when we have it.
bool ChownFailed(int rc) {
  return rc != 0 && !(errno == EPERM && geteuid() != 0);
}

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
Status ApplyFdMetadata(int src_fd, int dst_fd, const struct stat& st,
                       const std::string& what, const Identity& me,
                       mode_t created_mode = kUnknownMode) {
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

// "/proc/self/fd/<dirfd>/<name>": a path to dirfd/name of bounded length,
// for the calls that have no *at form (l*xattr).
std::string ProcPath(int dirfd, const std::string& name) {
  return "/proc/self/fd/" + std::to_string(dirfd) + "/" + name;
}

// A file handle (name_to_handle_at) as bytes: finds an inode again with
// memory independent of where it lives.
using HandleBytes = std::string;

bool HandleOf(int dirfd, const char* name, int flags, HandleBytes* out) {
  alignas(file_handle) char buf[sizeof(file_handle) + MAX_HANDLE_SZ];
  auto* fh = reinterpret_cast<file_handle*>(buf);
  fh->handle_bytes = MAX_HANDLE_SZ;
  int mount_id;
  if (name_to_handle_at(dirfd, name, fh, &mount_id, flags) != 0) return false;
  out->assign(buf, sizeof(file_handle) + fh->handle_bytes);
  return true;
}

int OpenHandle(int mount_fd, const HandleBytes& h) {
  alignas(file_handle) char buf[sizeof(file_handle) + MAX_HANDLE_SZ];
  std::memcpy(buf, h.data(), h.size());
  return open_by_handle_at(mount_fd, reinterpret_cast<file_handle*>(buf),
                           O_PATH | O_CLOEXEC);
}

class TreeCloner {
 public:
  TreeCloner(std::string src, std::string dst, const CloneOptions& opts)
      : src_(std::move(src)),
        dst_(std::move(dst)),
        opts_(opts),
        pool_(opts.workers,
              2 * static_cast<size_t>(std::max(opts.workers, 1))) {}
  ~TreeCloner() {
    pool_.Finish().IgnoreError();
    stack_.clear();
  }

  Result<CloneStats> Run() {
    UniqueDir listing = OpenDirAt(AT_FDCWD, src_.c_str());
    if (!listing.valid()) return PosixError("open " + src_, errno);
    STRATA_RETURN_IF_ERROR(StatAt(listing.fd(), "", &root_).WithContext(src_));
    if (mkdir(dst_.c_str(), 0700) != 0)
      return PosixError("mkdir " + dst_, errno);
    UniqueFd dst_fd(
        open(dst_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dst_fd.valid()) return PosixError("open " + dst_, errno);
    struct stat dst_st;
    if (fstat(dst_fd.get(), &dst_st) != 0)
      return PosixError("stat " + dst_, errno);
    if ((dst_st.st_mode & S_ISGID) ||
        fgetxattr(dst_fd.get(), "system.posix_acl_default", nullptr, 0) >= 0) {
      me_.exact = false;
    }
    dst_root_.reset(fcntl(dst_fd.get(), F_DUPFD_CLOEXEC, 0));
    if (!dst_root_.valid()) return PosixError("dup", errno);
    HandleBytes probe;
    if (HandleOf(dst_root_.get(), "", AT_EMPTY_PATH, &probe)) {
      UniqueFd back(OpenHandle(dst_root_.get(), probe));
      use_handles_ = back.valid();
    }
    auto root = std::make_shared<Dir>();
    root->st = root_.st;
    root->dst_dev = dst_st.st_dev;
    root->dst_ino = dst_st.st_ino;
    auto fds = std::make_shared<DirFds>();
    fds->listing = std::move(listing);
    fds->dst = std::move(dst_fd);
    stack_.push_back({std::move(root), std::move(fds), {}});
    Status walked = Walk();
    stack_.clear();
    Status jobs = pool_.Finish();
    STRATA_RETURN_IF_ERROR(walked);
    STRATA_RETURN_IF_ERROR(jobs);
    CloneStats stats;
    stats.dirs = dirs_;
    stats.files = files_;
    stats.cloned = cloned_;
    stats.copied = copied_;
    stats.hardlinks = hardlinks_;
    stats.symlinks = symlinks_;
    stats.specials = specials_;
    stats.bytes = bytes_;
    stats.mounts = mounts_;
    return stats;
  }

 private:
  // A directory in flight. Its metadata (times above all) is applied once
  // everything below it is done: `pending` counts the walker's listing, its
  // chunks and its subdirectories; the last to finish applies it and
  // releases the parent. No path: the name of this level only.
  struct Dir {
    struct stat st;  // the source's, taken before listing (atime)
    dev_t dst_dev = 0;
    ino_t dst_ino = 0;
    std::shared_ptr<Dir> parent;
    std::string name;  // in the parent; "" for the root
    std::atomic<int> pending{1};
  };
  // A directory's two open ends. Chunks share them with the walker and keep
  // them open until they are done.
  struct DirFds {
    UniqueDir listing;  // the source as a stream (walker's frames), or
    UniqueFd src_fd;    // the source alone (re-opened to finish it)
    UniqueFd dst;
    int src() const { return listing.valid() ? listing.fd() : src_fd.get(); }
  };
  // One level of the walker's path. Only the deepest kCloneWindow levels keep
  // `fds`; a level that left the window is re-opened through "..".
  struct Frame {
    std::shared_ptr<Dir> dir;
    std::shared_ptr<DirFds> fds;
    std::vector<std::string> chunk;  // names not yet handed to a job
  };
  static constexpr size_t kChunk = 64;
  static constexpr size_t kCloneWindow = 32;

  // Lists directories depth first, creating subdirectories itself and
  // handing everything else to jobs in chunks.
  Status Walk() {
    while (!stack_.empty()) {
      if (pool_.failed()) return Status::Ok();  // Finish() reports it
      Frame& f = stack_.back();
      errno = 0;
      dirent* ent = readdir(f.fds->listing.get());
      if (ent == nullptr) {
        if (errno != 0)
          return PosixError("read directory " + Where(src_, *f.dir, ""), errno);
        STRATA_RETURN_IF_ERROR(Leave());
        continue;
      }
      std::string_view name = ent->d_name;
      if (name == "." || name == "..") continue;
      if (ent->d_type != DT_DIR && ent->d_type != DT_UNKNOWN) {
        AddToChunk(f, ent->d_name);
        continue;
      }
      EntryStat e;
      Status s = StatAt(f.fds->src(), ent->d_name, &e);
      if (s.code() == Code::kNotFound) continue;
      STRATA_RETURN_IF_ERROR(
          std::move(s).WithContext(Where(src_, *f.dir, name)));
      if (IsMountPoint(e, root_) || e.st.st_dev != root_.st.st_dev) {
        mounts_++;  // another filesystem's: not cloned at all
        continue;
      }
      if (!S_ISDIR(e.st.st_mode)) {
        AddToChunk(f, ent->d_name);
        continue;
      }
      STRATA_RETURN_IF_ERROR(Enter(ent->d_name, e.st));
    }
    return Status::Ok();
  }

  void AddToChunk(Frame& f, std::string name) {
    f.chunk.push_back(std::move(name));
    if (f.chunk.size() == kChunk) SubmitChunk(f);
  }

  void SubmitChunk(Frame& f) {
    if (f.chunk.empty()) return;
    f.dir->pending.fetch_add(1);
    pool_.Submit([this, dir = f.dir, fds = f.fds,
                  names = std::move(f.chunk)]() -> Status {
      STRATA_RETURN_IF_ERROR(CloneEntries(*dir, *fds, names));
      return Release(dir, fds);
    });
    f.chunk.clear();
  }

  Status Enter(const std::string& name, const struct stat& st) {
    Frame& f = stack_.back();
    SubmitChunk(f);  // nothing of this level waits while the walk is below
    const int src_dir = f.fds->src(), dst_dir = f.fds->dst.get();
    if (mkdirat(dst_dir, name.c_str(), 0700) != 0) {
      return PosixError("mkdir " + Where(dst_, *f.dir, name), errno);
    }
    auto fds = std::make_shared<DirFds>();
    fds->listing = OpenDirAt(src_dir, name.c_str());
    if (!fds->listing.valid())
      return PosixError("open " + Where(src_, *f.dir, name), errno);
    EntryStat opened;
    STRATA_RETURN_IF_ERROR(StatAt(fds->listing.fd(), "", &opened)
                               .WithContext(Where(src_, *f.dir, name)));
    if (opened.st.st_ino != st.st_ino || IsMountPoint(opened, root_)) {
      return Internal(Where(src_, *f.dir, name) +
                      ": replaced or mounted over while cloning");
    }
    fds->dst.reset(openat(dst_dir, name.c_str(),
                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fds->dst.valid())
      return PosixError("open " + Where(dst_, *f.dir, name), errno);
    struct stat dst_st;
    if (fstat(fds->dst.get(), &dst_st) != 0) {
      return PosixError("stat " + Where(dst_, *f.dir, name), errno);
    }
    auto child = std::make_shared<Dir>();
    child->st = st;
    child->dst_dev = dst_st.st_dev;
    child->dst_ino = dst_st.st_ino;
    child->parent = f.dir;
    child->name = name;
    f.dir->pending.fetch_add(1);
    if (stack_.size() >= kCloneWindow) {
      // Out of the window: its chunks were submitted on the way down and
      // keep what they need; the walker re-opens it on the way up.
      stack_[stack_.size() - kCloneWindow].fds.reset();
    }
    stack_.push_back({std::move(child), std::move(fds), {}});
    return Status::Ok();
  }

  // The deepest directory is listed: re-open its parent if it left the
  // window, then give up the walker's share of it.
  Status Leave() {
    Frame& f = stack_.back();
    SubmitChunk(f);
    std::shared_ptr<Dir> dir = f.dir;
    std::shared_ptr<DirFds> fds = std::move(f.fds);
    if (stack_.size() > 1) {
      Frame& up = stack_[stack_.size() - 2];
      if (!up.fds) {
        STRATA_ASSIGN_OR_RETURN(up.fds,
                                OpenParent(*up.dir, *fds, /*listing=*/true));
        STRATA_RETURN_IF_ERROR(Reposition(*up.dir, *up.fds, *dir));
      }
    }
    stack_.pop_back();
    return Release(std::move(dir), std::move(fds));
  }

  // Opens the parent of the directory open at `child` through "..", and
  // checks it is `parent` on both sides, so a tree changed under the clone
  // never leads it out of src or dst.
  Result<std::shared_ptr<DirFds>> OpenParent(const Dir& parent,
                                             const DirFds& child,
                                             bool listing) {
    auto fds = std::make_shared<DirFds>();
    EntryStat st;
    if (listing) {
      fds->listing = OpenDirAt(child.src(), "..");
      if (!fds->listing.valid())
        return PosixError("open " + Where(src_, parent, ""), errno);
    } else {
      fds->src_fd.reset(
          openat(child.src(), "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!fds->src_fd.valid())
        return PosixError("open " + Where(src_, parent, ""), errno);
    }
    STRATA_RETURN_IF_ERROR(
        StatAt(fds->src(), "", &st).WithContext(Where(src_, parent, "")));
    fds->dst.reset(
        openat(child.dst.get(), "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fds->dst.valid())
      return PosixError("open " + Where(dst_, parent, ""), errno);
    struct stat dst_st;
    if (fstat(fds->dst.get(), &dst_st) != 0) {
      return PosixError("stat " + Where(dst_, parent, ""), errno);
    }
    if (st.st.st_dev != parent.st.st_dev || st.st.st_ino != parent.st.st_ino ||
        IsMountPoint(st, root_) || dst_st.st_dev != parent.dst_dev ||
        dst_st.st_ino != parent.dst_ino) {
      return Internal(Where(src_, parent, "") +
                      ": the tree changed under the clone (moved)");
    }
    return fds;
  }

  // Moves a re-opened listing of `parent` just past the entry of `child`,
  // where the walker was when it went down.
  Status Reposition(const Dir& parent, DirFds& fds, const Dir& child) {
    while (dirent* ent = readdir(fds.listing.get())) {
      if (child.name != ent->d_name) continue;
      struct stat st;
      if (fstatat(fds.src(), ent->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          st.st_ino == child.st.st_ino && st.st_dev == child.st.st_dev) {
        return Status::Ok();
      }
      break;
    }
    return Internal(Where(src_, parent, child.name) +
                    ": the tree changed under the clone");
  }

  // One finished share of dir (whose fds are given); the last applies dir's
  // metadata and releases the parent, re-opened through "..".
  Status Release(std::shared_ptr<Dir> dir, std::shared_ptr<DirFds> fds) {
    if (dir->pending.fetch_sub(1) != 1) return Status::Ok();
    for (;;) {
      dirs_++;
      // After the contents: creating entries changed the directory's mtime.
      STRATA_RETURN_IF_ERROR(ApplyFdMetadata(
          fds->src(), fds->dst.get(), dir->st, Where(dst_, *dir, ""), me_));
      std::shared_ptr<Dir> parent = dir->parent;
      if (!parent || parent->pending.fetch_sub(1) != 1) return Status::Ok();
      STRATA_ASSIGN_OR_RETURN(fds,
                              OpenParent(*parent, *fds, /*listing=*/false));
      dir = std::move(parent);
    }
  }

  // base/.../<at most 3 levels>/name, for messages.
  std::string Where(const std::string& base, const Dir& dir,
                    std::string_view name) const {
    std::vector<std::string_view> parts;
    if (!name.empty()) parts.push_back(name);
    const Dir* d = &dir;
    for (int i = 0; i < 3 && d != nullptr && d->parent != nullptr;
         ++i, d = d->parent.get()) {
      parts.push_back(d->name);
    }
    std::string out = base;
    if (d != nullptr && d->parent != nullptr) out += "/...";
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
      out += '/';
      out += it->substr(0, 64);
    }
    return out;
  }

  Status CloneEntries(const Dir& dir, const DirFds& fds,
                      const std::vector<std::string>& names) {
    for (const std::string& name : names) {
      if (pool_.failed()) return Status::Ok();  // Finish() reports it
      STRATA_RETURN_IF_ERROR(CloneEntry(dir, fds.src(), fds.dst.get(), name));
    }
    return Status::Ok();
  }

  Status CloneEntry(const Dir& dir, int src_dir, int dst_dir,
                    const std::string& name) {
    EntryStat e;
    Status s = StatAt(src_dir, name.c_str(), &e);
    if (!s.ok()) return std::move(s).WithContext(Where(src_, dir, name));
    if (IsMountPoint(e, root_) || e.st.st_dev != root_.st.st_dev) {
      mounts_++;  // a file bind-mounted here: not cloned
      return Status::Ok();
    }
    const struct stat& st = e.st;
    if (S_ISDIR(st.st_mode)) {
      return Internal(Where(src_, dir, name) +
                      ": became a directory while cloning");
    }
    if (S_ISREG(st.st_mode)) return CloneFile(dir, src_dir, dst_dir, name, st);
    if (st.st_nlink > 1) {
      std::lock_guard<std::mutex> l(links_mu_);
      auto it = links_.find(InodeKey{st.st_dev, st.st_ino});
      if (it != links_.end()) return Link(it->second, dir, dst_dir, name);
      STRATA_RETURN_IF_ERROR(CloneSpecial(dir, src_dir, dst_dir, name, st));
      return Remember(InodeKey{st.st_dev, st.st_ino}, dir, dst_dir, name);
    }
    return CloneSpecial(dir, src_dir, dst_dir, name, st);
  }

  // How to find the clone of a multi-link inode again for its other names:
  // a file handle of the clone when the process may open handles
  // (CAP_DAC_READ_SEARCH: the daemon), else its path below dst.
  // REQUIRES: links_mu_ held.
  Status Remember(InodeKey key, const Dir& dir, int dst_dir,
                  const std::string& name) {
    HandleBytes h;
    if (use_handles_) {
      if (!HandleOf(dst_dir, name.c_str(), 0, &h)) {
        return PosixError("file handle of " + Where(dst_, dir, name), errno);
      }
    } else {
      h = name;
      for (const Dir* d = &dir; d->parent != nullptr; d = d->parent.get())
        h = d->name + "/" + h;
    }
    links_.emplace(key, std::move(h));
    return Status::Ok();
  }

  // REQUIRES: links_mu_ held (the first name exists by then).
  Status Link(const HandleBytes& first, const Dir& dir, int dst_dir,
              const std::string& name) {
    int rc;
    if (use_handles_) {
      UniqueFd f(OpenHandle(dst_root_.get(), first));
      if (!f.valid())
        return PosixError("open the first link of " + Where(dst_, dir, name),
                          errno);
      rc = linkat(f.get(), "", dst_dir, name.c_str(), AT_EMPTY_PATH);
    } else {
      rc = linkat(dst_root_.get(), first.c_str(), dst_dir, name.c_str(), 0);
    }
    if (rc != 0) return PosixError("link " + Where(dst_, dir, name), errno);
    hardlinks_++;
    return Status::Ok();
  }

  Status CloneSpecial(const Dir& dir, int src_dir, int dst_dir,
                      const std::string& name, const struct stat& st) {
    const std::string dst_path = Where(dst_, dir, name);
    if (S_ISLNK(st.st_mode)) {
      std::vector<char> target(static_cast<size_t>(st.st_size) + 2);
      ssize_t n =
          readlinkat(src_dir, name.c_str(), target.data(), target.size());
      if (n < 0) return PosixError("readlink " + Where(src_, dir, name), errno);
      if (static_cast<size_t>(n) >= target.size()) {
        return Internal("symlink " + Where(src_, dir, name) +
                        " changed while cloning");
      }
      target[n] = '\0';
      if (symlinkat(target.data(), dst_dir, name.c_str()) != 0) {
        return PosixError("symlink " + dst_path, errno);
      }
      symlinks_++;
    } else {
      if (mknodat(dst_dir, name.c_str(), (st.st_mode & S_IFMT) | 0600,
                  st.st_rdev) != 0) {
        return PosixError("mknod " + dst_path, errno);
      }
      specials_++;
    }
    if (ChownFailed(fchownat(dst_dir, name.c_str(), st.st_uid, st.st_gid,
                             AT_SYMLINK_NOFOLLOW))) {
      return PosixError("chown " + dst_path, errno);
    }
    STRATA_RETURN_IF_ERROR(
        CopyXattrsPath(ProcPath(src_dir, name), ProcPath(dst_dir, name))
            .WithContext(dst_path));
    if (!S_ISLNK(st.st_mode) &&
        fchmodat(dst_dir, name.c_str(), st.st_mode & 07777, 0) != 0) {
      return PosixError("chmod " + dst_path, errno);
    }
    timespec times[2] = {st.st_atim, st.st_mtim};
    if (utimensat(dst_dir, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
      return PosixError("utimens " + dst_path, errno);
    }
    return Status::Ok();
  }

  Status CloneFile(const Dir& dir, int src_dir, int dst_dir,
                   const std::string& name, const struct stat& st) {
    const mode_t create_mode = st.st_mode & 0777;
    const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    UniqueFd d;
    if (st.st_nlink > 1) {
      // Create the first name under the lock, so a later name can link to it.
      std::lock_guard<std::mutex> l(links_mu_);
      InodeKey key{st.st_dev, st.st_ino};
      auto it = links_.find(key);
      if (it != links_.end()) return Link(it->second, dir, dst_dir, name);
      d.reset(openat(dst_dir, name.c_str(), flags, create_mode));
      if (!d.valid())
        return PosixError("create " + Where(dst_, dir, name), errno);
      STRATA_RETURN_IF_ERROR(Remember(key, dir, dst_dir, name));
    } else {
      d.reset(openat(dst_dir, name.c_str(), flags, create_mode));
      if (!d.valid())
        return PosixError("create " + Where(dst_, dir, name), errno);
    }
    UniqueFd s(
        openat(src_dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!s.valid()) return PosixError("open " + Where(src_, dir, name), errno);
    files_++;
    bytes_ += st.st_size;
    if (st.st_size == 0) {
      // Nothing to share or copy: counted as the mode would have done it.
      (opts_.data == DataMode::kCopy ? copied_ : cloned_)++;
    } else {
      auto outcome = CloneFileData(s.get(), d.get(), st.st_size, opts_.data);
      if (!outcome.ok())
        return outcome.status().WithContext(Where(dst_, dir, name));
      (*outcome == DataOutcome::kCloned ? cloned_ : copied_)++;
    }
    return ApplyFdMetadata(s.get(), d.get(), st, Where(dst_, dir, name), me_,
                           create_mode);
  }

  const std::string src_, dst_;
  const CloneOptions opts_;
  Identity me_;  // set before the first job runs
  EntryStat root_;
  UniqueFd dst_root_;
  bool use_handles_ = false;
  std::vector<Frame> stack_;  // the walker's path; only the walker touches it
  std::mutex links_mu_;
  std::map<InodeKey, HandleBytes>
      links_;  // how to reach a multi-link inode's clone
  std::atomic<int64_t> dirs_{0}, files_{0}, cloned_{0}, copied_{0},
      hardlinks_{0}, symlinks_{0}, specials_{0}, bytes_{0}, mounts_{0};
  JobPool pool_;  // last: its threads stop before the members they use go
};

}  // namespace

Result<CloneStats> CloneTree(const std::string& src, const std::string& dst,
                             const CloneOptions& opts) {
  TreeCloner cloner(src, dst, opts);
  return cloner.Run();
}

}  // namespace strata
