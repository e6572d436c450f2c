// Engine: containerd's ten snapshot operations over a MetaStore and a Backend.
//
// Each operation runs exactly one metadata transaction; filesystem work sits
// around it so slow work happens outside LMDB's writer lock:
//   Prepare/View  build staging/new-XXXXXX, then in one write txn create the
//                 record, rename staging to snapshots/<id>, commit.
//   Commit        measure usage first, then write the record in one txn.
//   Remove        in one txn delete the record and rename the directory to
//                 trash/; delete the trash after commit (failures are logged).
// Concurrent operations' transactions are group-committed by MetaStore (one
// durable sync per group, each still atomic on its own); an operation returns
// only after the commit holding its transaction is durable.
// Invariant, restored by Recover() at startup after any crash: every record's
// directory exists, and every directory without a record is garbage.
//
// The engine decides the error class a client sees; messages name the key.
//
// Thread-safety: all public methods are thread-safe.
#ifndef STRATA_SNAPSHOTTER_ENGINE_ENGINE_H_
#define STRATA_SNAPSHOTTER_ENGINE_ENGINE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "io/base/result.h"
#include "io/base/unique_fd.h"
#include "io/diff/changes.h"
#include "io/diff/layer_writer.h"
#include "io/extract/apply_layer.h"
#include "io/extract/extractor.h"
#include "io/fs/fs_ops.h"
#include "io/fs/fs_util.h"
#include "io/fs/project_quota.h"
#include "io/fs/sync_group.h"
#include "io/sink/content_share.h"
#include "snapshotter/idmap.h"
#include "snapshotter/layout.h"
#include "snapshotter/types.h"

