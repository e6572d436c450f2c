#include "io/fs/tree_walk.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "io/base/errno.h"
#include "io/base/result.h"
#include "io/base/unique_dir.h"

#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U
#endif

namespace strata {
namespace {

// An entry's name for messages: names are at most 255 bytes, but hostile.
std::string Quote(const char* name) {
  std::string n(name);
  if (n.size() > 64) n = n.substr(0, 64) + "...";
  return "\"" + n + "\"";
}

// The mount an entry belongs to (its mount id, or its device where statx
// has no mount ids).
Result<uint64_t> MountOf(int dirfd, const char* name, int flags) {
  struct statx stx;
  if (statx(dirfd, name, flags | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
            STATX_TYPE | STATX_MNT_ID, &stx) != 0) {
    return PosixError("statx " + Quote(name), errno);
  }
  if (stx.stx_mask & STATX_MNT_ID) return static_cast<uint64_t>(stx.stx_mnt_id);
  return (static_cast<uint64_t>(stx.stx_dev_major) << 32) | stx.stx_dev_minor;
}

// Detaches whatever is mounted at dirfd/name; the mounted content is not
// touched.
Status Detach(int dirfd, const char* name) {
  std::string path = "/proc/self/fd/" + std::to_string(dirfd) + "/" + name;
  if (umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0) {
    return PosixError("detach the mount at " + Quote(name), errno);
  }
  return Status::Ok();
}

// A directory stream over a descriptor that may be O_PATH.
// `name` is never followed when it is a symlink (a /proc/self/fd magic link
// is the exception the caller asks for with follow_magic).
UniqueDir OpenStream(int dirfd, const char* name, bool follow_magic = false) {
  int fd = openat(
      dirfd, name,
      O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow_magic ? 0 : O_NOFOLLOW));
  if (fd < 0) return UniqueDir();
  DIR* d = fdopendir(fd);
  if (d == nullptr) {
    int err = errno;
    close(fd);
    errno = err;
  }
  return UniqueDir(d);
}

}  // namespace

Status RemoveTree(int dirfd) {
  std::string self = "/proc/self/fd/" + std::to_string(dirfd);
  struct Frame {
    UniqueDir dir;
    uint64_t mnt;
    std::string name;  // in the parent frame
  };
  std::vector<Frame> frames;
  UniqueDir top = OpenStream(AT_FDCWD, self.c_str(), /*follow_magic=*/true);
  if (!top.valid()) return PosixError("open the tree to remove", errno);
  auto top_mnt = MountOf(top.fd(), "", AT_EMPTY_PATH);
  if (!top_mnt.ok()) return top_mnt.status();
  int topfd = top.fd();
  frames.push_back({std::move(top), *top_mnt, ""});
  uint64_t moved = 0;
  bool rescan =
      false;  // directories were moved up to the top since its last pass
  while (!frames.empty()) {
    DIR* dir = frames.back().dir.get();
    const uint64_t mnt = frames.back().mnt;
    int fd = ::dirfd(dir);
    errno = 0;
    dirent* e = readdir(dir);
    if (e == nullptr) {
      if (errno != 0) {
        Status s = PosixError("read a directory", errno);
        return s;
      }
      if (frames.size() == 1) {
        if (!rescan) break;
        rescan = false;
        rewinddir(dir);
        continue;
      }
      std::string name = std::move(frames.back().name);
      frames.pop_back();
      if (unlinkat(frames.back().dir.fd(), name.c_str(), AT_REMOVEDIR) != 0 &&
          errno != ENOENT) {
        Status s = PosixError("rmdir " + Quote(name.c_str()), errno);
        return s;
      }
      continue;
    }
    const char* name = e->d_name;
    if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0) continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;
        Status s = PosixError("stat " + Quote(name), errno);
        return s;
      }
      is_dir = S_ISDIR(st.st_mode);
    }
    if (!is_dir) {
      if (unlinkat(fd, name, 0) == 0 || errno == ENOENT) continue;
      if (errno == EBUSY) {  // a file bind-mounted over this one
        Status s = Detach(fd, name);
        if (s.ok() && unlinkat(fd, name, 0) != 0 && errno != ENOENT) {
          s = PosixError("unlink " + Quote(name), errno);
        }
        if (!s.ok()) {
          return s;
        }
        continue;
      }
      if (errno != EISDIR) {
        Status s = PosixError("unlink " + Quote(name), errno);
        return s;
      }
    }
    auto child_mnt = MountOf(fd, name, 0);
    if (!child_mnt.ok()) {
      if (child_mnt.status().code() == Code::kNotFound) continue;
      return child_mnt.status();
    }
    if (*child_mnt != mnt) {
      // Another mount: detach it, never delete what it shows.
      Status s = Detach(fd, name);
      if (s.ok()) {
        child_mnt = MountOf(fd, name, 0);
        if (child_mnt.ok() && *child_mnt != mnt) {
          s = FailedPrecondition("still a mount point after detaching: " +
                                 Quote(name));
        }
      }
      if (!s.ok() || !child_mnt.ok()) {
        return s.ok() ? child_mnt.status() : s;
      }
    }
    if (frames.size() >= kMaxOpenLevels) {
      // Too deep to hold: move it up to the top and remove it from there.
      for (;;) {
        std::string to = ".strata-deep-" + std::to_string(moved++);
        if (renameat2(fd, name, topfd, to.c_str(), RENAME_NOREPLACE) == 0)
          break;
        if (errno == EEXIST) continue;
        Status s = PosixError("move up " + Quote(name), errno);
        return s;
      }
      rescan = true;
      continue;
    }
    UniqueDir child = OpenStream(fd, name);
    if (!child.valid()) {
      if (errno == ENOENT) continue;
      return PosixError("open " + Quote(name), errno);
    }
    frames.push_back({std::move(child), mnt, name});
  }
  return Status::Ok();
}

