// MetaStore: the LMDB environment under a Strata root, and the transaction
// boundary (containerd's storage.MetaStore).
//
// Update(fn) runs fn in one write transaction and commits iff fn returns OK;
// View(fn) runs fn in one read transaction. Store functions take the
// transaction explicitly, so "no transaction" is a compile error. LMDB types do
// not leave meta/: callers see ReadTxn/WriteTxn and byte-string tables.
//
// Thread-safety: MetaStore is thread-safe. LMDB admits one writer at a time
// (Update calls serialise); readers never block. A transaction object must stay
// on the thread that runs fn and must not outlive fn.
#ifndef STRATA_SNAPSHOTTER_META_METASTORE_H_
#define STRATA_SNAPSHOTTER_META_METASTORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "io/base/result.h"
#include "io/base/status.h"

struct MDB_env;
struct MDB_txn;

namespace strata {

// The named LMDB databases (BoltDB's buckets). FORMAT.md describes each.
enum class Table : int {
  kMeta = 0,       // string -> bytes: schema version, id sequence, backend
  kSnapshots = 1,  // id (u64 big-endian) -> record (codec.h)
  kKeyIndex = 2,   // hash64(key) (BE) -> ids (dupsort)
  kChildren = 3,   // parent id (BE) -> child ids (dupsort)
};
inline constexpr int kTableCount = 4;

class ReadTxn {
 public:
  ReadTxn(const ReadTxn&) = delete;
  ReadTxn& operator=(const ReadTxn&) = delete;

  // Value of key in table, or nullopt. The view is valid until the txn ends.
  Result<std::optional<std::string_view>> Get(Table t, std::string_view key);

  // Calls fn(key, value) for each entry with the given key prefix in key order
  // (each duplicate of a dupsort key in value order) until fn returns false.
  Status Scan(Table t, std::string_view prefix,
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

 private:
  friend class MetaStore;
  using ReadTxn::ReadTxn;
};

struct MetaStoreOptions {
  // Address space reserved for the map; the file grows as data is written.
  size_t map_size = size_t{8} << 30;
  // Durable commits (fsync). Only tests turn this off.
  bool sync = true;
};

class MetaStore {
 public:
  // Opens or creates the environment in directory dir (which must exist).
  static Result<std::unique_ptr<MetaStore>> Open(const std::string& dir,
                                                 const MetaStoreOptions& opts = {});
  ~MetaStore();
  MetaStore(const MetaStore&) = delete;
  MetaStore& operator=(const MetaStore&) = delete;

  Status View(const std::function<Status(ReadTxn&)>& fn);
  Status Update(const std::function<Status(WriteTxn&)>& fn);

  // Bytes of the data file (for startup logs).
  int64_t FileSize() const;

 private:
  MetaStore(MDB_env* env, std::string dir) : env_(env), dir_(std::move(dir)) {}
  MDB_env* env_;
  std::string dir_;
  unsigned dbis_[kTableCount] = {};
};

// Maps an LMDB return code to a Status (MDB_NOTFOUND->NotFound,
// MDB_MAP_FULL->ResourceExhausted, MDB_CORRUPTED->DataLoss, errno values via
// PosixError, else Internal).
Status LmdbError(std::string_view context, int rc);

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_META_METASTORE_H_
