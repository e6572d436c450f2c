#include "io/extract/extractor.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "io/base/errno.h"
#include "io/base/unique_dir.h"
#include "io/clone/reflink.h"
#include "io/fs/fs_util.h"
#include "io/fs/path_fd.h"

namespace strata {
namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";
constexpr size_t kBigBuffer = 1 << 20;
// Largest file held in memory until its digest is known, when a stored file
// may have its size (ContentShare::MayHave): a shared one is then never
// written. Larger ones are written as they stream and, if shared, truncated
// and cloned.
constexpr int64_t kMaxHeldFile = 64 << 20;
// Chunks of a streamed large file in flight: read and written by the
// extractor while the ChunkHasher digests the ones before.
constexpr size_t kBigRing = 4;
// Bytes a remembered path costs besides its characters (hash node, string).
constexpr size_t kEntryOverhead = 64;

std::string ProcPath(int dirfd, const std::string& name) {
  std::string p = "/proc/self/fd/" + std::to_string(dirfd);
  if (!name.empty()) p += "/" + name;
  return p;
}

bool DirIsEmpty(int fd) {
  UniqueDir d(opendir(ProcPath(fd, "").c_str()));
  if (!d.valid()) return false;
  while (dirent* e = readdir(d.get())) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") return false;
  }
  return true;
}

std::string Join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

// An archive path for a message: at most its last 200 bytes (gRPC metadata
// is small, and archive paths are the archive's to choose).
std::string ShortPath(const std::string& p) {
  constexpr size_t kMax = 200;
  return p.size() <= kMax ? p : "..." + p.substr(p.size() - kMax);
}

}  // namespace