Status WalkTree(int dirfd, const TreeVisitor& visit) {
  struct Level {
    UniqueDir dir;  // closed (invalid) to bound open streams
    dev_t dev;
    ino_t ino;
    long pos;  // telldir when closed
  };
  std::string self = "/proc/self/fd/" + std::to_string(dirfd);
  UniqueDir top = OpenStream(AT_FDCWD, self.c_str(), /*follow_magic=*/true);
  if (!top.valid()) return PosixError("open the tree to walk", errno);
  struct stat top_st;
  if (fstat(top.fd(), &top_st) != 0)
    return PosixError("stat the tree to walk", errno);
  auto top_mnt = MountOf(top.fd(), "", AT_EMPTY_PATH);
  if (!top_mnt.ok()) return top_mnt.status();
  std::vector<Level> levels;
  levels.push_back({std::move(top), top_st.st_dev, top_st.st_ino, 0});
  size_t first_open = 0;  // levels below this index have their stream closed
  Status status;
  while (!levels.empty()) {
    Level& cur = levels.back();
    int fd = cur.dir.fd();
    errno = 0;
    dirent* e = readdir(cur.dir.get());
    if (e == nullptr) {
      if (errno != 0) {
        status = PosixError("read a directory", errno);
        break;
      }
      if (levels.size() == 1) break;
      UniqueDir done = std::move(cur.dir);
      levels.pop_back();
      Level& up = levels.back();
      if (!up.dir.valid()) {
        // Reopen the parent through ".." and check it is the one we left.
        UniqueDir d = OpenStream(done.fd(), "..");
        struct stat st;
        if (!d.valid() || fstat(d.fd(), &st) != 0 || st.st_dev != up.dev ||
            st.st_ino != up.ino) {
          status = FailedPrecondition("the tree changed during the walk");
          break;
        }
        seekdir(d.get(), up.pos);
        up.dir = std::move(d);
        first_open--;
      }
      continue;
    }
    const char* name = e->d_name;
    if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0) continue;
    struct stat st;
    if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;  // removed while we walk
      status = PosixError("stat " + Quote(name), errno);
      break;
    }
    status = visit(fd, name, st);
    if (!status.ok()) break;
    if (!S_ISDIR(st.st_mode) || st.st_dev != cur.dev) continue;
    auto mnt = MountOf(fd, name, 0);
    if (!mnt.ok()) {
      if (mnt.status().code() == Code::kNotFound) continue;
      status = mnt.status();
      break;
    }
    if (*mnt != *top_mnt) continue;  // a mount point: not entered
    UniqueDir child = OpenStream(fd, name);
    if (!child.valid()) {
      if (errno == ENOENT) continue;
      status = PosixError("open " + Quote(name), errno);
      break;
    }
    levels.push_back({std::move(child), st.st_dev, st.st_ino, 0});
    if (levels.size() - first_open > kMaxOpenLevels) {
      Level& old = levels[first_open++];
      old.pos = telldir(old.dir.get());
      old.dir.reset();
    }
  }
  return status;
}

}  // namespace strata
