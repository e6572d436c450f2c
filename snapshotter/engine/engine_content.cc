// Content sharing: the engine's side (README "Storage efficiency"). The
// index (meta/content_index.h) lives in the store and changes only inside
// Commit's and Remove's transactions; the sinks ask through ContentShare
// (io/sink/content_share.h) and get a holder only while its inode is exactly
// the one its writer digested.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "io/base/errno.h"
#include "io/base/log.h"
#include "io/fs/fs_util.h"
#include "io/fs/root_dir.h"
#include "snapshotter/backend/probe.h"
#include "snapshotter/engine/engine.h"
#include "snapshotter/meta/content_index.h"
#include "snapshotter/meta/snapshot_store.h"

namespace strata {
namespace {

// Holders tried per lookup: a damaged or changed one is skipped, but a
// digest cannot make one lookup walk the whole index.
constexpr size_t kMaxHoldersTried = 4;

}  // namespace

void Engine::StartSharing() {
  if (!opts_.content_sharing) {
    sharing_reason_ = "off (content_sharing = off)";
  } else if (opts_.sync && !opts_.commit_sync) {
    // A holder whose data a power cut lost would be cloned into every new
    // layer with its content: sharing needs Commit's sync.
    sharing_reason_ = "off: commit_sync is off";
  } else if (CanShareExtents(layout_.StagingDir())) {
    share_ = std::make_unique<IndexShare>(*this, /*clone=*/true);
    sharing_reason_ = "on (FICLONE works under the root)";
    store_
        ->View([&](ReadTxn& txn) -> Status {
          STRATA_ASSIGN_OR_RETURN(std::vector<int64_t> sizes,
                                  ContentSizes(txn, kSizeHintMin));
          content_sizes_.insert(sizes.begin(), sizes.end());
          return Status::Ok();
        })
        .IgnoreError();  // a hint: without it large files stream
  } else if (opts_.hardlink_sharing && backend_name() == "overlay") {
    share_ = std::make_unique<IndexShare>(*this, /*clone=*/false);
    hardlinks_ = true;
    sharing_reason_ =
        "on: hardlinks between equal files of committed layers (the root's "
        "filesystem cannot share extents)";
  } else if (opts_.hardlink_sharing) {
    sharing_reason_ =
        "off: the root's filesystem cannot share extents (no FICLONE) and "
        "hardlink sharing needs the overlay backend";
  } else {
    sharing_reason_ =
        "off: the root's filesystem cannot share extents (no FICLONE); "
        "layers are stored whole";
  }
  Log(LogLevel::kInfo, "engine", "content sharing",
      {{"state", sharing_reason_}, {"root", layout_.root()}});
}

Engine::Holder Engine::OpenContent(std::string_view digest, int64_t size,
                                   uint64_t except) {
  std::vector<std::pair<uint64_t, ContentFile>> holders;
  Status s = store_->View([&](ReadTxn& txn) {
    return FindContent(txn, digest, [&](uint64_t id, const ContentFile& f) {
      if (f.id.size == size && id != except) holders.emplace_back(id, f);
      return holders.size() < kMaxHoldersTried;
    });
  });
  if (!s.ok()) return {};
  for (const auto& [id, f] : holders) {
    // By handle: the very inode the writer digested, without a path lookup
    // (a freed one is stale); rows without one (other filesystems) by path.
    auto fd = [&]() -> Result<UniqueFd> {
      if (!f.handle.empty()) return OpenFileHandle(root_fd_.get(), f.handle);
      UniqueFd dir(open(layout_.FsDir(id).c_str(),
                        O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!dir.valid()) return PosixError("open", errno);
      return OpenFileNoSymlinks(dir.get(), f.path);
    }();
    if (!fd.ok()) continue;
    // The inode the writer digested, unchanged since: same number and
    // generation (not a reused number), same ctime (every write, truncate,
    // chmod, link or xattr change moves it), same size.
    auto now = IdentityOf(fd->get());
    if (now.ok() && *now == f.id) {
      return {std::move(*fd), id, *now};
    }
  }
  return {};
}

bool Engine::MayHaveContent(int64_t size) {
  std::lock_guard<std::mutex> l(sizes_mu_);
  return content_sizes_.count(size) > 0;
}

void Engine::NoteContentSizes(const std::vector<DigestedFile>& files) {
  std::lock_guard<std::mutex> l(sizes_mu_);
  for (const DigestedFile& f : files) {
    if (f.id.size >= kSizeHintMin) content_sizes_.insert(f.id.size);
  }
}

namespace {

// Whether two regular files have the same mode, owner, mtime and xattrs
// (names and values): what a hardlink between them must not change.
bool SameMetadata(int a, int b) {
  struct stat sa, sb;
  if (fstat(a, &sa) != 0 || fstat(b, &sb) != 0) return false;
  if (sa.st_mode != sb.st_mode || sa.st_uid != sb.st_uid ||
      sa.st_gid != sb.st_gid || sa.st_mtim.tv_sec != sb.st_mtim.tv_sec ||
      sa.st_mtim.tv_nsec != sb.st_mtim.tv_nsec) {
    return false;
  }
  auto xattrs = [](int fd, std::map<std::string, std::string>* out) {
    std::vector<char> names(64 << 10);
    ssize_t n = flistxattr(fd, names.data(), names.size());
    if (n < 0) return false;
    std::vector<char> value(64 << 10);
    for (ssize_t i = 0; i < n;) {
      std::string name(names.data() + i);
      i += static_cast<ssize_t>(name.size()) + 1;
      ssize_t v = fgetxattr(fd, name.c_str(), value.data(), value.size());
      if (v < 0) return false;
      (*out)[name] = std::string(value.data(), static_cast<size_t>(v));
    }
    return true;
  };
  std::map<std::string, std::string> xa, xb;
  return xattrs(a, &xa) && xattrs(b, &xb) && xa == xb;
}

}  // namespace

std::vector<Engine::Relinked> Engine::LinkEqualFiles(uint64_t id,
                                                     std::string_view key) {
  std::vector<Relinked> relinked;
  std::vector<ContentFile> files;
  if (!store_
           ->View([&](ReadTxn& txn) -> Status {
             STRATA_ASSIGN_OR_RETURN(files, SnapshotContent(txn, id));
             return Status::Ok();
           })
           .ok()) {
    return relinked;
  }
  UniqueFd dir(open(layout_.FsDir(id).c_str(),
                    O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  UniqueFd staging(open(layout_.StagingDir().c_str(),
                        O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid() || !staging.valid()) return relinked;
  int64_t linked = 0, bytes = 0;
  for (const ContentFile& f : files) {
    if (f.id.size < opts_.share_min_bytes || f.id.size == 0) continue;
    Holder holder = OpenContent(f.digest, f.id.size, id);
    if (!holder.fd.valid()) continue;
    // Our file as the apply wrote it (unchanged since), equal in metadata.
    auto own = OpenFileNoSymlinks(dir.get(), f.path);
    if (!own.ok()) continue;
    auto own_id = IdentityOf(own->get());
    if (!own_id.ok() || !(*own_id == f.id) ||
        own_id->ino == holder.identity.ino ||
        !SameMetadata(holder.fd.get(), own->get())) {
      continue;
    }
    const auto [parent_path, base] = SplitPath(f.path);
    auto parent_fd = OpenDirNoSymlinks(dir.get(), parent_path);
    if (!parent_fd.ok()) continue;
    // The link is made in staging/ (recovery empties it after a crash) and
    // renamed over our file: the layer never holds a stray name.
    std::string tmp = "link-" + std::to_string(id) + "-" +
                      std::to_string(trash_seq_.fetch_add(1));
    if (linkat(holder.fd.get(), "", staging.get(), tmp.c_str(),
               AT_EMPTY_PATH) != 0) {
      continue;
    }
    struct stat now;
    auto rename_in = [&] {
      return renameat(staging.get(), tmp.c_str(), parent_fd->get(),
                      base.c_str()) == 0;
    };
    // A directory handing down its project (engine_quota.cc) takes no link
    // from another project (EXDEV); being committed, it need not hand down.
    if (fstatat(parent_fd->get(), base.c_str(), &now, AT_SYMLINK_NOFOLLOW) !=
            0 ||
        now.st_ino != own_id->ino ||
        !(rename_in() || (errno == EXDEV && StopInheriting(parent_fd->get()) &&
                          rename_in()))) {
      unlinkat(staging.get(), tmp.c_str(), 0);
      continue;
    }
    // Linking moved the holder inode's ctime: both rows name it now.
    auto after = IdentityOf(holder.fd.get());
    if (after.ok()) {
      relinked.push_back({holder.id, f.digest, *after});
      relinked.push_back({id, f.digest, *after});
    }
    ++linked;
    bytes += f.id.size;
  }
  if (linked > 0) {
    shared_files_ += linked;
    shared_bytes_ += bytes;
    Log(LogLevel::kDebug, "engine", "hardlinked equal files",
        {{"key", SnapshotName(key)},
         {"files", std::to_string(linked)},
         {"bytes", std::to_string(bytes)}});
  }
  return relinked;
}

Result<AppliedLayer> ApplyTarget::Apply(std::unique_ptr<Source> raw,
                                        bool sync) {
  ApplyOptions opts;
  opts.whiteouts = whiteouts_;
  opts.extract.max_depth = max_depth_;
  opts.extract.share = engine_.share_.get();
  opts.extract.share_min_bytes = engine_.opts_.share_min_bytes;
  opts.sync = sync;
  STRATA_ASSIGN_OR_RETURN(AppliedLayer applied,
                          ApplyLayer(std::move(raw), dir(), opts));
  engine_.shared_files_ += applied.stats.shared_files;
  engine_.shared_bytes_ += applied.stats.shared_bytes;
  engine_.share_refused_ += applied.stats.share_refused;
  if (!applied.files.empty()) {
    engine_.NoteContentSizes(applied.files);
    // The index is an optimisation: a layer applied stays applied even if
    // its files cannot be recorded (they are then never proposed).
    Status s = engine_.store_->Update([&](WriteTxn& txn) {
      return AddSnapshotContent(txn, id_, applied.files);
    });
    if (!s.ok()) {
      Log(LogLevel::kWarn, "engine",
          "content index: the layer's files are not recorded",
          {{"key", key_}, {"error", s.ToString()}});
    }
  }
  return applied;
}

SharingInfo Engine::Sharing() {
  SharingInfo info;
  info.enabled = share_ != nullptr;
  info.reason = sharing_reason_;
  info.shared_files = shared_files_.load();
  info.shared_bytes = shared_bytes_.load();
  info.refused = share_refused_.load();
  store_
      ->View([&](ReadTxn& txn) -> Status {
        STRATA_ASSIGN_OR_RETURN(ContentCounts c, CountContent(txn));
        info.digests = c.digests;
        info.holders = c.holders;
        info.pending = c.pending;
        return Status::Ok();
      })
      .IgnoreError();
  return info;
}

Result<int64_t> Engine::AddContent(std::string_view key,
                                   const std::vector<std::string>& paths) {
  STRATA_RETURN_IF_ERROR(ValidateKey("key", key));
  uint64_t id = 0;
  STRATA_RETURN_IF_ERROR(store_->View([&](ReadTxn& txn) -> Status {
    STRATA_ASSIGN_OR_RETURN(SnapshotRecord r, GetSnapshot(txn, key));
    if (r.kind != Kind::kCommitted)
      return FailedPrecondition(SnapshotName(key) + " is not committed");
    id = r.id;
    return Status::Ok();
  }));
  UniqueFd dir(open(layout_.FsDir(id).c_str(),
                    O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid()) return PosixError(SnapshotName(key), errno);
  std::vector<DigestedFile> files;
  std::vector<char> buf(1 << 20);
  for (const std::string& path : paths) {
    auto fd = OpenFileNoSymlinks(dir.get(), path);
    if (!fd.ok()) continue;
    auto before = IdentityOf(fd->get());
    if (!before.ok()) continue;
    Sha256 hash;
    int64_t size = 0;
    for (ssize_t n; (n = read(fd->get(), buf.data(), buf.size())) > 0;) {
      hash.Update({buf.data(), static_cast<size_t>(n)});
      size += n;
    }
    // Changed while read: its digest proves nothing.
    auto after = IdentityOf(fd->get());
    if (!after.ok() || !(*after == *before) || size != before->size) continue;
    files.push_back({hash.Raw(), path, *before, FileHandleOf(fd->get())});
  }
  STRATA_RETURN_IF_ERROR(store_->Update([&](WriteTxn& txn) -> Status {
    STRATA_ASSIGN_OR_RETURN(SnapshotRecord r, GetSnapshot(txn, key));
    if (r.id != id) return FailedPrecondition(SnapshotName(key) + " changed");
    STRATA_RETURN_IF_ERROR(AddSnapshotContent(txn, id, files));
    return PublishContent(txn, id);
  }));
  return static_cast<int64_t>(files.size());
}

}  // namespace strata
