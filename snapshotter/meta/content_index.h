// The content index: which committed snapshot holds a regular file with a
// given content, so a layer applied later can share that file's extents
// instead of storing the bytes again (README "Storage efficiency").
//
// Two tables, written only inside the transactions that change the
// snapshots they describe, so they can never disagree with the records:
//   snapshot_content: id + sha256 -> size + path   every snapshot's digested
//                                                  files (an active one's from
//                                                  the layers applied to it)
//   content:          sha256 + id -> size          committed snapshots only
// A digest's reference count is its number of `content` rows: the committed
// snapshots holding that content. Commit publishes a snapshot's rows, Remove
// drops them, recovery drops rows of ids without a record.
//
// A row also carries the file's identity when its writer digested it
// (inode number, generation, ctime): a holder is proposed only while its
// inode is still exactly that one (engine_content.cc), so a stale row is
// skipped, never trusted.
//
// Thread-safety: functions of a transaction (metastore.h).
#ifndef STRATA_SNAPSHOTTER_META_CONTENT_INDEX_H_
#define STRATA_SNAPSHOTTER_META_CONTENT_INDEX_H_

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "io/base/result.h"
#include "io/fs/fs_util.h"
#include "snapshotter/meta/metastore.h"

namespace strata {

inline constexpr size_t kContentDigestBytes = 32;  // raw SHA-256

// One digested regular file of a snapshot (digest: kContentDigestBytes raw
// bytes; path: clean, inside the snapshot's tree).
using ContentFile = DigestedFile;

// Records files applied to snapshot `id` (any kind). A digest already
// recorded for `id` keeps its first path. InvalidArgument for a digest of the
// wrong length.
Status AddSnapshotContent(WriteTxn& txn, uint64_t id,
                          const std::vector<ContentFile>& files);

// Makes snapshot `id`'s recorded files findable (at its Commit).
Status PublishContent(WriteTxn& txn, uint64_t id);

// Forgets snapshot `id`'s files, published or not (at its Remove).
Status DropContent(WriteTxn& txn, uint64_t id);

// Calls fn for each committed snapshot holding `digest`, in id order, until
// it returns false.
Status FindContent(
    ReadTxn& txn, std::string_view digest,
    const std::function<bool(uint64_t id, const ContentFile&)>& fn);

// Snapshot `id`'s recorded files (published or not), in digest order.
Result<std::vector<ContentFile>> SnapshotContent(ReadTxn& txn, uint64_t id);

// Rewrites the identity kept for snapshot `id`'s file of `digest` (after the
// engine itself changed that inode's ctime, by linking it); nothing if `id`
// has no such row.
Status SetContentIdentity(WriteTxn& txn, uint64_t id, std::string_view digest,
                          const FileIdentity& identity);

// The distinct sizes of published contents of at least min_size bytes.
Result<std::vector<int64_t>> ContentSizes(ReadTxn& txn, int64_t min_size);

struct ContentCounts {
  int64_t digests = 0;       // distinct published contents
  int64_t holders = 0;       // published rows (sum of reference counts)
  int64_t shared_bytes = 0;  // bytes of every holder beyond each first
  int64_t pending = 0;       // rows of snapshots not committed yet
};
Result<ContentCounts> CountContent(ReadTxn& txn);

// Drops rows of ids not in `live` (a root written by a build without the
// index, or damage); returns how many went.
Result<int64_t> PruneContent(WriteTxn& txn, const std::set<uint64_t>& live);

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_META_CONTENT_INDEX_H_