namespace strata {

class Backend;
class MetaStore;
struct SnapshotRecord;

struct EngineOptions {
  std::string root;
  // Durable metadata commits and directory fsyncs. Only tests turn this off
  // (it turns commit_sync off too).
  bool sync = true;
  // Commit makes the snapshot's data durable (one syncfs of the root's
  // filesystem, shared by concurrent Commits) before it records the snapshot
  // as committed. Off trades that away: a power cut can then leave a
  // committed snapshot with files that read back empty or short (README
  // "Crash safety"). Config key commit_sync.
  bool commit_sync = true;
  // "overlay", "reflink", "copy", or "auto": the backend recorded in an
  // existing root, else the probe's choice (backend/probe.h). An explicit name
  // different from the recorded one is refused (FailedPrecondition).
  std::string backend = "overlay";
  // overlay backend: mount with metacopy=on (chmod/chown copy up metadata
  // only). Ignored, with a warning, where the kernel lacks it or the backend
  // is not overlay. Safe only for layers Strata extracted (README).
  bool overlay_metacopy = false;
  // Honour containerd's uid/gid mapping labels with idmapped mounts
  // (idmap.h; the daemon's remap_ids): only where containerd was told the
  // snapshotter can (capabilities = ["remap-ids"]). Off, a mapped
  // snapshot is mounted as any other (containerd chowned its parent).
  bool remap_ids = false;
  // Deepest directory level of an applied layer; 0: the backend's own limit
  // (none for overlay, 1,000 for full trees, which are cloned).
  int max_layer_depth = 0;
  // Content sharing (README "Storage efficiency"): files applied to a
  // snapshot share the extents of equal files of committed snapshots. On
  // where the root's filesystem can FICLONE (probed at open), else off with
  // one log line. Config key content_sharing (auto|off).
  bool content_sharing = true;
  // Where the root cannot FICLONE, with the overlay backend: at Commit, a
  // file equal to a committed layer's file in content and metadata (mode,
  // owner, mtime, xattrs) becomes a hardlink to it (README "Storage
  // efficiency": link counts and inode numbers are then shared). Config
  // content_sharing = hardlinks.
  bool hardlink_sharing = false;
  // Smallest file that is digested and shared.
  int64_t share_min_bytes = 1;  // every non-empty regular file
  // Project quotas (io/fs/project_quota.h) for active snapshots of the
  // overlay backend: Usage in constant time and size limits
  // (kMaxSizeLabel, default_max_size). kAuto: where the root's filesystem
  // enforces them; kOn: Open fails, naming why, where it does not. Config
  // key quota (auto|on|off).
  enum class QuotaMode { kAuto, kOn, kOff };
  QuotaMode quota = QuotaMode::kAuto;
  // Size limit of an active snapshot without the label, in bytes (0: none);
  // not for containerd's layer unpacking (keys "extract-..."). Needs
  // quotas: Open fails without them. Config key default_max_size.
  int64_t default_max_size = 0;
  // A snapshot's project ID is this plus its id (config key
  // quota_project_base): keep the range clear of the host's own projects.
  uint32_t quota_project_base = 1u << 30;
  // Where the engine's filesystem changes go (io/fs/fs_ops.h); null: the real
  // system calls. Tests pass fault-injecting ones. Not owned.
  FsOps* fs = nullptr;
};

// What Recover() found and repaired.
struct RecoveryReport {
  int staging_removed = 0;  // half-built snapshots (never recorded)
  int orphans_removed = 0;  // snapshot dirs without a record
  int trash_removed = 0;    // removed snapshots awaiting deletion
  int trash_restored = 0;   // removals whose metadata never committed
  int links_removed =
      0;                 // backend derived data (short links) of unrecorded ids
  int dirs_rebuilt = 0;  // active/view records whose rename a crash lost
  int missing_dirs = 0;  // committed records whose directory is gone
  int quarantined = 0;   // directories recovery could not remove, moved aside
  int shifts_finished = 0;  // owner shifts of committed snapshots completed
  int shifts_undone = 0;    // owner shifts of uncommitted Commits rolled back
  int64_t content_pruned = 0;  // content index rows of unrecorded ids
};

// containerd's size hint for an active snapshot's writable layer
// (core/snapshots: LabelSnapshotMaxSize), decimal bytes. Strata enforces it
// with a project quota and refuses it where it cannot.
inline constexpr const char* kMaxSizeLabel = "containerd.io/snapshot/max-size";

// Project quotas as they stand (strata status, metrics).
struct QuotaInfo {
  bool enabled = false;
  std::string reason;  // why off, or where on
  int64_t default_max_size = 0;
  // Since start: Usage answers from a quota, and from a walk.
  int64_t usage_from_quota = 0;
  int64_t usage_walked = 0;
};

// Snapshots by kind (strata status, metrics).
struct SnapshotCounts {
  int64_t active = 0;
  int64_t views = 0;
  int64_t committed = 0;
};

// Group commits of the metadata store since open (metrics): `groups` commits
// carried `writers` operations; buckets[i] = (most operations in a group,
// how many groups had at most that many, cumulative), the last one any.
struct GroupCommitStats {
  std::vector<std::pair<uint64_t, uint64_t>> buckets;
  uint64_t groups = 0;
  uint64_t writers = 0;
};

// Content sharing as it stands (strata status).
struct SharingInfo {
  bool enabled = false;
  std::string reason;  // why it is off, or the filesystem it is on
  // Since start: files that shared a committed file's extents, their bytes,
  // proposals that could not be cloned.
  int64_t shared_files = 0;
  int64_t shared_bytes = 0;
  int64_t refused = 0;
  // The index now.
  int64_t digests = 0;
  int64_t holders = 0;
  int64_t pending = 0;
};

// The crash-safety protocol (README "Crash safety"), step by step. What must
// be durable before each operation's metadata transaction commits:
//   Prepare/View  nothing: a crash that loses the staging rename after the
//                 record is durable leaves a record without its directory,
//                 and recovery rebuilds what Prepare built (the skeleton, or
//                 a clone of the committed parent).
//   Commit        the snapshot's data and its directory entry: one syncfs of
//                 the root's filesystem (SyncGroup) between measuring and the
//                 transaction. A committed record therefore always has its
//                 complete directory. (commit_sync off drops this step.)
//   Remove        nothing: the record's deletion and the rename to trash/
//                 are in one transaction; a rename a crash loses leaves an
//                 unrecorded directory, which recovery deletes; a transaction
//                 that fails renames the directory back.
// After a crash, Recover() (before serving) restores the invariant "every
// record has its directory, every directory has its record", and names every
// committed record it cannot honour (missing_dirs): those are refused as
// parents (FailedPrecondition) instead of being served silently.

class Engine;

// An active snapshot lent to one Apply (the diff service, `strata import`):
// its writable directory, open as a descriptor (never looked up by path
// again), the form of whiteouts its backend needs, and a hold: while the
// target lives, Remove and Commit of the snapshot answer FailedPrecondition.
// REQUIRES: destroyed before the engine.
class ApplyTarget {
 public:
  ~ApplyTarget();
  ApplyTarget(const ApplyTarget&) = delete;
  ApplyTarget& operator=(const ApplyTarget&) = delete;

