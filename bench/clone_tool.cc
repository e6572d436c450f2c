// strata-clone: runs io/clone's CloneTree once, for bench/clone.sh; with
// --shift-by N, then shifts every owner of the clone up by N
// (io/fs/owner_shift: the "shift in the clone" way to serve a user
// namespace, measured against idmapped mounts by bench/userns.py).
//   strata-clone [--copy] [--workers N] [--shift-by N] SRC DST
// Prints the stats and the wall times as one key=value line.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "io/clone/tree_clone.h"
#include "io/fs/owner_shift.h"

int main(int argc, char** argv) {
  strata::CloneOptions opts;
  std::string src, dst;
  long shift_by = -1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--copy") {
      opts.data = strata::DataMode::kCopy;
    } else if (a == "--workers" && i + 1 < argc) {
      opts.workers = std::atoi(argv[++i]);
    } else if (a == "--shift-by" && i + 1 < argc) {
      shift_by = std::atol(argv[++i]);
    } else if (src.empty()) {
      src = a;
    } else {
      dst = a;
    }
  }
  if (src.empty() || dst.empty()) {
    std::fprintf(stderr,
                 "usage: strata-clone [--copy] [--workers N] [--shift-by N] "
                 "SRC DST\n");
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
  double shift_secs = 0;
  if (shift_by >= 0) {
    auto up = [shift_by](uint32_t id) {
      return static_cast<uint32_t>(id + shift_by);
    };
    std::string journal = dst + ".shift-journal";
    auto t1 = std::chrono::steady_clock::now();
    auto shifted = strata::ShiftOwners(dst, {up, up}, journal);
    shift_secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t1)
            .count();
    if (!shifted.ok() || !strata::RemoveShiftJournal(journal).ok()) {
      std::fprintf(stderr, "strata-clone: shift: %s\n",
                   shifted.status().ToString().c_str());
      return 1;
    }
  }
  std::printf(
      "secs=%.4f files=%lld cloned=%lld copied=%lld dirs=%lld bytes=%lld "
      "shift_secs=%.4f\n",
      secs, static_cast<long long>(stats->files),
      static_cast<long long>(stats->cloned),
      static_cast<long long>(stats->copied),
      static_cast<long long>(stats->dirs), static_cast<long long>(stats->bytes),
      shift_secs);
  return 0;
}