// SHA-256 of one file's chunks, in order, on a thread of its own: the
// extractor writes chunk k while chunk k-1 is hashed. A chunk's bytes stay
// untouched until Wait(its number) returns.
class ChunkHasher {
 public:
  ChunkHasher() : thread_([this] { Loop(); }) {}
  ~ChunkHasher() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    work_.notify_all();
    thread_.join();
  }
  ChunkHasher(const ChunkHasher&) = delete;
  ChunkHasher& operator=(const ChunkHasher&) = delete;

  // A new file. REQUIRES: the previous one Finished (or abandoned: Wait()
  // for everything submitted first).
  void Begin() {
    WaitAll();
    hash_ = std::make_unique<Sha256>();
  }
  // Queues a chunk; returns its number (from 1).
  uint64_t Submit(const char* data, size_t n) {
    {
      std::lock_guard<std::mutex> l(mu_);
      queue_.push_back({data, n});
    }
    work_.notify_one();
    return ++submitted_;
  }
  // Returns once chunks up to `seq` are hashed.
  void Wait(uint64_t seq) {
    std::unique_lock<std::mutex> l(mu_);
    done_cv_.wait(l, [&] { return done_ >= seq; });
  }
  void WaitAll() { Wait(submitted_); }
  // The file's digest. Ends it.
  std::string Finish() {
    WaitAll();
    return hash_->Raw();
  }

  // One file: Begin() at construction; at destruction, however the write
  // ends, the hasher has let go of every chunk (their buffers may be
  // reused). A null hasher does nothing.
  class File {
   public:
    explicit File(ChunkHasher* h) : h_(h) {
      if (h_ != nullptr) h_->Begin();
    }
    ~File() {
      if (h_ != nullptr) h_->WaitAll();
    }
    File(const File&) = delete;
    File& operator=(const File&) = delete;

   private:
    ChunkHasher* h_;
  };

 private:
  struct Chunk {
    const char* data;
    size_t n;
  };
  void Loop() {
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      work_.wait(l, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping
      Chunk c = queue_.front();
      queue_.pop_front();
      l.unlock();
      hash_->Update({c.data, c.n});
      l.lock();
      ++done_;
      done_cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable work_, done_cv_;
  std::deque<Chunk> queue_;  // GUARDED_BY(mu_)
  uint64_t done_ = 0;        // GUARDED_BY(mu_)
  bool stop_ = false;        // GUARDED_BY(mu_)
  uint64_t submitted_ = 0;   // the caller's thread only
  std::unique_ptr<Sha256> hash_;
  std::thread thread_;
};

Extractor::~Extractor() = default;

ChunkHasher& Extractor::Hasher() {
  if (!hasher_) hasher_ = std::make_unique<ChunkHasher>();
  return *hasher_;
}

ExtractOptions::ExtractOptions()
    : same_owner(geteuid() == 0), allow_devices(geteuid() == 0) {}

Extractor::Extractor(int root_fd, FileSink& sink, ExtractOptions opts)
    : root_fd_(root_fd), sink_(sink), opts_(std::move(opts)) {}

Extractor::Extractor(const std::string& root, FileSink& sink,
                     ExtractOptions opts)
    : sink_(sink), opts_(std::move(opts)) {
  owned_root_.reset(
      open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!owned_root_.valid()) open_error_ = PosixError("open layer root", errno);
  root_fd_ = owned_root_.get();
}

Result<ExtractStats> Extractor::Apply(EntryStream& in) {
  STRATA_RETURN_IF_ERROR(open_error_);
  STRATA_ASSIGN_OR_RETURN(RootDir root, RootDir::Open(root_fd_));
  root_ = std::make_unique<RootDir>(std::move(root));
  fresh_ = DirIsEmpty(root_->fd());
  TarEntry e;
  while (true) {
    auto more = in.Next(&e);
    if (!more.ok()) {
      sink_.Flush().IgnoreError();
      return more.status();
    }
    if (!*more) break;
    stats_.entries++;
    Status s = ApplyEntry(e, in);
    if (!s.ok()) {
      sink_.Flush().IgnoreError();  // no SQE may outlive this call
      return s.WithContext("entry \"" + ShortPath(e.path) + "\"");
    }
    if (opts_.progress) opts_.progress(stats_);
  }
  STRATA_RETURN_IF_ERROR(sink_.Flush());
  STRATA_RETURN_IF_ERROR(FixupDirTimes());
  ShareLog::Totals t = share_log_.totals();
  stats_.shared_files = t.shared_files;
  stats_.shared_bytes = t.shared_bytes;
  stats_.share_refused = t.refused;
  digested_ = share_log_.TakeFiles();
  if (hardlinked_) RefreshLinkedIdentities();
  return stats_;
}

Result<ResolvedDir> Extractor::OpenParent(const std::string& dir) {
  STRATA_ASSIGN_OR_RETURN(ResolvedDir d, MakeParents(dir));
  if (!d.known) {
    // The kernel could not name it (too deep, or unlinked): what is known by
    // path no longer applies, so look before every step from now on and let
    // running writes land first.
    fresh_ = false;
    STRATA_RETURN_IF_ERROR(sink_.Flush());
  }
  return d;
}

// Archives may omit parent directories: they are created 0755, like
// containerd does. Iterative, and linear in the number of missing levels: a
// binary search finds the deepest existing ancestor (a prefix exists only if
// every shorter one does), then each missing level is made and opened from
// its parent's descriptor.
Result<ResolvedDir> Extractor::MakeParents(const std::string& dir) {
  auto found = root_->OpenDir(dir);
  if (found.ok() || found.status().code() != Code::kNotFound) return found;
  std::vector<size_t> ends;  // ends[k]: length of the first k+1 components
  for (size_t i = 0; i <= dir.size(); ++i) {
    if (i == dir.size() || dir[i] == '/') ends.push_back(i);
  }
  size_t lo = 0, hi = ends.size();  // prefix of lo components exists, hi not
  STRATA_ASSIGN_OR_RETURN(ResolvedDir cur, root_->OpenDir(""));
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    auto r = root_->OpenDir(dir.substr(0, ends[mid - 1]));
    if (r.ok()) {
      lo = mid;
      cur = std::move(*r);
    } else if (r.status().code() == Code::kNotFound) {
      hi = mid;
    } else {
      return r.status();
    }
  }
  for (size_t k = lo; k < ends.size(); ++k) {
    size_t begin = k == 0 ? 0 : ends[k - 1] + 1;
    std::string name = dir.substr(begin, ends[k] - begin);
    std::string path = Join(cur.path, name);
    // A file being written at this path must exist before we decide.
    if (!cur.known || sink_.Busy(path)) STRATA_RETURN_IF_ERROR(sink_.Flush());
    if (mkdirat(cur.fd->get(), name.c_str(), 0755) != 0 && errno != EEXIST) {
      return PosixError("create parent directory \"" + ShortPath(dir) + "\"",
                        errno);
    }
    Remember(path);
    int fd = openat(cur.fd->get(), name.c_str(),
                    O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      // Something else is there (a symlink, a file): resolve it as a lookup
      // inside the root would, which says what is wrong.
      return root_->OpenDir(dir.substr(0, ends[k]));
    }
    ResolvedDir next;
    next.fd = std::make_shared<UniqueFd>(fd);
    next.path = std::move(path);
    next.aliased = cur.aliased;
    next.known = cur.known;
    cur = std::move(next);
  }
  return cur;
}

