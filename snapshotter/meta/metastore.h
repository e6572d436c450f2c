// MetaStore: the LMDB environment under a Strata root, and the transaction
// boundary (containerd's storage.MetaStore).
//
// Update(fn) runs fn in one write transaction and commits iff fn returns OK;
// View(fn) runs fn in one read transaction. Store functions take the
// transaction explicitly, so "no transaction" is a compile error. LMDB types do
// not leave meta/: callers see ReadTxn/WriteTxn and byte-string tables.
//
// Group commit: LMDB admits one writer at a time and a durable commit costs
// two fdatasyncs, so Update calls that arrive while another group commits
// queue up and the next one commits them together (leveldb's writer queue):
// one LMDB write txn in which each caller's fn runs in its own nested txn, so
// a failing fn rolls back only its own changes, then one durable commit. Each
// Update returns only after the commit that holds its changes is durable (or
// failed), so callers keep "one transaction per operation" semantics. fn may
// run on another caller's thread (the group's leader); it must not call
// Update or View itself.
//
// Thread-safety: MetaStore is thread-safe. Readers never block. A transaction
// object must not outlive fn.
#ifndef STRATA_SNAPSHOTTER_META_METASTORE_H_
#define STRATA_SNAPSHOTTER_META_METASTORE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/base/result.h"
#include "io/base/status.h"

struct MDB_env;
struct MDB_txn;

namespace strata {
class LmdbTxn;
}

namespace strata {

// The named LMDB databases (BoltDB's buckets). FORMAT.md describes each.
enum class Table : int {
  kMeta = 0,       // string -> bytes: schema version, id sequence, backend
  kSnapshots = 1,  // id (u64 big-endian) -> record (codec.h)
  kKeyIndex = 2,   // hash64(key) (BE) -> ids (dupsort)
  kChildren = 3,   // parent id (BE) -> child ids (dupsort)
  kContent = 4,    // sha256 (32 B) + id (BE) -> size + path (content_index.h)
  kSnapshotContent = 5,  // id (BE) + sha256 -> size + path
};
inline constexpr int kTableCount = 6;

class ReadTxn {
 public:
  ReadTxn(const ReadTxn&) = delete;
  ReadTxn& operator=(const ReadTxn&) = delete;

  // Value of key in table, or nullopt. The view is valid until the txn ends.
  Result<std::optional<std::string_view>> Get(Table t, std::string_view key);

  // Calls fn(key, value) for each entry with the given key prefix in key order
  // (each duplicate of a dupsort key in value order) until fn returns false.
  Status Scan(
      Table t, std::string_view prefix,
      const std::function<bool(std::string_view, std::string_view)>& fn);

 protected:
  friend class MetaStore;
  ReadTxn(MDB_txn* txn, const unsigned* dbis) : txn_(txn), dbis_(dbis) {}
  MDB_txn* txn_;
  const unsigned* dbis_;
};

class WriteTxn : public ReadTxn {
 public:
  Status Put(Table t, std::string_view key, std::string_view value);
  // Deletes key (all duplicates), or only the (key, value) pair when value is
  // given. Returns NotFound when nothing matched.
  Status Delete(Table t, std::string_view key,
                std::optional<std::string_view> value = std::nullopt);

  // For id counters kept in the store: returns `candidate`, or a higher
  // number if this store already handed out `candidate` or more since it was
  // opened. A transaction that fails rolls its counter back, but its caller
  // may have named directories after the id it drew and still be removing
  // them; the id must not be drawn again meanwhile.
  uint64_t ClaimId(uint64_t candidate);

 private:
  friend class MetaStore;
  WriteTxn(MDB_txn* txn, const unsigned* dbis, uint64_t* id_floor)
      : ReadTxn(txn, dbis), id_floor_(id_floor) {}
  uint64_t* id_floor_;  // the store's, used only by the writing thread
};

struct MetaStoreOptions {
  // Address space reserved for the map; the file grows as data is written.
  size_t map_size = size_t{8} << 30;
  // Durable commits (fsync). Only tests turn this off.
  bool sync = true;
  // Most Update calls committed together (group commit); 1 turns grouping off.
  size_t max_group = 64;
};

class MetaStore {
 public:
  // Opens or creates the environment in directory dir (which must exist).
  static Result<std::unique_ptr<MetaStore>> Open(
      const std::string& dir, const MetaStoreOptions& opts = {});
  ~MetaStore();
  MetaStore(const MetaStore&) = delete;
  MetaStore& operator=(const MetaStore&) = delete;

  Status View(const std::function<Status(ReadTxn&)>& fn);
  // Runs fn in a write transaction and commits (durably unless !opts.sync) iff
  // fn returns OK; returns fn's error, or the commit's. Concurrent calls share
  // one commit (see above); fn's changes are atomic either way.
  Status Update(const std::function<Status(WriteTxn&)>& fn);

  // Bytes of the data file (for startup logs).
  int64_t FileSize() const;

  // Group commits since open, by how many Update calls each carried:
  // counts[i] groups of at most kGroupBuckets[i] (the last: any size).
  static constexpr size_t kGroupBuckets[] = {1, 2, 4, 8, 16, 32, 64, SIZE_MAX};
  struct GroupStats {
    uint64_t counts[std::size(kGroupBuckets)] = {};
    uint64_t groups = 0;
    uint64_t writers = 0;  // Update calls in them
  };
  GroupStats Groups() const;

  // Test seams: Update calls queued or running, and write txns committed
  // (one per group).
  size_t TEST_QueuedWriters() {
    std::lock_guard<std::mutex> lock(mu_);
    return writers_.size();
  }
  uint64_t TEST_Commits() const { return commits_.load(); }
  // The next `n` commits fail with errno `err` (their txn is aborted, as when
  // LMDB's write fails), after the group's functions ran.
  void TEST_FailCommits(int n, int err) {
    fail_errno_ = err;
    fail_commits_ = n;
  }

  // OK until a commit met an I/O error or LMDB declared the environment
  // unusable (MDB_PANIC): from then on every Update fails, and the process
  // should exit and be restarted once the filesystem is repaired.
  Status Health() const {
    std::lock_guard<std::mutex> lock(mu_);
    return failed_;
  }

 private:
  struct Writer;
  MetaStore(MDB_env* env, std::string dir, size_t max_group)
      : env_(env),
        dir_(std::move(dir)),
        max_group_(max_group < 1 ? 1 : max_group) {}
  // Runs every writer's fn in one write txn and commits it; sets each
  // writer's status. Called by the group's leader only.
  void CommitGroup(const std::vector<Writer*>& group);
  // Commits txn (it is ended either way), with the test seam and the
  // fatal-error check.
  int CommitTxn(LmdbTxn& txn);
  void NoteFatal(int rc);

  MDB_env* env_;
  std::string dir_;
  const size_t max_group_;
  unsigned dbis_[kTableCount] = {};
  uint64_t id_floor_ = 0;  // highest id claimed; only the writing thread
  mutable std::mutex mu_;
  std::deque<Writer*> writers_;  // GUARDED_BY(mu_); the front one leads
  Status failed_;                // GUARDED_BY(mu_)
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> group_counts_[std::size(kGroupBuckets)] = {};
  std::atomic<uint64_t> group_writers_{0};
  std::atomic<int> fail_commits_{0};
  std::atomic<int> fail_errno_{0};
};

// Maps an LMDB return code to a Status (MDB_NOTFOUND->NotFound,
// MDB_MAP_FULL->ResourceExhausted, MDB_CORRUPTED->DataLoss, errno values via
// PosixError, else Internal).
Status LmdbError(std::string_view context, int rc);

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_META_METASTORE_H_
