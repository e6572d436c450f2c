// Project quotas (XFS; ext4 made with the project feature): a directory
// tagged with a project ID and the inherit flag hands that ID to everything
// created beneath it, and the filesystem keeps the project's bytes and
// inodes as they change. Reading them is one quotactl, whatever the size of
// the tree, and a block limit on the project makes writes beyond it fail
// (EDQUOT on ext4, ENOSPC on XFS).
//
// Everything goes through quotactl_fd (Linux 5.14+) on a descriptor of the
// filesystem's root directory: no block device is looked up by name.
//
// Thread-safety: thread-safe (the descriptor is only read).
#ifndef STRATA_IO_FS_PROJECT_QUOTA_H_
#define STRATA_IO_FS_PROJECT_QUOTA_H_

#include <cstdint>
#include <memory>
#include <string>

#include "io/base/result.h"
#include "io/base/unique_fd.h"

namespace strata {

struct QuotaUsage {
  int64_t bytes = 0;   // space charged to the project, reservations included
  int64_t inodes = 0;  // inodes charged to the project
};

class ProjectQuota {
 public:
  // The project quotas of the filesystem holding `dir`. FailedPrecondition,
  // naming why, unless that filesystem accounts and enforces them (XFS
  // mounted with prjquota; ext4 with the quota and project features,
  // mounted with prjquota; a kernel with quota support for it and
  // quotactl_fd, Linux 5.14+).
  static Result<std::unique_ptr<ProjectQuota>> Open(const std::string& dir);

  ProjectQuota(const ProjectQuota&) = delete;
  ProjectQuota& operator=(const ProjectQuota&) = delete;

  // Tags directory `dir_fd` (an open directory, not O_PATH, on this
  // filesystem) with `project` and the inherit flag: what is created under it
  // from now on belongs to the project. Entries already inside keep theirs.
  Status Assign(int dir_fd, uint32_t project);
  // The project `dir_fd` hands down to new entries; 0 when it has none or
  // does not pass it on (no inherit flag).
  Result<uint32_t> InheritedProject(int dir_fd);
  // Stops `dir_fd` handing its project down (the inherit flag off; the
  // project stays). Links and renames into it from other projects then work.
  Status StopInheriting(int dir_fd);
  // The block limit of `project`, in bytes (rounded up to a KiB); 0 lifts
  // any limit.
  Status SetLimit(uint32_t project, int64_t bytes);
  Result<QuotaUsage> Usage(uint32_t project);

 private:
  explicit ProjectQuota(UniqueFd fs) : fs_(std::move(fs)) {}
  UniqueFd fs_;  // a directory of the filesystem, for quotactl_fd
};

}  // namespace strata

#endif  // STRATA_IO_FS_PROJECT_QUOTA_H_
