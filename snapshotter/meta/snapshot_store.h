// Snapshot records inside a MetaStore transaction: containerd's
// snapshots/storage (bolt.go), over LMDB.
//
// Every function takes the caller's transaction, never opens one and never
// touches the filesystem. Records are keyed by id; the client's key lives in
// the record and in a hash index, so keys of any length work and only ids
// ever become paths (snapshotter/layout.h).
//
// Error classes follow bolt.go: a missing key is NotFound, an existing key or
// name AlreadyExists, an uncommitted parent InvalidArgument, committing a
// non-active or removing a parent FailedPrecondition. Messages name the key.
//
// Thread-safety: as safe as the transaction passed in (one thread per txn).
#ifndef STRATA_SNAPSHOTTER_META_SNAPSHOT_STORE_H_
#define STRATA_SNAPSHOTTER_META_SNAPSHOT_STORE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "io/base/result.h"
#include "snapshotter/meta/codec.h"
#include "snapshotter/meta/metastore.h"
#include "snapshotter/types.h"

namespace strata {

// `snapshot "<key>"`, with very long keys shortened, for error messages.
std::string SnapshotName(std::string_view key);

Result<SnapshotRecord> GetSnapshot(ReadTxn& txn, std::string_view key);
Result<SnapshotRecord> GetSnapshotById(ReadTxn& txn, uint64_t id);

// The snapshot's parent chain as ids, nearest parent first.
Result<std::vector<uint64_t>> ParentIds(ReadTxn& txn, const SnapshotRecord& r);

// Record -> containerd Info (resolves the parent's key).
Result<Info> ToInfo(ReadTxn& txn, const SnapshotRecord& r);

// Creates an active or view snapshot with a fresh id from the sequence.
// REQUIRES: kind is kActive or kView.
Result<SnapshotRecord> CreateSnapshot(WriteTxn& txn, Kind kind,
                                      std::string_view key,
                                      std::string_view parent,
                                      const Labels& labels, int64_t now_ns);

// Turns active snapshot `key` into committed snapshot `name`, keeping its id
// (and so its directory). Labels are replaced by `labels`.
//
// `parent` (containerd 2.x's Commit WithParent, the "rebase" capability, as
// bolt.go): empty or equal to the snapshot's parent changes nothing; a
// snapshot prepared without a parent gets `parent` (NotFound if it does not
// exist, FailedPrecondition unless committed) and is linked as its child;
// changing an existing parent is InvalidArgument. `*rebased` (if given) says
// whether the parent was set here; the caller decides whether its backend
// can present the rebased chain, inside the same transaction.
Result<SnapshotRecord> CommitActive(WriteTxn& txn, std::string_view key,
                                    std::string_view name, const Usage& usage,
                                    const Labels& labels, int64_t now_ns,
                                    std::string_view parent = {},
                                    bool* rebased = nullptr);

// Deletes the record of `key`; FailedPrecondition while it has children.
Result<SnapshotRecord> RemoveSnapshot(WriteTxn& txn, std::string_view key);

// Applies info's labels per fieldpaths ("labels", "labels.<k>"; empty means
// all labels). Empty label values delete the label.
Result<SnapshotRecord> UpdateInfo(WriteTxn& txn, const Info& info,
                                  const std::vector<std::string>& fieldpaths,
                                  int64_t now_ns);

// Calls fn for each record in id order until it returns false.
Status WalkSnapshots(ReadTxn& txn,
                     const std::function<bool(const SnapshotRecord&)>& fn);

// Small typed values in Table::kMeta (schema version, backend name).
Result<std::string> GetMetaValue(ReadTxn& txn,
                                 std::string_view name);  // "" if unset
Status PutMetaValue(WriteTxn& txn, std::string_view name,
                    std::string_view value);

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_META_SNAPSHOT_STORE_H_
