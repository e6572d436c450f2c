#include "snapshotter/meta/content_index.h"

#include <utility>

#include "snapshotter/meta/codec.h"

namespace strata {
namespace {

// A row's value: size, inode number, inode generation, ctime (ns), each u64
// big-endian, then the path, then (if any) a NUL and the file handle. Paths
// hold no NUL, so a row without a handle reads the same.
constexpr size_t kFixedBytes = 32;
std::string Value(const ContentFile& f) {
  std::string v = EncodeId(static_cast<uint64_t>(f.id.size)) +
                  EncodeId(f.id.ino) + EncodeId(f.id.generation) +
                  EncodeId(static_cast<uint64_t>(f.id.ctime_ns)) + f.path;
  if (!f.handle.empty()) v += '\0' + f.handle;
  return v;
}

// A row's value back into a file; false for a damaged row (skipped).
bool Decode(std::string_view digest, std::string_view value, ContentFile* f) {
  if (value.size() < kFixedBytes) return false;
  auto size = DecodeId(value.substr(0, 8));
  auto ino = DecodeId(value.substr(8, 8));
  auto gen = DecodeId(value.substr(16, 8));
  auto ctime = DecodeId(value.substr(24, 8));
  if (!size.ok() || !ino.ok() || !gen.ok() || !ctime.ok()) return false;
  f->digest = std::string(digest);
  f->id.size = static_cast<int64_t>(*size);
  f->id.ino = *ino;
  f->id.generation = *gen;
  f->id.ctime_ns = static_cast<int64_t>(*ctime);
  std::string_view rest = value.substr(kFixedBytes);
  size_t nul = rest.find('\0');
  f->path = std::string(rest.substr(0, nul));
  f->handle =
      nul == std::string_view::npos ? "" : std::string(rest.substr(nul + 1));
  return true;
}

// snapshot_content rows of `id`: (digest, value).
Result<std::vector<std::pair<std::string, std::string>>> RowsOf(ReadTxn& txn,
                                                                uint64_t id) {
  std::vector<std::pair<std::string, std::string>> rows;
  STRATA_RETURN_IF_ERROR(txn.Scan(Table::kSnapshotContent, EncodeId(id),
                                  [&](std::string_view k, std::string_view v) {
                                    rows.emplace_back(std::string(k.substr(8)),
                                                      std::string(v));
                                    return true;
                                  }));
  return rows;
}

}  // namespace

Status AddSnapshotContent(WriteTxn& txn, uint64_t id,
                          const std::vector<ContentFile>& files) {
  const std::string prefix = EncodeId(id);
  for (const ContentFile& f : files) {
    if (f.digest.size() != kContentDigestBytes) {
      return InvalidArgument("content digest of " +
                             std::to_string(f.digest.size()) + " bytes");
    }
    std::string key = prefix + f.digest;
    STRATA_ASSIGN_OR_RETURN(auto have, txn.Get(Table::kSnapshotContent, key));
    if (have) continue;
    STRATA_RETURN_IF_ERROR(txn.Put(Table::kSnapshotContent, key, Value(f)));
  }
  return Status::Ok();
}

Status PublishContent(WriteTxn& txn, uint64_t id) {
  STRATA_ASSIGN_OR_RETURN(auto rows, RowsOf(txn, id));
  const std::string sid = EncodeId(id);
  for (const auto& [digest, value] : rows) {
    // The size only: path and identity stay in snapshot_content.
    STRATA_RETURN_IF_ERROR(
        txn.Put(Table::kContent, digest + sid, value.substr(0, 8)));
  }
  return Status::Ok();
}

Status DropContent(WriteTxn& txn, uint64_t id) {
  STRATA_ASSIGN_OR_RETURN(auto rows, RowsOf(txn, id));
  const std::string sid = EncodeId(id);
  for (const auto& [digest, value] : rows) {
    Status s = txn.Delete(Table::kContent, digest + sid);
    if (!s.ok() && s.code() != Code::kNotFound) return s;
    STRATA_RETURN_IF_ERROR(txn.Delete(Table::kSnapshotContent, sid + digest));
  }
  return Status::Ok();
}

Status FindContent(
    ReadTxn& txn, std::string_view digest,
    const std::function<bool(uint64_t id, const ContentFile&)>& fn) {
  if (digest.size() != kContentDigestBytes) return Status::Ok();
  // Reads inside the scan (LMDB allows gets beside an open read cursor), so
  // a popular digest costs only the holders fn looks at.
  Status get;
  STRATA_RETURN_IF_ERROR(txn.Scan(
      Table::kContent, digest, [&](std::string_view k, std::string_view) {
        auto id = DecodeId(k.substr(kContentDigestBytes));
        if (!id.ok()) return true;
        auto row = txn.Get(Table::kSnapshotContent,
                           EncodeId(*id) + std::string(digest));
        if (!row.ok()) {
          get = row.status();
          return false;
        }
        ContentFile f;
        if (!*row || !Decode(digest, **row, &f)) return true;
        return fn(*id, f);
      }));
  return get;
}

Result<std::vector<ContentFile>> SnapshotContent(ReadTxn& txn, uint64_t id) {
  STRATA_ASSIGN_OR_RETURN(auto rows, RowsOf(txn, id));
  std::vector<ContentFile> files;
  for (const auto& [digest, value] : rows) {
    ContentFile f;
    if (Decode(digest, value, &f)) files.push_back(std::move(f));
  }
  return files;
}

Status SetContentIdentity(WriteTxn& txn, uint64_t id, std::string_view digest,
                          const FileIdentity& identity) {
  const std::string key = EncodeId(id) + std::string(digest);
  STRATA_ASSIGN_OR_RETURN(auto row, txn.Get(Table::kSnapshotContent, key));
  ContentFile f;
  if (!row || !Decode(digest, *row, &f)) return Status::Ok();
  f.id = identity;
  return txn.Put(Table::kSnapshotContent, key, Value(f));
}

Result<std::vector<int64_t>> ContentSizes(ReadTxn& txn, int64_t min_size) {
  std::set<int64_t> sizes;
  STRATA_RETURN_IF_ERROR(
      txn.Scan(Table::kContent, "", [&](std::string_view, std::string_view v) {
        if (v.size() != 8) return true;
        auto size = DecodeId(v);
        if (size.ok() && static_cast<int64_t>(*size) >= min_size)
          sizes.insert(static_cast<int64_t>(*size));
        return true;
      }));
  return std::vector<int64_t>(sizes.begin(), sizes.end());
}

Result<ContentCounts> CountContent(ReadTxn& txn) {
  ContentCounts c;
  std::string last;
  STRATA_RETURN_IF_ERROR(txn.Scan(
      Table::kContent, "", [&](std::string_view k, std::string_view v) {
        if (k.size() != kContentDigestBytes + 8) return true;
        std::string_view digest = k.substr(0, kContentDigestBytes);
        c.holders++;
        if (digest != last) {
          c.digests++;
          last = std::string(digest);
        } else if (v.size() == 8) {
          auto size = DecodeId(v);
          if (size.ok()) c.shared_bytes += static_cast<int64_t>(*size);
        }
        return true;
      }));
  int64_t rows = 0;
  STRATA_RETURN_IF_ERROR(txn.Scan(Table::kSnapshotContent, "",
                                  [&](std::string_view, std::string_view) {
                                    rows++;
                                    return true;
                                  }));
  c.pending = rows - c.holders;
  return c;
}

Result<int64_t> PruneContent(WriteTxn& txn, const std::set<uint64_t>& live) {
  std::vector<std::string> doomed_rows, doomed_index;
  STRATA_RETURN_IF_ERROR(txn.Scan(
      Table::kSnapshotContent, "", [&](std::string_view k, std::string_view) {
        auto id = DecodeId(k.substr(0, 8));
        if (k.size() != 8 + kContentDigestBytes || !id.ok() || !live.count(*id))
          doomed_rows.emplace_back(k);
        return true;
      }));
  STRATA_RETURN_IF_ERROR(
      txn.Scan(Table::kContent, "", [&](std::string_view k, std::string_view) {
        auto id = k.size() == kContentDigestBytes + 8
                      ? DecodeId(k.substr(kContentDigestBytes))
                      : Result<uint64_t>(DataLoss("bad content key"));
        if (!id.ok() || !live.count(*id)) doomed_index.emplace_back(k);
        return true;
      }));
  for (const std::string& k : doomed_rows)
    STRATA_RETURN_IF_ERROR(txn.Delete(Table::kSnapshotContent, k));
  for (const std::string& k : doomed_index)
    STRATA_RETURN_IF_ERROR(txn.Delete(Table::kContent, k));
  return static_cast<int64_t>(doomed_rows.size() + doomed_index.size());
}

}  // namespace strata
