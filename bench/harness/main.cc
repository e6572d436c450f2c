// strata-bench: Strata's benchmark harness, apart from the operator's
// `strata` client (which runs it for `strata bench ...`).
//
//   strata-bench latency [--address SOCK] [...]   bench/harness/latency.h
//   strata-bench ops --address A --peer-address B [...]   bench/harness/ops.h
//   strata-bench cow [OPTIONS]                    bench/harness/cow.h
//   strata-bench density [OPTIONS]                bench/harness/density.h
//   strata-bench report-path                      where report.py was found
#include <cstdio>
#include <string>
#include <vector>

#include "bench/harness/common.h"
#include "bench/harness/cow.h"
#include "bench/harness/density.h"
#include "bench/harness/latency.h"
#include "bench/harness/ops.h"

namespace {

constexpr const char* kUsage =
    "usage: strata-bench latency [--address SOCK] [--n N] [--fsync-dir DIR] "
    "[--write BYTES]\n"
    "       strata-bench ops --address SOCK --peer-address SOCK [--n N] "
    "[--rounds R] ...\n"
    "       strata-bench cow [OPTIONS]   (`strata-bench cow help` lists them)\n"
    "       strata-bench density [--sizes 100,10000,100000] [--n N] ...\n"
    "       strata-bench report-path\n"
    "(`strata bench ...` runs this binary with the same words.)\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::string cmd = argv[1];
  std::vector<std::string> rest(argv + 2, argv + argc);
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "latency") return strata::RunBenchLatency(rest);
  if (cmd == "ops") return strata::RunBenchOps(rest);
  if (cmd == "cow") return strata::RunBenchCow(rest);
  if (cmd == "density") return strata::RunBenchDensity(rest);
  if (cmd == "report-path") {
    std::string p = strata::FindReportScript();
    if (p.empty()) {
      std::fputs("strata-bench: bench/report.py not found beside this binary\n",
                 stderr);
      return 1;
    }
    std::printf("%s\n", p.c_str());
    return 0;
  }
  std::fprintf(stderr, "strata-bench: unknown command \"%s\"\n%s", cmd.c_str(),
               kUsage);
  return 2;
}
