#include "snapshotter/meta/metastore.h"

#include <lmdb.h>
#include <sys/stat.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <string>
#include <utility>
#include <vector>

#include "io/base/errno.h"

namespace strata {

// Owns an LMDB transaction: aborted on destruction unless committed, so no
// early return leaves one open (a leaked write txn blocks every writer).
class LmdbTxn {
 public:
  LmdbTxn() = default;
  LmdbTxn(const LmdbTxn&) = delete;
  LmdbTxn& operator=(const LmdbTxn&) = delete;
  ~LmdbTxn() { Abort(); }

  // mdb_txn_begin; parent may be null.
  int Begin(MDB_env* env, MDB_txn* parent, unsigned flags) {
    Abort();
    return mdb_txn_begin(env, parent, flags, &txn_);
  }
  MDB_txn* get() const { return txn_; }
  int Commit() { return mdb_txn_commit(std::exchange(txn_, nullptr)); }
  void Abort() {
    if (txn_ != nullptr) mdb_txn_abort(std::exchange(txn_, nullptr));
  }

 private:
  MDB_txn* txn_ = nullptr;
};

namespace {

// Owns an LMDB cursor.
class LmdbCursor {
 public:
  explicit LmdbCursor(MDB_cursor* c) : c_(c) {}
  LmdbCursor(const LmdbCursor&) = delete;
  LmdbCursor& operator=(const LmdbCursor&) = delete;
  ~LmdbCursor() { mdb_cursor_close(c_); }
  MDB_cursor* get() const { return c_; }