Status Extractor::RemoveAt(const ResolvedDir& parent, const std::string& name) {
  // Running writes may sit below what is removed; finish them first.
  STRATA_RETURN_IF_ERROR(sink_.Flush());
  root_->Invalidate();
  return RemoveAll(ProcPath(parent.fd->get(), name));
}

// Makes room for a new entry at parent/name (canonical path `path`).
// keep_dir: an existing directory stays (a directory entry over a directory
// only updates its metadata). In a fresh root a path this layer never
// created cannot exist; paths are canonical, so no alias defeats that.
Status Extractor::ClearPath(const ResolvedDir& parent, const std::string& name,
                            const std::string& path, bool keep_dir) {
  if (parent.known && fresh_ && !created_.count(path)) return Status::Ok();
  if (!parent.known || sink_.Busy(path)) STRATA_RETURN_IF_ERROR(sink_.Flush());
  struct stat st;
  if (fstatat(parent.fd->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return PosixError("stat", errno);
  }
  if (S_ISDIR(st.st_mode)) {
    if (keep_dir) return Status::Ok();
    return RemoveAt(parent, name);
  }
  if (unlinkat(parent.fd->get(), name.c_str(), 0) != 0)
    return PosixError("replace", errno);
  return Status::Ok();
}

// Creates parent/name with make() (mkdirat, symlinkat, mknodat, linkat: none
// follows a final symlink). Whatever is in the way is replaced, looking only
// when the first attempt meets something: most entries are new.
Status Extractor::CreateAt(const ResolvedDir& parent, const std::string& name,
                           const std::string& path,
                           const std::function<int()>& make, const char* what) {
  if (sink_.Busy(path)) STRATA_RETURN_IF_ERROR(sink_.Flush());
  if (make() == 0) return Status::Ok();
  if (errno != EEXIST) return PosixError(what, errno);
  STRATA_RETURN_IF_ERROR(ForceClear(parent, name, path));
  if (make() != 0) return PosixError(what, errno);
  return Status::Ok();
}

// Removes whatever is at parent/name, looked at without the fresh-root
// shortcut.
Status Extractor::ForceClear(const ResolvedDir& parent, const std::string& name,
                             const std::string& path) {
  bool fresh = fresh_;
  fresh_ = false;
  Status s = ClearPath(parent, name, path, /*keep_dir=*/false);
  fresh_ = fresh;
  return s;
}

Status Extractor::Whiteout(const std::string& dir, const std::string& name) {
  stats_.whiteouts++;
  if (name.empty() || name == "." || name == ".." ||
      name.find('/') != std::string::npos) {
    return InvalidArgument("bad whiteout name \"" + ShortPath(name) + "\"");
  }
  if (opts_.whiteouts == WhiteoutMode::kDelete) {
    auto parent = root_->OpenDir(dir);
    if (!parent.ok()) {
      // Nothing to delete under a missing directory.
      return parent.status().code() == Code::kNotFound ? Status::Ok()
                                                       : parent.status();
    }
    return RemoveAt(*parent, name);
  }
  STRATA_ASSIGN_OR_RETURN(ResolvedDir parent, OpenParent(dir));
  std::string path = Join(parent.path, name);
  STRATA_RETURN_IF_ERROR(CreateAt(
      parent, name, path,
      [&] {
        return mknodat(parent.fd->get(), name.c_str(), S_IFCHR | 0000,
                       makedev(0, 0));
      },
      "create whiteout"));
  Remember(path);
  return Status::Ok();
}

Status Extractor::Opaque(const std::string& dir) {
  stats_.whiteouts++;
  if (opts_.whiteouts == WhiteoutMode::kOverlay) {
    STRATA_ASSIGN_OR_RETURN(ResolvedDir d, OpenParent(dir));
    return SetXattrFd(d.fd->get(), "trusted.overlay.opaque", "y")
        .WithContext("mark directory opaque");
  }
  // Full tree: delete what the lower layers put in dir, keep this layer's.
  auto fd = root_->OpenDir(dir);
  if (!fd.ok())
    return fd.status().code() == Code::kNotFound ? Status::Ok() : fd.status();
  if (!fd->known)
    return FailedPrecondition(
        "opaque marker in a directory with no canonical path");
  if (forgot_created_) {
    return ResourceExhausted(
        "opaque marker after more than " +
        std::to_string(opts_.max_tracked_bytes >> 20) +
        " MiB of paths: cannot tell this layer's entries from the lower ones");
  }
  std::vector<std::string> doomed;
  UniqueDir d(opendir(ProcPath(fd->fd->get(), "").c_str()));
  if (!d.valid()) return PosixError("list opaque directory", errno);
  while (dirent* ent = readdir(d.get())) {
    std::string n = ent->d_name;
    if (n != "." && n != ".." && !created_.count(Join(fd->path, n)))
      doomed.push_back(n);
  }
  d.reset();
  for (const std::string& n : doomed) STRATA_RETURN_IF_ERROR(RemoveAt(*fd, n));
  return Status::Ok();
}

// Ownership, mode and xattrs of the entry open at fd (O_PATH, not a
// symlink); times are the caller's.
Status Extractor::SetMetadataFd(const TarEntry& e, int fd) {
  if (opts_.same_owner) STRATA_RETURN_IF_ERROR(ChownFd(fd, e.uid, e.gid));
  // chown clears setuid/setgid, so chmod comes after it.
  STRATA_RETURN_IF_ERROR(ChmodFd(fd, e.mode & 07777));
  for (const auto& [k, v] : e.xattrs)
    STRATA_RETURN_IF_ERROR(SetXattrFd(fd, k, v));
  return Status::Ok();
}

// Opens what make() just created at parent/name, without following it, and
// checks it has the type the entry asked for: a directory entry over an
// existing directory finds that directory; anything else means the entry was
// replaced under us.
Result<UniqueFd> Extractor::OpenCreated(const ResolvedDir& parent,
                                        const std::string& name, mode_t type) {
  struct stat st;
  STRATA_ASSIGN_OR_RETURN(UniqueFd fd,
                          OpenNoFollow(parent.fd->get(), name, &st));
  if ((st.st_mode & S_IFMT) != type) {
    return Internal("entry changed type while it was extracted");
  }
  return fd;
}

// A hardlink to a digested file moved its ctime after the digest was taken,
// which would disqualify it as a holder forever. The extractor never writes
// into an existing inode (every file is created O_EXCL), so a path that
// still holds the digested inode (same number and generation) still holds
// the digested bytes: take its ctime now.
void Extractor::RefreshLinkedIdentities() {
  for (DigestedFile& f : digested_) {
    auto fd = OpenFileNoSymlinks(root_->fd(), f.path);
    if (!fd.ok()) continue;
    auto now = IdentityOf(fd->get());
    if (now.ok() && now->ino == f.id.ino &&
        now->generation == f.id.generation && now->size == f.id.size) {
      f.id.ctime_ns = now->ctime_ns;
    }
  }
}

bool Extractor::Digests(const TarEntry& e) const {
  return opts_.share != nullptr && e.sparse.empty() &&
         e.size >= opts_.share_min_bytes;
}

// Reads exactly len bytes of the entry's data into buf.
static Status ReadWhole(EntryStream& in, char* buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    STRATA_ASSIGN_OR_RETURN(size_t n, in.ReadData(buf + got, len - got));
    if (n == 0) return DataLoss("archive ends inside the file's data");
    got += n;
  }
  return Status::Ok();
}

