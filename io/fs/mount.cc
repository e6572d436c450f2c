#include "io/fs/mount.h"

#include <sys/mount.h>

#include <cerrno>
#include <utility>

#include "io/base/errno.h"

namespace strata {
namespace {

bool HasOption(const std::vector<std::string>& options, std::string_view o) {
  for (const std::string& x : options) {
    if (x == o) return true;
  }
  return false;
}

bool IsBind(const Mount& m) {
  return m.type == "bind" || HasOption(m.options, "bind") ||
         HasOption(m.options, "rbind");
}

}  // namespace

bool MountOptionValue(const std::vector<std::string>& options,
                      std::string_view name, std::string* out) {
  for (const std::string& o : options) {
    if (o.size() > name.size() && o.compare(0, name.size(), name) == 0 &&
        o[name.size()] == '=') {
      *out = o.substr(name.size() + 1);
      return true;
    }
  }
  return false;
}

// MountAll, counting in *done the mounts made (a failed list leaves them).
static Status MountCounting(const std::vector<Mount>& mounts,
                            const std::string& target, size_t* done) {
  *done = 0;
  for (const Mount& m : mounts) {
    unsigned long flags = 0;
    bool ro = false;
    std::string data;
    for (const std::string& o : m.options) {
      if (o == "ro") {
        ro = true;
      } else if (o == "rw") {
      } else if (o == "rbind") {
        flags |= MS_BIND | MS_REC;
      } else if (o == "bind") {
        flags |= MS_BIND;
      } else {
        data += (data.empty() ? "" : ",") + o;
      }
    }
    bool bind = IsBind(m);
    if (bind) flags |= MS_BIND;
    if (mount(m.source.c_str(), target.c_str(), bind ? nullptr : m.type.c_str(),
              flags | (ro && !bind ? MS_RDONLY : 0),
              bind ? nullptr : data.c_str()) != 0) {
      return PosixError("mount " + m.type + " " + m.source + " on " + target,
                        errno);
    }
    ++*done;
    if (ro && bind &&
        mount(nullptr, target.c_str(), nullptr,
              MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0) {
      return PosixError("remount read-only " + target, errno);
    }
  }
  return Status::Ok();
}

Status MountAll(const std::vector<Mount>& mounts, const std::string& target) {
  size_t done = 0;
  return MountCounting(mounts, target, &done);
}

Status Unmount(const std::string& target) {
  if (umount2(target.c_str(), 0) == 0) return Status::Ok();
  int err = errno;
  umount2(target.c_str(), MNT_DETACH);
  return PosixError("unmount " + target, err);
}

Result<std::string> WritableDir(const std::vector<Mount>& mounts) {
  if (mounts.size() != 1) {
    return Unimplemented("want exactly one mount, got " +
                         std::to_string(mounts.size()));
  }
  const Mount& m = mounts[0];
  if (m.type == "overlay") {
    std::string dir;
    if (!MountOptionValue(m.options, "upperdir", &dir))
      return Unimplemented("overlay mount without upperdir= (read-only)");
    return dir;
  }
  if (IsBind(m)) {
    if (HasOption(m.options, "ro"))
      return Unimplemented("read-only bind mount");
    return m.source;
  }
  return Unimplemented("mount type \"" + m.type.substr(0, 64) + "\"");
}

Result<ScopedMount> ScopedMount::Take(const std::vector<Mount>& mounts,
                                      const std::string& target) {
  size_t done = 0;
  Status s = MountCounting(mounts, target, &done);
  if (!s.ok()) {
    // A list that failed part way: undo the mounts it made, no more.
    for (; done > 0; --done) umount2(target.c_str(), MNT_DETACH);
    return s;
  }
  return ScopedMount(target);
}

ScopedMount::ScopedMount(ScopedMount&& o) noexcept
    : target_(std::exchange(o.target_, "")) {}

ScopedMount& ScopedMount::operator=(ScopedMount&& o) noexcept {
  if (this != &o) {
    Release().IgnoreError();
    target_ = std::exchange(o.target_, "");
  }
  return *this;
}

ScopedMount::~ScopedMount() { Release().IgnoreError(); }

Status ScopedMount::Release() {
  if (target_.empty()) return Status::Ok();
  return Unmount(std::exchange(target_, ""));
}

}  // namespace strata
