// CowRunner: the measurements of `strata bench cow` against one running
// snapshots server whose root is on one filesystem. It only talks gRPC to
// the server and performs the Mounts answers itself, as containerd would.
//
// Thread-safety: owned by one thread.
#ifndef STRATA_BENCH_HARNESS_COW_RUN_H_
#define STRATA_BENCH_HARNESS_COW_RUN_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/harness/client.h"
#include "bench/harness/cow_results.h"
#include "io/base/result.h"

namespace strata {

struct CowRunOptions {
  std::vector<uint64_t> sizes;   // lower file sizes
  int reps = 3;                  // samples per cell, each in a fresh child
  std::vector<uint64_t> images;  // file counts of the Prepare images
  int layers = 16;               // benchsuite layers
  uint64_t suite_file_bytes = 1 << 20;
};

// Called between steps with a description; a non-OK answer (interrupted)
// stops the run with that status.
using CowProgress = std::function<Status(const std::string&)>;

class CowRunner {
 public:
  // fs_dir: a directory on the server's filesystem (statfs, syncfs).
  // mnt: an empty directory to mount snapshots on.
  CowRunner(SnapshotClient& client, std::string fs_dir, std::string mnt,
            const CowRunOptions& opts, CowProgress progress)
      : client_(client),
        fs_dir_(std::move(fs_dir)),
        mnt_(std::move(mnt)),
        opts_(opts),
        progress_(std::move(progress)) {}

  // Per size: a committed parent holding one file of that size; per op and
  // rep: Prepare a child, mount, time the op, syncfs, unmount, Remove.
  // Appends one CowCell per (size, op) and one PrepareCell per size.
  Status FirstOps(const std::string& config, std::vector<CowCell>& cells,
                  std::vector<PrepareCell>& prepares);

  // Per image size: a chain of 4 committed layers holding the files; times
  // Prepare of a child of its top, reps times.
  Status Images(const std::string& config, std::vector<PrepareCell>& prepares);

  // containerd's benchsuite: `layers` layers of Prepare -> mount -> write ->
  // unmount -> Commit, under keys of their own for `rep`; the chain is
  // removed afterwards (untimed) so every rep starts from the same state.
  Result<SuiteRun> Benchsuite(const std::string& server, const std::string& fs,
                              int rep);

 private:
  // Prepare(key, parent), write with fill(dir) into its writable directory
  // (no mount needed), Commit(name).
  Status MakeLayer(const std::string& name, const std::string& parent,
                   const std::function<Status(const std::string&)>& fill);

  // Prepare(key, parent), recording its latency and the statfs delta it
  // caused in `prep`.
  Result<SnapshotMounts> TimedPrepare(const std::string& key,
                                      const std::string& parent,
                                      PrepareCell& prep);

  SnapshotClient& client_;
  std::string fs_dir_;
  std::string mnt_;
  CowRunOptions opts_;
  CowProgress progress_;
};

}  // namespace strata

#endif  // STRATA_BENCH_HARNESS_COW_RUN_H_