  int dir() const { return dir_.get(); }
  WhiteoutMode whiteouts() const { return whiteouts_; }
  // Deepest level an entry may reach (0: no limit).
  int max_depth() const { return max_depth_; }
  const std::string& key() const { return key_; }
  uint64_t id() const { return id_; }
  // Applies the layer read from `raw` here (ApplyLayer, decompressed and
  // digested on a second thread: callers' bytes arrive over gRPC), with this
  // snapshot's whiteouts, depth limit and content sharing; syncs the
  // target's filesystem when `sync`. Records the digested files for the
  // content index (published when the snapshot is committed).
  Result<AppliedLayer> Apply(std::unique_ptr<Source> raw, bool sync);

 private:
  friend class Engine;
  ApplyTarget(Engine& engine, uint64_t id) : engine_(engine), id_(id) {}
  Engine& engine_;
  uint64_t id_;
  std::string key_;
  UniqueFd dir_;
  WhiteoutMode whiteouts_ = WhiteoutMode::kOverlay;
  int max_depth_ = 0;
};

// The two trees a Compare reads (Engine::CompareMounts, CompareSnapshot):
// snapshot `key`'s own changes against its parent's tree. Overlay: `upper`
// is the snapshot's layer and `lowers` its parent chain, nearest first;
// full trees (reflink, copy): `upper` is its tree and `lowers` holds its
// parent's tree, or nothing when it has no parent. Directories are open
// descriptors, never looked up by path again.
struct CompareTrees {
  std::string key;
  std::string parent;  // "" when none
  Kind kind = Kind::kUnknown;
  bool overlay = false;
  UniqueFd upper;
  std::vector<UniqueFd> lowers;
  // An ID-mapped overlay active's upper holds host IDs (containerd does not
  // idmap it); its layer is written as container IDs, as Commit stores it.
  SnapshotIdMap unmap;
  // Runs the backend's change walker (io/diff/changes.h) over the trees.
  Status Walk(const ChangeVisitor& visit) const;
  // The layer writer's owner maps for `unmap` (none when unmapped).
  void SetOwnerMaps(LayerOptions& opts) const;
};

class Engine {
 public:
  // Opens (creating if needed) the store under opts.root with opts.backend
  // and runs recovery. REQUIRES: the caller holds the root lock.
  static Result<std::unique_ptr<Engine>> Open(const EngineOptions& opts);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  Result<std::vector<Mount>> Prepare(std::string_view key,
                                     std::string_view parent,
                                     const Labels& labels);
  Result<std::vector<Mount>> View(std::string_view key, std::string_view parent,
                                  const Labels& labels);
  Result<std::vector<Mount>> Mounts(std::string_view key);
  // `parent` is containerd 2.x's Commit WithParent ("rebase"): a snapshot
  // prepared without a parent is committed as a child of `parent`, in the
  // same transaction (meta CommitActive has the classes). Backends that keep
  // full trees refuse it (FailedPrecondition).
  Status Commit(std::string_view name, std::string_view key,
                const Labels& labels, std::string_view parent = {});
  Status Remove(std::string_view key);
  Result<Info> Stat(std::string_view key);
  Result<Info> Update(const Info& info,
                      const std::vector<std::string>& fieldpaths);
  // Infos matching containerd filters, in id order, from one read txn.
  Result<std::vector<Info>> List(const std::vector<std::string>& filters);
  // A committed snapshot's stored usage, or an active one's measured by a
  // walk of its directory; past max_inodes inodes the walk stops with
  // ResourceExhausted.
  Result<Usage> GetUsage(std::string_view key,
                         int64_t max_inodes = kNoInodeLimit);
  // Every snapshot as stored, from one read txn, in id order, with its
  // directory (strata df and dedup walk them; engine/space.h).
  struct Entry {
    uint64_t id = 0;
    Info info;
    std::string dir;  // layout().FsDir(id)
  };
  Result<std::vector<Entry>> Entries();
  // Deletes directories no record references (and stale trash).
  Status Cleanup();

