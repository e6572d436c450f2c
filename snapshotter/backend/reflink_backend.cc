#include "snapshotter/backend/reflink_backend.h"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>

#include "io/base/errno.h"
#include "io/base/log.h"
#include "io/clone/tree_clone.h"
#include "io/fs/fs_util.h"

namespace strata {

Status ReflinkBackend::BuildDir(FsOps& ops, const std::string& dir, Kind kind,
                                const std::vector<uint64_t>& parent_ids) {
  std::string fs = dir + "/fs";
  if (kind != Kind::kActive || parent_ids.empty()) return ops.MakeDir(fs, 0755);
  auto start = std::chrono::steady_clock::now();
  CloneOptions opts;
  // "reflink" still copies a file its filesystem refuses to clone (kAuto); the
  // stats below say how many, and on XFS/btrfs the tests require none.
  opts.data = mode_ == Mode::kReflink ? DataMode::kAuto : DataMode::kCopy;
  std::string parent = layout_.FsDir(parent_ids[0]);
  auto stats = CloneTree(parent, fs, opts);
  if (!stats.ok()) return stats.status().WithContext("clone parent " + parent);
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::steady_clock::now() - start)
                .count();
  Log(stats->copied > 0 && mode_ == Mode::kReflink ? LogLevel::kWarn
                                                   : LogLevel::kDebug,
      "backend", "cloned parent tree",
      {{"parent", std::to_string(parent_ids[0])},
       {"files", std::to_string(stats->files)},
       {"cloned", std::to_string(stats->cloned)},
       {"copied", std::to_string(stats->copied)},
       {"dirs", std::to_string(stats->dirs)},
       {"bytes", std::to_string(stats->bytes)},
       {"us", std::to_string(us)}});
  return Status::Ok();
}

Result<std::vector<Mount>> ReflinkBackend::Mounts(
    uint64_t id, Kind kind, const std::vector<uint64_t>& parent_ids) {
  if (kind == Kind::kView) {
    uint64_t shown = parent_ids.empty() ? id : parent_ids[0];
    return std::vector<Mount>{{"bind", layout_.FsDir(shown), {"ro", "rbind"}}};
  }
  return std::vector<Mount>{{"bind", layout_.FsDir(id), {"rw", "rbind"}}};
}

Status ReflinkBackend::CheckRebase(
    uint64_t /*id*/, const std::vector<uint64_t>& /*parent_ids*/) const {
  return FailedPrecondition(
      "the " + std::string(Name()) +
      " backend keeps full trees: a layer extracted without its parent has "
      "lost its "
      "whiteouts, so it cannot be committed onto a parent (\"rebase\" needs "
      "the overlay "
      "backend; do not list the rebase capability for this daemon)");
}

Result<Usage> ReflinkBackend::MeasureUsage(uint64_t id, int64_t max_inodes) {
  STRATA_ASSIGN_OR_RETURN(
      DiskUsage du,
      MeasureDiskUsage(layout_.FsDir(id),
                       mode_ == Mode::kReflink ? UsageMode::kExclusiveExtents
                                               : UsageMode::kAllocated,
                       max_inodes));
  return Usage{du.bytes, du.inodes};
}

}  // namespace strata