Status Extractor::WriteFile(const TarEntry& e, FileJob job, EntryStream& in) {
  stats_.files++;
  stats_.file_bytes += e.size;
  if (!e.sparse.empty() ||
      static_cast<uint64_t>(e.size) > sink_.max_file_size()) {
    return WriteBig(e, job, in);
  }
  if (Digests(e)) {
    // The sink digests, and shares where it can (content_share.h).
    job.share = opts_.share;
    job.share_log = &share_log_;
  }
  const size_t len = static_cast<size_t>(e.size);
  STRATA_ASSIGN_OR_RETURN(char* buf, sink_.AcquireBuffer(len));
  STRATA_RETURN_IF_ERROR(ReadWhole(in, buf, len));
  return sink_.Submit(std::move(job), buf, len);
}

// A large file a stored one may equal (by size): read whole into memory
// while the ChunkHasher digests it, then cloned if the digest is stored (its
// bytes never written), else written.
Status Extractor::WriteHeld(const TarEntry& e, const FileJob& job,
                            EntryStream& in) {
  const auto size = static_cast<size_t>(e.size);
  if (held_size_ < size) {
    held_.reset(new char[size]);  // not zeroed: every byte is read into
    held_size_ = size;
  }
  char* buf = held_.get();
  ChunkHasher::File hashing(&Hasher());
  for (size_t got = 0; got < size;) {
    size_t want = std::min(size - got, kBigBuffer);
    STRATA_RETURN_IF_ERROR(ReadWhole(in, buf + got, want));
    hasher_->Submit(buf + got, want);
    got += want;
  }
  std::string digest = hasher_->Finish();
  UniqueFd fd(openat(job.parent->get(), job.name.c_str(),
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     0600));
  if (!fd.valid()) return PosixError("create", errno);
  STRATA_RETURN_IF_ERROR(
      WriteOrShare(fd.get(), {buf, size}, digest, opts_.share, &share_log_));
  STRATA_RETURN_IF_ERROR(
      FinishOpenFile(fd.get(), job, {.chown = job.chown, .chmod = true}));
  share_log_.Digested(std::move(digest), e.size, job.path, fd.get());
  return Status::Ok();
}

