// `strata-bench density` (also `strata bench density`): a dense host. Grows
// one daemon's store to each of --sizes snapshots (chains of 10-50 committed
// layers, three actives on each chain, one label per snapshot naming its
// group of chains) and at each size measures, on one client: Stat,
// Prepare, Commit and Remove p50 and p99, a Walk (List) with a label filter,
// the daemon's start-up (exec to serving, recovery included: it is
// restarted), its RSS, and the metadata file's size.
//
//   strata-bench density [--bin strata-snapshotter] [--dir DIR]
//                        [--sizes 100,10000,100000] [--n 500] [--clients 8]
//                        [--json PATH]
//
// It prints one table row per size, the Stat and Remove p99 ratio against
// the first size and the start-up time against the targets (Stat and Remove
// p99 within 2x of the first size's; start-up under 2 s), and writes
// --json.
//
// Thread-safety: RunBenchDensity runs on the calling thread and owns its
// growth workers.
#ifndef STRATA_BENCH_HARNESS_DENSITY_H_
#define STRATA_BENCH_HARNESS_DENSITY_H_

#include <string>
#include <vector>

namespace strata {

// args: the words after "density". Returns the process exit code (0 ok, 1
// failure, 2 bad usage).
int RunBenchDensity(const std::vector<std::string>& args);

}  // namespace strata

#endif  // STRATA_BENCH_HARNESS_DENSITY_H_
