#include "io/diff/changes.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/base/errno.h"
#include "io/base/unique_dir.h"
#include "io/base/unique_fd.h"
#include "io/diff/entry_read.h"
#include "io/fs/fs_util.h"
#include "io/fs/walk_util.h"

namespace strata {

char ChangeLetter(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kAdd:
      return 'A';
    case ChangeKind::kModify:
    case ChangeKind::kOpaque:
      return 'C';
    case ChangeKind::kDelete:
      return 'D';
    case ChangeKind::kParent:
    case ChangeKind::kUnmodifiedLink:
      break;
  }
  return ' ';
}

namespace {

constexpr const char* kCapability = "security.capability";
constexpr const char* kOpaqueXattr = "trusted.overlay.opaque";
constexpr const char* kRedirectXattr = "trusted.overlay.redirect";
constexpr const char* kMetacopyXattr = "trusted.overlay.metacopy";

struct Item {
  std::string name;
  EntryStat es;
  const struct stat& st() const { return es.st; }
};

// overlayfs's opaque marker: trusted.overlay.opaque = "y" ("x", on newer
// kernels, marks a directory that may hold xwhiteouts, not an opaque one).
Result<bool> IsOpaque(int dirfd) {
  std::string v;
  STRATA_ASSIGN_OR_RETURN(bool has, XattrFd(dirfd, kOpaqueXattr, &v));
  return has && v == "y";
}

bool IsWhiteout(const struct stat& st) {
  return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

std::string Join(std::string_view dir, std::string_view name) {
  std::string p(dir);
  if (!p.empty()) p += '/';
  p += name;
  return p;
}

// The entries of the directory open at fd (borrowed), sorted by name.
Status ListSorted(int fd, const ChangeLimits& limits, std::string_view path,
                  std::vector<Item>* out) {
  out->clear();
  UniqueFd again(openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!again.valid()) return PosixError("open " + ShownPath(path), errno);
  UniqueDir d(fdopendir(again.get()));
  if (!d.valid()) return PosixError("list " + ShownPath(path), errno);
  again.release();
  for (;;) {
    errno = 0;
    struct dirent* de = readdir(d.get());
    if (de == nullptr) {
      if (errno != 0) return PosixError("list " + ShownPath(path), errno);
      break;
    }
    if (std::strcmp(de->d_name, ".") == 0 || std::strcmp(de->d_name, "..") == 0)
      continue;
    if (out->size() >= limits.max_dir_entries) {
      return ResourceExhausted(ShownPath(path) + " holds more than " +
                               std::to_string(limits.max_dir_entries) +
                               " entries");
    }
    Item it;
    it.name = de->d_name;
    Status s = StatAt(fd, de->d_name, &it.es);
    if (s.code() == Code::kNotFound) continue;  // gone since listed
    if (!s.ok()) return s.WithContext("stat " + ShownPath(Join(path, it.name)));
    out->push_back(std::move(it));
  }
  std::sort(out->begin(), out->end(),
            [](const Item& a, const Item& b) { return a.name < b.name; });
  return Status::Ok();
}

// Equal extents: the same physical blocks, so the same bytes. False when
// unknown (no FIEMAP, unlocated extents, too many to compare).
bool SameExtents(int a, int b) {
  constexpr size_t kMaxExtents = 4096;
  std::vector<FileExtent> ea, eb;
  bool ok = true;
  auto collect = [&ok](std::vector<FileExtent>& v) {
    return [&ok, &v](const FileExtent& e) {
      if (!e.located || v.size() >= kMaxExtents) ok = false;
      if (ok) v.push_back(e);
    };
  };
  if (!ForEachExtent(a, collect(ea)).ok() || !ok) return false;
  if (!ForEachExtent(b, collect(eb)).ok() || !ok) return false;
  if (ea.empty() || ea.size() != eb.size()) return false;
  for (size_t i = 0; i < ea.size(); ++i) {
    if (ea[i].logical != eb[i].logical || ea[i].physical != eb[i].physical ||
        ea[i].length != eb[i].length) {
      return false;
    }
  }
  return true;
}

Result<bool> SameBytes(int a, int b, int64_t size, std::string_view path) {
  constexpr size_t kChunk = 64 << 10;
  std::unique_ptr<char[]> ba(new char[kChunk]), bb(new char[kChunk]);
  int64_t off = 0;
  while (off < size) {
    size_t want = static_cast<size_t>(std::min<int64_t>(kChunk, size - off));
    ssize_t na = pread(a, ba.get(), want, off);
    ssize_t nb = pread(b, bb.get(), want, off);
    if (na < 0 || nb < 0) return PosixError("read " + ShownPath(path), errno);
    if (na != nb) return false;
    if (na == 0) return ChangedWhileRead(path);  // shorter than its stat said
    if (std::memcmp(ba.get(), bb.get(), static_cast<size_t>(na)) != 0)
      return false;
    off += na;
  }
  return true;
}

// containerd's "same entry" test (header comment) for lower entry
// ldir/name vs upper entry udir/name. `metacopy`: the upper's data is the
// lower's by construction.
Result<bool> SameEntry(int ldir, const struct stat& ls, int udir,
                       const struct stat& us, const char* name,
                       std::string_view path, bool metacopy) {
  if (ls.st_dev == us.st_dev && ls.st_ino == us.st_ino) return true;
  if (ls.st_mode != us.st_mode || ls.st_uid != us.st_uid ||
      ls.st_gid != us.st_gid || ls.st_rdev != us.st_rdev) {
    return false;
  }
  if (S_ISREG(us.st_mode) || S_ISDIR(us.st_mode)) {
    std::string lc, uc;
    STRATA_ASSIGN_OR_RETURN(bool lhas, XattrAt(ldir, name, kCapability, &lc));
    STRATA_ASSIGN_OR_RETURN(bool uhas, XattrAt(udir, name, kCapability, &uc));
    if (lhas != uhas || lc != uc) return false;
  }
  if (S_ISDIR(us.st_mode)) return true;
  if (ls.st_size != us.st_size || ls.st_mtim.tv_sec != us.st_mtim.tv_sec)
    return false;
  if (ls.st_mtim.tv_nsec != us.st_mtim.tv_nsec) return false;
  if (ls.st_mtim.tv_nsec != 0) return true;
  if (S_ISLNK(us.st_mode)) {
    std::string a(static_cast<size_t>(ls.st_size) + 1, '\0');
    std::string b(static_cast<size_t>(us.st_size) + 1, '\0');
    ssize_t na = readlinkat(ldir, name, a.data(), a.size());
    ssize_t nb = readlinkat(udir, name, b.data(), b.size());
    if (na < 0 || nb < 0) return ChangedWhileRead(path);
    return na == nb && std::memcmp(a.data(), b.data(), na) == 0;
  }
  if (!S_ISREG(us.st_mode) || metacopy) return true;
  STRATA_ASSIGN_OR_RETURN(UniqueFd lf, OpenFileChecked(ldir, name, ls, path));
  STRATA_ASSIGN_OR_RETURN(UniqueFd uf, OpenFileChecked(udir, name, us, path));
  if (SameExtents(lf.get(), uf.get())) return true;
  return SameBytes(lf.get(), uf.get(), us.st_size, path);
}

// One directory of the upper tree being walked, with what lies below it.
struct Level {
  UniqueFd fd;       // the upper directory (O_RDONLY|O_DIRECTORY)
  std::string path;  // relative to the root
  std::string name;  // in the parent level
  EntryStat es;      // its own stat
  bool reported = false;
  std::vector<Item> items;
  size_t next = 0;
  // Overlay: the lower directories this path shows, nearest first.
  std::vector<UniqueFd> lowers;
  // Full trees: the lower counterpart (invalid: none) and its entries.
  UniqueFd lower;
  std::vector<Item> lower_items;
  size_t lower_next = 0;
};

class Walker {
 public:
  Walker(const ChangeVisitor& visit, ChangeLimits limits)
      : visit_(visit), limits_(limits) {}

  Status Emit(Change c) {
    if (c.kind == ChangeKind::kUnmodifiedLink) {
      // Its parents only if a writer writes it now (Change::parents).
      std::function<Status()> parents = [this] { return ReportParents(); };
      c.parents = &parents;
      return visit_(c);
    }
    STRATA_RETURN_IF_ERROR(ReportParents());
    return visit_(c);
  }

  // Ancestors not reported yet, top down (the root never: a layer has no
  // entry for it).
  Status ReportParents() {
    for (size_t i = 1; i < stack_.size(); ++i) {
      Level& l = *stack_[i];
      if (l.reported) continue;
      Change p;
      p.kind = ChangeKind::kParent;
      p.path = l.path;
      p.dir = stack_[i - 1]->fd.get();
      p.name = l.name.c_str();
      p.st = &l.es.st;
      p.data_dir = p.dir;
      STRATA_RETURN_IF_ERROR(visit_(p));
      l.reported = true;
    }
    return Status::Ok();
  }

  Change Entry(ChangeKind kind, const std::string& path, int dir,
               const Item& it) {
    Change c;
    c.kind = kind;
    c.path = path;
    c.dir = dir;
    c.name = it.name.c_str();
    c.st = &it.es.st;
    c.data_dir = dir;
    c.data_size = S_ISREG(it.st().st_mode) ? it.st().st_size : 0;
    return c;
  }

  // Non-directory `c` (an Add), against its lower counterpart ldir/*lower
  // when there is one: a Modify, nothing, or an unchanged link.
  Status EmitFile(Change c, int ldir, const struct stat* lower, bool metacopy) {
    if (lower != nullptr) {
      c.kind = ChangeKind::kModify;
      STRATA_ASSIGN_OR_RETURN(bool same, SameEntry(ldir, *lower, c.dir, *c.st,
                                                   c.name, c.path, metacopy));
      if (same) {
        if (c.st->st_nlink < 2) return Status::Ok();
        c.kind = ChangeKind::kUnmodifiedLink;
      }
    }
    return Emit(c);
  }

  static std::unique_ptr<Level> Child(const std::string& path, const Item& it) {
    auto child = std::make_unique<Level>();
    child->path = path;
    child->name = it.name;
    child->es = it.es;
    return child;
  }

  Status CheckDepth(const std::string& path) {
    if (static_cast<int>(stack_.size()) > limits_.max_depth) {
      return ResourceExhausted(ShownPath(path) + " is more than " +
                               std::to_string(limits_.max_depth) +
                               " directories deep");
    }
    return Status::Ok();
  }

  Status Push(std::unique_ptr<Level> l) {
    STRATA_RETURN_IF_ERROR(CheckDepth(l->path));
    STRATA_RETURN_IF_ERROR(
        ListSorted(l->fd.get(), limits_, l->path, &l->items));
    if (l->lower.valid()) {
      STRATA_RETURN_IF_ERROR(
          ListSorted(l->lower.get(), limits_, l->path, &l->lower_items));
    }
    stack_.push_back(std::move(l));
    return Status::Ok();
  }

  Result<std::unique_ptr<Level>> Root(int upper) {
    auto l = std::make_unique<Level>();
    l->fd.reset(openat(upper, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!l->fd.valid()) return PosixError("open the upper tree", errno);
    STRATA_RETURN_IF_ERROR(StatAt(l->fd.get(), "", &l->es));
    l->reported = true;
    return l;
  }

  Status OverlayStep();
  Status TreeStep();

  // Runs step() until the walk is done.
  template <typename Step>
  Status Run(Step step) {
    while (!stack_.empty()) STRATA_RETURN_IF_ERROR(step());
    return Status::Ok();
  }

  std::vector<std::unique_ptr<Level>> stack_;

 private:
  // What the lowers of `l` show at `name`: the nearest entry (nullopt when
  // none, or a whiteout), the directory holding it, and, for a directory,
  // the lower directories the path merges (stopping below an opaque one).
  struct LowerHit {
    std::optional<struct stat> st;
    int dir = -1;
    std::vector<UniqueFd> dirs;
  };
  Result<LowerHit> LookupLower(Level& l, const Item& it,
                               const std::string& path, bool want_dirs);
  // The names the lowers of `l` merge under directory entry `hit` that the
  // upper does not have (an opaque directory's implied deletions).
  Status HiddenNames(const LowerHit& hit, const std::vector<Item>& upper,
                     const std::string& path, std::vector<std::string>* out);
  // Overlay data of a metacopy file: the nearest lower regular file.
  Result<int> MetacopyData(const Level& l, const Item& it,
                           const std::string& path, int64_t* size);

  const ChangeVisitor& visit_;
  ChangeLimits limits_;
};

Result<Walker::LowerHit> Walker::LookupLower(Level& l, const Item& it,
                                             const std::string& path,
                                             bool want_dirs) {
  LowerHit hit;
  for (const UniqueFd& lfd : l.lowers) {
    struct stat st;
    if (fstatat(lfd.get(), it.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;
      return PosixError("stat lower " + ShownPath(path), errno);
    }
    if (!hit.st) {
      if (IsWhiteout(st)) return hit;
      hit.st = st;
      hit.dir = lfd.get();
      if (!S_ISDIR(st.st_mode) || !want_dirs) return hit;
    } else if (IsWhiteout(st) || !S_ISDIR(st.st_mode)) {
      return hit;  // overlayfs merges no further
    }
    STRATA_ASSIGN_OR_RETURN(
        UniqueFd d, OpenDirChecked(lfd.get(), it.name.c_str(), st, path));
    STRATA_ASSIGN_OR_RETURN(bool opaque, IsOpaque(d.get()));
    hit.dirs.push_back(std::move(d));
    if (opaque) return hit;
  }
  return hit;
}

Status Walker::HiddenNames(const LowerHit& hit, const std::vector<Item>& upper,
                           const std::string& path,
                           std::vector<std::string>* out) {
  // Merge the lowers' listings as overlayfs would: the nearest entry of a
  // name wins; a whiteout there hides it.
  std::vector<std::pair<std::string, bool>> seen;  // name, visible
  for (const UniqueFd& d : hit.dirs) {
    std::vector<Item> items;
    STRATA_RETURN_IF_ERROR(ListSorted(d.get(), limits_, path, &items));
    for (const Item& it : items) {
      auto pos = std::lower_bound(
          seen.begin(), seen.end(), it.name,
          [](const auto& a, const std::string& b) { return a.first < b; });
      if (pos != seen.end() && pos->first == it.name) continue;
      seen.insert(pos, {it.name, !IsWhiteout(it.st())});
    }
    if (seen.size() > limits_.max_dir_entries) {
      return ResourceExhausted(ShownPath(path) + " holds more than " +
                               std::to_string(limits_.max_dir_entries) +
                               " entries");
    }
  }
  for (const auto& [name, visible] : seen) {
    if (!visible) continue;
    auto it = std::lower_bound(
        upper.begin(), upper.end(), name,
        [](const Item& a, const std::string& b) { return a.name < b; });
    if (it == upper.end() || it->name != name) out->push_back(name);
  }
  return Status::Ok();
}

Result<int> Walker::MetacopyData(const Level& l, const Item& it,
                                 const std::string& path, int64_t* size) {
  for (const UniqueFd& lfd : l.lowers) {
    struct stat st;
    if (fstatat(lfd.get(), it.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;
      return PosixError("stat lower " + ShownPath(path), errno);
    }
    if (!S_ISREG(st.st_mode)) break;
    STRATA_ASSIGN_OR_RETURN(
        auto meta, XattrAt(lfd.get(), it.name.c_str(), kMetacopyXattr));
    if (meta) continue;  // metadata only there too: its data is lower still
    *size = st.st_size;
    return lfd.get();
  }
  return Unimplemented(ShownPath(path) +
                       " is an overlay metacopy file whose data is in no "
                       "lower layer");
}

Status Walker::OverlayStep() {
  Level& l = *stack_.back();
  if (l.next == l.items.size()) {
    stack_.pop_back();
    return Status::Ok();
  }
  const Item& it = l.items[l.next++];
  const std::string path = Join(l.path, it.name);
  const struct stat& st = it.st();
  const bool is_dir = S_ISDIR(st.st_mode);
  const int dir = l.fd.get();
  if (S_ISREG(st.st_mode) || is_dir) {
    STRATA_ASSIGN_OR_RETURN(auto redirect,
                            XattrAt(dir, it.name.c_str(), kRedirectXattr));
    if (redirect) {
      return Unimplemented(
          ShownPath(path) +
          " was renamed through overlayfs (redirect_dir): its content "
          "lives under another lower path");
    }
  }
  STRATA_ASSIGN_OR_RETURN(LowerHit hit, LookupLower(l, it, path, is_dir));
  if (IsWhiteout(st)) {
    if (!hit.st) return Status::Ok();  // hides nothing
    Change c;
    c.kind = ChangeKind::kDelete;
    c.path = path;
    return Emit(c);
  }
  if (!is_dir) {
    Change c = Entry(ChangeKind::kAdd, path, dir, it);
    bool metacopy = false;
    if (S_ISREG(st.st_mode)) {
      STRATA_ASSIGN_OR_RETURN(auto meta,
                              XattrAt(dir, it.name.c_str(), kMetacopyXattr));
      if (meta) {
        metacopy = true;
        STRATA_ASSIGN_OR_RETURN(c.data_dir,
                                MetacopyData(l, it, path, &c.data_size));
      }
    }
    return EmitFile(c, hit.dir, hit.st ? &*hit.st : nullptr, metacopy);
  }
  // A directory.
  std::unique_ptr<Level> child = Child(path, it);
  if (IsMountPoint(it.es, l.es)) {
    // Reported, never entered (tree_walk.h): what is mounted there is not
    // this snapshot's.
    return Emit(
        Entry(hit.st ? ChangeKind::kModify : ChangeKind::kAdd, path, dir, it));
  }
  STRATA_ASSIGN_OR_RETURN(child->fd,
                          OpenDirChecked(dir, it.name.c_str(), st, path));
  STRATA_ASSIGN_OR_RETURN(bool opaque, IsOpaque(child->fd.get()));
  const bool lower_dir = hit.st && S_ISDIR(hit.st->st_mode);
  ChangeKind kind = ChangeKind::kAdd;
  if (hit.st) {
    kind = ChangeKind::kModify;
    if (lower_dir) {
      STRATA_ASSIGN_OR_RETURN(
          bool same,
          SameEntry(hit.dir, *hit.st, dir, st, it.name.c_str(), path, false));
      if (same) kind = ChangeKind::kParent;  // reported only above changes
    }
  }
  if (kind != ChangeKind::kParent) {
    STRATA_RETURN_IF_ERROR(Emit(Entry(kind, path, dir, it)));
    child->reported = true;
  }
  if (opaque && lower_dir) {
    STRATA_RETURN_IF_ERROR(CheckDepth(path));
    std::vector<Item> upper_items;
    STRATA_RETURN_IF_ERROR(
        ListSorted(child->fd.get(), limits_, path, &upper_items));
    std::vector<std::string> hidden;
    STRATA_RETURN_IF_ERROR(HiddenNames(hit, upper_items, path, &hidden));
    if (!hidden.empty()) {
      // The marker belongs to the directory: push it so Emit reports it.
      Level* keep = child.get();
      stack_.push_back(std::move(child));
      Change c = Entry(ChangeKind::kOpaque, path, dir, it);
      Status s = Emit(c);
      keep->reported = true;
      for (const std::string& name : hidden) {
        if (!s.ok()) break;
        std::string p = Join(path, name);
        Change d;
        d.kind = ChangeKind::kDelete;
        d.path = p;
        d.implied = true;
        s = visit_(d);
      }
      child = std::move(stack_.back());
      stack_.pop_back();
      STRATA_RETURN_IF_ERROR(s);
    }
    hit.dirs.clear();  // nothing below shows through
  }
  child->lowers = std::move(hit.dirs);
  return Push(std::move(child));
}

Status Walker::TreeStep() {
  Level& l = *stack_.back();
  const bool more_upper = l.next < l.items.size();
  const bool more_lower = l.lower_next < l.lower_items.size();
  if (!more_upper && !more_lower) {
    stack_.pop_back();
    return Status::Ok();
  }
  int order = 0;  // <0: only in upper, >0: only in lower
  if (!more_lower) {
    order = -1;
  } else if (!more_upper) {
    order = 1;
  } else {
    order = l.items[l.next].name.compare(l.lower_items[l.lower_next].name);
  }
  if (order > 0) {
    const Item& lit = l.lower_items[l.lower_next++];
    std::string path = Join(l.path, lit.name);
    Change c;
    c.kind = ChangeKind::kDelete;
    c.path = path;
    return Emit(c);
  }
  const Item& it = l.items[l.next++];
  const Item* lit = nullptr;
  if (order == 0) lit = &l.lower_items[l.lower_next++];
  const std::string path = Join(l.path, it.name);
  const struct stat& st = it.st();
  const int dir = l.fd.get();
  const int ldir = l.lower.get();
  if (!S_ISDIR(st.st_mode)) {
    return EmitFile(Entry(ChangeKind::kAdd, path, dir, it), ldir,
                    lit ? &lit->st() : nullptr, false);
  }
  std::unique_ptr<Level> child = Child(path, it);
  ChangeKind kind = lit ? ChangeKind::kModify : ChangeKind::kAdd;
  const bool lower_dir = lit && S_ISDIR(lit->st().st_mode);
  if (lower_dir) {
    STRATA_ASSIGN_OR_RETURN(bool same, SameEntry(ldir, lit->st(), dir, st,
                                                 it.name.c_str(), path, false));
    if (same) kind = ChangeKind::kParent;
  }
  if (kind != ChangeKind::kParent) {
    STRATA_RETURN_IF_ERROR(Emit(Entry(kind, path, dir, it)));
    child->reported = true;
  }
  if (IsMountPoint(it.es, l.es)) return Status::Ok();  // never entered
  STRATA_ASSIGN_OR_RETURN(child->fd,
                          OpenDirChecked(dir, it.name.c_str(), st, path));
  if (lower_dir && !IsMountPoint(lit->es, l.es)) {
    STRATA_ASSIGN_OR_RETURN(
        child->lower, OpenDirChecked(ldir, it.name.c_str(), lit->st(), path));
  }
  return Push(std::move(child));
}

}  // namespace

Status OverlayChanges(int upper, const std::vector<int>& lowers,
                      const ChangeVisitor& visit, ChangeLimits limits) {
  Walker w(visit, limits);
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Level> root, w.Root(upper));
  for (int fd : lowers) {
    UniqueFd d(openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!d.valid()) return PosixError("open a lower layer", errno);
    STRATA_ASSIGN_OR_RETURN(bool opaque, IsOpaque(d.get()));
    root->lowers.push_back(std::move(d));
    if (opaque) break;
  }
  STRATA_RETURN_IF_ERROR(w.Push(std::move(root)));
  return w.Run([&w] { return w.OverlayStep(); });
}

Status TreeChanges(int lower, int upper, const ChangeVisitor& visit,
                   ChangeLimits limits) {
  Walker w(visit, limits);
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Level> root, w.Root(upper));
  if (lower >= 0) {
    root->lower.reset(openat(lower, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root->lower.valid()) return PosixError("open the lower tree", errno);
  }
  STRATA_RETURN_IF_ERROR(w.Push(std::move(root)));
  return w.Run([&w] { return w.TreeStep(); });
}

}  // namespace strata
