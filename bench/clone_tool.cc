// strata-clone: runs io/clone's CloneTree once, for bench/clone.sh.
//   strata-clone [--copy] [--workers N] SRC DST
// Prints the stats and the wall time as one key=value line.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "io/clone/tree_clone.h"

int main(int argc, char** argv) {
  strata::CloneOptions opts;
  std::string src, dst;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--copy") {
      opts.data = strata::DataMode::kCopy;
    } else if (a == "--workers" && i + 1 < argc) {
      opts.workers = std::atoi(argv[++i]);
    } else if (src.empty()) {
      src = a;
    } else {
      dst = a;
    }
  }
  if (src.empty() || dst.empty()) {
    std::fprintf(stderr,
                 "usage: strata-clone [--copy] [--workers N] SRC DST\n");
    return 2;
  }
  auto t0 = std::chrono::steady_clock::now();
  auto stats = strata::CloneTree(src, dst, opts);
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  if (!stats.ok()) {
    std::fprintf(stderr, "strata-clone: %s\n",
                 stats.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "secs=%.4f files=%lld cloned=%lld copied=%lld dirs=%lld bytes=%lld\n",
      secs, static_cast<long long>(stats->files),
      static_cast<long long>(stats->cloned),
      static_cast<long long>(stats->copied),
      static_cast<long long>(stats->dirs),
      static_cast<long long>(stats->bytes));
  return 0;
}
