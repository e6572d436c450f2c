// Binary encoding of snapshot records and big-endian ids (see FORMAT.md).
//
// Decoding checks every length against the input and fails with DataLoss, so
// a damaged record is reported, never read past its end.
//
// Thread-safety: pure functions.
#ifndef STRATA_SNAPSHOTTER_META_CODEC_H_
#define STRATA_SNAPSHOTTER_META_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "io/base/result.h"
#include "snapshotter/types.h"

namespace strata {

// One snapshot as stored in Table::kSnapshots, keyed by id.
struct SnapshotRecord {
  uint64_t id = 0;
  Kind kind = Kind::kUnknown;
  uint64_t parent_id = 0;  // 0: no parent
  std::string key;
  int64_t created_ns = 0;
  int64_t updated_ns = 0;
  Usage usage;  // committed snapshots: measured at Commit
  Labels labels;
};

inline constexpr uint8_t kRecordVersion = 1;

std::string EncodeRecord(const SnapshotRecord& r);
// REQUIRES: id is the key the record was stored under.
Result<SnapshotRecord> DecodeRecord(uint64_t id, std::string_view data);

// 8-byte big-endian, so LMDB's byte order is numeric order.
std::string EncodeId(uint64_t id);
Result<uint64_t> DecodeId(std::string_view data);

// Stable 64-bit FNV-1a of a client key: the key index's LMDB key (client keys
// may be longer than LMDB's 511-byte key limit).
uint64_t KeyHash(std::string_view key);

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_META_CODEC_H_