// Large or sparse: streamed through a ring of buffers with plain writes,
// digested alongside; a digested file whose content is stored already drops
// its written pages and clones.
Status Extractor::WriteBig(const TarEntry& e, const FileJob& job,
                           EntryStream& in) {
  const bool digests = Digests(e);  // never a sparse file
  if (digests && e.size <= kMaxHeldFile && opts_.share->MayHave(e.size)) {
    return WriteHeld(e, job, in);
  }
  if (big_buf_.empty()) big_buf_.resize(kBigRing * kBigBuffer);
  ChunkHasher::File hashing(digests ? &Hasher() : nullptr);
  uint64_t slot_seq[kBigRing] = {};  // the chunk each buffer last held
  UniqueFd fd(openat(job.parent->get(), job.name.c_str(),
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     0600));
  if (!fd.valid()) return PosixError("create", errno);
  std::vector<std::pair<int64_t, int64_t>> segments = e.sparse;
  if (segments.empty()) segments.push_back({0, e.size});
  size_t chunk = 0;
  for (auto [offset, length] : segments) {
    int64_t left = length;
    while (left > 0) {
      size_t want = static_cast<size_t>(std::min<int64_t>(left, kBigBuffer));
      const size_t slot = chunk++ % kBigRing;
      char* buf = big_buf_.data() + slot * kBigBuffer;
      // The chunk that last used this buffer is hashed.
      if (digests && slot_seq[slot] != 0) hasher_->Wait(slot_seq[slot]);
      STRATA_ASSIGN_OR_RETURN(size_t n, in.ReadData(buf, want));
      if (n == 0) return DataLoss("archive ends inside the file's data");
      if (digests) slot_seq[slot] = hasher_->Submit(buf, n);
      for (size_t done = 0; done < n;) {
        ssize_t w = pwrite(fd.get(), buf + done, n - done, offset);
        if (w < 0) {
          if (errno == EINTR) continue;
          return PosixError("write", errno);
        }
        done += static_cast<size_t>(w);
        offset += w;
      }
      left -= static_cast<int64_t>(n);
    }
  }
  if (!e.sparse.empty() && ftruncate(fd.get(), e.size) != 0)
    return PosixError("truncate", errno);
  std::string digest;
  if (digests) {
    // An equal stored file (content_share.h): drop the bytes just written
    // (still in the page cache, so they never reach the disk) and clone it.
    digest = hasher_->Finish();
    if (UniqueFd src = opts_.share->Open(digest, e.size); src.valid()) {
      if (ftruncate(fd.get(), 0) != 0) return PosixError("truncate", errno);
      STRATA_ASSIGN_OR_RETURN(
          bool cloned, CloneStored(src.get(), e.size, fd.get(), share_log_));
      // Our own bytes are gone: the holder's are the same ones.
      if (!cloned)
        STRATA_RETURN_IF_ERROR(CopyFileData(src.get(), fd.get(), e.size));
    }
  }
  STRATA_RETURN_IF_ERROR(
      FinishOpenFile(fd.get(), job, {.chown = job.chown, .chmod = true}));
  if (digests)
    share_log_.Digested(std::move(digest), e.size, job.path, fd.get());
  return Status::Ok();
}

