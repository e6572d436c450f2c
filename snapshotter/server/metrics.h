// Metrics in Prometheus' text exposition format (version 0.0.4), for the
// daemon's metrics_address (daemon/metrics_http.h serves them).
//
// Names follow Prometheus' conventions: the strata_ prefix, base units
// (seconds, bytes), _total for counters; the process_ family is the one
// every Prometheus client library exports. Every label value comes from a
// fixed set (gRPC method names the server registered, codes, reasons):
// nothing a client sends can grow the number of series.
//
// Thread-safety: Histogram and RpcMetrics are thread-safe (atomics; the
// method table takes a lock only to add a method); MetricsText belongs to
// one thread.
#ifndef STRATA_SNAPSHOTTER_SERVER_METRICS_H_
#define STRATA_SNAPSHOTTER_SERVER_METRICS_H_

#include <grpcpp/support/server_interceptor.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strata {

class Engine;
class DiffService;

// Cumulative buckets with fixed upper bounds.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  struct Counts {
    std::vector<uint64_t> cumulative;  // per bound, then +Inf
    uint64_t count = 0;
    double sum = 0;
  };
  Counts Read() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
};

// Latency bounds in seconds for RPCs and applies: 100 µs to 10 s.
std::vector<double> LatencyBounds();

using MetricLabels = std::vector<std::pair<std::string_view, std::string>>;

// Builds the exposition: each family once, its samples after it.
class MetricsText {
 public:
  void Family(std::string_view name, std::string_view type,
              std::string_view help);
  void Sample(std::string_view name, const MetricLabels& labels, double value);
  void HistogramSamples(std::string_view name, const MetricLabels& labels,
                        const std::vector<double>& bounds,
                        const Histogram::Counts& counts);
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

// Requests by method and gRPC code, and their latencies, as a server
// interceptor sees them (every service on the daemon's socket).
class RpcMetrics {
 public:
  RpcMetrics() = default;
  RpcMetrics(const RpcMetrics&) = delete;
  RpcMetrics& operator=(const RpcMetrics&) = delete;

  // `full_method`: "/package.Service/Method".
  void Observe(std::string_view full_method, int code, double seconds);
  void Render(MetricsText& out) const;
  // For ServerBuilder::experimental().SetInterceptorCreators.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  InterceptorFactory();

  // Methods kept apart; calls to any beyond are counted as method "other".
  static constexpr size_t kMaxMethods = 64;

 private:
  static constexpr int kCodes = 17;  // grpc::StatusCode 0..16
  struct Method {
    Method() : latency(LatencyBounds()) {}
    std::atomic<uint64_t> by_code[kCodes] = {};
    Histogram latency;
  };
  Method& Find(std::string_view full_method);
  mutable std::mutex mu_;
  // Entries are never removed: references stay valid.
  std::map<std::string, std::unique_ptr<Method>, std::less<>> methods_;
};

// Everything the daemon exposes, read now: RPCs, snapshots by kind, applies
// (diff may be null: no diff service), metadata group commits, quotas,
// sharing, the root's filesystem, recovery and the process.
std::string CollectMetrics(Engine& engine, const RpcMetrics& rpcs,
                           const DiffService* diff);

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_SERVER_METRICS_H_
