// What `strata bench cow` measures, and its rendering as JSON in
// bench/report.py's schema (tables, plots) plus a "raw" section with every
// sample, for checks and later analysis.
//
// Thread-safety: values; no shared state.
#ifndef STRATA_BENCH_HARNESS_COW_RESULTS_H_
#define STRATA_BENCH_HARNESS_COW_RESULTS_H_

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace strata {

// One backend on one filesystem.
struct CowConfig {
  std::string name;     // "overlay-ext4"
  std::string fs;       // "ext4", "xfs", "btrfs"
  std::string backend;  // strata-snapshotter --backend
};

// First operation `op` on a lower file of `size` bytes, one sample per rep.
struct CowCell {
  std::string config;
  uint64_t size = 0;
  std::string op;
  std::vector<double> op_us;    // the operation itself
  std::vector<double> sync_us;  // syncfs right after it
  std::vector<int64_t> bytes;   // statfs used delta (after syncfs)
};

// Prepare of a child of a parent holding `files` files (`bytes` of data).
struct PrepareCell {
  std::string config;
  std::string parent;  // "one 64 MiB file", "image of 20000 files"
  uint64_t files = 0;
  uint64_t parent_bytes = 0;
  std::vector<double> us;
  std::vector<int64_t> bytes;
};

// One run of containerd's benchsuite on one server (rep `rep`; reps of the
// servers sharing a filesystem alternate: A B A B).
struct SuiteRun {
  std::string server;  // "strata overlay", "peer overlayfs"
  std::string fs;
  std::string config;  // the CowConfig whose filesystem it ran on
  int rep = 0;
  std::vector<double> prepare_us, write_us, commit_us;  // per layer
  double total_us = 0;
  int64_t bytes = 0;
};

struct CowResults {
  std::string command;
  std::string started;
  std::map<std::string, std::string> machine;
  std::vector<std::string> configs;  // in run order
  std::vector<uint64_t> sizes;
  int reps = 0;
  std::vector<CowCell> cells;
  std::vector<PrepareCell> prepares;
  std::vector<SuiteRun> suites;
  std::vector<std::string> notes;
};

// "4 KiB", "64 MiB", "1 GiB".
std::string SizeName(uint64_t bytes);
// Parses "4K", "1M", "64M", "1G", "4096". Returns 0 if malformed.
uint64_t ParseSize(const std::string& s);

template <typename T>
double Median(std::vector<T> v) {
  if (v.empty()) return 0.0 / 0.0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? static_cast<double>(v[n / 2])
               : (static_cast<double>(v[n / 2 - 1]) +
                  static_cast<double>(v[n / 2])) /
                     2;
}

// The whole result file.
std::string CowResultsJson(const CowResults& r);

}  // namespace strata

#endif  // STRATA_BENCH_HARNESS_COW_RESULTS_H_
