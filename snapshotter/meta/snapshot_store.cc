#include "snapshotter/meta/snapshot_store.h"

#include <utility>

namespace strata {

// containerd's boltutil.WriteLabels: an empty value means "no such label",
// in every operation that writes labels.
static void DropEmptyLabels(Labels& labels) {
  std::erase_if(labels, [](const auto& kv) { return kv.second.empty(); });
}
namespace {

constexpr std::string_view kNextIdKey = "next_id";

std::string HashKey(std::string_view key) { return EncodeId(KeyHash(key)); }

// Finds the id stored for key; 0 when absent.
Result<uint64_t> LookupId(ReadTxn& txn, std::string_view key) {
  uint64_t found = 0;
  Status inner;
  STRATA_RETURN_IF_ERROR(
      txn.Scan(Table::kKeyIndex, HashKey(key),
               [&](std::string_view, std::string_view v) {
                 auto id = DecodeId(v);
                 if (!id.ok()) {
                   inner = id.status();
                   return false;
                 }
                 auto data = txn.Get(Table::kSnapshots, EncodeId(*id));
                 if (!data.ok()) {
                   inner = data.status();
                   return false;
                 }
                 if (!data->has_value()) {
                   inner = DataLoss("key index names missing snapshot id " +
                                    std::to_string(*id));
                   return false;
                 }
                 auto rec = DecodeRecord(*id, **data);
                 if (!rec.ok()) {
                   inner = rec.status();
                   return false;
                 }
                 if (rec->key == key) {
                   found = *id;
                   return false;
                 }
                 return true;  // hash collision: keep looking
               }));
  STRATA_RETURN_IF_ERROR(inner);
  return found;
}

Status PutRecord(WriteTxn& txn, const SnapshotRecord& r) {
  return txn.Put(Table::kSnapshots, EncodeId(r.id), EncodeRecord(r));
}

Result<uint64_t> NextId(WriteTxn& txn) {
  STRATA_ASSIGN_OR_RETURN(auto cur, txn.Get(Table::kMeta, kNextIdKey));
  uint64_t id = 1;
  if (cur.has_value()) {
    STRATA_ASSIGN_OR_RETURN(id, DecodeId(*cur));
  }
  id = txn.ClaimId(id);  // never an id a failed transaction drew
  STRATA_RETURN_IF_ERROR(txn.Put(Table::kMeta, kNextIdKey, EncodeId(id + 1)));
  return id;
}

}  // namespace

std::string SnapshotName(std::string_view key) {
  constexpr size_t kMax = 200;
  std::string s = "snapshot \"";
  if (key.size() > kMax) {
    s.append(key.substr(0, kMax));
    s += "...(" + std::to_string(key.size()) + " bytes)";
  } else {
    s.append(key);
  }
  s += "\"";
  return s;
}

Result<SnapshotRecord> GetSnapshotById(ReadTxn& txn, uint64_t id) {
  STRATA_ASSIGN_OR_RETURN(auto data, txn.Get(Table::kSnapshots, EncodeId(id)));
  if (!data.has_value()) {
    return NotFound("snapshot id " + std::to_string(id) + ": not found");
  }
  return DecodeRecord(id, *data);
}

Result<SnapshotRecord> GetSnapshot(ReadTxn& txn, std::string_view key) {
  STRATA_ASSIGN_OR_RETURN(uint64_t id, LookupId(txn, key));
  if (id == 0) return NotFound(SnapshotName(key) + ": not found");
  return GetSnapshotById(txn, id);
}

Result<std::vector<uint64_t>> ParentIds(ReadTxn& txn, const SnapshotRecord& r) {
  std::vector<uint64_t> ids;
  uint64_t next = r.parent_id;
  while (next != 0) {
    if (ids.size() > (1u << 20)) return DataLoss("parent chain loops");
    ids.push_back(next);
    auto parent = GetSnapshotById(txn, next);
    if (!parent.ok()) {
      return DataLoss(SnapshotName(r.key) + ": parent id " +
                      std::to_string(next) +
                      " unreadable: " + parent.status().message());
    }
    next = parent->parent_id;
  }
  return ids;
}

Result<Info> ToInfo(ReadTxn& txn, const SnapshotRecord& r) {
  Info info;
  info.name = r.key;
  info.kind = r.kind;
  info.created_ns = r.created_ns;
  info.updated_ns = r.updated_ns;
  info.labels = r.labels;
  if (r.parent_id != 0) {
    auto parent = GetSnapshotById(txn, r.parent_id);
    if (!parent.ok()) {
      return DataLoss(SnapshotName(r.key) +
                      ": parent unreadable: " + parent.status().message());
    }
    info.parent = std::move(parent->key);
  }
  return info;
}

Result<SnapshotRecord> CreateSnapshot(WriteTxn& txn, Kind kind,
                                      std::string_view key,
                                      std::string_view parent,
                                      const Labels& labels, int64_t now_ns) {
  if (kind != Kind::kActive && kind != Kind::kView) {
    return InvalidArgument(SnapshotName(key) +
                           ": only active or view snapshots can be created");
  }
  SnapshotRecord r;
  if (!parent.empty()) {
    auto p = GetSnapshot(txn, parent);
    if (!p.ok()) {
      if (p.status().code() == Code::kNotFound) {
        return NotFound(SnapshotName(key) + ": parent " + SnapshotName(parent) +
                        " does not exist");
      }
      return p.status();
    }
    if (p->kind != Kind::kCommitted) {
      return InvalidArgument(SnapshotName(key) + ": parent " +
                             SnapshotName(parent) +
                             " is not a committed snapshot");
    }
    r.parent_id = p->id;
  }
  STRATA_ASSIGN_OR_RETURN(uint64_t existing, LookupId(txn, key));
  if (existing != 0)
    return AlreadyExists(SnapshotName(key) + ": already exists");

  STRATA_ASSIGN_OR_RETURN(r.id, NextId(txn));
  r.kind = kind;
  r.key = std::string(key);
  r.created_ns = r.updated_ns = now_ns;
  r.labels = labels;
  DropEmptyLabels(r.labels);
  STRATA_RETURN_IF_ERROR(PutRecord(txn, r));
  STRATA_RETURN_IF_ERROR(
      txn.Put(Table::kKeyIndex, HashKey(key), EncodeId(r.id)));
  if (r.parent_id != 0) {
    STRATA_RETURN_IF_ERROR(
        txn.Put(Table::kChildren, EncodeId(r.parent_id), EncodeId(r.id)));
  }
  return r;
}

Result<SnapshotRecord> CommitActive(WriteTxn& txn, std::string_view key,
                                    std::string_view name, const Usage& usage,
                                    const Labels& labels, int64_t now_ns,
                                    std::string_view parent, bool* rebased) {
  if (rebased != nullptr) *rebased = false;
  // Name first, as bolt.go does: containerd's unpacker reads AlreadyExists here
  // as "this layer is already committed".
  STRATA_ASSIGN_OR_RETURN(uint64_t existing, LookupId(txn, name));
  if (existing != 0) {
    return AlreadyExists("committed " + SnapshotName(name) +
                         ": already exists");
  }
  STRATA_ASSIGN_OR_RETURN(SnapshotRecord r, GetSnapshot(txn, key));
  if (r.kind != Kind::kActive) {
    return FailedPrecondition(SnapshotName(key) + " is not active (it is " +
                              std::string(KindName(r.kind)) + ")");
  }
  uint64_t new_parent = 0;
  if (!parent.empty()) {
    auto p = GetSnapshot(txn, parent);
    if (!p.ok()) {
      if (p.status().code() == Code::kNotFound) {
        return NotFound("commit " + SnapshotName(key) + " onto parent " +
                        SnapshotName(parent) + ": parent does not exist");
      }
      return p.status();
    }
    if (r.parent_id != 0 && r.parent_id != p->id) {
      return InvalidArgument(
          "cannot change the parent of active " + SnapshotName(key) +
          " on commit (it was prepared with another parent than " +
          SnapshotName(parent) + ")");
    }
    if (r.parent_id == 0) {
      if (p->kind != Kind::kCommitted) {
        return FailedPrecondition("commit " + SnapshotName(key) +
                                  " onto parent " + SnapshotName(parent) +
                                  ": parent is not committed (it is " +
                                  std::string(KindName(p->kind)) + ")");
      }
      new_parent = p->id;
    }
  }
  STRATA_RETURN_IF_ERROR(
      txn.Delete(Table::kKeyIndex, HashKey(key), EncodeId(r.id)));
  r.key = std::string(name);
  r.kind = Kind::kCommitted;
  r.usage = usage;
  r.labels = labels;
  DropEmptyLabels(r.labels);
  r.created_ns = r.updated_ns = now_ns;
  if (new_parent != 0) {
    r.parent_id = new_parent;
    STRATA_RETURN_IF_ERROR(
        txn.Put(Table::kChildren, EncodeId(r.parent_id), EncodeId(r.id)));
    if (rebased != nullptr) *rebased = true;
  }
  STRATA_RETURN_IF_ERROR(PutRecord(txn, r));
  STRATA_RETURN_IF_ERROR(
      txn.Put(Table::kKeyIndex, HashKey(name), EncodeId(r.id)));
  return r;
}

Result<SnapshotRecord> RemoveSnapshot(WriteTxn& txn, std::string_view key) {
  STRATA_ASSIGN_OR_RETURN(SnapshotRecord r, GetSnapshot(txn, key));
  bool has_children = false;
  STRATA_RETURN_IF_ERROR(txn.Scan(Table::kChildren, EncodeId(r.id),
                                  [&](std::string_view, std::string_view) {
                                    has_children = true;
                                    return false;
                                  }));
  if (has_children) {
    return FailedPrecondition("cannot remove " + SnapshotName(key) +
                              ": it has children");
  }
  if (r.parent_id != 0) {
    Status s =
        txn.Delete(Table::kChildren, EncodeId(r.parent_id), EncodeId(r.id));
    if (!s.ok() && s.code() != Code::kNotFound) return s;
  }
  STRATA_RETURN_IF_ERROR(
      txn.Delete(Table::kKeyIndex, HashKey(key), EncodeId(r.id)));
  STRATA_RETURN_IF_ERROR(txn.Delete(Table::kSnapshots, EncodeId(r.id)));
  return r;
}

Result<SnapshotRecord> UpdateInfo(WriteTxn& txn, const Info& info,
                                  const std::vector<std::string>& fieldpaths,
                                  int64_t now_ns) {
  STRATA_ASSIGN_OR_RETURN(SnapshotRecord r, GetSnapshot(txn, info.name));
  if (fieldpaths.empty()) {
    r.labels = info.labels;
  } else {
    for (const std::string& path : fieldpaths) {
      constexpr std::string_view kPrefix = "labels.";
      if (path.compare(0, kPrefix.size(), kPrefix) == 0) {
        std::string label = path.substr(kPrefix.size());
        auto it = info.labels.find(label);
        r.labels[label] = it == info.labels.end() ? std::string() : it->second;
      } else if (path == "labels") {
        r.labels = info.labels;
      } else {
        return InvalidArgument("cannot update \"" + path + "\" field on " +
                               SnapshotName(info.name));
      }
    }
  }
  DropEmptyLabels(r.labels);
  r.updated_ns = now_ns;
  STRATA_RETURN_IF_ERROR(PutRecord(txn, r));
  return r;
}

Status WalkSnapshots(ReadTxn& txn,
                     const std::function<bool(const SnapshotRecord&)>& fn) {
  Status inner;
  STRATA_RETURN_IF_ERROR(txn.Scan(Table::kSnapshots, "",
                                  [&](std::string_view k, std::string_view v) {
                                    auto id = DecodeId(k);
                                    if (!id.ok()) {
                                      inner = id.status();
                                      return false;
                                    }
                                    auto rec = DecodeRecord(*id, v);
                                    if (!rec.ok()) {
                                      inner = rec.status();
                                      return false;
                                    }
                                    return fn(*rec);
                                  }));
  return inner;
}

Result<std::string> GetMetaValue(ReadTxn& txn, std::string_view name) {
  STRATA_ASSIGN_OR_RETURN(auto v, txn.Get(Table::kMeta, name));
  return v.has_value() ? std::string(*v) : std::string();
}

Status PutMetaValue(WriteTxn& txn, std::string_view name,
                    std::string_view value) {
  return txn.Put(Table::kMeta, name, value);
}

}  // namespace strata