Status Extractor::ApplyEntry(TarEntry& e, EntryStream& in) {
  STRATA_ASSIGN_OR_RETURN(std::string clean, CleanArchivePath(e.path));
  for (const auto& [k, v] : e.xattrs) {
    if (k.rfind("trusted.overlay.", 0) == 0) {
      return InvalidArgument("refusing overlayfs xattr \"" + k +
                             "\" from the archive");
    }
  }
  if (clean.empty()) {
    // The root itself ("./"): only its metadata applies.
    if (e.type != TarEntry::Type::kDirectory)
      return InvalidArgument("the layer root is not a directory");
    DirTimes t{"", {{e.atime_sec, e.atime_nsec}, {e.mtime_sec, e.mtime_nsec}}};
    STRATA_RETURN_IF_ERROR(RememberTimes(std::move(t)));
    return Status::Ok();
  }
  auto [dir, name] = SplitPath(clean);
  if (name.rfind(kWhiteoutPrefix, 0) == 0) {
    STRATA_RETURN_IF_ERROR(sink_.Flush());
    if (name == kOpaqueMarker) return Opaque(dir);
    return Whiteout(dir, name.substr(kWhiteoutPrefix.size()));
  }
  STRATA_ASSIGN_OR_RETURN(ResolvedDir parent, OpenParent(dir));
  if (opts_.max_depth > 0) {
    int depth = parent.path.empty()
                    ? 1
                    : 2 + static_cast<int>(std::count(parent.path.begin(),
                                                      parent.path.end(), '/'));
    if (!parent.known || depth > opts_.max_depth) {
      return FailedPrecondition("deeper than this snapshotter's limit of " +
                                std::to_string(opts_.max_depth) + " levels");
    }
  }
  // Everything known by path is keyed by the canonical one: "l/x" with
  // `l -> .` is "x".
  const std::string path = Join(parent.path, name);
  const int pfd = parent.fd->get();
  const char* cname = name.c_str();
  switch (e.type) {
    case TarEntry::Type::kDirectory: {
      stats_.dirs++;
      // An existing directory stays (only its metadata changes); anything
      // else there is replaced.
      if (sink_.Busy(path)) STRATA_RETURN_IF_ERROR(sink_.Flush());
      if (mkdirat(pfd, cname, 0700) != 0) {
        if (errno != EEXIST) return PosixError("mkdir", errno);
        struct stat st;
        if (fstatat(pfd, cname, &st, AT_SYMLINK_NOFOLLOW) != 0)
          return PosixError("stat", errno);
        if (!S_ISDIR(st.st_mode)) {
          STRATA_RETURN_IF_ERROR(ForceClear(parent, name, path));
          if (mkdirat(pfd, cname, 0700) != 0) return PosixError("mkdir", errno);
        }
      }
      Remember(path);
      STRATA_ASSIGN_OR_RETURN(UniqueFd fd, OpenCreated(parent, name, S_IFDIR));
      STRATA_RETURN_IF_ERROR(RememberTimes(
          {path, {{e.atime_sec, e.atime_nsec}, {e.mtime_sec, e.mtime_nsec}}}));
      return SetMetadataFd(e, fd.get());  // times are fixed up at the end
    }
    case TarEntry::Type::kFile: {
      STRATA_RETURN_IF_ERROR(ClearPath(parent, name, path, /*keep_dir=*/false));
      Remember(path);
      FileJob job;
      job.parent = parent.fd;
      job.name = name;
      job.path = path;
      job.mode = e.mode & 07777;
      job.chown = opts_.same_owner;
      job.uid = e.uid;
      job.gid = e.gid;
      job.times[0] = {e.atime_sec, e.atime_nsec};
      job.times[1] = {e.mtime_sec, e.mtime_nsec};
      job.xattrs = e.xattrs;
      return WriteFile(e, std::move(job), in);
    }
    case TarEntry::Type::kSymlink: {
      stats_.links++;
      STRATA_RETURN_IF_ERROR(CreateAt(
          parent, name, path,
          [&] { return symlinkat(e.link_target.c_str(), pfd, cname); },
          "symlink"));
      Remember(path);
      // The link itself, never its target.
      if (opts_.same_owner &&
          fchownat(pfd, cname, e.uid, e.gid, AT_SYMLINK_NOFOLLOW) != 0) {
        return PosixError("chown", errno);
      }
      std::string proc = ProcPath(pfd, name);
      for (const auto& [k, v] : e.xattrs) {
        if (lsetxattr(proc.c_str(), k.c_str(), v.data(), v.size(), 0) != 0) {
          return PosixError("set xattr " + k, errno);
        }
      }
      timespec times[2] = {{e.atime_sec, e.atime_nsec},
                           {e.mtime_sec, e.mtime_nsec}};
      if (utimensat(pfd, cname, times, AT_SYMLINK_NOFOLLOW) != 0) {
        return PosixError("set times", errno);
      }
      return Status::Ok();
    }
    case TarEntry::Type::kHardlink: {
      stats_.links++;
      hardlinked_ = true;
      STRATA_ASSIGN_OR_RETURN(std::string target,
                              CleanArchivePath(e.link_target));
      if (target.empty()) return InvalidArgument("hardlink to the layer root");
      // Plain variables: clang cannot capture structured bindings.
      const auto split = SplitPath(target);
      const std::string& tdir = split.first;
      const std::string& tname = split.second;
      auto tparent = root_->OpenDir(tdir);
      if (!tparent.ok()) {
        return NotFound("hardlink target \"" + ShortPath(e.link_target) +
                        "\" is not in this layer");
      }
      // The target must be complete before it gets a second name.
      if (!tparent->known || sink_.Busy(Join(tparent->path, tname))) {
        STRATA_RETURN_IF_ERROR(sink_.Flush());
      }
      // linkat without AT_SYMLINK_FOLLOW links a symlink itself.
      int tfd = (*tparent).fd->get();
      Status s = CreateAt(
          parent, name, path,
          [&] { return linkat(tfd, tname.c_str(), pfd, cname, 0); },
          "hardlink");
      if (!s.ok() && s.code() == Code::kNotFound) {
        return NotFound("hardlink target \"" + ShortPath(e.link_target) +
                        "\" is not in this layer");
      }
      STRATA_RETURN_IF_ERROR(s);
      Remember(path);
      return Status::Ok();
    }
    case TarEntry::Type::kCharDevice:
    case TarEntry::Type::kBlockDevice:
    case TarEntry::Type::kFifo: {
      mode_t type = e.type == TarEntry::Type::kFifo         ? S_IFIFO
                    : e.type == TarEntry::Type::kCharDevice ? S_IFCHR
                                                            : S_IFBLK;
      if (type != S_IFIFO && !opts_.allow_devices) {
        stats_.skipped_devices++;
        return Status::Ok();
      }
      STRATA_RETURN_IF_ERROR(CreateAt(
          parent, name, path,
          [&] {
            return mknodat(pfd, cname, type | 0600,
                           makedev(e.dev_major, e.dev_minor));
          },
          "mknod"));
      Remember(path);
      STRATA_ASSIGN_OR_RETURN(UniqueFd fd, OpenCreated(parent, name, type));
      STRATA_RETURN_IF_ERROR(SetMetadataFd(e, fd.get()));
      timespec times[2] = {{e.atime_sec, e.atime_nsec},
                           {e.mtime_sec, e.mtime_nsec}};
      return SetTimesFd(fd.get(), times);
    }
  }
  return InvalidArgument("unknown entry type");
}