  // The snapshot containerd's Apply `mounts` write into, when they are
  // exactly what this engine handed out for an active snapshot: one overlay
  // mount whose upperdir= is, or one read-write bind mount whose source is,
  // <root>/snapshots/<id>/fs, compared as strings with what Layout makes.
  // Unimplemented (naming why) for anything else, so containerd tries its
  // next differ; FailedPrecondition for a committed snapshot or a view, or
  // one being removed or committed; NotFound once it is gone.
  Result<std::unique_ptr<ApplyTarget>> ResolveApplyTarget(
      const std::vector<Mount>& mounts);
  // The same by key (strata import): FailedPrecondition unless active.
  Result<std::unique_ptr<ApplyTarget>> ApplyTargetFor(std::string_view key);

  // Compare (containerd's diff service Diff, engine/compare.cc): the trees
  // behind `right` (mounts this engine handed out: an active snapshot's, or
  // a view's, whose changes are its committed parent's) when `left` shows
  // exactly right's parent (a view of it, or of nothing for a snapshot
  // without parent). Unimplemented (naming why) for any other pair, so
  // containerd uses its next differ.
  Result<CompareTrees> CompareMounts(const std::vector<Mount>& left,
                                     const std::vector<Mount>& right);
  // The trees of snapshot `key` (active or committed) against its parent
  // (strata diff). FailedPrecondition for a view.
  Result<CompareTrees> CompareSnapshot(std::string_view key);

  const RecoveryReport& recovery() const { return recovery_; }
  // Committed snapshots recovery found without their directory (names).
  std::vector<std::string> Damaged() const;
  // Not OK once the metadata store has failed for good (an I/O error under
  // the root, LMDB's panic): every later write would fail, so the daemon
  // should exit and say why (server polls it).
  // Also probes the root (writes, syncs and deletes a file in staging/) when
  // an I/O error was reported anywhere since the last call.
  Status Health();
  // ID-mapped snapshots: the remap_ids option and the start-up probe.
  bool remap_ids() const { return opts_.remap_ids; }
  const Status& idmap_support() const { return idmap_support_; }
  bool commit_sync() const { return data_sync_ != nullptr; }
  // syncfs calls Commit has made (metrics, tests).
  uint64_t DataSyncs() const { return data_sync_ ? data_sync_->syncs() : 0; }
  // Content sharing: on or off and why, counts since start, the index.
  SharingInfo Sharing();
  QuotaInfo Quotas() const;
  // From one read txn over the records.
  Result<SnapshotCounts> Counts();
  GroupCommitStats GroupCommits() const;
  // The index's API: adds regular files `paths` (clean, inside the tree) of
  // committed snapshot `key` to the content index, digesting them itself
  // (no caller ever supplies a digest). A path that is missing, not a
  // regular file, behind a symlink or changing while read is skipped.
  // Returns how many were added.
  Result<int64_t> AddContent(std::string_view key,
                             const std::vector<std::string>& paths);
  std::string_view backend_name() const;
  const Layout& layout() const { return layout_; }
  int64_t MetadataBytes() const;

  // Test seam (leveldb's TEST_ prefix): called at named points inside
  // operations ("prepare.staged", "prepare.renamed", "remove.renamed",
  // "remove.committed", "commit.measured", "commit.synced") so crash tests
  // can _exit there.
  void TEST_SetCrashHook(std::function<void(std::string_view)> hook) {
    crash_hook_ = std::move(hook);
  }
  // Test seam: the next `n` metadata commits fail with errno `err` (as if
  // LMDB's write had), after their transaction function ran.
  void TEST_FailCommits(int n, int err);

