// `strata bench cow`: the copy-on-write cost matrix. For each configuration
// (a Strata backend on a filesystem the tool makes on a loop device) it
// starts a strata-snapshotter on that filesystem and, through gRPC only:
//   - per file size and operation, times the first operation on a lower file
//     in a fresh child snapshot and measures the disk bytes it consumed;
//   - times Prepare of a child of images (parent chains) of N files;
//   - runs containerd's snapshots/benchsuite workload (16 layers), and the
//     same workload against strata-peer (containerd's overlayfs snapshotter)
//     on the same filesystem.
// Writes cow.json (bench/report.py's schema plus a "raw" section), then runs
// bench/report.py for cow.md and PNG plots. Needs root.
#ifndef STRATA_BENCH_HARNESS_COW_H_
#define STRATA_BENCH_HARNESS_COW_H_

#include <string>
#include <vector>

namespace strata {

// args: the words after `strata bench cow` (see kBenchCowUsage). Returns the
// process exit code. REQUIRES: called before any other thread (gRPC) starts:
// it enters a private mount namespace.
int RunBenchCow(const std::vector<std::string>& args);

extern const char kBenchCowUsage[];

}  // namespace strata

#endif  // STRATA_BENCH_HARNESS_COW_H_
