// TreeState: everything observable about a directory tree, to prove that a
// hostile operation left a decoy (a stand-in for host files) untouched in
// every way: type, mode, owner, size, content, symlink target, device number,
// link count, mtime and ctime (any chmod, chown, utimes, setxattr, link or
// write bumps ctime, even one that sets the old value again), and every
// extended attribute. atime is left out: reading the content to record it
// may change it.
//
// Thread-safety: plain values.
#ifndef STRATA_TESTS_TESTUTIL_TREE_STATE_H_
#define STRATA_TESTS_TESTUTIL_TREE_STATE_H_

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "io/fs/fs_util.h"

namespace strata {

// One line per entry, sorted by path, so a failing comparison shows the
// entries that differ.
class TreeState {
 public:
  static TreeState Capture(const std::string& root) {
    TreeState t;
    std::vector<std::string> todo = {""};
    while (!todo.empty()) {
      std::string rel = todo.back();
      todo.pop_back();
      std::string path = rel.empty() ? root : root + "/" + rel;
      struct stat st;
      if (lstat(path.c_str(), &st) != 0) {
        t.entries_[rel] = "(missing)";
        continue;
      }
      t.entries_[rel] = Describe(path, st);
      if (!S_ISDIR(st.st_mode)) continue;
      auto names = ListDir(path);
      if (!names.ok()) continue;
      for (const std::string& n : *names)
        todo.push_back(rel.empty() ? n : rel + "/" + n);
    }
    return t;
  }

  bool operator==(const TreeState& o) const { return entries_ == o.entries_; }

  // The entries that differ from `before`, one per line.
  std::string DiffFrom(const TreeState& before) const {
    std::ostringstream out;
    for (const auto& [path, desc] : before.entries_) {
      auto it = entries_.find(path);
      if (it == entries_.end()) {
        out << "removed /" << path << ": " << desc << "\n";
      } else if (it->second != desc) {
        out << "changed /" << path << ":\n  was " << desc << "\n  now "
            << it->second << "\n";
      }
    }
    for (const auto& [path, desc] : entries_) {
      if (!before.entries_.count(path))
        out << "added /" << path << ": " << desc << "\n";
    }
    return out.str();
  }

  size_t size() const { return entries_.size(); }

 private:
  static std::string Describe(const std::string& path, const struct stat& st) {
    std::ostringstream d;
    d << std::oct << "mode=" << st.st_mode << std::dec << " uid=" << st.st_uid
      << " gid=" << st.st_gid << " nlink=" << st.st_nlink
      << " size=" << st.st_size << " rdev=" << st.st_rdev
      << " mtime=" << st.st_mtim.tv_sec << "." << st.st_mtim.tv_nsec
      << " ctime=" << st.st_ctim.tv_sec << "." << st.st_ctim.tv_nsec;
    if (S_ISLNK(st.st_mode)) {
      char buf[4096];
      ssize_t n = readlink(path.c_str(), buf, sizeof(buf));
      d << " target=" << std::string(buf, n > 0 ? n : 0);
    } else if (S_ISREG(st.st_mode)) {
      int fd =
          open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
      if (fd < 0) fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      std::string content;
      char buf[65536];
      ssize_t n;
      while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
        content.append(buf, n);
      if (fd >= 0) close(fd);
      d << " content=" << std::hash<std::string>()(content);
    }
    char names[65536];
    ssize_t len = llistxattr(path.c_str(), names, sizeof(names));
    std::map<std::string, std::string> xattrs;
    for (ssize_t i = 0; i < len;) {
      std::string name = names + i;
      i += static_cast<ssize_t>(name.size()) + 1;
      char value[65536];
      ssize_t vn = lgetxattr(path.c_str(), name.c_str(), value, sizeof(value));
      xattrs[name] = std::string(value, vn > 0 ? vn : 0);
    }
    for (const auto& [k, v] : xattrs) d << " xattr:" << k << "=" << v;
    return d.str();
  }

  std::map<std::string, std::string> entries_;
};

// A decoy: a small tree of every kind of entry, with xattrs and a hardlink
// pair, standing in for host files a hostile layer aims at.
inline void MakeDecoy(const std::string& dir) {
  mkdir(dir.c_str(), 0750);
  std::string file = dir + "/file";
  int fd = open(file.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0640);
  if (fd >= 0) {
    (void)!write(fd, "host secret\n", 12);
    close(fd);
  }
  setxattr(file.c_str(), "user.decoy", "1", 1, 0);
  link(file.c_str(), (dir + "/file.link").c_str());
  mkdir((dir + "/sub").c_str(), 0700);
  fd = open((dir + "/sub/inner").c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  if (fd >= 0) close(fd);
  symlink("file", (dir + "/symlink").c_str());
  mkfifo((dir + "/fifo").c_str(), 0600);
  timespec old[2] = {{1000000000, 1}, {1000000000, 1}};
  utimensat(AT_FDCWD, file.c_str(), old, 0);
  utimensat(AT_FDCWD, (dir + "/sub").c_str(), old, 0);
}

}  // namespace strata

#endif  // STRATA_TESTS_TESTUTIL_TREE_STATE_H_
