#include "snapshotter/cli/cli_util.h"

#include <google/protobuf/util/json_util.h>

#include <cstdio>

#include "snapshotter/types.h"

namespace strata {

namespace pb = containerd::services::snapshots::v1;

// Strata's Kind has containerd's values (types.h).
static_assert(static_cast<int>(Kind::kView) == pb::VIEW &&
              static_cast<int>(Kind::kActive) == pb::ACTIVE &&
              static_cast<int>(Kind::kCommitted) == pb::COMMITTED);

std::string_view WireKindName(pb::Kind k) {
  return KindName(static_cast<Kind>(k));
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

bool PrintJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  opts.always_print_primitive_fields = true;
  opts.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(m, &out, opts).ok())
    return false;
  std::printf("%s\n", out.c_str());
  return true;
}

}  // namespace strata
