#include "snapshotter/cli/status.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "snapshotter/cli/cli_util.h"
#include "strata/services/status/v1/status.grpc.pb.h"

namespace strata {
namespace {

namespace spb = strata::services::status::v1;

std::string Duration(int64_t s) {
  char buf[48];
  std::snprintf(
      buf, sizeof(buf), "%lldd %02lld:%02lld:%02lld",
      static_cast<long long>(s / 86400), static_cast<long long>(s / 3600 % 24),
      static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return buf;
}

}  // namespace

int RunStatus(const std::shared_ptr<grpc::Channel>& channel,
              const std::vector<std::string>& args) {
  bool json = false;
  for (const std::string& a : args) {
    if (a == "--json") {
      json = true;
    } else {
      std::fprintf(stderr,
                   "strata status: unknown argument \"%s\" (usage: strata "
                   "status [--json])\n",
                   a.c_str());
      return 2;
    }
  }
  auto stub = spb::Status::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  spb::GetStatusResponse r;
  grpc::Status s = stub->Get(&ctx, spb::GetStatusRequest(), &r);
  if (!s.ok()) {
    std::fprintf(stderr, "strata status: code %d: %s\n", s.error_code(),
                 s.error_message().c_str());
    return 1;
  }
  if (json) return PrintJson(r) ? 0 : 1;
  const spb::DiffStats& d = r.diff();
  std::printf("root:       %s\n", r.root().c_str());
  std::printf("backend:    %s\n", r.backend().c_str());
  std::printf("pid:        %lld, up %s\n", static_cast<long long>(r.pid()),
              Duration(r.uptime_seconds()).c_str());
  std::printf(
      "snapshots:  %lld committed, %lld active, %lld views; metadata %s\n",
      static_cast<long long>(r.committed()), static_cast<long long>(r.active()),
      static_cast<long long>(r.views()),
      HumanBytes(r.metadata_bytes()).c_str());
  std::printf(
      "durability: commit sync %s, %llu data syncs\n",
      r.durability().commit_sync() ? "on" : "OFF (power cut may lose commits)",
      static_cast<unsigned long long>(r.durability().data_syncs()));
  const spb::Sharing& sh = r.sharing();
  std::printf("sharing:    %s\n", sh.state().c_str());
  if (sh.enabled()) {
    std::printf(
        "  since start: %lld files share extents (%s), %lld proposals "
        "refused; index: %lld contents, %lld holders, %lld pending\n",
        static_cast<long long>(sh.shared_files()),
        HumanBytes(sh.shared_bytes()).c_str(),
        static_cast<long long>(sh.refused()),
        static_cast<long long>(sh.digests()),
        static_cast<long long>(sh.holders()),
        static_cast<long long>(sh.pending()));
  }
  const spb::Quotas& q = r.quotas();
  std::printf("quotas:     %s\n", q.state().c_str());
  if (q.enabled()) {
    std::printf(
        "  default max size %s; since start: usage from quota %lld, walked "
        "%lld\n",
        q.default_max_size() > 0 ? HumanBytes(q.default_max_size()).c_str()
                                 : "none",
        static_cast<long long>(q.usage_from_quota()),
        static_cast<long long>(q.usage_walked()));
  }
  const spb::UserNamespaces& u = r.userns();
  if (!u.remap_ids()) {
    std::printf(
        "userns:     remap-ids off (mapped snapshots get plain mounts)\n");
  } else {
    std::printf("userns:     remap-ids on; idmapped mounts %s\n",
                u.idmap_ok() ? "work here"
                             : ("do not work: " + u.idmap_error()).c_str());
  }
  const spb::Recovery& rec = r.recovery();
  std::printf(
      "recovery:   %lld staging, %lld orphans, %lld trash removed; %lld "
      "removals undone, %lld dirs rebuilt, %lld quarantined; %lld owner "
      "shifts finished, %lld undone\n",
      static_cast<long long>(rec.staging_removed()),
      static_cast<long long>(rec.orphans_removed()),
      static_cast<long long>(rec.trash_removed()),
      static_cast<long long>(rec.trash_restored()),
      static_cast<long long>(rec.dirs_rebuilt()),
      static_cast<long long>(rec.quarantined()),
      static_cast<long long>(rec.shifts_finished()),
      static_cast<long long>(rec.shifts_undone()));
  for (const std::string& key : rec.damaged()) {
    std::string shown = key.size() > 200 ? key.substr(0, 200) + "..." : key;
    std::printf(
        "  DAMAGED:  \"%s\" (committed, its directory was lost; remove it)\n",
        shown.c_str());
  }
  if (!d.enabled()) {
    std::printf("differ:     off (no containerd address)\n");
    return 0;
  }
  std::printf("differ:     on, content from %s (%s%s)\n",
              d.containerd_address().c_str(),
              d.content_reachable() ? "reachable" : "NOT reachable: ",
              d.content_reachable()
                  ? ""
                  : (d.content_error().size() > 300
                         ? d.content_error().substr(0, 300) + "..."
                         : d.content_error())
                        .c_str());
  std::printf("  applied:  %llu layers (%s compressed, %s uncompressed)\n",
              static_cast<unsigned long long>(d.applied()),
              HumanBytes(d.blob_bytes()).c_str(),
              HumanBytes(d.tar_bytes()).c_str());
  std::printf("  declined: %llu (containerd used its next differ)\n",
              static_cast<unsigned long long>(d.declined()));
  std::printf("  failed:   %llu\n",
              static_cast<unsigned long long>(d.failed()));
  std::printf(
      "  compared: %llu layers written (%s), %llu declined, "
      "%llu failed\n",
      static_cast<unsigned long long>(d.compared()),
      HumanBytes(d.compare_bytes()).c_str(),
      static_cast<unsigned long long>(d.compare_declined()),
      static_cast<unsigned long long>(d.compare_failed()));
  return 0;
}

}  // namespace strata