 private:
  MDB_cursor* c_;
};

MDB_val Val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
std::string_view View(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

struct TableSpec {
  const char* name;
  unsigned flags;
};
constexpr TableSpec kTables[kTableCount] = {
    {"meta", 0},
    {"snapshots", 0},
    {"key_index", MDB_DUPSORT | MDB_DUPFIXED},
    {"children", MDB_DUPSORT | MDB_DUPFIXED},
    {"content", 0},
    {"snapshot_content", 0},
};

}  // namespace

Status LmdbError(std::string_view context, int rc) {
  std::string m(context);
  m += ": ";
  m += mdb_strerror(rc);
  switch (rc) {
    case MDB_NOTFOUND:
      return NotFound(m);
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
    case MDB_READERS_FULL:
      return ResourceExhausted(m);
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
      return DataLoss(m);
    case MDB_BAD_VALSIZE:
      return InvalidArgument(m);
    default:
      break;
  }
  if (rc > 0) return PosixError(context, rc);
  return Internal(m);
}

Result<std::optional<std::string_view>> ReadTxn::Get(Table t,
                                                     std::string_view key) {
  MDB_val k = Val(key), v;
  int rc = mdb_get(txn_, dbis_[static_cast<int>(t)], &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string_view>();
  if (rc != 0) return LmdbError("mdb_get", rc);
  return std::optional<std::string_view>(View(v));
}

Status ReadTxn::Scan(
    Table t, std::string_view prefix,
    const std::function<bool(std::string_view, std::string_view)>& fn) {
  MDB_cursor* raw = nullptr;
  int rc = mdb_cursor_open(txn_, dbis_[static_cast<int>(t)], &raw);
  if (rc != 0) return LmdbError("mdb_cursor_open", rc);
  LmdbCursor cur(raw);
  MDB_val k = Val(prefix), v;
  rc = prefix.empty() ? mdb_cursor_get(cur.get(), &k, &v, MDB_FIRST)
                      : mdb_cursor_get(cur.get(), &k, &v, MDB_SET_RANGE);
  while (rc == 0) {
    std::string_view key = View(k);
    if (key.substr(0, prefix.size()) != prefix) break;
    if (!fn(key, View(v))) break;
    rc = mdb_cursor_get(cur.get(), &k, &v, MDB_NEXT);
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError("mdb_cursor_get", rc);
  return Status::Ok();
}

uint64_t WriteTxn::ClaimId(uint64_t candidate) {
  uint64_t id = std::max(candidate, *id_floor_ + 1);
  *id_floor_ = id;
  return id;
}

Status WriteTxn::Put(Table t, std::string_view key, std::string_view value) {
  MDB_val k = Val(key), v = Val(value);
  unsigned flags =
      kTables[static_cast<int>(t)].flags & MDB_DUPSORT ? MDB_NODUPDATA : 0;
  int rc = mdb_put(txn_, dbis_[static_cast<int>(t)], &k, &v, flags);
  if (rc == MDB_KEYEXIST) return Status::Ok();  // dupsort pair already there
  if (rc != 0) return LmdbError("mdb_put", rc);
  return Status::Ok();
}

Status WriteTxn::Delete(Table t, std::string_view key,
                        std::optional<std::string_view> value) {
  MDB_val k = Val(key), v;
  if (value) v = Val(*value);
  int rc = mdb_del(txn_, dbis_[static_cast<int>(t)], &k, value ? &v : nullptr);
  if (rc != 0) return LmdbError("mdb_del", rc);
  return Status::Ok();
}

Result<std::unique_ptr<MetaStore>> MetaStore::Open(
    const std::string& dir, const MetaStoreOptions& opts) {
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc != 0) return LmdbError("mdb_env_create", rc);
  std::unique_ptr<MetaStore> store(new MetaStore(env, dir, opts.max_group));
  if ((rc = mdb_env_set_maxdbs(env, kTableCount)) != 0 ||
      (rc = mdb_env_set_mapsize(env, opts.map_size)) != 0 ||
      (rc = mdb_env_set_maxreaders(env, 1024)) != 0) {
    return LmdbError("configure metadata store", rc);
  }
  // MDB_NOTLS: read transactions are not tied to threads (gRPC pools them).
  unsigned flags = MDB_NOTLS;
  if (!opts.sync) flags |= MDB_NOSYNC;
  rc = mdb_env_open(env, dir.c_str(), flags, 0600);
  if (rc != 0) return LmdbError("open metadata store in " + dir, rc);
  int dead = 0;
  mdb_reader_check(env, &dead);  // drop reader slots of crashed processes

  LmdbTxn txn;
  if ((rc = txn.Begin(env, nullptr, 0)) != 0) return LmdbError("begin", rc);
  for (int i = 0; i < kTableCount; ++i) {
    MDB_dbi dbi;
    rc = mdb_dbi_open(txn.get(), kTables[i].name, MDB_CREATE | kTables[i].flags,
                      &dbi);
    if (rc != 0)
      return LmdbError(std::string("open table ") + kTables[i].name, rc);
    store->dbis_[i] = dbi;
  }
  if ((rc = txn.Commit()) != 0) return LmdbError("commit", rc);
  return store;
}

MetaStore::~MetaStore() { mdb_env_close(env_); }

Status MetaStore::View(const std::function<Status(ReadTxn&)>& fn) {
  LmdbTxn txn;
  int rc = txn.Begin(env_, nullptr, MDB_RDONLY);
  if (rc != 0) return LmdbError("begin read transaction", rc);
  ReadTxn t(txn.get(), dbis_);
  return fn(t);
}

// One queued Update call. Lives on its caller's stack until done.
struct MetaStore::Writer {
  explicit Writer(const std::function<Status(WriteTxn&)>* f) : fn(f) {}
  const std::function<Status(WriteTxn&)>* fn;
  Status status;
  bool done = false;  // GUARDED_BY(mu_)
  std::condition_variable cv;
};

Status MetaStore::Update(const std::function<Status(WriteTxn&)>& fn) {
  Writer w(&fn);
  std::unique_lock<std::mutex> lock(mu_);
  if (!failed_.ok()) return failed_;
  writers_.push_back(&w);
  while (!w.done && &w != writers_.front()) w.cv.wait(lock);
  if (w.done) return std::move(w.status);
  // Leader: everyone queued behind us so far joins this commit.
  std::vector<Writer*> group;
  for (Writer* x : writers_) {
    if (group.size() == max_group_) break;
    group.push_back(x);
  }
  lock.unlock();
  CommitGroup(group);
  for (size_t i = 0; i < std::size(kGroupBuckets); ++i) {
    if (group.size() <= kGroupBuckets[i]) {
      group_counts_[i]++;
      break;
    }
  }
  group_writers_ += group.size();
  lock.lock();
  for (Writer* x : group) {
    assert(writers_.front() == x);
    writers_.pop_front();
    if (x != &w) {
      x->done = true;
      x->cv.notify_one();  // under mu_: x cannot return (and free cv) before
    }
  }
  if (!writers_.empty()) writers_.front()->cv.notify_one();  // the next leader
  return std::move(w.status);
}

int MetaStore::CommitTxn(LmdbTxn& txn) {
  int n = fail_commits_.load();
  while (n > 0 && !fail_commits_.compare_exchange_weak(n, n - 1)) {
  }
  if (n > 0) {
    txn.Abort();
    return fail_errno_.load();
  }
  int rc = txn.Commit();
  if (rc == EIO || rc == MDB_PANIC) NoteFatal(rc);
  return rc;
}

void MetaStore::NoteFatal(int rc) {
  Status s = Unavailable("metadata store in " + dir_ + " failed (" +
                         std::string(mdb_strerror(rc)) +
                         "): the filesystem under the root is failing; "
                         "restart once it is repaired");
  std::lock_guard<std::mutex> lock(mu_);
  if (failed_.ok()) failed_ = s;
}

void MetaStore::CommitGroup(const std::vector<Writer*>& group) {
  LmdbTxn txn;
  int rc = txn.Begin(env_, nullptr, 0);
  if (rc == MDB_PANIC) NoteFatal(rc);
  if (rc != 0) {
    Status s = LmdbError("begin write transaction", rc);
    for (Writer* x : group) x->status = s;
    return;
  }
  if (group.size() == 1) {
    // Alone: no nested txn needed, fn's error aborts the whole txn.
    WriteTxn t(txn.get(), dbis_, &id_floor_);
    Writer* x = group[0];
    x->status = (*x->fn)(t);
    if (!x->status.ok()) return;  // txn aborts
    rc = CommitTxn(txn);
    if (rc != 0) x->status = LmdbError("commit", rc);
    commits_++;
    return;
  }
  // Each member in a nested txn: a failing fn aborts only its child, and the
  // members after it see exactly what a serial order would have shown them.
  bool any = false;
  for (Writer* x : group) {
    LmdbTxn child;
    rc = child.Begin(env_, txn.get(), 0);
    if (rc != 0) {
      x->status = LmdbError("begin nested write transaction", rc);
      continue;
    }
    WriteTxn t(child.get(), dbis_, &id_floor_);
    x->status = (*x->fn)(t);
    if (!x->status.ok()) continue;  // child aborts
    rc = child.Commit();            // into txn: no I/O
    if (rc != 0) {
      // The parent may hold part of the child now: give up on the whole group
      // (every member sees the error and undoes its own filesystem steps).
      Status s = LmdbError("commit nested write transaction", rc);
      for (Writer* y : group) y->status = s;
      return;  // txn aborts
    }
    any = true;
  }
  if (!any) return;  // txn aborts
  rc = CommitTxn(txn);
  commits_++;
  if (rc != 0) {
    Status s = LmdbError("commit", rc);
    for (Writer* x : group) {
      if (x->status.ok()) x->status = s;
    }
  }
}

int64_t MetaStore::FileSize() const {
  struct stat st;
  if (stat((dir_ + "/data.mdb").c_str(), &st) != 0) return 0;
  return st.st_size;
}

MetaStore::GroupStats MetaStore::Groups() const {
  GroupStats g;
  for (size_t i = 0; i < std::size(kGroupBuckets); ++i) {
    g.counts[i] = group_counts_[i].load();
    g.groups += g.counts[i];
  }
  g.writers = group_writers_.load();
  return g;
}

}  // namespace strata
