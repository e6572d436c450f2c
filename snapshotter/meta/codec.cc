#include "snapshotter/meta/codec.h"

namespace strata {
namespace {

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void PutFixed64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(v >> (i * 8)));
}

void PutString(std::string& out, std::string_view s) {
  PutVarint(out, s.size());
  out.append(s);
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool Varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift <= 63; shift += 7) {
      if (in_.empty()) return false;
      uint8_t b = static_cast<uint8_t>(in_[0]);
      in_.remove_prefix(1);
      v |= uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  bool Fixed64(uint64_t& v) {
    if (in_.size() < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in_[i]);
    in_.remove_prefix(8);
    return true;
  }
  bool Byte(uint8_t& b) {
    if (in_.empty()) return false;
    b = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool String(std::string& s) {
    uint64_t n;
    if (!Varint(n) || n > in_.size()) return false;
    s.assign(in_.substr(0, n));
    in_.remove_prefix(n);
    return true;
  }
  bool empty() const { return in_.empty(); }

 private:
  std::string_view in_;
};

}  // namespace

std::string EncodeRecord(const SnapshotRecord& r) {
  std::string out;
  out.reserve(64 + r.key.size());
  out.push_back(static_cast<char>(kRecordVersion));
  out.push_back(static_cast<char>(r.kind));
  PutFixed64(out, r.parent_id);
  PutFixed64(out, static_cast<uint64_t>(r.created_ns));
  PutFixed64(out, static_cast<uint64_t>(r.updated_ns));
  PutFixed64(out, static_cast<uint64_t>(r.usage.size));
  PutFixed64(out, static_cast<uint64_t>(r.usage.inodes));
  PutString(out, r.key);
  PutVarint(out, r.labels.size());
  for (const auto& [k, v] : r.labels) {
    PutString(out, k);
    PutString(out, v);
  }
  return out;
}

Result<SnapshotRecord> DecodeRecord(uint64_t id, std::string_view data) {
  auto corrupt = [id](const char* what) {
    return DataLoss("snapshot record " + std::to_string(id) +
                    " is corrupt: " + what);
  };
  Reader in(data);
  SnapshotRecord r;
  r.id = id;
  uint8_t version, kind;
  if (!in.Byte(version)) return corrupt("empty");
  if (version != kRecordVersion) return corrupt("unknown version");
  if (!in.Byte(kind) || kind < 1 || kind > 3) return corrupt("bad kind");
  r.kind = static_cast<Kind>(kind);
  uint64_t created, updated, size, inodes, nlabels;
  if (!in.Fixed64(r.parent_id) || !in.Fixed64(created) ||
      !in.Fixed64(updated) || !in.Fixed64(size) || !in.Fixed64(inodes)) {
    return corrupt("truncated header");
  }
  r.created_ns = static_cast<int64_t>(created);
  r.updated_ns = static_cast<int64_t>(updated);
  r.usage.size = static_cast<int64_t>(size);
  r.usage.inodes = static_cast<int64_t>(inodes);
  if (!in.String(r.key)) return corrupt("truncated key");
  if (!in.Varint(nlabels)) return corrupt("truncated labels");
  for (uint64_t i = 0; i < nlabels; ++i) {
    std::string k, v;
    if (!in.String(k) || !in.String(v)) return corrupt("truncated label");
    r.labels.emplace(std::move(k), std::move(v));
  }
  if (!in.empty()) return corrupt("trailing bytes");
  return r;
}

std::string EncodeId(uint64_t id) {
  std::string out;
  PutFixed64(out, id);
  return out;
}

Result<uint64_t> DecodeId(std::string_view data) {
  Reader in(data);
  uint64_t id;
  if (data.size() != 8 || !in.Fixed64(id)) return DataLoss("bad id encoding");
  return id;
}

uint64_t KeyHash(std::string_view key) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : key) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace strata
