#include "snapshotter/server/metrics.h"

#include <dirent.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "snapshotter/engine/engine.h"
#include "snapshotter/server/diff_service.h"

namespace strata {
namespace {

// grpc::StatusCode names, as Prometheus exporters of gRPC servers label them.
constexpr const char* kCodeNames[] = {"OK",
                                      "Canceled",
                                      "Unknown",
                                      "InvalidArgument",
                                      "DeadlineExceeded",
                                      "NotFound",
                                      "AlreadyExists",
                                      "PermissionDenied",
                                      "ResourceExhausted",
                                      "FailedPrecondition",
                                      "Aborted",
                                      "OutOfRange",
                                      "Unimplemented",
                                      "Internal",
                                      "Unavailable",
                                      "DataLoss",
                                      "Unauthenticated"};

const auto kStartTime = std::chrono::system_clock::now();

std::string FormatValue(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<int64_t>(v));
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

// Label values escape backslash, double quote and newline.
void AppendEscaped(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

// /proc/self/stat fields 14, 15 (utime, stime) and 20 (threads), after the
// command name's closing parenthesis.
struct ProcStat {
  double cpu_seconds = 0;
  int64_t threads = 0;
};
ProcStat ReadProcStat() {
  ProcStat ps;
  std::ifstream f("/proc/self/stat");
  std::string line;
  if (!std::getline(f, line)) return ps;
  size_t close = line.rfind(')');
  if (close == std::string::npos) return ps;
  std::istringstream in(line.substr(close + 2));
  std::string field;
  uint64_t utime = 0, stime = 0;
  // Field 3 is the first after ')'.
  for (int i = 3; i <= 20 && in >> field; ++i) {
    if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 20) ps.threads = std::strtoll(field.c_str(), nullptr, 10);
  }
  ps.cpu_seconds = static_cast<double>(utime + stime) /
                   static_cast<double>(sysconf(_SC_CLK_TCK));
  return ps;
}

int64_t ResidentBytes() {
  std::ifstream f("/proc/self/statm");
  int64_t size = 0, resident = 0;
  if (!(f >> size >> resident)) return 0;
  return resident * sysconf(_SC_PAGESIZE);
}

int64_t OpenFds() {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return 0;
  int64_t n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') n++;
  }
  closedir(d);
  return n - 1;  // the directory stream's own descriptor
}

class RpcInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcInterceptor(RpcMetrics& metrics, const char* method)
      : metrics_(metrics),
        method_(method != nullptr ? method : ""),
        start_(std::chrono::steady_clock::now()) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* m) override {
    using Hook = grpc::experimental::InterceptionHookPoints;
    if (m->QueryInterceptionHookPoint(Hook::PRE_SEND_STATUS)) {
      metrics_.Observe(method_,
                       static_cast<int>(m->GetSendStatus().error_code()),
                       std::chrono::duration<double>(
                           std::chrono::steady_clock::now() - start_)
                           .count());
    }
    m->Proceed();
  }

 private:
  RpcMetrics& metrics_;
  std::string_view method_;  // gRPC's, alive for the call
  std::chrono::steady_clock::time_point start_;
};

class RpcInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcInterceptorFactory(RpcMetrics& metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcInterceptor(metrics_, info->method());
  }

 private:
  RpcMetrics& metrics_;
};

}  // namespace

std::vector<double> LatencyBounds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i] = 0;
}

void Histogram::Observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Counts Histogram::Read() const {
  Counts c;
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    c.cumulative.push_back(cumulative);
  }
  c.count = cumulative;
  c.sum = sum_.load(std::memory_order_relaxed);
  return c;
}

void MetricsText::Family(std::string_view name, std::string_view type,
                         std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += help;
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void MetricsText::Sample(std::string_view name, const MetricLabels& labels,
                         double value) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out_ += ',';
      out_ += labels[i].first;
      out_ += "=\"";
      AppendEscaped(out_, labels[i].second);
      out_ += '"';
    }
    out_ += '}';
  }
  out_ += ' ';
  out_ += FormatValue(value);
  out_ += '\n';
}

void MetricsText::HistogramSamples(std::string_view name,
                                   const MetricLabels& labels,
                                   const std::vector<double>& bounds,
                                   const Histogram::Counts& counts) {
  const std::string bucket = std::string(name) + "_bucket";
  for (size_t i = 0; i <= bounds.size(); ++i) {
    MetricLabels l = labels;
    l.emplace_back("le", i < bounds.size() ? FormatValue(bounds[i]) : "+Inf");
    Sample(bucket, l, static_cast<double>(counts.cumulative[i]));
  }
  Sample(std::string(name) + "_sum", labels, counts.sum);
  Sample(std::string(name) + "_count", labels,
         static_cast<double>(counts.count));
}

RpcMetrics::Method& RpcMetrics::Find(std::string_view full_method) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = methods_.find(full_method);
  if (it != methods_.end()) return *it->second;
  std::string key(full_method);
  if (methods_.size() >= kMaxMethods) key = "other";
  auto& slot = methods_[key];
  if (!slot) slot = std::make_unique<Method>();
  return *slot;
}

