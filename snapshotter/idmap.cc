#include "snapshotter/idmap.h"

#include <algorithm>
#include <charconv>
#include <string>

namespace strata {
namespace {

constexpr uint64_t kIdLimit = uint64_t{1} << 32;

std::string Shown(std::string_view v) {
  return v.size() <= 64 ? std::string(v) : std::string(v.substr(0, 64)) + "...";
}

Result<uint32_t> Number(std::string_view label, std::string_view all,
                        std::string_view s) {
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() ||
      n >= kIdLimit - 1) {
    return InvalidArgument("label \"" + std::string(label) + "\": \"" +
                           Shown(all) +
                           "\": want <container>:<host>:<size>[,...] with "
                           "IDs below 4294967295");
  }
  return static_cast<uint32_t>(n);
}

bool Overlap(uint64_t a, uint64_t an, uint64_t b, uint64_t bn) {
  return a < b + bn && b < a + an;
}

Result<std::vector<IdRange>> Parse(std::string_view label,
                                   std::string_view value) {
  std::vector<IdRange> out;
  if (value.empty()) return out;
  size_t pos = 0;
  while (pos <= value.size()) {
    size_t comma = value.find(',', pos);
    std::string_view r = value.substr(pos, comma == std::string_view::npos
                                               ? std::string_view::npos
                                               : comma - pos);
    size_t c1 = r.find(':');
    size_t c2 = c1 == std::string_view::npos ? c1 : r.find(':', c1 + 1);
    if (c2 == std::string_view::npos) {
      return InvalidArgument("label \"" + std::string(label) + "\": \"" +
                             Shown(value) +
                             "\": want <container>:<host>:<size>[,...]");
    }
    IdRange m;
    STRATA_ASSIGN_OR_RETURN(m.container, Number(label, value, r.substr(0, c1)));
    STRATA_ASSIGN_OR_RETURN(
        m.host, Number(label, value, r.substr(c1 + 1, c2 - c1 - 1)));
    STRATA_ASSIGN_OR_RETURN(m.size, Number(label, value, r.substr(c2 + 1)));
    std::string what =
        "label \"" + std::string(label) + "\": range \"" + Shown(r) + "\"";
    if (m.size == 0) return InvalidArgument(what + " has size 0");
    if (uint64_t{m.container} + m.size > kIdLimit ||
        uint64_t{m.host} + m.size > kIdLimit) {
      return InvalidArgument(what + " runs past ID 4294967295");
    }
    for (const IdRange& o : out) {
      if (Overlap(o.container, o.size, m.container, m.size) ||
          Overlap(o.host, o.size, m.host, m.size)) {
        return InvalidArgument(what + " overlaps another range");
      }
    }
    out.push_back(m);
    if (out.size() > kMaxIdRanges) {
      return InvalidArgument("label \"" + std::string(label) +
                             "\": more than " + std::to_string(kMaxIdRanges) +
                             " ranges");
    }
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return out;
}

// The host ID of container ID 0 (1:1 without ranges).
Result<uint32_t> RootOf(std::string_view label,
                        const std::vector<IdRange>& ranges) {
  if (ranges.empty()) return 0u;
  for (const IdRange& r : ranges) {
    if (r.container == 0) return r.host;
  }
  return InvalidArgument("label \"" + std::string(label) +
                         "\": container root (ID 0) is not mapped");
}

}  // namespace

Result<SnapshotIdMap> IdMapFromLabels(const Labels& labels) {
  SnapshotIdMap m;
  if (auto it = labels.find(kUidMappingLabel); it != labels.end())
    m.uid_label = it->second;
  if (auto it = labels.find(kGidMappingLabel); it != labels.end())
    m.gid_label = it->second;
  if (!m.mapped()) return m;
  STRATA_ASSIGN_OR_RETURN(m.uids, Parse(kUidMappingLabel, m.uid_label));
  STRATA_ASSIGN_OR_RETURN(m.gids, Parse(kGidMappingLabel, m.gid_label));
  STRATA_ASSIGN_OR_RETURN(m.root_uid, RootOf(kUidMappingLabel, m.uids));
  STRATA_ASSIGN_OR_RETURN(m.root_gid, RootOf(kGidMappingLabel, m.gids));
  return m;
}

void AddIdMapOptions(const SnapshotIdMap& map, std::vector<Mount>* mounts) {
  if (!map.mapped()) return;
  std::vector<std::string> opts;
  if (!map.uid_label.empty()) opts.push_back("uidmap=" + map.uid_label);
  if (!map.gid_label.empty()) opts.push_back("gidmap=" + map.gid_label);
  for (Mount& m : *mounts)
    m.options.insert(m.options.begin(), opts.begin(), opts.end());
}

uint32_t HostToContainer(const std::vector<IdRange>& ranges, uint32_t host) {
  for (const IdRange& r : ranges) {
    if (host >= r.host && host - r.host < r.size)
      return r.container + (host - r.host);
  }
  return host;
}

OwnerMap ToContainerIds(const SnapshotIdMap& map) {
  return {[m = map.uids](uint32_t u) { return HostToContainer(m, u); },
          [m = map.gids](uint32_t g) { return HostToContainer(m, g); }};
}

}  // namespace strata
