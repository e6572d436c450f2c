#include "bench/harness/ops_report.h"

#include <sys/statfs.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "bench/harness/json.h"

namespace strata {
namespace {

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

std::string Fmt(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

const PhaseRun* Find(const OpsResults& r, const std::string& server, int round,
                     int c, const std::string& phase) {
  for (const PhaseRun& p : r.runs) {
    if (p.server == server && p.round == round && p.concurrency == c &&
        p.phase == phase) {
      return &p;
    }
  }
  return nullptr;
}

bool Has(const std::vector<int>& v, int x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// The highest concurrency run (16 by default), and 1 if it was run.
int HighConcurrency(const OpsResults& r) {
  return r.concurrency.empty()
             ? 0
             : *std::max_element(r.concurrency.begin(), r.concurrency.end());
}

std::string FsName(const std::string& dir) {
  struct statfs st;
  if (dir.empty() || statfs(dir.c_str(), &st) != 0) return "unknown";
  switch (static_cast<unsigned long>(st.f_type)) {
    case 0xEF53:
      return "ext4";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x01021994:
      return "tmpfs";
    case 0x794c7630:
      return "overlayfs";
    default: {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "f_type 0x%lx",
                    static_cast<unsigned long>(st.f_type));
      return buf;
    }
  }
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown";
}

std::string Num(double v) {
  if (!std::isfinite(v)) return "null";
  return Fmt("%.6g", v);
}

std::string TargetLine(const TargetResult& t) {
  return t.target + ": " + t.value + ": " +
         (t.met ? "met" : "missed: " + t.why);
}

}  // namespace

PhaseSummary Summarize(const OpsResults& r, const std::string& server, int c,
                       const std::string& phase) {
  std::vector<double> ops, p50, p99, cpu;
  for (int round = 1; round <= r.rounds; ++round) {
    if (const PhaseRun* p = Find(r, server, round, c, phase)) {
      ops.push_back(p->OpsPerSec());
      p50.push_back(p->p50_us);
      p99.push_back(p->p99_us);
      if (std::isfinite(p->CpuUsPerOp())) cpu.push_back(p->CpuUsPerOp());
    }
  }
  return {Median(ops), Median(p50), Median(p99),
          cpu.empty() ? NAN : Median(cpu)};
}

double ThroughputRatio(const OpsResults& r, int c, const std::string& phase) {
  std::vector<double> ratios;
  for (int round = 1; round <= r.rounds; ++round) {
    const PhaseRun* s = Find(r, kStrata, round, c, phase);
    const PhaseRun* p = Find(r, kPeer, round, c, phase);
    if (s && p && p->OpsPerSec() > 0)
      ratios.push_back(s->OpsPerSec() / p->OpsPerSec());
  }
  return ratios.empty() ? NAN : Median(ratios);
}

std::vector<TargetResult> EvaluateTargets(const OpsResults& r) {
  std::vector<TargetResult> out;
  const int hi = HighConcurrency(r);
  const double fsync_us = Median(r.fsync_p50_us);
  const unsigned cores = std::thread::hardware_concurrency();
  // Writes at high concurrency: throughput >= 2x the peer's.
  if (hi > 1) {
    for (const char* op : {"Prepare", "Commit", "Remove"}) {
      TargetResult t;
      t.target = std::string(op) + " c" + std::to_string(hi) +
                 " throughput >= 2x peer";
      double ratio = ThroughputRatio(r, hi, op);
      PhaseSummary s = Summarize(r, kStrata, hi, op),
                   p = Summarize(r, kPeer, hi, op);
      t.value = Fmt("%.2fx", ratio);
      t.met = ratio >= 2;
      t.why = Fmt("Strata %.0f ops/s", s.ops_per_s) +
              Fmt(" vs peer %.0f ops/s", p.ops_per_s);
      if (fsync_us > 0) {
        t.why += Fmt("; per fsync time (%.0f us) Strata completes ", fsync_us) +
                 Fmt("%.1f ops, ", s.ops_per_s * fsync_us / 1e6) +
                 Fmt("the peer %.1f", p.ops_per_s * fsync_us / 1e6);
      }
      t.why += Fmt("; p50 %.0f us", s.p50_us) + Fmt(" vs %.0f us", p.p50_us) +
               " (client and both servers share " + std::to_string(cores) +
               " cores)";
      out.push_back(t);
    }
  }
  // Writes at concurrency 1: p50 no slower than the peer's.
  if (Has(r.concurrency, 1)) {
    for (const char* op : {"Prepare", "Commit", "Remove"}) {
      TargetResult t;
      t.target = std::string(op) + " c1 p50 <= peer p50";
      PhaseSummary s = Summarize(r, kStrata, 1, op),
                   p = Summarize(r, kPeer, 1, op);
      t.value = Fmt("%.0f us", s.p50_us) + Fmt(" vs %.0f us", p.p50_us);
      t.met = s.p50_us <= p.p50_us;
      t.why = Fmt("Strata is %.2fx slower",
                  p.p50_us > 0 ? s.p50_us / p.p50_us : NAN);
      if (fsync_us > 0) {
        t.why += Fmt("; in fsync times: Strata %.1f", s.p50_us / fsync_us) +
                 Fmt(", peer %.1f", p.p50_us / fsync_us);
      }
      out.push_back(t);
    }
  }
  // Reads at high concurrency: throughput >= 3x the peer's.
  if (hi > 1) {
    for (const char* op : {"Stat", "List", "Mounts"}) {
      TargetResult t;
      t.target = std::string(op) + " c" + std::to_string(hi) +
                 " throughput >= 3x peer";
      double ratio = ThroughputRatio(r, hi, op);
      PhaseSummary s = Summarize(r, kStrata, hi, op),
                   p = Summarize(r, kPeer, hi, op);
      PhaseSummary s1 = Summarize(r, kStrata, 1, op),
                   p1 = Summarize(r, kPeer, 1, op);
      t.value = Fmt("%.2fx", ratio);
      t.met = ratio >= 3;
      t.why = Fmt("Strata %.0f ops/s", s.ops_per_s) +
              Fmt(" vs peer %.0f ops/s", p.ops_per_s);
      if (Has(r.concurrency, 1)) {
        t.why +=
            Fmt("; c1 p50 %.0f us", s1.p50_us) + Fmt(" vs %.0f us", p1.p50_us);
      }
      t.why += "; CPU-bound: client and both servers share " +
               std::to_string(cores) +
               " cores, so per-call CPU cost (gRPC framing on both sides) caps "
               "the ratio";
      if (std::isfinite(s.cpu_us_per_op) && std::isfinite(p.cpu_us_per_op) &&
          p.cpu_us_per_op > 0) {
        t.why += Fmt("; the servers' own CPU per call: Strata %.1f us",
                     s.cpu_us_per_op) +
                 Fmt(" vs peer %.1f us", p.cpu_us_per_op) +
                 Fmt(" (%.2fx)", s.cpu_us_per_op / p.cpu_us_per_op);
      }
      out.push_back(t);
    }
  }
  // A durable Prepare within 1.5x the filesystem's fsync latency.
  if (Has(r.concurrency, 1) && fsync_us > 0) {
    TargetResult t;
    t.target = "durable Prepare c1 p50 <= 1.5x fsync p50";
    PhaseSummary s = Summarize(r, kStrata, 1, "Prepare");
    double m = s.p50_us / fsync_us;
    t.value = Fmt("%.2fx", m) + Fmt(" (%.0f us", s.p50_us) +
              Fmt(" vs fsync %.0f us", fsync_us) +
              Fmt("; %.2fx fdatasync)", s.p50_us / Median(r.fdatasync_p50_us));
    t.met = m <= 1.5;
    t.why =
        "an LMDB commit syncs twice (the new pages, then the meta page that "
        "points at "
        "them: the order is what makes it crash-safe), plus mkdir/rename work";
    out.push_back(t);
  }
  return out;
}

void PrintSummary(const OpsResults& r, const std::vector<TargetResult>& targets,
                  FILE* out) {
  std::fprintf(out, "median over %d round(s), N=%d snapshots per run\n",
               r.rounds, r.n);
  std::fprintf(out, "%-8s %4s %12s %12s %8s %10s %10s %10s %10s %10s %10s\n",
               "phase", "conc", "strata_op/s", "peer_op/s", "ratio",
               "strata_p50", "peer_p50", "strata_p99", "peer_p99", "strata_cpu",
               "peer_cpu");
  for (int c : r.concurrency) {
    for (const std::string& ph : r.phases) {
      PhaseSummary s = Summarize(r, kStrata, c, ph),
                   p = Summarize(r, kPeer, c, ph);
      std::fprintf(out,
                   "%-8s %4d %12.0f %12.0f %7.2fx %10.0f %10.0f %10.0f %10.0f "
                   "%10.1f %10.1f\n",
                   ph.c_str(), c, s.ops_per_s, p.ops_per_s,
                   ThroughputRatio(r, c, ph), s.p50_us, p.p50_us, s.p99_us,
                   p.p99_us, s.cpu_us_per_op, p.cpu_us_per_op);
    }
  }
  std::fprintf(out,
               "latencies in us; *_cpu: the server process's CPU us per call "
               "(nan without --pid/--peer-pid)\n");
  if (!r.fsync_p50_us.empty()) {
    std::fprintf(
        out, "fsync on %s: p50 %.0f us, p99 %.0f us; fdatasync p50 %.0f us\n",
        r.fsync_dir.c_str(), Median(r.fsync_p50_us), Median(r.fsync_p99_us),
        Median(r.fdatasync_p50_us));
  }
  for (const TargetResult& t : targets)
    std::fprintf(out, "target %s\n", TargetLine(t).c_str());
}

bool WriteResultsJson(const OpsResults& r,
                      const std::vector<TargetResult>& targets,
                      const std::string& path) {
  std::ostringstream j;
  struct utsname u;
  std::string kernel =
      uname(&u) == 0 ? std::string(u.sysname) + " " + u.release : "unknown";
  j << "{\"title\": "
    << json::Str(
           "strata bench ops: Strata vs containerd overlayfs (bench/peer)")
    << ",\n \"command\": " << json::Str(r.command)
    << ",\n \"started\": " << json::Str(r.started)
    << ",\n \"machine\": {\"kernel\": " << json::Str(kernel) << ", \"cores\": "
    << json::Str(std::to_string(std::thread::hardware_concurrency()))
    << ", \"cpu\": " << json::Str(CpuModel())
    << ", \"filesystem\": " << json::Str(FsName(r.fsync_dir)) << "},\n";
  // Notes: method and targets.
  j << " \"notes\": ["
    << json::Str(
           "N=" + std::to_string(r.n) + " committed snapshots per run (half " +
           "as chains of up to 25 layers, half as children of a few bases); " +
           "rounds alternate strata, peer; figures are medians over " +
           std::to_string(r.rounds) + " round(s); ratio = strata/peer " +
           "throughput, the median of same-round ratios");
  for (const TargetResult& t : targets)
    j << ",\n   " << json::Str("target " + TargetLine(t));
  j << "],\n";
  // Tables.
  j << " \"tables\": [{\"title\": \"Throughput and latency per phase\", "
       "\"columns\": "
       "[\"phase\", \"concurrency\", \"strata ops/s\", \"peer ops/s\", "
       "\"strata/peer\", "
       "\"strata p50 us\", \"peer p50 us\", \"strata p99 us\", \"peer p99 "
       "us\", \"strata CPU us/call\", \"peer CPU us/call\"], \"rows\": [";
  bool first = true;
  for (int c : r.concurrency) {
    for (const std::string& ph : r.phases) {
      PhaseSummary s = Summarize(r, kStrata, c, ph),
                   p = Summarize(r, kPeer, c, ph);
      j << (first ? "\n   " : ",\n   ") << "[" << json::Str(ph) << ", " << c
        << ", " << Num(s.ops_per_s) << ", " << Num(p.ops_per_s) << ", "
        << Num(ThroughputRatio(r, c, ph)) << ", " << Num(s.p50_us) << ", "
        << Num(p.p50_us) << ", " << Num(s.p99_us) << ", " << Num(p.p99_us)
        << ", " << Num(s.cpu_us_per_op) << ", " << Num(p.cpu_us_per_op) << "]";
      first = false;
    }
  }
  j << "]}";
  if (!r.fsync_p50_us.empty()) {
    j << ",\n  {\"title\": \"Durability floor\", \"columns\": [\"measure\", "
         "\"us\"], \"rows\": ["
      << "["
      << json::Str("fsync p50 (4 KiB overwrite + fsync in " + r.fsync_dir + ")")
      << ", " << Num(Median(r.fsync_p50_us)) << "], [\"fsync p99\", "
      << Num(Median(r.fsync_p99_us))
      << "], [\"fdatasync p50 (same overwrite; no mtime journal commit)\", "
      << Num(Median(r.fdatasync_p50_us)) << "]]}";
  }
  j << ",\n  {\"title\": \"Targets\", \"columns\": [\"target\", "
       "\"measured\", "
       "\"result\"], \"rows\": [";
  for (size_t i = 0; i < targets.size(); ++i) {
    j << (i ? ",\n   " : "\n   ") << "[" << json::Str(targets[i].target) << ", "
      << json::Str(targets[i].value) << ", "
      << json::Str(targets[i].met ? "met" : "missed: " + targets[i].why) << "]";
  }
  j << "]}],\n";
  // Plots: throughput per concurrency (log scale), and the ratios.
  j << " \"plots\": [";
  first = true;
  for (int c : r.concurrency) {
    j << (first ? "" : ",\n  ") << "{\"file\": \"ops_c" << c
      << ".png\", \"title\": "
      << json::Str("ops/s at concurrency " + std::to_string(c) +
                   " (median of rounds)")
      << ", \"ylabel\": \"ops/s\", \"logy\": true, \"categories\": [";
    for (size_t i = 0; i < r.phases.size(); ++i)
      j << (i ? ", " : "") << json::Str(r.phases[i]);
    j << "], \"series\": [";
    for (const char* server : {kStrata, kPeer}) {
      j << (server == kStrata ? "" : ", ") << "{\"name\": " << json::Str(server)
        << ", \"values\": [";
      for (size_t i = 0; i < r.phases.size(); ++i) {
        j << (i ? ", " : "")
          << Num(Summarize(r, server, c, r.phases[i]).ops_per_s);
      }
      j << "]}";
    }
    j << "]}";
    first = false;
  }
  j << ",\n  {\"file\": \"ops_ratio.png\", \"title\": \"throughput strata/peer "
       "(above 1: "
       "Strata is faster)\", \"ylabel\": \"ratio\", \"categories\": [";
  for (size_t i = 0; i < r.phases.size(); ++i)
    j << (i ? ", " : "") << json::Str(r.phases[i]);
  j << "], \"series\": [";
  for (size_t k = 0; k < r.concurrency.size(); ++k) {
    int c = r.concurrency[k];
    j << (k ? ", " : "") << "{\"name\": " << json::Str("c" + std::to_string(c))
      << ", \"values\": [";
    for (size_t i = 0; i < r.phases.size(); ++i) {
      j << (i ? ", " : "") << Num(ThroughputRatio(r, c, r.phases[i]));
    }
    j << "]}";
  }
  j << "]}],\n";
  // Machine-readable medians and raw runs.
  j << " \"results\": [";
  first = true;
  for (int c : r.concurrency) {
    for (const std::string& ph : r.phases) {
      for (const char* server : {kStrata, kPeer}) {
        PhaseSummary s = Summarize(r, server, c, ph);
        j << (first ? "\n  " : ",\n  ") << "{\"server\": " << json::Str(server)
          << ", \"concurrency\": " << c << ", \"phase\": " << json::Str(ph)
          << ", \"ops_per_s\": " << Num(s.ops_per_s)
          << ", \"p50_us\": " << Num(s.p50_us)
          << ", \"p99_us\": " << Num(s.p99_us)
          << ", \"cpu_us_per_op\": " << Num(s.cpu_us_per_op) << "}";
        first = false;
      }
    }
  }
  j << "],\n \"fsync_p50_us\": " << Num(Median(r.fsync_p50_us))
    << ",\n \"fdatasync_p50_us\": " << Num(Median(r.fdatasync_p50_us))
    << ",\n \"runs\": [";
  for (size_t i = 0; i < r.runs.size(); ++i) {
    const PhaseRun& p = r.runs[i];
    j << (i ? ",\n  " : "\n  ") << "{\"server\": " << json::Str(p.server)
      << ", \"round\": " << p.round << ", \"concurrency\": " << p.concurrency
      << ", \"phase\": " << json::Str(p.phase) << ", \"ops\": " << p.ops
      << ", \"wall_s\": " << Num(p.wall_s) << ", \"p50_us\": " << Num(p.p50_us)
      << ", \"p99_us\": " << Num(p.p99_us)
      << ", \"cpu_s\": " << Num(p.cpu_s >= 0 ? p.cpu_s : NAN) << "}";
  }
  j << "],\n \"targets\": [";
  for (size_t i = 0; i < targets.size(); ++i) {
    j << (i ? ",\n  " : "\n  ")
      << "{\"target\": " << json::Str(targets[i].target)
      << ", \"measured\": " << json::Str(targets[i].value)
      << ", \"met\": " << (targets[i].met ? "true" : "false")
      << ", \"why\": " << json::Str(targets[i].met ? "" : targets[i].why)
      << "}";
  }
  j << "]}\n";
  std::ofstream f(path, std::ios::trunc);
  f << j.str();
  f.close();
  return static_cast<bool>(f);
}

}  // namespace strata
