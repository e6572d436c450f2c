#include "snapshotter/meta/metastore.h"

#include <lmdb.h>
#include <sys/stat.h>

#include <string>

#include "io/base/errno.h"

namespace strata {
namespace {

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
};

}  // namespace

Status LmdbError(std::string_view context, int rc) {
  std::string m(context);
  m += ": ";
  m += mdb_strerror(rc);
  switch (rc) {
    case MDB_NOTFOUND: return NotFound(m);
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
    case MDB_READERS_FULL: return ResourceExhausted(m);
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH: return DataLoss(m);
    case MDB_BAD_VALSIZE: return InvalidArgument(m);
    default: break;
  }
  if (rc > 0) return PosixError(context, rc);
  return Internal(m);
}

Result<std::optional<std::string_view>> ReadTxn::Get(Table t, std::string_view key) {
  MDB_val k = Val(key), v;
  int rc = mdb_get(txn_, dbis_[static_cast<int>(t)], &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string_view>();
  if (rc != 0) return LmdbError("mdb_get", rc);
  return std::optional<std::string_view>(View(v));
}

Status ReadTxn::Scan(
    Table t, std::string_view prefix,
    const std::function<bool(std::string_view, std::string_view)>& fn) {
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn_, dbis_[static_cast<int>(t)], &cur);
  if (rc != 0) return LmdbError("mdb_cursor_open", rc);
  MDB_val k = Val(prefix), v;
  rc = prefix.empty() ? mdb_cursor_get(cur, &k, &v, MDB_FIRST)
                      : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  Status status;
  while (rc == 0) {
    std::string_view key = View(k);
    if (key.substr(0, prefix.size()) != prefix) break;
    if (!fn(key, View(v))) break;
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  if (rc != 0 && rc != MDB_NOTFOUND) status = LmdbError("mdb_cursor_get", rc);
  mdb_cursor_close(cur);
  return status;
}

Status WriteTxn::Put(Table t, std::string_view key, std::string_view value) {
  MDB_val k = Val(key), v = Val(value);
  unsigned flags = kTables[static_cast<int>(t)].flags & MDB_DUPSORT ? MDB_NODUPDATA : 0;
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

Result<std::unique_ptr<MetaStore>> MetaStore::Open(const std::string& dir,
                                                   const MetaStoreOptions& opts) {
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc != 0) return LmdbError("mdb_env_create", rc);
  std::unique_ptr<MetaStore> store(new MetaStore(env, dir));
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

  MDB_txn* txn = nullptr;
  if ((rc = mdb_txn_begin(env, nullptr, 0, &txn)) != 0) {
    return LmdbError("begin", rc);
  }
  for (int i = 0; i < kTableCount; ++i) {
    MDB_dbi dbi;
    rc = mdb_dbi_open(txn, kTables[i].name, MDB_CREATE | kTables[i].flags, &dbi);
    if (rc != 0) {
      mdb_txn_abort(txn);
      return LmdbError(std::string("open table ") + kTables[i].name, rc);
    }
    store->dbis_[i] = dbi;
  }
  if ((rc = mdb_txn_commit(txn)) != 0) return LmdbError("commit", rc);
  return store;
}

MetaStore::~MetaStore() { mdb_env_close(env_); }

Status MetaStore::View(const std::function<Status(ReadTxn&)>& fn) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
  if (rc != 0) return LmdbError("begin read transaction", rc);
  ReadTxn t(txn, dbis_);
  Status status = fn(t);
  mdb_txn_abort(txn);
  return status;
}

Status MetaStore::Update(const std::function<Status(WriteTxn&)>& fn) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc != 0) return LmdbError("begin write transaction", rc);
  WriteTxn t(txn, dbis_);
  Status status = fn(t);
  if (!status.ok()) {
    mdb_txn_abort(txn);
    return status;
  }
  rc = mdb_txn_commit(txn);
  if (rc != 0) return LmdbError("commit", rc);
  return Status::Ok();
}

int64_t MetaStore::FileSize() const {
  struct stat st;
  if (stat((dir_ + "/data.mdb").c_str(), &st) != 0) return 0;
  return st.st_size;
}

}  // namespace strata
