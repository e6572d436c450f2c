// Results of `strata bench ops` (bench_ops.h): per-round raw figures, their
// medians over rounds, the speed targets, and the JSON bench/report.py reads.
//
// Thread-safety: plain values; no shared state.
#ifndef STRATA_BENCH_HARNESS_OPS_REPORT_H_
#define STRATA_BENCH_HARNESS_OPS_REPORT_H_

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace strata {

inline constexpr const char* kStrata = "strata";
inline constexpr const char* kPeer = "peer";

// One phase of one server's run in one round at one concurrency.
struct PhaseRun {
  std::string server;  // kStrata or kPeer
  int round = 0;
  int concurrency = 0;
  std::string
      phase;  // Prepare, Commit, Stat, List, View, Mounts, Usage, Remove
  size_t ops = 0;
  double wall_s = 0;  // wall time of the phase's batches
  double p50_us = 0;
  double p99_us = 0;
  // The server process's CPU time (user + system) during the phase; < 0 when
  // unknown (no --pid). Client and servers share the machine's cores, so
  // ops/s also measure the client: CPU per call is the server's own cost.
  double cpu_s = -1;
  double OpsPerSec() const {
    return wall_s > 0 ? static_cast<double>(ops) / wall_s : 0;
  }
  double CpuUsPerOp() const {
    return cpu_s >= 0 && ops > 0 ? cpu_s * 1e6 / static_cast<double>(ops) : NAN;
  }
};

struct OpsResults {
  std::string command;  // how the run was started
  std::string started;  // UTC, ISO 8601
  std::string fsync_dir;
  int n = 0;
  int rounds = 0;
  std::vector<int> concurrency;
  std::vector<std::string> phases;  // in run order
  std::vector<PhaseRun> runs;
  std::vector<double>
      fsync_p50_us;  // one per round (empty without --fsync-dir)
  std::vector<double> fsync_p99_us;
  std::vector<double> fdatasync_p50_us;
};

// One speed target (throughput or latency against the peer, or against the
// fsync floor), evaluated on the medians.
struct TargetResult {
  std::string target;  // what is asked
  std::string value;   // what was measured
  bool met = false;
  std::string why;  // for a missed target: the measured reason
};

// Median over rounds of one server's figure for (concurrency, phase).
struct PhaseSummary {
  double ops_per_s = 0, p50_us = 0, p99_us = 0;
  double cpu_us_per_op = NAN;  // the server's CPU per call (NAN: unknown)
};
PhaseSummary Summarize(const OpsResults& r, const std::string& server,
                       int concurrency, const std::string& phase);
// Median over rounds of the per-round throughput ratio strata/peer.
double ThroughputRatio(const OpsResults& r, int concurrency,
                       const std::string& phase);

std::vector<TargetResult> EvaluateTargets(const OpsResults& r);

// Human-readable table and target lines.
void PrintSummary(const OpsResults& r, const std::vector<TargetResult>& targets,
                  FILE* out);

// Writes the result file in bench/report.py's schema (plus "results", the
// medians as records, and "runs", the raw per-round figures). False on error.
bool WriteResultsJson(const OpsResults& r,
                      const std::vector<TargetResult>& targets,
                      const std::string& path);

}  // namespace strata

#endif  // STRATA_BENCH_HARNESS_OPS_REPORT_H_
