#include "io/fs/project_quota.h"

#include <fcntl.h>
#include <linux/dqblk_xfs.h>
#include <linux/fs.h>
#include <linux/quota.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "io/base/errno.h"

namespace strata {
namespace {

int QuotactlFd(int fd, int cmd, uint32_t id, void* addr) {
#ifdef SYS_quotactl_fd
  return static_cast<int>(syscall(SYS_quotactl_fd, fd, cmd, id, addr));
#else
  errno = ENOSYS;
  return -1;
#endif
}

int PrjCmd(int cmd) { return static_cast<int>(QCMD(cmd, PRJQUOTA)); }

Result<fsxattr> GetAttr(int dir_fd) {
  fsxattr a;
  std::memset(&a, 0, sizeof(a));
  if (ioctl(dir_fd, FS_IOC_FSGETXATTR, &a) != 0)
    return PosixError("FS_IOC_FSGETXATTR", errno);
  return a;
}

Status SetAttr(int dir_fd, fsxattr a) {
  if (ioctl(dir_fd, FS_IOC_FSSETXATTR, &a) != 0)
    return PosixError("FS_IOC_FSSETXATTR", errno);
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<ProjectQuota>> ProjectQuota::Open(
    const std::string& dir) {
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return PosixError("open " + dir, errno);
  fs_quota_stat st;
  std::memset(&st, 0, sizeof(st));
  if (QuotactlFd(fd.get(), PrjCmd(Q_XGETQSTAT), 0, &st) != 0) {
    const int err = errno;
    // ENOSYS: no quotactl_fd (Linux < 5.14), or no quota support in the
    // kernel for this filesystem (CONFIG_XFS_QUOTA, CONFIG_QFMT_V2 for ext4).
    return FailedPrecondition(
        "project quotas are not available on the filesystem of " + dir +
        " (quotactl: " + std::strerror(err) +
        (err == ENOSYS ? "; the kernel lacks quota support for it" : "") +
        "; XFS needs the prjquota mount option, ext4 mkfs -O quota,project "
        "and prjquota)");
  }
  if ((st.qs_flags & FS_QUOTA_PDQ_ACCT) == 0 ||
      (st.qs_flags & FS_QUOTA_PDQ_ENFD) == 0) {
    return FailedPrecondition(
        std::string("project quotas are ") +
        ((st.qs_flags & FS_QUOTA_PDQ_ACCT) == 0 ? "off" : "not enforced") +
        " on the filesystem of " + dir +
        " (XFS needs the prjquota mount option, ext4 mkfs -O quota,project "
        "and prjquota)");
  }
  // Probe the ioctl too: ext4 without the project feature has quotas but no
  // project IDs on inodes.
  auto attr = GetAttr(fd.get());
  if (!attr.ok()) {
    return FailedPrecondition(
        "project IDs cannot be read on the filesystem of " + dir + ": " +
        attr.status().message());
  }
  return std::unique_ptr<ProjectQuota>(new ProjectQuota(std::move(fd)));
}

Status ProjectQuota::Assign(int dir_fd, uint32_t project) {
  STRATA_ASSIGN_OR_RETURN(fsxattr a, GetAttr(dir_fd));
  a.fsx_projid = project;
  a.fsx_xflags |= FS_XFLAG_PROJINHERIT;
  return SetAttr(dir_fd, a);
}

Result<uint32_t> ProjectQuota::InheritedProject(int dir_fd) {
  STRATA_ASSIGN_OR_RETURN(fsxattr a, GetAttr(dir_fd));
  if ((a.fsx_xflags & FS_XFLAG_PROJINHERIT) == 0) return 0u;
  return a.fsx_projid;
}

Status ProjectQuota::StopInheriting(int dir_fd) {
  STRATA_ASSIGN_OR_RETURN(fsxattr a, GetAttr(dir_fd));
  if ((a.fsx_xflags & FS_XFLAG_PROJINHERIT) == 0) return Status::Ok();
  a.fsx_xflags &= ~FS_XFLAG_PROJINHERIT;
  return SetAttr(dir_fd, a);
}

Status ProjectQuota::SetLimit(uint32_t project, int64_t bytes) {
  if (bytes < 0) return InvalidArgument("negative quota limit");
  if_dqblk q;
  std::memset(&q, 0, sizeof(q));
  const int64_t kib = (bytes + QIF_DQBLKSIZE - 1) / QIF_DQBLKSIZE;
  q.dqb_bhardlimit = static_cast<uint64_t>(kib);
  q.dqb_bsoftlimit = static_cast<uint64_t>(kib);
  q.dqb_valid = QIF_BLIMITS;
  if (QuotactlFd(fs_.get(), PrjCmd(Q_SETQUOTA), project, &q) != 0) {
    return PosixError("set the limit of project " + std::to_string(project),
                      errno);
  }
  return Status::Ok();
}

Result<QuotaUsage> ProjectQuota::Usage(uint32_t project) {
  if_dqblk q;
  std::memset(&q, 0, sizeof(q));
  if (QuotactlFd(fs_.get(), PrjCmd(Q_GETQUOTA), project, &q) != 0) {
    // XFS keeps no record for a project that never held anything.
    if (errno == ENOENT) return QuotaUsage{};
    return PosixError("read the usage of project " + std::to_string(project),
                      errno);
  }
  return QuotaUsage{static_cast<int64_t>(q.dqb_curspace),
                    static_cast<int64_t>(q.dqb_curinodes)};
}

}  // namespace strata
