// Content sharing: the engine's side (README "Storage efficiency"). The
// index (meta/content_index.h) lives in the store and changes only inside
// Commit's and Remove's transactions; the sinks ask through ContentShare
// (io/sink/content_share.h) and get a holder only while its inode is exactly
// the one its writer digested.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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
  } else if (!CanShareExtents(layout_.StagingDir())) {
    sharing_reason_ =
        "off: the root's filesystem cannot share extents (no FICLONE); "
        "layers are stored whole";
  } else {
    share_ = std::make_unique<IndexShare>(*this);
    sharing_reason_ = "on (FICLONE works under the root)";
  }
  Log(LogLevel::kInfo, "engine", "content sharing",
      {{"state", sharing_reason_}, {"root", layout_.root()}});
}

UniqueFd Engine::OpenContent(std::string_view digest, int64_t size) {
  std::vector<std::pair<uint64_t, ContentFile>> holders;
  Status s = store_->View([&](ReadTxn& txn) {
    return FindContent(txn, digest, [&](uint64_t id, const ContentFile& f) {
      if (f.id.size == size) holders.emplace_back(id, f);
      return holders.size() < kMaxHoldersTried;
    });
  });
  if (!s.ok()) return UniqueFd();
  for (const auto& [id, f] : holders) {
    UniqueFd dir(open(layout_.FsDir(id).c_str(),
                      O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir.valid()) continue;
    auto fd = OpenFileNoSymlinks(dir.get(), f.path);
    if (!fd.ok()) continue;
    // The inode the writer digested, unchanged since: same number and
    // generation (not a reused number), same ctime (every write, truncate,
    // chmod, link or xattr change moves it), same size.
    auto now = IdentityOf(fd->get());
    if (now.ok() && *now == f.id) {
      return std::move(*fd);
    }
  }
  return UniqueFd();
}

Result<AppliedLayer> ApplyTarget::Apply(std::unique_ptr<Source> raw,
                                        bool sync) {
  ApplyOptions opts;
  opts.whiteouts = whiteouts_;
  opts.extract.max_depth = max_depth_;
  opts.extract.share = engine_.share_.get();
  opts.extract.share_min_bytes = engine_.opts_.share_min_bytes;
  opts.prefetch = ApplyOptions::Prefetch::kAlways;
  opts.sync = sync;
  STRATA_ASSIGN_OR_RETURN(AppliedLayer applied,
                          ApplyLayer(std::move(raw), dir(), opts));
  engine_.shared_files_ += applied.stats.shared_files;
  engine_.shared_bytes_ += applied.stats.shared_bytes;
  engine_.share_refused_ += applied.stats.share_refused;
  if (!applied.files.empty()) {
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
    files.push_back({hash.Raw(), path, *before});
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
