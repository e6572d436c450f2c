#include "io/extract/extractor.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "io/base/errno.h"
#include "io/fs/fs_util.h"

namespace strata {
namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";
constexpr size_t kBigBuffer = 1 << 20;

std::string ProcPath(int dirfd, const std::string& name) {
  std::string p = "/proc/self/fd/" + std::to_string(dirfd);
  if (!name.empty()) p += "/" + name;
  return p;
}

bool DirIsEmpty(const std::string& path) {
  DIR* d = opendir(path.c_str());
  if (d == nullptr) return false;
  bool empty = true;
  while (dirent* e = readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") {
      empty = false;
      break;
    }
  }
  closedir(d);
  return empty;
}

std::string Join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

}  // namespace

ExtractOptions::ExtractOptions() : same_owner(geteuid() == 0), allow_devices(geteuid() == 0) {}

Extractor::Extractor(std::string root, FileSink& sink, ExtractOptions opts)
    : root_path_(std::move(root)), sink_(sink), opts_(opts) {}

Result<ExtractStats> Extractor::Apply(EntryStream& in) {
  STRATA_ASSIGN_OR_RETURN(RootDir root, RootDir::Open(root_path_));
  root_ = std::make_unique<RootDir>(std::move(root));
  fresh_ = DirIsEmpty(root_path_);
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
      return s.WithContext("entry \"" + e.path + "\"");
    }
    if (opts_.progress) opts_.progress(stats_);
  }
  STRATA_RETURN_IF_ERROR(sink_.Flush());
  STRATA_RETURN_IF_ERROR(FixupDirTimes());
  return stats_;
}

Result<SharedFd> Extractor::MakeParents(const std::string& dir) {
  auto fd = root_->OpenDir(dir);
  if (fd.ok() || fd.status().code() != Code::kNotFound) return fd;
  // Archives may omit parent directories: create them 0755, like containerd.
  auto [up, name] = SplitPath(dir);
  STRATA_ASSIGN_OR_RETURN(SharedFd parent, MakeParents(up));
  // A file being written at this path must exist before we decide.
  if (sink_.Busy(dir)) {
    STRATA_RETURN_IF_ERROR(sink_.Flush());
    return root_->OpenDir(dir);
  }
  if (mkdirat(parent->get(), name.c_str(), 0755) != 0 && errno != EEXIST) {
    return PosixError("create parent directory \"" + dir + "\"", errno);
  }
  created_.insert(dir);
  return root_->OpenDir(dir);
}

Status Extractor::RemoveAt(const SharedFd& parent, const std::string& name) {
  // Running writes may sit below what is removed; finish them first.
  STRATA_RETURN_IF_ERROR(sink_.Flush());
  root_->Invalidate();
  return RemoveAll(ProcPath(parent->get(), name));
}

// Makes room for a new entry at parent/name. keep_dir: an existing directory
// stays (a directory entry over a directory only updates its metadata).
Status Extractor::ClearPath(const SharedFd& parent, const std::string& name,
                            const std::string& path, bool keep_dir) {
  if (fresh_ && !created_.count(path)) return Status::Ok();
  if (sink_.Busy(path)) STRATA_RETURN_IF_ERROR(sink_.Flush());
  struct stat st;
  if (fstatat(parent->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return PosixError("stat", errno);
  }
  if (S_ISDIR(st.st_mode)) {
    if (keep_dir) return Status::Ok();
    return RemoveAt(parent, name);
  }
  if (unlinkat(parent->get(), name.c_str(), 0) != 0) return PosixError("replace", errno);
  return Status::Ok();
}

Status Extractor::Whiteout(const std::string& dir, const std::string& name) {
  stats_.whiteouts++;
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
    return InvalidArgument("bad whiteout name \"" + name + "\"");
  }
  std::string path = Join(dir, name);
  if (opts_.whiteouts == WhiteoutMode::kDelete) {
    auto parent = root_->OpenDir(dir);
    if (!parent.ok()) {
      // Nothing to delete under a missing directory.
      return parent.status().code() == Code::kNotFound ? Status::Ok() : parent.status();
    }
    return RemoveAt(*parent, name);
  }
  STRATA_ASSIGN_OR_RETURN(SharedFd parent, MakeParents(dir));
  STRATA_RETURN_IF_ERROR(ClearPath(parent, name, path, /*keep_dir=*/false));
  if (mknodat(parent->get(), name.c_str(), S_IFCHR | 0000, makedev(0, 0)) != 0) {
    if (errno == EPERM) {
      return Unimplemented("overlay whiteout \"" + path + "\" needs CAP_MKNOD (run as root)");
    }
    return PosixError("create whiteout", errno);
  }
  created_.insert(path);
  return Status::Ok();
}

