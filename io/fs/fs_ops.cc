#include "io/fs/fs_ops.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "io/base/errno.h"
#include "io/base/unique_fd.h"
#include "io/fs/fs_util.h"

namespace strata {
namespace {

class Real final : public FsOps {
 public:
  Status MakeDir(const std::string& path, unsigned mode) override {
    if (mkdir(path.c_str(), mode) != 0)
      return PosixError("mkdir " + path, errno);
    return Status::Ok();
  }
  Status MakeTempDir(std::string& tmpl) override {
    if (mkdtemp(tmpl.data()) == nullptr)
      return PosixError("mkdtemp " + tmpl, errno);
    return Status::Ok();
  }
  Status Rename(const std::string& from, const std::string& to) override {
    if (rename(from.c_str(), to.c_str()) != 0)
      return PosixError("rename " + from + " to " + to, errno);
    return Status::Ok();
  }
  Status RemoveTree(const std::string& path) override {
    return RemoveAll(path);
  }
  Status Unlink(const std::string& path) override {
    if (unlink(path.c_str()) != 0) return PosixError("unlink " + path, errno);
    return Status::Ok();
  }
  Status WriteFile(const std::string& path, std::string_view data,
                   unsigned mode) override {
    UniqueFd fd(open(path.c_str(),
                     O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                     mode));
    if (!fd.valid()) return PosixError("create " + path, errno);
    while (!data.empty()) {
      ssize_t n = write(fd.get(), data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return PosixError("write " + path, errno);
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  }
  Status SyncDir(const std::string& path) override {
    return strata::SyncDir(path);
  }
  Status SyncFs(int fd) override { return strata::SyncFs(fd); }
};

}  // namespace

FsOps& RealFs() {
  static Real* real = new Real;
  return *real;
}

}  // namespace strata