 private:
  Engine(EngineOptions opts, std::unique_ptr<MetaStore> store,
         std::unique_ptr<Backend> backend);
  Result<std::vector<Mount>> Create(Kind kind, std::string_view key,
                                    std::string_view parent,
                                    const Labels& labels);
  Status Recover();
  // Recover()'s steps (engine.cc says what each repairs).
  Status RecoverStaging(RecoveryReport& rep);
  Status RecoverTrash(const std::map<uint64_t, Kind>& live,
                      RecoveryReport& rep);
  Status RecoverOrphans(const std::map<uint64_t, Kind>& live,
                        RecoveryReport& rep);
  Status RebuildDir(uint64_t id, Kind kind, RecoveryReport& rep);
  Status ReportMissing(uint64_t id, RecoveryReport& rep);
  Status CheckParentsIntact(std::string_view key,
                            const std::vector<uint64_t>& parent_ids);
  bool RemoveOrQuarantine(const std::string& path, RecoveryReport& rep);
  friend class ApplyTarget;
  // Holds (see ApplyTarget): Apply takes one unless the id is changing;
  // Remove and Commit mark the id changing inside their transaction unless
  // it is held, and unmark it after their commit or abort.
  Result<std::unique_ptr<ApplyTarget>> HoldForApply(uint64_t id);
  Result<std::unique_ptr<ApplyTarget>> LendForApply(uint64_t id,
                                                    std::string_view key);
  Status MarkChanging(uint64_t id, std::string_view key);
  void UnmarkChanging(uint64_t id);
  void Release(uint64_t id);
  Status CheckBackend();
  // User namespaces (engine.cc): the owner of a new writable directory.
  Status OwnWritableDir(const std::string& dir, Kind kind,
                        const SnapshotIdMap& map,
                        const std::vector<uint64_t>& parents);
  // A mapped snapshot's mounts as containerd can idmap them, with the
  // uidmap=/gidmap= options; a no-op unless `map` is mapped.
  void MapMounts(uint64_t id, Kind kind, const std::vector<uint64_t>& parents,
                 const SnapshotIdMap& map, std::vector<Mount>* mounts);
  // Commit of a mapped overlay active: its upper re-owned to container IDs
  // (io/fs/owner_shift.h), journaled under shifts/. True when it shifted.
  Result<bool> UnmapUpperOwners(uint64_t id, std::string_view key,
                                const Labels& labels);
  void EndShift(uint64_t id, std::string_view key, bool committed);
  Status RecoverShifts(const std::map<uint64_t, Kind>& live,
                       RecoveryReport& rep);
  // The snapshot whose directory `path` names: <root>/snapshots/<id>/fs
  // (IdOfFsDir), or also its short link (IdOfDir); 0 when none. NotOurDir:
  // the Unimplemented for any other path (containerd's next differ).
  uint64_t IdOfFsDir(std::string_view path) const;
  uint64_t IdOfDir(std::string_view path) const;
  static Status NotOurDir(std::string_view dir);
  // compare.cc: the trees of snapshot `id` (or `key`) from its record.
  Result<CompareTrees> TreesOf(uint64_t id, std::string_view key);
  // Each record with its Info, in id order, from one read txn.
  Status ForEachInfo(
      const std::function<void(const SnapshotRecord&, Info)>& fn);
  std::string NewTrashPath(uint64_t id);
  void CrashPoint(std::string_view name) {
    if (crash_hook_) crash_hook_(name);
  }
  // Content sharing (engine_content.cc): the extractor's view of the index.
  // With `clone` false it proposes nothing (hardlink sharing: files are
  // only digested, and linked at Commit).
  class IndexShare final : public ContentShare {
   public:
    IndexShare(Engine& engine, bool clone) : engine_(engine), clone_(clone) {}
    UniqueFd Open(std::string_view digest, int64_t size) override {
      if (!clone_) return UniqueFd();
      return engine_.OpenContent(digest, size, 0).fd;
    }
    bool MayHave(int64_t size) override {
      return clone_ && engine_.MayHaveContent(size);
    }