Status Extractor::Opaque(const std::string& dir) {
  stats_.whiteouts++;
  if (opts_.whiteouts == WhiteoutMode::kOverlay) {
    STRATA_ASSIGN_OR_RETURN(SharedFd fd, MakeParents(dir));
    std::string proc = ProcPath(fd->get(), "");
    // setxattr, not lsetxattr: the final component is the magic link to fd.
    if (setxattr(proc.c_str(), "trusted.overlay.opaque", "y", 1, 0) != 0) {
      return PosixError("mark directory opaque", errno);
    }
    return Status::Ok();
  }
  // Full tree: delete what the lower layers put in dir, keep this layer's.
  auto fd = root_->OpenDir(dir);
  if (!fd.ok()) return fd.status().code() == Code::kNotFound ? Status::Ok() : fd.status();
  std::vector<std::string> doomed;
  if (DIR* d = opendir(ProcPath((*fd)->get(), "").c_str())) {
    while (dirent* ent = readdir(d)) {
      std::string n = ent->d_name;
      if (n != "." && n != ".." && !created_.count(Join(dir, n))) doomed.push_back(n);
    }
    closedir(d);
  } else {
    return PosixError("list opaque directory", errno);
  }
  for (const std::string& n : doomed) STRATA_RETURN_IF_ERROR(RemoveAt(*fd, n));
  return Status::Ok();
}

