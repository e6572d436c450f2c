#include "proto/support/mounts.h"

namespace strata {

std::vector<Mount> MountsFromProto(const ProtoMounts& in) {
  std::vector<Mount> out;
  out.reserve(in.size());
  for (const auto& m : in) {
    out.push_back(
        {m.type(), m.source(), {m.options().begin(), m.options().end()}});
  }
  return out;
}

void MountsToProto(const std::vector<Mount>& in, ProtoMounts* out) {
  for (const Mount& m : in) {
    containerd::types::Mount* pm = out->Add();
    pm->set_type(m.type);
    pm->set_source(m.source);
    for (const std::string& o : m.options) pm->add_options(o);
  }
}

}  // namespace strata
