// `strata-bench latency` (also `strata bench latency`): drives a daemon like
// an image pull does (Prepare on the previous layer, optionally write into
// it, Commit, Stat), then removes the chain, and prints the median and p99 of
// each call.
//
//   strata-bench latency [--address SOCK] [--n N] [--fsync-dir DIR] [--write
//   BYTES]
//
// --fsync-dir also measures the fsync latency of that directory's filesystem,
// the physical floor of a durable Prepare or Commit, and prints each as a
// multiple of it. --write puts that many bytes into each active snapshot
// (through its upperdir or bind source, unsynced) before it is committed: the
// data a durable Commit must sync (default 65536; 0: none).
//
// Thread-safety: runs on the calling thread.
#ifndef STRATA_BENCH_HARNESS_LATENCY_H_
#define STRATA_BENCH_HARNESS_LATENCY_H_

#include <string>
#include <vector>

namespace strata {

// args: the words after "latency". Returns the process exit code.
int RunBenchLatency(const std::vector<std::string>& args);

}  // namespace strata

#endif  // STRATA_BENCH_HARNESS_LATENCY_H_