Status Extractor::SetMetadata(const TarEntry& e, const SharedFd& parent,
                              const std::string& name, bool is_symlink) {
  int dir = parent->get();
  if (opts_.same_owner &&
      fchownat(dir, name.c_str(), e.uid, e.gid, AT_SYMLINK_NOFOLLOW) != 0) {
    return PosixError("chown", errno);
  }
  if (!is_symlink && fchmodat(dir, name.c_str(), e.mode & 07777, 0) != 0) {
    return PosixError("chmod", errno);
  }
  if (!e.xattrs.empty()) {
    std::string proc = ProcPath(dir, name);
    for (const auto& [k, v] : e.xattrs) {
      if (lsetxattr(proc.c_str(), k.c_str(), v.data(), v.size(), 0) != 0) {
        return PosixError("set xattr " + k, errno);
      }
    }
  }
  timespec times[2] = {{e.atime_sec, e.atime_nsec}, {e.mtime_sec, e.mtime_nsec}};
  if (utimensat(dir, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
    return PosixError("set times", errno);
  }
  return Status::Ok();
}

Status Extractor::WriteFile(const TarEntry& e, FileJob job, EntryStream& in) {
  stats_.files++;
  stats_.file_bytes += e.size;
  if (e.sparse.empty() && static_cast<uint64_t>(e.size) <= sink_.max_file_size()) {
    STRATA_ASSIGN_OR_RETURN(char* buf, sink_.AcquireBuffer());
    size_t got = 0;
    while (got < static_cast<size_t>(e.size)) {
      STRATA_ASSIGN_OR_RETURN(size_t n, in.ReadData(buf + got, e.size - got));
      if (n == 0) return DataLoss("archive ends inside the file's data");
      got += n;
    }
    return sink_.Submit(std::move(job), buf, got);
  }
  // Large or sparse: stream through one buffer with plain writes.
  if (big_buf_.empty()) big_buf_.resize(kBigBuffer);
  UniqueFd fd(openat(job.parent->get(), job.name.c_str(),
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return PosixError("create", errno);
  std::vector<std::pair<int64_t, int64_t>> segments = e.sparse;
  if (segments.empty()) segments.push_back({0, e.size});
  for (auto [offset, length] : segments) {
    int64_t left = length;
    while (left > 0) {
      size_t want = static_cast<size_t>(std::min<int64_t>(left, kBigBuffer));
      STRATA_ASSIGN_OR_RETURN(size_t n, in.ReadData(big_buf_.data(), want));
      if (n == 0) return DataLoss("archive ends inside the file's data");
      for (size_t done = 0; done < n;) {
        ssize_t w = pwrite(fd.get(), big_buf_.data() + done, n - done, offset);
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
  if (!e.sparse.empty() && ftruncate(fd.get(), e.size) != 0) return PosixError("truncate", errno);
  fd.reset();
  return FinishFileByName(job, {.chown = job.chown, .chmod = true});
}

Status Extractor::ApplyEntry(TarEntry& e, EntryStream& in) {
  STRATA_ASSIGN_OR_RETURN(std::string path, CleanArchivePath(e.path));
  for (const auto& [k, v] : e.xattrs) {
    if (k.rfind("trusted.overlay.", 0) == 0) {
      return InvalidArgument("refusing overlayfs xattr \"" + k + "\" from the archive");
    }
  }
  if (path.empty()) {
    // The root itself ("./"): only its metadata applies.
    if (e.type != TarEntry::Type::kDirectory) return InvalidArgument("the layer root is not a directory");
    DirTimes t{"", {{e.atime_sec, e.atime_nsec}, {e.mtime_sec, e.mtime_nsec}}};
    dir_times_.push_back(t);
    return Status::Ok();
  }
  auto [dir, name] = SplitPath(path);
  if (name.rfind(kWhiteoutPrefix, 0) == 0) {
    STRATA_RETURN_IF_ERROR(sink_.Flush());
    if (name == kOpaqueMarker) return Opaque(dir);
    return Whiteout(dir, name.substr(kWhiteoutPrefix.size()));
  }
  STRATA_ASSIGN_OR_RETURN(SharedFd parent, MakeParents(dir));
  bool is_dir = e.type == TarEntry::Type::kDirectory;
  STRATA_RETURN_IF_ERROR(ClearPath(parent, name, path, /*keep_dir=*/is_dir));
  int pfd = parent->get();
  switch (e.type) {
    case TarEntry::Type::kDirectory: {
      stats_.dirs++;
      if (mkdirat(pfd, name.c_str(), 0700) != 0 && errno != EEXIST) {
        return PosixError("mkdir", errno);
      }
      created_.insert(path);
      dir_times_.push_back({path, {{e.atime_sec, e.atime_nsec}, {e.mtime_sec, e.mtime_nsec}}});
      TarEntry meta = e;
      meta.atime_sec = meta.mtime_sec = 0;  // times are fixed up at the end
      meta.atime_nsec = meta.mtime_nsec = UTIME_OMIT;
      return SetMetadata(meta, parent, name, false);
    }
    case TarEntry::Type::kFile: {
      created_.insert(path);
      FileJob job;
      job.parent = parent;
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
    case TarEntry::Type::kSymlink:
      stats_.links++;
      if (symlinkat(e.link_target.c_str(), pfd, name.c_str()) != 0) {
        return PosixError("symlink", errno);
      }
      created_.insert(path);
      return SetMetadata(e, parent, name, true);
    case TarEntry::Type::kHardlink: {
      stats_.links++;
      STRATA_ASSIGN_OR_RETURN(std::string target, CleanArchivePath(e.link_target));
      if (target.empty()) return InvalidArgument("hardlink to the layer root");
      if (sink_.Busy(target)) STRATA_RETURN_IF_ERROR(sink_.Flush());
      auto [tdir, tname] = SplitPath(target);
      auto tparent = root_->OpenDir(tdir);
      if (!tparent.ok()) {
        return NotFound("hardlink target \"" + e.link_target + "\" is not in this layer");
      }
      if (linkat((*tparent)->get(), tname.c_str(), pfd, name.c_str(), 0) != 0) {
        if (errno == ENOENT) {
          return NotFound("hardlink target \"" + e.link_target + "\" is not in this layer");
        }
        return PosixError("hardlink", errno);
      }
      created_.insert(path);
      return Status::Ok();
    }
    case TarEntry::Type::kCharDevice:
    case TarEntry::Type::kBlockDevice:
    case TarEntry::Type::kFifo: {
      mode_t type = e.type == TarEntry::Type::kFifo        ? S_IFIFO
                    : e.type == TarEntry::Type::kCharDevice ? S_IFCHR
                                                            : S_IFBLK;
      if (type != S_IFIFO && !opts_.allow_devices) {
        stats_.skipped_devices++;
        return Status::Ok();
      }
      if (mknodat(pfd, name.c_str(), type | 0600, makedev(e.dev_major, e.dev_minor)) != 0) {
        return PosixError("mknod", errno);
      }
      created_.insert(path);
      return SetMetadata(e, parent, name, false);
    }
  }
  return InvalidArgument("unknown entry type");
}

Status Extractor::FixupDirTimes() {
  // Children first: deeper directories were recorded later.
  for (auto it = dir_times_.rbegin(); it != dir_times_.rend(); ++it) {
    if (it->path.empty()) {
      if (utimensat(AT_FDCWD, ProcPath(root_->fd(), "").c_str(), it->times, 0) != 0) {
        return PosixError("set times of layer root", errno);
      }
      continue;
    }
    auto [dir, name] = SplitPath(it->path);
    auto parent = root_->OpenDir(dir);
    if (!parent.ok()) continue;  // removed by a later whiteout
    if (utimensat((*parent)->get(), name.c_str(), it->times, AT_SYMLINK_NOFOLLOW) != 0 &&
        errno != ENOENT) {
      return PosixError("set times of \"" + it->path + "\"", errno);
    }
  }
  return Status::Ok();
}

}  // namespace strata
