#include "io/fs/idmap_probe.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "io/base/unique_fd.h"

namespace strata {
namespace {

Status Failed(const std::string& step, int err) {
  return FailedPrecondition("idmapped mounts unavailable: " + step + ": " +
                            std::strerror(err));
}

bool WriteProc(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  f.flush();
  return static_cast<bool>(f);
}

}  // namespace

Status ProbeIdmappedMount(const std::string& dir) {
  // A child in its own user namespace, parked until its namespace is used.
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) return Failed("pipe", errno);
  UniqueFd rd(ready[0]), wr(ready[1]);
  pid_t child = fork();
  if (child < 0) return Failed("fork", errno);
  if (child == 0) {
    char c = unshare(CLONE_NEWUSER) == 0 ? 'y' : 'n';
    if (write(wr.get(), &c, 1) != 1) _exit(1);
    pause();  // killed by the parent
    _exit(0);
  }
  wr.reset();
  auto reap = [child] {
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
  };
  char c = 0;
  if (read(rd.get(), &c, 1) != 1 || c != 'y') {
    reap();
    return Failed("unshare(CLONE_NEWUSER)", EPERM);
  }
  const std::string proc = "/proc/" + std::to_string(child);
  if (!WriteProc(proc + "/uid_map", "0 65534 1\n") ||
      !WriteProc(proc + "/setgroups", "deny\n") ||
      !WriteProc(proc + "/gid_map", "0 65534 1\n")) {
    int err = errno;
    reap();
    return Failed("write the user namespace's ID maps", err ? err : EPERM);
  }
  UniqueFd userns(open((proc + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
  int ns_err = errno;
  reap();
  if (!userns.valid()) return Failed("open the user namespace", ns_err);
  UniqueFd tree(static_cast<int>(
      open_tree(AT_FDCWD, dir.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)));
  if (!tree.valid()) return Failed("open_tree(" + dir + ")", errno);
  struct mount_attr attr {};
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = static_cast<uint64_t>(userns.get());
  if (mount_setattr(tree.get(), "", AT_EMPTY_PATH, &attr, sizeof(attr)) != 0)
    return Failed("mount_setattr(MOUNT_ATTR_IDMAP) on " + dir, errno);
  return Status::Ok();  // the detached clone goes with its descriptor
}

}  // namespace strata
