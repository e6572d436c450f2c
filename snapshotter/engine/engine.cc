#include "snapshotter/engine/engine.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <utility>

#include "io/base/errno.h"
#include "io/base/log.h"
#include "io/fs/fs_util.h"
#include "io/fs/idmap_probe.h"
#include "io/fs/owner_shift.h"
#include "snapshotter/backend/backend.h"
#include "snapshotter/backend/probe.h"
#include "snapshotter/idmap.h"
#include "snapshotter/meta/content_index.h"
#include "snapshotter/meta/filter.h"
#include "snapshotter/meta/metastore.h"
#include "snapshotter/meta/snapshot_store.h"

namespace strata {
namespace {

constexpr std::string_view kBackendKey = "backend";
constexpr std::string_view kSchemaKey = "schema";
constexpr std::string_view kSchemaVersion = "1";

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Parses a decimal id at the start of name ("12" or "12-3"); 0 if none.
uint64_t LeadingId(std::string_view name) {
  uint64_t id = 0;
  auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
  if (ec != std::errc() || p == name.data()) return 0;
  if (p != name.data() + name.size() && *p != '-') return 0;
  return id;
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// Removes `path` unless disarmed: the staging/renamed-directory handoff of
// containerd's overlay snapshotter (`td = ""`).
class PathGuard {
 public:
  PathGuard(FsOps& fs, std::string path) : fs_(fs), path_(std::move(path)) {}
  ~PathGuard() {
    if (path_.empty()) return;
    Status s = fs_.RemoveTree(path_);
    if (!s.ok())
      Log(LogLevel::kWarn, "engine", "cleanup failed",
          {{"error", s.ToString()}});
  }
  void Set(std::string path) { path_ = std::move(path); }
  void Disarm() { path_.clear(); }

 private:
  FsOps& fs_;
  std::string path_;
};

}  // namespace

ApplyTarget::~ApplyTarget() { engine_.Release(id_); }

Engine::~Engine() = default;

Status ValidateKey(std::string_view what, std::string_view key) {
  if (key.empty())
    return InvalidArgument(std::string(what) + " must not be empty");
  if (key.size() > kMaxKeyBytes) {
    return InvalidArgument(std::string(what) + " " + SnapshotName(key) +
                           " is " + std::to_string(key.size()) +
                           " bytes, over the limit of " +
                           std::to_string(kMaxKeyBytes));
  }
  return Status::Ok();
}

Status ValidateLabels(std::string_view key, const Labels& labels) {
  for (const auto& [k, v] : labels) {
    if (k.size() + v.size() > kMaxLabelBytes) {
      return InvalidArgument(SnapshotName(key) + ": label \"" +
                             k.substr(0, 64) + "\": key and value length (" +
                             std::to_string(k.size() + v.size()) +
                             " bytes) greater than maximum size (" +
                             std::to_string(kMaxLabelBytes) + " bytes)");
    }
  }
  return Status::Ok();
}

Engine::Engine(EngineOptions opts, std::unique_ptr<MetaStore> store,
               std::unique_ptr<Backend> backend)
    : opts_(std::move(opts)),
      fs_(opts_.fs != nullptr ? *opts_.fs : RealFs()),
      layout_(opts_.root),
      store_(std::move(store)),
      backend_(std::move(backend)) {}

std::string_view Engine::backend_name() const { return backend_->Name(); }

int64_t Engine::MetadataBytes() const { return store_->FileSize(); }

Status CheckRootPath(const std::string& root) {
  // Overlay mount data is "key=value,key=value" with lowerdirs split at ':'
  // (and '\\' an escape in newer kernels): a root holding any of these
  // would mount something else than asked, so it is refused whatever the
  // backend (a root outlives its first backend choice).
  for (char c : root) {
    if (c == ',' || c == ':' || c == '=' || c == '\\' || c == '\n' ||
        c == '\0') {
      std::string shown =
          root.size() > 128 ? "..." + root.substr(root.size() - 128) : root;
      std::string ch = c == '\n'   ? "a newline"
                       : c == '\0' ? "a NUL byte"
                                   : std::string("'") + c + "'";
      return InvalidArgument(
          "root \"" + shown + "\" contains " + ch +
          ", which overlayfs mount options cannot carry; choose another root");
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& opts) {
  STRATA_RETURN_IF_ERROR(CheckRootPath(opts.root));
  Layout layout(opts.root);
  for (const std::string& dir :
       {layout.root(), layout.MetadataDir(), layout.SnapshotsDir(),
        layout.StagingDir(), layout.TrashDir(), layout.QuarantineDir(),
        layout.ShiftsDir()}) {
    STRATA_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  }
  MetaStoreOptions mopts;
  mopts.sync = opts.sync;
  if (!IsBackendName(opts.backend)) {
    return InvalidArgument("unknown backend \"" + opts.backend +
                           "\" (auto|overlay|reflink|copy)");
  }
  STRATA_ASSIGN_OR_RETURN(auto store,
                          MetaStore::Open(layout.MetadataDir(), mopts));
  std::string name = opts.backend;
  if (name == "auto") {
    std::string recorded;
    STRATA_RETURN_IF_ERROR(store->View([&](ReadTxn& txn) -> Status {
      STRATA_ASSIGN_OR_RETURN(recorded, GetMetaValue(txn, kBackendKey));
      return Status::Ok();
    }));
    if (!recorded.empty()) {
      name = recorded;
      Log(LogLevel::kInfo, "engine",
          "backend auto: using the one recorded in the root",
          {{"backend", name}, {"root", layout.root()}});
    } else {
      ProbeResult probe = ProbeBackend(layout.StagingDir());
      name = probe.chosen;
      Log(LogLevel::kInfo, "engine",
          "backend auto: probed the root's filesystem",
          {{"backend", name},
           {"probed", probe.detail},
           {"root", layout.root()}});
    }
  }
  BackendOptions bopts;
  bopts.overlay_metacopy = opts.overlay_metacopy;
  auto backend = MakeBackend(name, layout, bopts);
  STRATA_RETURN_IF_ERROR(backend->Open());
  std::unique_ptr<Engine> engine(
      new Engine(opts, std::move(store), std::move(backend)));
  engine->root_fd_.reset(
      open(layout.root().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!engine->root_fd_.valid())
    return PosixError("open root " + layout.root(), errno);
  if (opts.sync && opts.commit_sync) {
    engine->data_sync_ =
        std::make_unique<SyncGroup>(engine->fs_, engine->root_fd_.get());
  } else if (opts.sync) {
    Log(LogLevel::kWarn, "engine",
        "commit_sync is off: a power cut can leave committed snapshots with "
        "data that never reached the disk",
        {{"root", layout.root()}});
  }
  STRATA_RETURN_IF_ERROR(engine->CheckBackend());
  engine->StartSharing();
  STRATA_RETURN_IF_ERROR(engine->StartQuotas());
  // Only where mappings are honoured (a fork, at start only); before any
  // thread.
  engine->idmap_support_ =
      opts.remap_ids ? ProbeIdmappedMount(engine->layout_.SnapshotsDir())
                     : FailedPrecondition("not probed: remap_ids is off");
  STRATA_RETURN_IF_ERROR(engine->Recover());
  return engine;
}

Status Engine::CheckBackend() {
  return store_->Update([&](WriteTxn& txn) -> Status {
    STRATA_ASSIGN_OR_RETURN(std::string schema, GetMetaValue(txn, kSchemaKey));
    if (schema.empty()) {
      STRATA_RETURN_IF_ERROR(PutMetaValue(txn, kSchemaKey, kSchemaVersion));
    } else if (schema != kSchemaVersion) {
      return FailedPrecondition(
          "metadata schema version " + schema + " in " + layout_.MetadataDir() +
          " is not supported (want " + std::string(kSchemaVersion) + ")");
    }
    STRATA_ASSIGN_OR_RETURN(std::string recorded,
                            GetMetaValue(txn, kBackendKey));
    if (recorded.empty())
      return PutMetaValue(txn, kBackendKey, backend_->Name());
    if (recorded != backend_->Name()) {
      return FailedPrecondition(
          "root " + layout_.root() + " was created with backend \"" + recorded +
          "\"; refusing to open it with \"" + std::string(backend_->Name()) +
          "\" (use --backend " + recorded + " or auto, or another --root)");
    }
    return Status::Ok();
  });
}

std::string Engine::NewTrashPath(uint64_t id) {
  return layout_.TrashDir() + "/" + std::to_string(id) + "-" +
         std::to_string(getpid()) + "-" +
         std::to_string(trash_seq_.fetch_add(1));
}

Result<std::vector<Mount>> Engine::Prepare(std::string_view key,
                                           std::string_view parent,
                                           const Labels& labels) {
  return Create(Kind::kActive, key, parent, labels);
}

Result<std::vector<Mount>> Engine::View(std::string_view key,
                                        std::string_view parent,
                                        const Labels& labels) {
  return Create(Kind::kView, key, parent, labels);
}

Result<std::vector<Mount>> Engine::Create(Kind kind, std::string_view key,
                                          std::string_view parent,
                                          const Labels& labels) {
  STRATA_RETURN_IF_ERROR(ValidateKey("key", key));
  if (!parent.empty()) STRATA_RETURN_IF_ERROR(ValidateKey("parent", parent));
  STRATA_RETURN_IF_ERROR(ValidateLabels(key, labels));
  // User-namespace mappings (idmap.h): checked before anything is made.
  auto idmap = IdMapFromLabels(labels);
  if (!idmap.ok()) return idmap.status().WithContext(SnapshotName(key));
  const bool idmapped = idmap->mapped() && opts_.remap_ids;
  if (idmapped && !idmap_support_.ok()) {
    return FailedPrecondition(SnapshotName(key) +
                              " asks for an ID mapping, but " +
                              idmap_support_.message());
  }
  STRATA_ASSIGN_OR_RETURN(const int64_t size_limit,
                          SizeLimitOf(key, kind, labels));

  // Slow work first, outside the writer lock: the staging skeleton.
  std::string staging = layout_.StagingDir() + "/new-XXXXXX";
  STRATA_RETURN_IF_ERROR(
      fs_.MakeTempDir(staging).WithContext(SnapshotName(key)));
  PathGuard guard(fs_, staging);
  // Full-tree backends clone the parent here, so its chain is read first in a
  // short read txn. Committed snapshots are immutable and the write txn
  // re-checks the chain; if the parent goes away meanwhile, the txn fails and
  // the guard removes staging. Lookup errors are left to CreateSnapshot, which
  // reports them with containerd's classes.
  std::vector<uint64_t> parent_ids;
  if (!parent.empty()) {
    STRATA_RETURN_IF_ERROR(store_->View([&](ReadTxn& txn) -> Status {
      auto p = GetSnapshot(txn, parent);
      if (!p.ok() || p->kind != Kind::kCommitted) return Status::Ok();
      STRATA_ASSIGN_OR_RETURN(parent_ids, ParentIds(txn, *p));
      parent_ids.insert(parent_ids.begin(), p->id);
      return Status::Ok();
    }));
    STRATA_RETURN_IF_ERROR(CheckParentsIntact(key, parent_ids));
  }
  if (Status b = backend_->BuildDir(fs_, staging, kind, parent_ids); !b.ok()) {
    // A parent removed under the clone is NotFound, as the txn would say.
    if (!parent.empty()) {
      STRATA_RETURN_IF_ERROR(store_->View([&](ReadTxn& txn) -> Status {
        return GetSnapshot(txn, parent).status();
      }));
    }
    return b.WithContext(SnapshotName(key));
  }
  if (data_sync_ && backend_->BuildWritesData(kind, parent_ids)) {
    // A clone's files are data: durable before the record, or a power cut
    // could leave a recorded snapshot whose tree is incomplete, which
    // recovery cannot tell from a complete one.
    STRATA_RETURN_IF_ERROR(data_sync_->Sync().WithContext(SnapshotName(key)));
  }
  STRATA_RETURN_IF_ERROR(OwnWritableDir(staging, kind, *idmap, parent_ids)
                             .WithContext(SnapshotName(key)));
  CrashPoint("prepare.staged");

  std::vector<Mount> mounts;
  Status s = store_->Update([&](WriteTxn& txn) -> Status {
    STRATA_ASSIGN_OR_RETURN(
        SnapshotRecord r,
        CreateSnapshot(txn, kind, key, parent, labels, NowNs()));
    STRATA_ASSIGN_OR_RETURN(std::vector<uint64_t> parents, ParentIds(txn, r));
    if (parents != parent_ids) {
      // The parent was removed and re-created between the read and this txn.
      return Unavailable(SnapshotName(key) + ": parent " +
                         SnapshotName(parent) +
                         " changed during prepare; retry");
    }
    auto m = backend_->Mounts(r.id, kind, parents);
    if (!m.ok()) return m.status().WithContext(SnapshotName(key));
    mounts = std::move(*m);
    if (idmapped) MapMounts(r.id, kind, parents, *idmap, &mounts);
    // The project needs the id: tagging the empty skeleton is four system
    // calls under the writer lock.
    if (kind == Kind::kActive && quota_) {
      STRATA_RETURN_IF_ERROR(
          TagProject(staging, r.id, size_limit).WithContext(SnapshotName(key)));
    }
    std::string dir = layout_.SnapshotDir(r.id);
    // An id can repeat after an aborted transaction; a directory already under
    // that id has no record (invariant), so it is garbage.
    if (Exists(dir)) STRATA_RETURN_IF_ERROR(fs_.RemoveTree(dir));
    STRATA_RETURN_IF_ERROR(
        fs_.Rename(staging, dir).WithContext(SnapshotName(key)));
    guard.Set(dir);
    CrashPoint("prepare.renamed");
    // No fsync of snapshots/ here: if a crash loses the rename after the
    // record became durable, recovery rebuilds the empty skeleton, which is
    // all the rename carried (anything written into it later was not synced
    // either). That saves one fsync per Prepare.
    return Status::Ok();
  });
  if (!s.ok()) return s;
  guard.Disarm();
  return mounts;
}

Result<std::vector<Mount>> Engine::Mounts(std::string_view key) {
  STRATA_RETURN_IF_ERROR(ValidateKey("key", key));
  std::vector<Mount> mounts;
  STRATA_RETURN_IF_ERROR(store_->View([&](ReadTxn& txn) -> Status {
    STRATA_ASSIGN_OR_RETURN(SnapshotRecord r, GetSnapshot(txn, key));
    if (r.kind == Kind::kCommitted) {
      return FailedPrecondition(
          SnapshotName(key) +
          " is committed: mounts exist only for active or view snapshots");
    }
    STRATA_ASSIGN_OR_RETURN(std::vector<uint64_t> parents, ParentIds(txn, r));
    auto m = backend_->Mounts(r.id, r.kind, parents);
    if (!m.ok()) return m.status().WithContext(SnapshotName(key));
    mounts = std::move(*m);
    // Validated at creation; a record from before is shown unmapped.
    auto idmap = IdMapFromLabels(r.labels);
    if (idmap.ok() && opts_.remap_ids)
      MapMounts(r.id, r.kind, parents, *idmap, &mounts);
    return Status::Ok();
  }));
  return mounts;
}

Status Engine::Commit(std::string_view name, std::string_view key,
                      const Labels& labels, std::string_view parent) {
  STRATA_RETURN_IF_ERROR(ValidateKey("name", name));
  STRATA_RETURN_IF_ERROR(ValidateKey("key", key));
  if (!parent.empty()) STRATA_RETURN_IF_ERROR(ValidateKey("parent", parent));
  STRATA_RETURN_IF_ERROR(ValidateLabels(name, labels));

  // Measure before the write transaction: containerd commits inside its own
  // metadata transaction, so the write lock must be held briefly.
  uint64_t id = 0;
  Kind kind = Kind::kUnknown;
  Labels own_labels;
  bool has_parent = false;
  STRATA_RETURN_IF_ERROR(store_->View([&](ReadTxn& txn) -> Status {
    STRATA_ASSIGN_OR_RETURN(SnapshotRecord r, GetSnapshot(txn, key));
    id = r.id;
    kind = r.kind;
    has_parent = r.parent_id != 0;
    own_labels = std::move(r.labels);
    return Status::Ok();
  }));
  // No Apply may write while the layer is measured and committed.
  STRATA_RETURN_IF_ERROR(MarkChanging(id, key));
  struct Unmark {
    Engine* e;
    uint64_t id;
    ~Unmark() { e->UnmarkChanging(id); }
  } unmark{this, id};
  // Before content sharing looks at owners: a mapped layer is stored as
  // container IDs, like any other.
  bool shifted = false;
  if (kind == Kind::kActive && has_parent) {
    STRATA_ASSIGN_OR_RETURN(shifted, UnmapUpperOwners(id, key, own_labels));
  }
  CrashPoint("commit.shifted");
  std::vector<Relinked> relinked;
  if (hardlinks_ && kind == Kind::kActive) relinked = LinkEqualFiles(id, key);
  Usage usage;
  if (kind == Kind::kActive) {
    auto u = backend_->MeasureUsage(id, kNoInodeLimit);
    if (!u.ok()) {
      return Internal(SnapshotName(key) +
                      ": measure usage: " + u.status().message());
    }
    usage = *u;
  }
  CrashPoint("commit.measured");
  if (data_sync_ && kind == Kind::kActive) {
    // The protocol's one barrier: data and directory entry durable before
    // the record says Committed.
    // An EIO here also reaches Health(), which probes the root.
    STRATA_RETURN_IF_ERROR(data_sync_->Sync().WithContext(
        "commit " + SnapshotName(key) + ": make its data durable"));
  }
  CrashPoint("commit.synced");
  Status committed = store_->Update([&](WriteTxn& txn) -> Status {
    bool rebased = false;
    STRATA_ASSIGN_OR_RETURN(
        SnapshotRecord r,
        CommitActive(txn, key, name, usage, labels, NowNs(), parent, &rebased));
    if (r.id != id) {
      // Removed and re-prepared between measuring and committing.
      return FailedPrecondition(SnapshotName(key) +
                                " changed during commit; retry");
    }
    // Its applied files become findable with the record (content_index.h).
    for (const Relinked& l : relinked) {
      STRATA_RETURN_IF_ERROR(
          SetContentIdentity(txn, l.id, l.digest, l.identity));
    }
    STRATA_RETURN_IF_ERROR(PublishContent(txn, r.id));
    if (rebased) {
      STRATA_ASSIGN_OR_RETURN(std::vector<uint64_t> parents, ParentIds(txn, r));
      Status ok = backend_->CheckRebase(r.id, parents);
      if (!ok.ok()) {
        return ok.WithContext("commit " + SnapshotName(key) + " onto parent " +
                              SnapshotName(parent));
      }
    }
    return Status::Ok();
  });
  if (shifted) {
    if (committed.ok()) CrashPoint("commit.recorded");
    EndShift(id, key, committed.ok());
  }
  return committed;
}

Status Engine::Remove(std::string_view key) {
  STRATA_RETURN_IF_ERROR(ValidateKey("key", key));
  std::string trash;
  uint64_t id = 0;
  uint64_t marked = 0;
  Kind kind = Kind::kUnknown;
  Status removed = store_->Update([&](WriteTxn& txn) -> Status {
    STRATA_ASSIGN_OR_RETURN(SnapshotRecord r, RemoveSnapshot(txn, key));
    id = r.id;
    kind = r.kind;
    STRATA_RETURN_IF_ERROR(DropContent(txn, r.id));
    STRATA_RETURN_IF_ERROR(MarkChanging(r.id, key));
    marked = r.id;
    std::string dir = layout_.SnapshotDir(r.id);
    trash = NewTrashPath(r.id);
    if (Status mv = fs_.Rename(dir, trash); !mv.ok()) {
      trash.clear();
      if (mv.code() != Code::kNotFound)
        return mv.WithContext(SnapshotName(key));
      // The directory was already gone: removing the record repairs that.
      Log(LogLevel::kWarn, "engine", "removed snapshot had no directory",
          {{"key", key}, {"dir", dir}});
    }
    CrashPoint("remove.renamed");
    // No fsync: a lost rename leaves snapshots/<id> without a record, which
    // recovery deletes; a lost record deletion is restored from trash/.
    return Status::Ok();
  });
  if (!removed.ok() && !trash.empty()) {
    // The record stays: so must its directory. If even this fails, recovery
    // puts it back (a trash entry whose id has a record).
    if (Status back = fs_.Rename(trash, layout_.SnapshotDir(id)); !back.ok()) {
      Log(LogLevel::kError, "engine",
          "remove failed and its directory could not be put back; the next "
          "start restores it",
          {{"key", key}, {"error", back.ToString()}});
    }
  }
  if (marked != 0) UnmarkChanging(marked);
  STRATA_RETURN_IF_ERROR(removed);
  {
    std::lock_guard<std::mutex> l(holds_mu_);
    damaged_.erase(id);
  }
  CrashPoint("remove.committed");
  backend_->Forget(fs_, id);
  if (!trash.empty()) {
    Status s = fs_.RemoveTree(trash);
    if (!s.ok()) {
      Log(LogLevel::kWarn, "engine",
          "deleting removed snapshot failed; Cleanup retries",
          {{"key", key}, {"error", s.ToString()}});
    }
  }
  if (kind != Kind::kView) ReleaseProject(id);
  return Status::Ok();
}

Result<Info> Engine::Stat(std::string_view key) {
  STRATA_RETURN_IF_ERROR(ValidateKey("key", key));
  Info info;
  STRATA_RETURN_IF_ERROR(store_->View([&](ReadTxn& txn) -> Status {
    STRATA_ASSIGN_OR_RETURN(SnapshotRecord r, GetSnapshot(txn, key));
    STRATA_ASSIGN_OR_RETURN(info, ToInfo(txn, r));
    return Status::Ok();
  }));
  return info;
}

Result<Info> Engine::Update(const Info& in,
                            const std::vector<std::string>& fieldpaths) {
  STRATA_RETURN_IF_ERROR(ValidateKey("key", in.name));
  STRATA_RETURN_IF_ERROR(ValidateLabels(in.name, in.labels));
  Info info;
  STRATA_RETURN_IF_ERROR(store_->Update([&](WriteTxn& txn) -> Status {
    STRATA_ASSIGN_OR_RETURN(SnapshotRecord r,
                            UpdateInfo(txn, in, fieldpaths, NowNs()));
    STRATA_ASSIGN_OR_RETURN(info, ToInfo(txn, r));
    return Status::Ok();
  }));
  return info;
}

Status Engine::ForEachInfo(
    const std::function<void(const SnapshotRecord&, Info)>& fn) {
  return store_->View([&](ReadTxn& txn) -> Status {
    Status inner;
    STRATA_RETURN_IF_ERROR(WalkSnapshots(txn, [&](const SnapshotRecord& r) {
      auto info = ToInfo(txn, r);
      if (!info.ok()) {
        inner = info.status();
        return false;
      }
      fn(r, std::move(*info));
      return true;
    }));
    return inner;
  });
}

Result<std::vector<Info>> Engine::List(
    const std::vector<std::string>& filters) {
  STRATA_ASSIGN_OR_RETURN(Filter filter, Filter::Parse(filters));
  std::vector<Info> out;
  STRATA_RETURN_IF_ERROR(ForEachInfo([&](const SnapshotRecord&, Info info) {
    if (filter.Matches(info)) out.push_back(std::move(info));
  }));
  return out;
}

Result<SnapshotCounts> Engine::Counts() {
  SnapshotCounts c;
  STRATA_RETURN_IF_ERROR(store_->View([&](ReadTxn& txn) -> Status {
    return WalkSnapshots(txn, [&](const SnapshotRecord& r) {
      if (r.kind == Kind::kActive) c.active++;
      if (r.kind == Kind::kView) c.views++;
      if (r.kind == Kind::kCommitted) c.committed++;
      return true;
    });
  }));
  return c;
}

GroupCommitStats Engine::GroupCommits() const {
  MetaStore::GroupStats g = store_->Groups();
  GroupCommitStats out;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < std::size(MetaStore::kGroupBuckets); ++i) {
    cumulative += g.counts[i];
    out.buckets.emplace_back(MetaStore::kGroupBuckets[i], cumulative);
  }
  out.groups = g.groups;
  out.writers = g.writers;
  return out;
}

Result<std::vector<Engine::Entry>> Engine::Entries() {
  std::vector<Entry> out;
  STRATA_RETURN_IF_ERROR(ForEachInfo([&](const SnapshotRecord& r, Info info) {
    out.push_back({r.id, std::move(info), layout_.FsDir(r.id)});
  }));
  return out;
}

Result<Usage> Engine::GetUsage(std::string_view key, int64_t max_inodes) {
  STRATA_RETURN_IF_ERROR(ValidateKey("key", key));
  SnapshotRecord r;
  STRATA_RETURN_IF_ERROR(store_->View([&](ReadTxn& txn) -> Status {
    STRATA_ASSIGN_OR_RETURN(r, GetSnapshot(txn, key));
    return Status::Ok();
  }));
  if (r.kind != Kind::kActive) return r.usage;
  if (quota_) {
    if (std::optional<Usage> q = QuotaUsageOf(r.id)) return *q;
  }
  auto u = backend_->MeasureUsage(r.id, max_inodes);
  // Counted once per answer (a walk cut short is retried off the caller's
  // thread: snapshots_service.cc).
  if (u.ok()) usage_walked_++;
  if (!u.ok()) {
    if (u.status().code() == Code::kResourceExhausted &&
        max_inodes != kNoInodeLimit) {
      return u.status();
    }
    if (u.status().code() == Code::kNotFound) {
      return NotFound(SnapshotName(key) + ": removed while measuring usage");
    }
    return Internal(SnapshotName(key) +
                    ": measure usage: " + u.status().message());
  }
  return *u;
}

Result<std::unique_ptr<ApplyTarget>> Engine::HoldForApply(uint64_t id) {
  std::lock_guard<std::mutex> l(holds_mu_);
  if (changing_.count(id)) {
    return FailedPrecondition("snapshot " + std::to_string(id) +
                              " is being removed or committed");
  }
  applying_[id]++;
  return std::unique_ptr<ApplyTarget>(new ApplyTarget(*this, id));
}

Status Engine::MarkChanging(uint64_t id, std::string_view key) {
  std::lock_guard<std::mutex> l(holds_mu_);
  if (applying_.count(id)) {
    return FailedPrecondition(SnapshotName(key) +
                              ": a layer is being applied to it");
  }
  changing_.insert(id);
  return Status::Ok();
}

void Engine::UnmarkChanging(uint64_t id) {
  std::lock_guard<std::mutex> l(holds_mu_);
  changing_.erase(id);
}

void Engine::Release(uint64_t id) {
  std::lock_guard<std::mutex> l(holds_mu_);
  auto it = applying_.find(id);
  if (it != applying_.end() && --it->second == 0) applying_.erase(it);
}

Result<std::unique_ptr<ApplyTarget>> Engine::ResolveApplyTarget(
    const std::vector<Mount>& mounts) {
  STRATA_ASSIGN_OR_RETURN(std::string dir, WritableDir(mounts));
  uint64_t id = IdOfFsDir(dir);
  if (id == 0) return NotOurDir(dir);
  return LendForApply(id, "");
}

// Only a path this engine made, as Layout spells it (containerd hands back
// the strings it was given).
uint64_t Engine::IdOfFsDir(std::string_view path) const {
  const std::string prefix = layout_.SnapshotsDir() + "/";
  if (path.size() <= prefix.size() || !path.starts_with(prefix)) return 0;
  std::string_view rest = path.substr(prefix.size());
  uint64_t id = LeadingId(rest.substr(0, rest.find('/')));
  return id != 0 && path == layout_.FsDir(id) ? id : 0;
}

uint64_t Engine::IdOfDir(std::string_view path) const {
  if (uint64_t id = IdOfFsDir(path); id != 0) return id;
  const std::string links = layout_.LinksDir() + "/";
  if (!path.starts_with(links)) return 0;
  uint64_t id = LeadingId(path.substr(links.size()));
  return id != 0 && path == layout_.LinkPath(id) ? id : 0;
}

Status Engine::NotOurDir(std::string_view dir) {
  std::string shown(dir.size() > 128 ? dir.substr(dir.size() - 128) : dir);
  if (dir.size() > 128) shown = "..." + shown;
  return Unimplemented("\"" + shown + "\" is not a snapshot of this Strata");
}

Result<std::unique_ptr<ApplyTarget>> Engine::ApplyTargetFor(
    std::string_view key) {
  STRATA_RETURN_IF_ERROR(ValidateKey("key", key));
  uint64_t id = 0;
  STRATA_RETURN_IF_ERROR(store_->View([&](ReadTxn& txn) -> Status {
    STRATA_ASSIGN_OR_RETURN(SnapshotRecord r, GetSnapshot(txn, key));
    id = r.id;
    return Status::Ok();
  }));
  return LendForApply(id, key);
}

Result<std::unique_ptr<ApplyTarget>> Engine::LendForApply(
    uint64_t id, std::string_view key) {
  // Hold first, then read: a Remove or Commit that has not marked the id yet
  // will see the hold; one that has is refused here.
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<ApplyTarget> t, HoldForApply(id));
  SnapshotRecord r;
  STRATA_RETURN_IF_ERROR(store_->View([&](ReadTxn& txn) -> Status {
    auto got = GetSnapshotById(txn, id);
    if (!got.ok() && got.status().code() == Code::kNotFound) {
      return NotFound(key.empty()
                          ? "snapshot " + std::to_string(id) + " was removed"
                          : SnapshotName(key) + " was removed");
    }
    STRATA_ASSIGN_OR_RETURN(r, std::move(got));
    return Status::Ok();
  }));
  if (!key.empty() && r.key != key)
    return NotFound(SnapshotName(key) + " was removed");
  if (r.kind != Kind::kActive) {
    return FailedPrecondition(
        SnapshotName(r.key) + " is " + std::string(KindName(r.kind)) +
        ", not active: layers apply only to active snapshots");
  }
  std::string dir = layout_.FsDir(id);
  t->dir_.reset(
      open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!t->dir_.valid()) {
    return Internal(SnapshotName(r.key) +
                    ": open its directory: " + std::strerror(errno));
  }
  t->key_ = r.key;
  t->whiteouts_ = backend_->Whiteouts();
  t->max_depth_ = opts_.max_layer_depth > 0 ? opts_.max_layer_depth
                                            : backend_->MaxLayerDepth();
  return t;
}

std::vector<std::string> Engine::Damaged() const {
  std::lock_guard<std::mutex> l(holds_mu_);
  std::vector<std::string> out;
  for (const auto& [id, key] : damaged_) out.push_back(key);
  return out;
}

Status Engine::CheckParentsIntact(std::string_view key,
                                  const std::vector<uint64_t>& parent_ids) {
  std::lock_guard<std::mutex> l(holds_mu_);
  if (damaged_.empty()) return Status::Ok();
  for (uint64_t pid : parent_ids) {
    auto it = damaged_.find(pid);
    if (it == damaged_.end()) continue;
    return FailedPrecondition(
        SnapshotName(key) + ": parent " + SnapshotName(it->second) +
        " lost its directory in a crash (see `strata status`); remove it and "
        "unpack the layer again");
  }
  return Status::Ok();
}

Status Engine::Health() {
  STRATA_RETURN_IF_ERROR(store_->Health());
  {
    std::lock_guard<std::mutex> l(holds_mu_);
    if (!data_failed_.ok()) return data_failed_;
  }
  // An I/O error somewhere since the last look: is it the root's filesystem
  // (a shutdown, a dead disk) or one bad file? Write, sync and delete a probe.
  uint64_t seen = IoErrorsSeen();
  if (seen == io_errors_checked_.exchange(seen)) return Status::Ok();
  std::string probe = layout_.StagingDir() + "/probe-XXXXXX";
  Status s = Status::Ok();
  int fd = mkstemp(probe.data());
  if (fd < 0) {
    s = PosixError("create " + probe, errno);
  } else {
    if (write(fd, "x", 1) != 1 || fsync(fd) != 0)
      s = PosixError("write " + probe, errno);
    close(fd);
    unlink(probe.c_str());
  }
  if (s.ok()) return s;
  std::lock_guard<std::mutex> l(holds_mu_);
  if (data_failed_.ok()) {
    data_failed_ = Unavailable(
        "the root's filesystem fails after an I/O error (" + s.message() + ")");
  }
  return data_failed_;
}

void Engine::TEST_FailCommits(int n, int err) {
  store_->TEST_FailCommits(n, err);
}

Status Engine::Cleanup() {
  // Under the writer lock no Prepare can be between its rename and its commit,
  // so every snapshot directory without a record is garbage now.
  std::vector<std::string> doomed;
  std::set<uint64_t> live;
  STRATA_RETURN_IF_ERROR(store_->Update([&](WriteTxn& txn) -> Status {
    live.clear();
    STRATA_RETURN_IF_ERROR(WalkSnapshots(txn, [&](const SnapshotRecord& r) {
      live.insert(r.id);
      return true;
    }));
    STRATA_ASSIGN_OR_RETURN(auto names, ListDir(layout_.SnapshotsDir()));
    for (const std::string& n : names) {
      uint64_t id = LeadingId(n);
      if (id != 0 && live.count(id) && n == std::to_string(id)) continue;
      std::string trash = NewTrashPath(id);
      STRATA_RETURN_IF_ERROR(
          fs_.Rename(layout_.SnapshotsDir() + "/" + n, trash));
      doomed.push_back(trash);
    }
    STRATA_ASSIGN_OR_RETURN(auto trash, ListDir(layout_.TrashDir()));
    for (const std::string& n : trash) {
      if (live.count(LeadingId(n))) continue;  // cannot happen at runtime
      doomed.push_back(layout_.TrashDir() + "/" + n);
    }
    return Status::Ok();
  }));
  Status first;
  for (const std::string& path : doomed) {
    Status s = fs_.RemoveTree(path);
    if (!s.ok() && first.ok()) first = s;
  }
  // A Prepare that recorded its snapshot after the transaction above has its
  // directory in place: keep what still has one.
  auto pruned = backend_->Prune(fs_, [&](uint64_t id) {
    return live.count(id) > 0 || Exists(layout_.SnapshotDir(id));
  });
  if (!pruned.ok() && first.ok()) first = pruned.status();
  if (!doomed.empty()) {
    Log(LogLevel::kInfo, "engine", "cleanup removed unreferenced paths",
        {{"count", std::to_string(doomed.size())}});
  }
  return first;
}

// Recovery must never stop the daemon from starting (a restart would only
// meet the same tree again): what cannot be removed is logged and moved
// aside into quarantine/ for an operator. True when removed.
bool Engine::RemoveOrQuarantine(const std::string& path, RecoveryReport& rep) {
  Status s = fs_.RemoveTree(path);
  if (s.ok()) return true;
  std::string name = path.substr(path.rfind('/') + 1);
  std::string to =
      layout_.QuarantineDir() + "/" + name + "-" + std::to_string(NowNs());
  bool moved = fs_.Rename(path, to).ok();
  Log(LogLevel::kError, "engine",
      "recovery cannot remove a directory; moved it aside",
      {{"path", path},
       {"error", s.ToString()},
       {"moved_to", moved ? to : "(rename failed)"}});
  rep.quarantined++;
  return false;
}

// Recovery runs before the socket opens, one step per kind of leftover; each
// step is idempotent, so a crash in any of them is finished by the next start.
Status Engine::Recover() {
  RecoveryReport rep;
  std::map<uint64_t, Kind> live;  // every recorded id and its kind
  STRATA_RETURN_IF_ERROR(store_->View([&](ReadTxn& txn) -> Status {
    return WalkSnapshots(txn, [&](const SnapshotRecord& r) {
      live[r.id] = r.kind;
      return true;
    });
  }));
  STRATA_RETURN_IF_ERROR(RecoverStaging(rep));
  STRATA_RETURN_IF_ERROR(RecoverTrash(live, rep));
  STRATA_RETURN_IF_ERROR(RecoverOrphans(live, rep));
  STRATA_RETURN_IF_ERROR(RecoverShifts(live, rep));
  STRATA_RETURN_IF_ERROR(store_->Update([&](WriteTxn& txn) -> Status {
    std::set<uint64_t> ids;
    for (const auto& [id, kind] : live) ids.insert(id);
    STRATA_ASSIGN_OR_RETURN(rep.content_pruned, PruneContent(txn, ids));
    return Status::Ok();
  }));
  STRATA_ASSIGN_OR_RETURN(
      rep.links_removed,
      backend_->Prune(fs_, [&](uint64_t id) { return live.count(id) > 0; }));
  for (const auto& [id, kind] : live) {
    if (Exists(layout_.SnapshotDir(id))) continue;
    if (kind == Kind::kCommitted) {
      STRATA_RETURN_IF_ERROR(ReportMissing(id, rep));
    } else {
      STRATA_RETURN_IF_ERROR(RebuildDir(id, kind, rep));
    }
  }
  if (opts_.sync) {
    // What recovery repaired is durable before the first request is served.
    for (const std::string& d :
         {layout_.StagingDir(), layout_.TrashDir(), layout_.SnapshotsDir()}) {
      STRATA_RETURN_IF_ERROR(fs_.SyncDir(d));
    }
  }
  recovery_ = rep;
  return Status::Ok();
}

// Staging holds what was never recorded (renamed out before any commit).
Status Engine::RecoverStaging(RecoveryReport& rep) {
  STRATA_ASSIGN_OR_RETURN(auto staged, ListDir(layout_.StagingDir()));
  for (const std::string& n : staged) {
    RemoveOrQuarantine(layout_.StagingDir() + "/" + n, rep);
    rep.staging_removed++;
  }
  return Status::Ok();
}

// A committed removal's id is never reused, so a trash entry whose id still
// has a record is a removal whose transaction never committed: put the
// directory back. Everything else is deleted.
Status Engine::RecoverTrash(const std::map<uint64_t, Kind>& live,
                            RecoveryReport& rep) {
  STRATA_ASSIGN_OR_RETURN(auto trash, ListDir(layout_.TrashDir()));
  for (const std::string& n : trash) {
    std::string path = layout_.TrashDir() + "/" + n;
    uint64_t id = LeadingId(n);
    std::string home = layout_.SnapshotDir(id);
    if (id != 0 && live.count(id) && !Exists(home)) {
      STRATA_RETURN_IF_ERROR(fs_.Rename(path, home));
      rep.trash_restored++;
      continue;
    }
    if (RemoveOrQuarantine(path, rep)) rep.trash_removed++;
  }
  return Status::Ok();
}

// Snapshot directories without a record: a Prepare that renamed but did not
// commit, or leftovers of failed deletions.
Status Engine::RecoverOrphans(const std::map<uint64_t, Kind>& live,
                              RecoveryReport& rep) {
  STRATA_ASSIGN_OR_RETURN(auto dirs, ListDir(layout_.SnapshotsDir()));
  for (const std::string& n : dirs) {
    uint64_t id = LeadingId(n);
    if (id != 0 && live.count(id) && n == std::to_string(id)) continue;
    RemoveOrQuarantine(layout_.SnapshotsDir() + "/" + n, rep);
    rep.orphans_removed++;
  }
  return Status::Ok();
}

// An active or view record whose directory a crash took (Prepare does not
// sync its rename) gets back what Prepare built: the skeleton, or for
// full-tree backends a fresh clone of its committed parent.
Status Engine::RebuildDir(uint64_t id, Kind kind, RecoveryReport& rep) {
  // Parent chains are read only here, for the rare record to rebuild, so a
  // normal start-up stays one walk over the records.
  std::vector<uint64_t> parents;
  Labels labels;
  std::string key;
  STRATA_RETURN_IF_ERROR(store_->View([&](ReadTxn& txn) -> Status {
    STRATA_ASSIGN_OR_RETURN(SnapshotRecord r, GetSnapshotById(txn, id));
    STRATA_ASSIGN_OR_RETURN(parents, ParentIds(txn, r));
    labels = r.labels;
    key = r.key;
    return Status::Ok();
  }));
  // Built beside its home and renamed in, like Prepare: a crash in the
  // middle leaves a staging leftover, never a half-built home.
  std::string tmp = layout_.StagingDir() + "/rebuild-XXXXXX";
  STRATA_RETURN_IF_ERROR(fs_.MakeTempDir(tmp));
  if (Status b = backend_->BuildDir(fs_, tmp, kind, parents); !b.ok()) {
    // Still serve the root: an empty skeleton keeps the invariant.
    Log(LogLevel::kError, "engine",
        "rebuilding snapshot from its parent failed",
        {{"id", std::to_string(id)}, {"error", b.ToString()}});
    STRATA_RETURN_IF_ERROR(fs_.RemoveTree(tmp));
    STRATA_RETURN_IF_ERROR(fs_.MakeDir(tmp, 0700));
    STRATA_RETURN_IF_ERROR(backend_->BuildDir(fs_, tmp, kind, {}));
  }
  auto idmap = IdMapFromLabels(labels);
  STRATA_RETURN_IF_ERROR(OwnWritableDir(
      tmp, kind, idmap.ok() ? *idmap : SnapshotIdMap{}, parents));
  if (kind == Kind::kActive && quota_) {
    // As Prepare tagged it; a label quotas cannot serve now goes unlimited.
    auto limit = SizeLimitOf(key, kind, labels);
    STRATA_RETURN_IF_ERROR(TagProject(tmp, id, limit.ok() ? *limit : 0));
  }
  // Complete before it is put in place: once the rename lasts, the next
  // recovery would not rebuild it again.
  if (opts_.sync) STRATA_RETURN_IF_ERROR(fs_.SyncFs(root_fd_.get()));
  STRATA_RETURN_IF_ERROR(fs_.Rename(tmp, layout_.SnapshotDir(id)));
  rep.dirs_rebuilt++;
  return Status::Ok();
}

// Who owns a new snapshot's writable directory, as containerd's overlayfs
// snapshotter decides: an overlay upper of a mapped snapshot belongs to the
// host IDs container root maps to (containerd idmaps only the lower layers,
// so the container writes the upper as those IDs); any other overlay upper
// belongs to its parent's owner. Bind-mounted trees (no parent, reflink,
// copy) are idmapped whole by containerd's mount code and keep their owners.
Status Engine::OwnWritableDir(const std::string& dir, Kind kind,
                              const SnapshotIdMap& map,
                              const std::vector<uint64_t>& parents) {
  if (kind != Kind::kActive || parents.empty() ||
      backend_->Whiteouts() != WhiteoutMode::kOverlay) {
    return Status::Ok();
  }
  uid_t uid = map.root_uid;
  gid_t gid = map.root_gid;
  if (!map.mapped()) {
    struct stat st;
    if (stat(layout_.FsDir(parents[0]).c_str(), &st) != 0)
      return PosixError("stat the parent's directory", errno);
    uid = st.st_uid;
    gid = st.st_gid;
  }
  if (uid == 0 && gid == 0) return Status::Ok();
  if (lchown((dir + "/fs").c_str(), uid, gid) != 0)
    return PosixError("chown the writable directory", errno);
  return Status::Ok();
}

// What containerd can idmap: an overlay's lower layers (one idmapped mount of
// their common directory, so they are given as full paths under snapshots/,
// never the short links of a long chain: containerd 2.x shortens them
// itself, relative to its idmapped copy) and a read-write bind (the
// whole tree: a full-tree backend's active snapshot keeps its files as
// container IDs on disk, so its commits need no shift). A read-only bind it
// leaves unmapped (containerd 2.1's mount_linux.go), so a view of one
// parent becomes a read-only overlay of that parent over the view's own
// empty directory, which it does idmap.
void Engine::MapMounts(uint64_t id, Kind kind,
                       const std::vector<uint64_t>& parents,
                       const SnapshotIdMap& map, std::vector<Mount>* mounts) {
  if (!map.mapped()) return;
  if (kind == Kind::kView && !parents.empty() && mounts->size() == 1 &&
      (*mounts)[0].type == "bind") {
    *mounts = {
        Mount{"overlay",
              "overlay",
              {"lowerdir=" + (*mounts)[0].source + ":" + layout_.FsDir(id)}}};
  } else {
    for (Mount& m : *mounts) {
      if (m.type != "overlay") continue;
      for (std::string& o : m.options) {
        if (o.rfind("lowerdir=", 0) != 0) continue;
        o = "lowerdir=";
        for (size_t i = 0; i < parents.size(); ++i)
          o += (i ? ":" : "") + layout_.FsDir(parents[i]);
      }
    }
  }
  AddIdMapOptions(map, mounts);
}

// containerd idmaps an overlay's upper not at all: the container writes it
// as host IDs. At Commit those become container IDs again (the mapping's
// inverse), so the layer is shared by pods of any mapping and a diff of it
// carries the image's IDs; a crash between the shift and the record is
// undone (still active) or finished (committed) by recovery from the
// journal. A parentless active (a bind) and full-tree backends need nothing:
// a bind is idmapped whole.
Result<bool> Engine::UnmapUpperOwners(uint64_t id, std::string_view key,
                                      const Labels& labels) {
  if (!opts_.remap_ids || backend_->Whiteouts() != WhiteoutMode::kOverlay)
    return false;
  auto map = IdMapFromLabels(labels);
  if (!map.ok() || !map->mapped()) return false;
  const std::string journal = layout_.ShiftJournal(id);
  // A Commit that failed and could not roll back left its journal.
  STRATA_RETURN_IF_ERROR(
      ReplayShiftJournal(layout_.FsDir(id), journal, ShiftDirection::kBack)
          .WithContext(SnapshotName(key)));
  STRATA_RETURN_IF_ERROR(RemoveShiftJournal(journal));
  auto stats = ShiftOwners(layout_.FsDir(id), ToContainerIds(*map), journal);
  if (!stats.ok()) {
    // Whatever it changed goes back before the error is returned.
    if (ReplayShiftJournal(layout_.FsDir(id), journal, ShiftDirection::kBack)
            .ok()) {
      (void)RemoveShiftJournal(journal);
    }
    return stats.status().WithContext("commit " + SnapshotName(key) +
                                      ": store its owners unmapped");
  }
  Log(LogLevel::kDebug, "engine", "stored a mapped layer's owners unmapped",
      {{"key", key},
       {"entries", std::to_string(stats->entries)},
       {"changed", std::to_string(stats->changed)}});
  return stats->changed > 0;
}

// After the commit transaction: its journal goes, or the shift is undone
// when the commit failed (the snapshot is still the container's).
void Engine::EndShift(uint64_t id, std::string_view key, bool committed) {
  const std::string journal = layout_.ShiftJournal(id);
  Status s = Status::Ok();
  if (!committed) {
    s = ReplayShiftJournal(layout_.FsDir(id), journal, ShiftDirection::kBack);
  }
  if (s.ok()) s = RemoveShiftJournal(journal);
  if (!s.ok()) {
    Log(LogLevel::kWarn, "engine",
        "owner shift journal left for the next commit or start",
        {{"key", key}, {"error", s.ToString()}});
  }
}

// Journals left by a crash: a committed snapshot's shift is finished, an
// uncommitted one's undone; a journal of no snapshot is dropped.
Status Engine::RecoverShifts(const std::map<uint64_t, Kind>& live,
                             RecoveryReport& rep) {
  STRATA_ASSIGN_OR_RETURN(auto names, ListDir(layout_.ShiftsDir()));
  for (const std::string& n : names) {
    uint64_t id = LeadingId(n);
    auto it = live.find(id);
    if (id != 0 && n == std::to_string(id) && it != live.end() &&
        Exists(layout_.FsDir(id))) {
      bool done = it->second == Kind::kCommitted;
      Status s = ReplayShiftJournal(
          layout_.FsDir(id), layout_.ShiftJournal(id),
          done ? ShiftDirection::kForward : ShiftDirection::kBack);
      if (!s.ok()) {
        // Served anyway; the next start (or that snapshot's next Commit)
        // tries again.
        Log(LogLevel::kError, "engine", "replaying an owner shift failed",
            {{"id", n}, {"error", s.ToString()}});
        continue;
      }
      (done ? rep.shifts_finished : rep.shifts_undone)++;
    }
    STRATA_RETURN_IF_ERROR(fs_.Unlink(layout_.ShiftsDir() + "/" + n));
  }
  return Status::Ok();
}

// A committed layer's content cannot be rebuilt: name it, and refuse it as a
// parent until it is removed (CheckParentsIntact).
Status Engine::ReportMissing(uint64_t id, RecoveryReport& rep) {
  rep.missing_dirs++;
  std::string key;
  STRATA_RETURN_IF_ERROR(store_->View([&](ReadTxn& txn) -> Status {
    STRATA_ASSIGN_OR_RETURN(SnapshotRecord r, GetSnapshotById(txn, id));
    key = r.key;
    return Status::Ok();
  }));
  Log(LogLevel::kError, "engine",
      "committed snapshot has no directory: its data is lost; it is refused "
      "as a parent until removed",
      {{"key", key},
       {"id", std::to_string(id)},
       {"dir", layout_.SnapshotDir(id)}});
  std::lock_guard<std::mutex> l(holds_mu_);
  damaged_[id] = key;
  return Status::Ok();
}

}  // namespace strata