   private:
    Engine& engine_;
    bool clone_;
  };
  void StartSharing();
  // Project quotas (engine_quota.cc).
  Status StartQuotas();
  // The size limit snapshot `key` asks for (label, else the default; 0:
  // none); InvalidArgument for a bad label, FailedPrecondition where quotas
  // are off and a limit is asked for.
  Result<int64_t> SizeLimitOf(std::string_view key, Kind kind,
                              const Labels& labels) const;
  // 0 when id has no project ID (quotas off, or past the 32-bit range).
  uint32_t ProjectOf(uint64_t id) const;
  // Gives the skeleton Prepare built in `dir` (its writable directory and
  // overlay's work directory) snapshot id's project, with `limit`.
  Status TagProject(const std::string& dir, uint64_t id, int64_t limit);
  // Active snapshot id's usage from its project, when it has one.
  std::optional<Usage> QuotaUsageOf(uint64_t id);
  // Lifts removed snapshot id's limit (best effort).
  void ReleaseProject(uint64_t id);
  // Hardlink sharing into a tagged directory: stop it inheriting (it is
  // being committed), so a link from another project may land there.
  bool StopInheriting(int dir_fd);
  // Whether a stored file may have `size` bytes (the extractor's hint for
  // large files): sizes of at least kSizeHintMin, from the index at start
  // and from every apply since (a superset: removals are not subtracted).
  static constexpr int64_t kSizeHintMin = 64 << 10;
  bool MayHaveContent(int64_t size);
  void NoteContentSizes(const std::vector<DigestedFile>& files);
  // A committed file holding `digest` (not snapshot `except`'s), unchanged
  // since digested, open for reading; fd invalid when none.
  struct Holder {
    UniqueFd fd;
    uint64_t id = 0;
    FileIdentity identity;
  };
  Holder OpenContent(std::string_view digest, int64_t size, uint64_t except);
  // Hardlink sharing, at Commit (engine_content.cc): links snapshot `id`'s
  // digested files to equal committed ones; returns the index rows whose
  // inode's identity the links changed, for Commit's transaction.
  struct Relinked {
    uint64_t id;
    std::string digest;
    FileIdentity identity;
  };
  std::vector<Relinked> LinkEqualFiles(uint64_t id, std::string_view key);

  EngineOptions opts_;
  FsOps& fs_;
  Layout layout_;
  UniqueFd root_fd_;                      // for syncfs of the root's filesystem
  std::unique_ptr<SyncGroup> data_sync_;  // null: commit_sync off
  std::unique_ptr<MetaStore> store_;
  std::unique_ptr<Backend> backend_;
  RecoveryReport recovery_;
  std::atomic<uint64_t> trash_seq_{0};
  std::function<void(std::string_view)> crash_hook_;
  mutable std::mutex holds_mu_;
  std::map<uint64_t, int> applying_;         // GUARDED_BY(holds_mu_)
  std::set<uint64_t> changing_;              // GUARDED_BY(holds_mu_)
  std::map<uint64_t, std::string> damaged_;  // GUARDED_BY(holds_mu_): id -> key
  Status data_failed_;                       // GUARDED_BY(holds_mu_)
  std::atomic<uint64_t> io_errors_checked_{0};
  std::unique_ptr<IndexShare> share_;  // null: sharing off
  bool hardlinks_ = false;             // hardlink sharing (at Commit)
  // Whether snapshots/ can be idmapped (io/fs/idmap_probe.h), probed at
  // Open: ID-mapped snapshots are refused with the reason when not.
  Status idmap_support_;
  std::mutex sizes_mu_;
  std::unordered_set<int64_t> content_sizes_;  // GUARDED_BY(sizes_mu_)
  std::string sharing_reason_;
  std::atomic<int64_t> shared_files_{0};
  std::atomic<int64_t> shared_bytes_{0};
  std::atomic<int64_t> share_refused_{0};
  std::unique_ptr<ProjectQuota> quota_;  // null: quotas off
  std::string quota_reason_;
  std::atomic<int64_t> usage_from_quota_{0};
  std::atomic<int64_t> usage_walked_{0};
};

// Validation shared with the server: empty keys, keys over kMaxKeyBytes, and
// labels whose key plus value exceed containerd's 4096 bytes are
// InvalidArgument.
inline constexpr size_t kMaxKeyBytes = 64 * 1024;
inline constexpr size_t kMaxLabelBytes = 4096;
Status ValidateKey(std::string_view what, std::string_view key);
// InvalidArgument for a root path holding a character overlayfs mount
// options cannot carry (',' ':' '=' '\\', a newline), naming it.
Status CheckRootPath(const std::string& root);
Status ValidateLabels(std::string_view key, const Labels& labels);

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_ENGINE_ENGINE_H_
