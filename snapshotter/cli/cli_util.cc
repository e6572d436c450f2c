#include "snapshotter/cli/cli_util.h"

#include <cstdio>

namespace strata {

namespace pb = containerd::services::snapshots::v1;

const char* KindName(pb::Kind k) {
  switch (k) {
    case pb::ACTIVE:
      return "active";
    case pb::VIEW:
      return "view";
    case pb::COMMITTED:
      return "committed";
    default:
      return "unknown";
  }
}

std::string HumanBytes(uint64_t n) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", v, kUnits[u]);
  return buf;
}

}  // namespace strata