void RpcMetrics::Observe(std::string_view full_method, int code,
                         double seconds) {
  Method& m = Find(full_method);
  m.by_code[code >= 0 && code < kCodes ? code : 2]++;  // 2: Unknown
  m.latency.Observe(seconds);
}

void RpcMetrics::Render(MetricsText& out) const {
  // "/pkg.Service/Method" as (service, method).
  auto split = [](const std::string& full) {
    size_t slash = full.rfind('/');
    if (slash == std::string::npos || slash == 0)
      return std::make_pair(std::string(), full);
    return std::make_pair(full.substr(1, slash - 1), full.substr(slash + 1));
  };
  std::lock_guard<std::mutex> l(mu_);
  out.Family("strata_grpc_requests_total", "counter",
             "RPCs answered, by service, method and gRPC code.");
  for (const auto& [full, m] : methods_) {
    auto [service, method] = split(full);
    for (int c = 0; c < kCodes; ++c) {
      uint64_t n = m->by_code[c].load();
      if (n == 0) continue;
      out.Sample(
          "strata_grpc_requests_total",
          {{"service", service}, {"method", method}, {"code", kCodeNames[c]}},
          static_cast<double>(n));
    }
  }
  out.Family("strata_grpc_request_duration_seconds", "histogram",
             "Time from an RPC's arrival to its status, by method.");
  for (const auto& [full, m] : methods_) {
    auto [service, method] = split(full);
    out.HistogramSamples("strata_grpc_request_duration_seconds",
                         {{"service", service}, {"method", method}},
                         m->latency.bounds(), m->latency.Read());
  }
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RpcMetrics::InterceptorFactory() {
  return std::make_unique<RpcInterceptorFactory>(*this);
}

std::string CollectMetrics(Engine& engine, const RpcMetrics& rpcs,
                           const DiffService* diff) {
  MetricsText out;
  rpcs.Render(out);

  auto counts = engine.Counts();
  if (counts.ok()) {
    out.Family("strata_snapshots", "gauge", "Snapshots stored, by kind.");
    out.Sample("strata_snapshots", {{"kind", "active"}},
               static_cast<double>(counts->active));
    out.Sample("strata_snapshots", {{"kind", "committed"}},
               static_cast<double>(counts->committed));
    out.Sample("strata_snapshots", {{"kind", "view"}},
               static_cast<double>(counts->views));
  }
  out.Family("strata_metadata_bytes", "gauge",
             "Size of the metadata store's data file.");
  out.Sample("strata_metadata_bytes", {},
             static_cast<double>(engine.MetadataBytes()));
  GroupCommitStats g = engine.GroupCommits();
  out.Family("strata_metadata_commit_group_size", "histogram",
             "Operations per durable metadata commit (group commit).");
  Histogram::Counts gc;
  std::vector<double> bounds;
  for (size_t i = 0; i < g.buckets.size(); ++i) {
    if (i + 1 < g.buckets.size())
      bounds.push_back(static_cast<double>(g.buckets[i].first));
    gc.cumulative.push_back(g.buckets[i].second);
  }
  gc.count = g.groups;
  gc.sum = static_cast<double>(g.writers);
  out.HistogramSamples("strata_metadata_commit_group_size", {}, bounds, gc);
  out.Family("strata_commit_data_syncs_total", "counter",
             "syncfs calls Commit made to make layers durable.");
  out.Sample("strata_commit_data_syncs_total", {},
             static_cast<double>(engine.DataSyncs()));

  if (diff != nullptr) {
    out.Family("strata_applies_total", "counter",
               "Layers containerd's Apply asked for, by result (declined: "
               "containerd used its next differ).");
    out.Sample("strata_applies_total", {{"result", "applied"}},
               static_cast<double>(diff->applied()));
    out.Sample("strata_applies_total", {{"result", "declined"}},
               static_cast<double>(diff->declined()));
    out.Sample("strata_applies_total", {{"result", "failed"}},
               static_cast<double>(diff->failed()));
    out.Family("strata_applies_declined_total", "counter",
               "Declined Applies, by the step that declined them.");
    for (size_t i = 0; i < DiffService::kSteps; ++i) {
      out.Sample("strata_applies_declined_total",
                 {{"reason", DiffService::kDeclineSteps[i]}},
                 static_cast<double>(diff->declined_at(i)));
    }
    out.Family("strata_applies_failed_total", "counter",
               "Failed Applies, by gRPC code.");
    for (int c = 0; c < 17; ++c) {
      if (uint64_t n = diff->failed_with(c); n > 0) {
        out.Sample("strata_applies_failed_total", {{"code", kCodeNames[c]}},
                   static_cast<double>(n));
      }
    }
    out.Family("strata_apply_compressed_bytes_total", "counter",
               "Bytes of the layer blobs applied, as stored.");
    out.Sample("strata_apply_compressed_bytes_total", {},
               static_cast<double>(diff->blob_bytes()));
    out.Family("strata_apply_uncompressed_bytes_total", "counter",
               "Bytes of the tar streams applied.");
    out.Sample("strata_apply_uncompressed_bytes_total", {},
               static_cast<double>(diff->tar_bytes()));
    out.Family("strata_apply_duration_seconds", "histogram",
               "Time to apply a layer, from the call to the answer.");
    out.HistogramSamples("strata_apply_duration_seconds", {},
                         diff->apply_seconds().bounds(),
                         diff->apply_seconds().Read());
    out.Family("strata_compares_total", "counter",
               "Diff (Compare) calls, by result.");
    out.Sample("strata_compares_total", {{"result", "written"}},
               static_cast<double>(diff->compared()));
    out.Sample("strata_compares_total", {{"result", "declined"}},
               static_cast<double>(diff->compare_declined()));
    out.Sample("strata_compares_total", {{"result", "failed"}},
               static_cast<double>(diff->compare_failed()));
  }

  SharingInfo sh = engine.Sharing();
  out.Family("strata_shared_files_total", "counter",
             "Applied files that share a stored file's extents or inode.");
  out.Sample("strata_shared_files_total", {},
             static_cast<double>(sh.shared_files));
  out.Family("strata_shared_bytes_total", "counter",
             "Bytes of those files: what sharing did not store again.");
  out.Sample("strata_shared_bytes_total", {},
             static_cast<double>(sh.shared_bytes));
  out.Family("strata_content_index_digests", "gauge",
             "Distinct contents in the content-sharing index.");
  out.Sample("strata_content_index_digests", {},
             static_cast<double>(sh.digests));

  QuotaInfo q = engine.Quotas();
  out.Family("strata_quotas_enabled", "gauge",
             "1 when active snapshots get project quotas.");
  out.Sample("strata_quotas_enabled", {}, q.enabled ? 1 : 0);
  out.Family("strata_usage_answers_total", "counter",
             "Usage of active snapshots, by how it was measured.");
  out.Sample("strata_usage_answers_total", {{"source", "quota"}},
             static_cast<double>(q.usage_from_quota));
  out.Sample("strata_usage_answers_total", {{"source", "walk"}},
             static_cast<double>(q.usage_walked));

  struct statvfs sv;
  if (statvfs(engine.layout().root().c_str(), &sv) == 0) {
    const double block = static_cast<double>(sv.f_frsize);
    out.Family("strata_root_filesystem_bytes", "gauge",
               "The root's filesystem: size, used and available bytes.");
    out.Sample("strata_root_filesystem_bytes", {{"state", "size"}},
               block * static_cast<double>(sv.f_blocks));
    out.Sample("strata_root_filesystem_bytes", {{"state", "used"}},
               block * static_cast<double>(sv.f_blocks - sv.f_bfree));
    out.Sample("strata_root_filesystem_bytes", {{"state", "available"}},
               block * static_cast<double>(sv.f_bavail));
  }

  const RecoveryReport& rec = engine.recovery();
  out.Family("strata_recovery_repairs", "gauge",
             "What recovery repaired at this start, by kind.");
  const std::pair<const char*, int64_t> repairs[] = {
      {"staging_removed", rec.staging_removed},
      {"orphans_removed", rec.orphans_removed},
      {"trash_removed", rec.trash_removed},
      {"trash_restored", rec.trash_restored},
      {"dirs_rebuilt", rec.dirs_rebuilt},
      {"missing_dirs", rec.missing_dirs},
      {"quarantined", rec.quarantined},
      {"shifts_finished", rec.shifts_finished},
      {"shifts_undone", rec.shifts_undone},
      {"content_pruned", rec.content_pruned}};
  for (const auto& [kind, n] : repairs) {
    out.Sample("strata_recovery_repairs", {{"kind", kind}},
               static_cast<double>(n));
  }

  ProcStat ps = ReadProcStat();
  out.Family("process_cpu_seconds_total", "counter",
             "User and system CPU time the daemon spent.");
  out.Sample("process_cpu_seconds_total", {}, ps.cpu_seconds);
  out.Family("process_resident_memory_bytes", "gauge",
             "Resident memory of the daemon.");
  out.Sample("process_resident_memory_bytes", {},
             static_cast<double>(ResidentBytes()));
  out.Family("process_open_fds", "gauge", "Open file descriptors.");
  out.Sample("process_open_fds", {}, static_cast<double>(OpenFds()));
  out.Family("process_threads", "gauge", "Threads of the daemon.");
  out.Sample("process_threads", {}, static_cast<double>(ps.threads));
  out.Family("process_start_time_seconds", "gauge",
             "Start of the daemon, in seconds since the Unix epoch.");
  out.Sample(
      "process_start_time_seconds", {},
      std::chrono::duration<double>(kStartTime.time_since_epoch()).count());
  return out.Take();
}

}  // namespace strata
