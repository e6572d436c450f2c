// What every strata-bench command shares: where this binary and the report
// script live, percentiles, and the fsync floor of a filesystem.
//
// Thread-safety: plain functions.
#ifndef STRATA_BENCH_HARNESS_COMMON_H_
#define STRATA_BENCH_HARNESS_COMMON_H_

#include <string>
#include <vector>

namespace strata {

// The directory of the running binary (/proc/self/exe); "." if unknown.
std::string ExeDir();

// bench/report.py: beside the build tree (<src>/build/bin -> <src>/bench) or
// where `cmake --install` puts it (<prefix>/bin ->
// <prefix>/share/strata/bench).
// "" when neither exists.
std::string FindReportScript();

// The p-quantile (0..1) of v, nearest rank; 0 for no samples.
double Percentile(std::vector<double> v, double p);

// Microseconds of each of n fsyncs (fdatasync if datasync) after a 4 KiB
// overwrite of a probe file in dir: the physical floor of a durable commit on
// that filesystem. Fewer samples (none) if the probe cannot be written.
std::vector<double> SyncLatencies(const std::string& dir, int n, bool datasync);

}  // namespace strata

#endif  // STRATA_BENCH_HARNESS_COMMON_H_