// What the layer created, by canonical path: within the budget, for the
// fresh-root shortcut and opaque markers; past it, forgotten (every later
// entry then looks before it creates).
void Extractor::Remember(const std::string& path) {
  if (forgot_created_) return;
  if (created_.insert(path).second)
    tracked_bytes_ += path.size() + kEntryOverhead;
  if (tracked_bytes_ > opts_.max_tracked_bytes) {
    created_.clear();
    created_.rehash(0);
    forgot_created_ = true;
    fresh_ = false;
  }
}

// Directory times are set after their contents; a layer whose directories'
// paths outgrow the budget is refused rather than let grow the daemon.
Status Extractor::RememberTimes(DirTimes t) {
  times_bytes_ += t.path.size() + sizeof(DirTimes);
  if (times_bytes_ > opts_.max_tracked_bytes) {
    return ResourceExhausted("more than " +
                             std::to_string(opts_.max_tracked_bytes >> 20) +
                             " MiB of directory paths in one layer");
  }
  dir_times_.push_back(std::move(t));
  return Status::Ok();
}

Status Extractor::FixupDirTimes() {
  // Children first: deeper directories were recorded later.
  for (auto it = dir_times_.rbegin(); it != dir_times_.rend(); ++it) {
    if (it->path.empty()) {
      if (utimensat(AT_FDCWD, ProcPath(root_->fd(), "").c_str(), it->times,
                    0) != 0) {
        return PosixError("set times of layer root", errno);
      }
      continue;
    }
    auto [dir, name] = SplitPath(it->path);
    auto parent = root_->OpenDir(dir);
    if (!parent.ok()) continue;  // removed by a later whiteout
    if (utimensat(parent->fd->get(), name.c_str(), it->times,
                  AT_SYMLINK_NOFOLLOW) != 0 &&
        errno != ENOENT) {
      return PosixError("set times of \"" + it->path + "\"", errno);
    }
  }
  return Status::Ok();
}

}  // namespace strata
