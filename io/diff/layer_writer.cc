#include "io/diff/layer_writer.h"

#include <fcntl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <utility>

#include "io/base/errno.h"
#include "io/base/unique_fd.h"
#include "io/compress/compress_sink.h"
#include "io/diff/entry_read.h"
#include "io/fs/owner_shift.h"

namespace strata {
namespace {

constexpr size_t kChunk = 1 << 20;

std::pair<std::string_view, std::string_view> Split(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return {"", path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

}  // namespace

LayerWriter::LayerWriter(ByteSink& out, LayerOptions opts)
    : tar_(out), opts_(opts), buf_(new char[kChunk]) {}

Status LayerWriter::Whiteout(std::string_view dir, std::string_view name) {
  TarEntry e;
  e.type = TarEntry::Type::kFile;
  e.path = std::string(dir);
  if (!e.path.empty()) e.path += '/';
  e.path += ".wh.";
  e.path += name;
  ++entries_;
  return tar_.Add(e);
}

Result<TarEntry> LayerWriter::Header(const Change& c) {
  const struct stat& st = *c.st;
  TarEntry e;
  e.path = std::string(c.path);
  e.mode = st.st_mode & 07777;
  e.uid = opts_.uid_map ? opts_.uid_map(st.st_uid) : st.st_uid;
  e.gid = opts_.gid_map ? opts_.gid_map(st.st_gid) : st.st_gid;
  e.mtime_sec = st.st_mtim.tv_sec;
  if (opts_.source_date_epoch >= 0 && e.mtime_sec > opts_.source_date_epoch)
    e.mtime_sec = opts_.source_date_epoch;
  e.atime_sec = e.mtime_sec;
  switch (st.st_mode & S_IFMT) {
    case S_IFREG:
      e.type = TarEntry::Type::kFile;
      e.size = c.data_size;
      break;
    case S_IFDIR:
      e.type = TarEntry::Type::kDirectory;
      break;
    case S_IFLNK: {
      e.type = TarEntry::Type::kSymlink;
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = readlinkat(c.dir, c.name, target.data(), target.size());
      if (n < 0 || static_cast<size_t>(n) >= target.size())
        return ChangedWhileRead(c.path);
      target.resize(static_cast<size_t>(n));
      e.link_target = std::move(target);
      break;
    }
    case S_IFCHR:
    case S_IFBLK:
      e.type = S_ISCHR(st.st_mode) ? TarEntry::Type::kCharDevice
                                   : TarEntry::Type::kBlockDevice;
      e.dev_major = major(st.st_rdev);
      e.dev_minor = minor(st.st_rdev);
      break;
    case S_IFIFO:
      e.type = TarEntry::Type::kFifo;
      break;
    default:
      return NotFound("socket");  // containerd writes no sockets
  }
  if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
    std::string cap;
    STRATA_ASSIGN_OR_RETURN(
        bool has_cap, XattrAt(c.dir, c.name, "security.capability", &cap));
    // From an ID-mapped upper, a v3 capability names the host uid of the
    // container's root: written as the container's, like the owners.
    if (has_cap && opts_.uid_map) cap = MapCapabilityRoot(cap, opts_.uid_map);
    if (has_cap) e.xattrs.emplace_back("security.capability", std::move(cap));
  }
  return e;
}

Status LayerWriter::CopyData(const Change& c) {
  UniqueFd fd;
  if (c.data_dir == c.dir) {
    STRATA_ASSIGN_OR_RETURN(fd, OpenFileChecked(c.dir, c.name, *c.st, c.path));
  } else {
    // A metacopy file's data, in a lower layer the walk found.
    fd.reset(openat(c.data_dir, c.name,
                    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd.valid()) return ChangedWhileRead(c.path);
  }
  int64_t off = 0;
  while (off < c.data_size) {
    size_t want =
        static_cast<size_t>(std::min<int64_t>(kChunk, c.data_size - off));
    ssize_t n = pread(fd.get(), buf_.get(), want, off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError("read " + ShownPath(c.path), errno);
    }
    if (n == 0) return ChangedWhileRead(c.path);
    STRATA_RETURN_IF_ERROR(
        tar_.Data(std::string_view(buf_.get(), static_cast<size_t>(n))));
    off += n;
  }
  return Status::Ok();
}

Status LayerWriter::Handle(const Change& c) {
  switch (c.kind) {
    case ChangeKind::kDelete: {
      if (c.implied) return Status::Ok();
      auto [dir, name] = Split(c.path);
      return Whiteout(dir, name);
    }
    case ChangeKind::kOpaque:
      return Whiteout(c.path, ".wh..opq");
    case ChangeKind::kParent:
    case ChangeKind::kAdd:
    case ChangeKind::kModify:
    case ChangeKind::kUnmodifiedLink:
      break;
  }
  auto header = Header(c);
  if (!header.ok()) {
    if (header.status().code() == Code::kNotFound) return Status::Ok();
    return header.status();
  }
  TarEntry e = std::move(*header);
  const bool linked = !S_ISDIR(c.st->st_mode) && c.st->st_nlink > 1;
  const Inode inode{c.st->st_dev, c.st->st_ino};
  if (linked) {
    auto src = link_source_.find(inode);
    if (src != link_source_.end() || c.kind == ChangeKind::kUnmodifiedLink) {
      e.type = TarEntry::Type::kHardlink;
      e.size = 0;
      e.xattrs.clear();
      if (src == link_source_.end()) {
        pending_links_[inode].push_back(std::move(e));
        return Status::Ok();
      }
      e.link_target = src->second;
      // containerd writes an unchanged name's parents only when it writes
      // the name itself.
      if (c.parents != nullptr) STRATA_RETURN_IF_ERROR((*c.parents)());
      ++entries_;
      return tar_.Add(e);
    }
  }
  ++entries_;
  STRATA_RETURN_IF_ERROR(tar_.Add(e));
  if (e.type == TarEntry::Type::kFile) STRATA_RETURN_IF_ERROR(CopyData(c));
  if (!linked) return Status::Ok();
  link_source_[inode] = e.path;
  auto pending = pending_links_.find(inode);
  if (pending == pending_links_.end()) return Status::Ok();
  for (TarEntry& p : pending->second) {
    p.link_target = e.path;
    ++entries_;
    STRATA_RETURN_IF_ERROR(tar_.Add(p));
  }
  pending_links_.erase(pending);
  return Status::Ok();
}

Status LayerWriter::Close() { return tar_.Close(); }

Result<Compression> LayerCompression(std::string* media_type) {
  static const std::string kTar = "application/vnd.oci.image.layer.v1.tar";
  if (media_type->empty()) *media_type = kTar + "+gzip";
  if (*media_type == kTar) return Compression::kNone;
  if (*media_type == kTar + "+gzip") return Compression::kGzip;
  if (*media_type == kTar + "+zstd") return Compression::kZstd;
  return Unimplemented("media type \"" + media_type->substr(0, 128) +
                       "\": layers are written as " + kTar + "[+gzip|+zstd]");
}

Result<WrittenLayer> WriteLayer(
    const std::function<Status(const ChangeVisitor&)>& walk, Compression c,
    ByteSink& out, LayerOptions opts) {
  // Three stages on three threads: walk, read and tar here; compress on
  // `to_compress`'s thread; hand to `out` on `to_out`'s.
  AsyncSink to_out(out);
  DigestSink blob(to_out);
  std::unique_ptr<CompressSink> compress = NewCompressSink(c, blob);
  std::unique_ptr<AsyncSink> to_compress;
  ByteSink* tar_out = compress.get();
  if (c != Compression::kNone) {
    to_compress = std::make_unique<AsyncSink>(*compress);
    tar_out = to_compress.get();
  }
  DigestSink tar(*tar_out);
  LayerWriter writer(tar, opts);
  STRATA_RETURN_IF_ERROR(
      walk([&writer](const Change& ch) { return writer.Handle(ch); }));
  STRATA_RETURN_IF_ERROR(writer.Close());
  if (to_compress) STRATA_RETURN_IF_ERROR(to_compress->Finish());
  STRATA_RETURN_IF_ERROR(compress->Finish());
  STRATA_RETURN_IF_ERROR(to_out.Finish());
  WrittenLayer w;
  w.tar_bytes = tar.bytes();
  w.diff_id = tar.Digest();
  w.size = blob.bytes();
  w.digest = c == Compression::kNone ? w.diff_id : blob.Digest();
  w.entries = writer.entries();
  return w;
}

}  // namespace strata
