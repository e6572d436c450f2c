// Content sharing: the engine's side (README "Storage efficiency"). The
// index (meta/content_index.h) lives in the store and changes only inside
// Commit's and Remove's transactions; the extractor asks through
// ContentShare and proves every proposal (io/sink/content_share.h).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/base/errno.h"
#include "io/base/log.h"
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
      if (f.size == size) holders.emplace_back(id, f);
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
    // The inode the writer digested, unchanged since: same number, same
    // ctime (every write, truncate, chmod or xattr change moves ctime).
    struct stat st;
    if (fstat(fd->get(), &st) == 0 && st.st_size == size &&
        st.st_ino == f.ino &&
        st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec == f.ctime_ns) {
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
    STRATA_RETURN_IF_ERROR(engine_.store_
                               ->Update([&](WriteTxn& txn) {
                                 return AddSnapshotContent(txn, id_,
                                                           applied.files);
                               })
                               .WithContext("record the layer's contents"));
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
    struct stat before;
    if (fstat(fd->get(), &before) != 0) continue;
    Sha256 hash;
    int64_t size = 0;
    for (ssize_t n; (n = read(fd->get(), buf.data(), buf.size())) > 0;) {
      hash.Update({buf.data(), static_cast<size_t>(n)});
      size += n;
    }
    DigestedFile f{
        hash.Raw(), size, path, before.st_ino,
        before.st_ctim.tv_sec * 1000000000LL + before.st_ctim.tv_nsec};
    // Changed while read: its digest proves nothing.
    struct stat after;
    if (fstat(fd->get(), &after) != 0 || after.st_size != size ||
        after.st_ctim.tv_sec != before.st_ctim.tv_sec ||
        after.st_ctim.tv_nsec != before.st_ctim.tv_nsec)
      continue;
    files.push_back(std::move(f));
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
