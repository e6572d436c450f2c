// `strata-bench ops` (also `strata bench ops`): throughput and latency of every
// snapshot operation on Strata and on a peer server (bench/peer: containerd's
// own overlayfs snapshotter behind the same gRPC API), driven by one client,
// alternating A B A B for several rounds on the same filesystem.
//
//   strata-bench ops --address A --peer-address B [--n 2000] [--rounds 3]
//                    [--concurrency 1,16,64] [--fsync-dir DIR] [--out DIR]
//                    [--report PATH] [--pid PID] [--peer-pid PID]
//
// Per server, round and concurrency it creates N committed snapshots (half as
// chains, half as trees: many children of a few bases), then runs Stat, List,
// View, Mounts, Usage and Remove over them, each phase with that many RPCs in
// flight. It prints per phase ops/s, p50 and p99 and the ratio Strata/peer
// (medians over rounds), each server's CPU time per call when --pid and
// --peer-pid name the server processes (client and servers share the cores,
// so ops/s also measure the client), the fsync floor of --fsync-dir, and
// whether each of the speed targets is met; it writes OUT/ops.json
// (bench/report.py's schema) and runs report.py on it (Markdown + PNG).
//
// Thread-safety: RunBenchOps runs on the calling thread and owns its workers.
#ifndef STRATA_BENCH_HARNESS_OPS_H_
#define STRATA_BENCH_HARNESS_OPS_H_

#include <string>
#include <vector>

namespace strata {

// args: the words after "ops"; report.py is FindReportScript()'s unless
// --report names one. Returns the process exit code (0 ok, 1 failure, 2 bad
// usage).
int RunBenchOps(const std::vector<std::string>& args);

}  // namespace strata

#endif  // STRATA_BENCH_HARNESS_OPS_H_
