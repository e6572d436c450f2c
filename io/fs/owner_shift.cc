#include "io/fs/owner_shift.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "io/base/errno.h"
#include "io/base/unique_fd.h"
#include "io/fs/fs_util.h"
#include "io/fs/tree_walk.h"
#include "io/fs/walk_util.h"

namespace strata {
namespace {

constexpr char kMagic[8] = {'S', 'T', 'R', 'S', 'H', 'F', 'T', '2'};
constexpr const char* kCapXattr = "security.capability";
constexpr size_t kCapMax = 24;  // struct vfs_ns_cap_data
constexpr size_t kCapV2Size = 20;
constexpr uint32_t kCapRevisionMask = 0xFF000000;
constexpr uint32_t kCapRevision2 = 0x02000000;
constexpr uint32_t kCapRevision3 = 0x03000000;
// POSIX ACLs as xattrs (posix_acl_xattr_header and _entry, version 2): the
// access ACL, and a directory's default ACL.
constexpr const char* kAclXattr[2] = {"system.posix_acl_access",
                                      "system.posix_acl_default"};
constexpr uint32_t kAclVersion = 2;
constexpr uint16_t kAclUser = 0x02, kAclGroup = 0x08;
constexpr size_t kAclMax = 4096;                  // bytes per ACL (511 entries)
constexpr size_t kAclAreaMax = size_t{64} << 20;  // per shift

// One changed inode, as stored in the journal (little-endian host layout:
// the journal never leaves the machine that wrote it).
struct Record {
  uint64_t ino;
  uint32_t old_uid, old_gid, new_uid, new_gid;
  uint32_t mode;  // permission and set-ID bits, kept across the chown
  // ACLs in the journal's ACL area from acl_off: the access ACL before and
  // after, then the default ACL before and after (acl_len: each one's
  // bytes, 0 for none).
  uint32_t acl_off;
  uint16_t acl_len[2];
  uint8_t old_cap_len, new_cap_len;
  uint8_t pad[2];
  uint8_t old_cap[kCapMax], new_cap[kCapMax];
};
static_assert(sizeof(Record) == 88);

struct Header {
  char magic[8];
  uint64_t count;      // records
  uint64_t acl_bytes;  // the ACL area after them
};

// What a shift does: the changed inodes and their ACLs.
struct Plan {
  std::vector<Record> recs;
  std::string acls;
};

// Rewrites a v2 ACL's named user and group entries; false (and unchanged)
// for anything else.
bool ShiftAcl(std::string& acl, const OwnerMap& map) {
  uint32_t version;
  if (acl.size() < 4 || (acl.size() - 4) % 8 != 0) return false;
  memcpy(&version, acl.data(), 4);
  if (version != kAclVersion) return false;
  for (size_t off = 4; off < acl.size(); off += 8) {
    uint16_t tag;
    uint32_t id;
    memcpy(&tag, acl.data() + off, 2);
    memcpy(&id, acl.data() + off + 4, 4);
    if (tag == kAclUser) {
      id = map.uid(id);
    } else if (tag == kAclGroup) {
      id = map.gid(id);
    } else {
      continue;
    }
    memcpy(acl.data() + off + 4, &id, 4);
  }
  return true;
}

uint32_t Load32(const uint8_t* p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

// The capability after the shift (MapCapabilityRoot) into `out`; returns
// its length.
size_t ShiftCap(const uint8_t* cap, size_t len, const OwnerMap& map,
                uint8_t* out) {
  std::string shifted = MapCapabilityRoot(
      std::string_view(reinterpret_cast<const char*>(cap), len), map.uid);
  memcpy(out, shifted.data(), shifted.size());
  return shifted.size();
}

std::string ParentOf(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string BaseOf(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Calls fn(dirfd, name, st) for the tree's root (through its parent) and
// every entry below it but mount points: what is mounted inside the tree (a
// bind mount of a host directory or file) is never re-owned.
Status ForEachEntry(const std::string& tree, const TreeVisitor& fn) {
  UniqueFd parent(
      open(ParentOf(tree).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!parent.valid())
    return PosixError("open the parent of " + BaseOf(tree), errno);
  std::string name = BaseOf(tree);
  struct stat st;
  if (fstatat(parent.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return PosixError("stat " + name, errno);
  if (!S_ISDIR(st.st_mode))
    return InvalidArgument(name + " is not a directory");
  STRATA_RETURN_IF_ERROR(fn(parent.get(), name.c_str(), st));
  UniqueFd root(openat(parent.get(), name.c_str(),
                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root.valid()) return PosixError("open " + name, errno);
  EntryStat top;
  STRATA_RETURN_IF_ERROR(StatAt(root.get(), "", &top));
  return WalkTree(
      root.get(),
      [&](int dirfd, const char* entry, const struct stat& est) -> Status {
        EntryStat es;
        Status s = StatAt(dirfd, entry, &es);
        if (s.code() == Code::kNotFound) return Status::Ok();  // gone meanwhile
        STRATA_RETURN_IF_ERROR(s);
        if (IsMountPoint(es, top)) return Status::Ok();
        return fn(dirfd, entry, est);
      });
}

std::string AtPath(int dirfd, const char* name) {
  return "/proc/self/fd/" + std::to_string(dirfd) + "/" + name;
}

// Sets one entry to the plan's owners for `direction`, then puts back what
// the chown cleared (set-ID bits, the capability).
Status Apply(int dirfd, const char* name, const struct stat& st,
             const Record& r, const std::string& acls,
             ShiftDirection direction) {
  bool fwd = direction == ShiftDirection::kForward;
  uid_t uid = fwd ? r.new_uid : r.old_uid;
  gid_t gid = fwd ? r.new_gid : r.old_gid;
  size_t cap_len = fwd ? r.new_cap_len : r.old_cap_len;
  const uint8_t* cap = fwd ? r.new_cap : r.old_cap;
  if (fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return Status::Ok();  // gone since the walk read it
    return PosixError(std::string("chown ") + name, errno);
  }
  bool reg = S_ISREG(st.st_mode);
  if (!(reg || S_ISDIR(st.st_mode))) return Status::Ok();
  if ((r.mode & 07000) == 0 && cap_len == 0 && r.acl_len[0] == 0 &&
      r.acl_len[1] == 0) {
    return Status::Ok();
  }
  // Pinned without following a symlink and checked to be the same inode of
  // the same type before it is opened for real (through its descriptor, so
  // a device or fifo swapped in meanwhile is never opened).
  UniqueFd pin(openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!pin.valid()) return PosixError(std::string("open ") + name, errno);
  struct stat now;
  if (fstat(pin.get(), &now) != 0) return PosixError("stat", errno);
  if (now.st_ino != r.ino || (now.st_mode & S_IFMT) != (st.st_mode & S_IFMT))
    return Status::Ok();  // replaced since the walk
  UniqueFd fd(open(("/proc/self/fd/" + std::to_string(pin.get())).c_str(),
                   O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd.valid()) return PosixError(std::string("open ") + name, errno);
  if ((now.st_mode & 07777) != r.mode && fchmod(fd.get(), r.mode) != 0)
    return PosixError(std::string("chmod ") + name, errno);
  if (reg && cap_len > 0 &&
      fsetxattr(fd.get(), kCapXattr, cap, cap_len, 0) != 0) {
    return PosixError(std::string("restore the capability of ") + name, errno);
  }
  size_t off = r.acl_off;
  for (int i = 0; i < 2; ++i) {
    size_t len = r.acl_len[i];
    if (len == 0) continue;
    const char* acl = acls.data() + off + (fwd ? len : 0);
    off += 2 * len;
    if (fsetxattr(fd.get(), kAclXattr[i], acl, len, 0) != 0)
      return PosixError(std::string("set the ACL of ") + name, errno);
  }
  return Status::Ok();
}

Status ApplyAll(const std::string& tree, const Plan& plan,
                ShiftDirection direction) {
  const std::vector<Record>& recs = plan.recs;
  std::unordered_map<uint64_t, size_t> by_ino;
  by_ino.reserve(recs.size());
  for (size_t i = 0; i < recs.size(); ++i) by_ino.emplace(recs[i].ino, i);
  return ForEachEntry(
      tree, [&](int dirfd, const char* name, const struct stat& st) -> Status {
        auto it = by_ino.find(st.st_ino);
        if (it == by_ino.end()) return Status::Ok();
        return Apply(dirfd, name, st, recs[it->second], plan.acls, direction);
      });
}

Status WriteJournal(const std::string& journal, const Plan& plan) {
  const std::vector<Record>& recs = plan.recs;
  std::string tmp = journal + ".tmp";
  unlink(tmp.c_str());
  UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid()) return PosixError("create the owner-shift journal", errno);
  Header h;
  memcpy(h.magic, kMagic, sizeof(kMagic));
  h.count = recs.size();
  h.acl_bytes = plan.acls.size();
  std::string buf(reinterpret_cast<const char*>(&h), sizeof(h));
  buf.append(reinterpret_cast<const char*>(recs.data()),
             recs.size() * sizeof(Record));
  buf += plan.acls;
  size_t off = 0;
  while (off < buf.size()) {
    ssize_t n = write(fd.get(), buf.data() + off, buf.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return PosixError("write the owner-shift journal", errno);
    off += static_cast<size_t>(n);
  }
  if (fsync(fd.get()) != 0)
    return PosixError("sync the owner-shift journal", errno);
  if (rename(tmp.c_str(), journal.c_str()) != 0)
    return PosixError("rename the owner-shift journal", errno);
  return SyncDir(ParentOf(journal));
}

// The journal's records; NotFound when there is none. A journal is renamed
// into place only once complete and synced, so anything else is corrupt.
Result<Plan> ReadJournal(const std::string& journal) {
  UniqueFd fd(open(journal.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return NotFound("no owner-shift journal");
    return PosixError("open the owner-shift journal", errno);
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return PosixError("stat the journal", errno);
  Header h;
  if (st.st_size < static_cast<off_t>(sizeof(h)) ||
      pread(fd.get(), &h, sizeof(h), 0) != sizeof(h) ||
      memcmp(h.magic, kMagic, sizeof(kMagic)) != 0 ||
      h.count > kMaxShiftedInodes || h.acl_bytes > kAclAreaMax ||
      static_cast<uint64_t>(st.st_size) !=
          sizeof(h) + h.count * sizeof(Record) + h.acl_bytes) {
    return DataLoss("the owner-shift journal is corrupt");
  }
  Plan plan;
  plan.recs.resize(h.count);
  plan.acls.resize(h.acl_bytes);
  size_t want = h.count * sizeof(Record);
  if ((want > 0 && pread(fd.get(), plan.recs.data(), want, sizeof(h)) !=
                       static_cast<ssize_t>(want)) ||
      (h.acl_bytes > 0 &&
       pread(fd.get(), plan.acls.data(), h.acl_bytes, sizeof(h) + want) !=
           static_cast<ssize_t>(h.acl_bytes))) {
    return PosixError("read the owner-shift journal", errno);
  }
  for (const Record& r : plan.recs) {
    if (uint64_t{r.acl_off} + 2u * (r.acl_len[0] + r.acl_len[1]) > h.acl_bytes)
      return DataLoss("the owner-shift journal is corrupt");
  }
  return plan;
}

}  // namespace

std::string MapCapabilityRoot(std::string_view cap,
                              const std::function<uint32_t(uint32_t)>& uid) {
  std::string out(cap);
  if (cap.size() != kCapMax) return out;
  const uint8_t* p = reinterpret_cast<const uint8_t*>(cap.data());
  uint32_t magic = Load32(p);
  if ((magic & kCapRevisionMask) != kCapRevision3) return out;
  uint32_t root = uid(Load32(p + kCapV2Size));
  if (root == 0) {
    uint32_t v2 = kCapRevision2 | (magic & ~kCapRevisionMask);
    memcpy(out.data(), &v2, 4);
    out.resize(kCapV2Size);
    return out;
  }
  memcpy(out.data() + kCapV2Size, &root, 4);
  return out;
}

Result<ShiftStats> ShiftOwners(const std::string& tree, const OwnerMap& map,
                               const std::string& journal) {
  if (access(journal.c_str(), F_OK) == 0) {
    return FailedPrecondition(
        "an earlier owner shift was not finished or rolled back");
  }
  ShiftStats stats;
  Plan plan;
  std::vector<Record>& recs = plan.recs;
  std::unordered_map<uint64_t, bool> linked;  // files with more than one name
  Status planned = ForEachEntry(
      tree, [&](int dirfd, const char* name, const struct stat& st) -> Status {
        stats.entries++;
        if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
          if (!linked.emplace(st.st_ino, true).second) return Status::Ok();
          if (linked.size() > kMaxShiftedInodes)
            return ResourceExhausted("too many hard-linked files to re-own");
        }
        Record r{};
        r.ino = st.st_ino;
        r.old_uid = st.st_uid;
        r.old_gid = st.st_gid;
        r.new_uid = map.uid(st.st_uid);
        r.new_gid = map.gid(st.st_gid);
        r.mode = st.st_mode & 07777;
        if (S_ISREG(st.st_mode)) {
          ssize_t n = lgetxattr(AtPath(dirfd, name).c_str(), kCapXattr,
                                r.old_cap, kCapMax);
          if (n < 0 && errno != ENODATA && errno != ENOTSUP && errno != ERANGE)
            return PosixError(std::string("read the capability of ") + name,
                              errno);
          if (n > 0) {
            r.old_cap_len = static_cast<uint8_t>(n);
            r.new_cap_len = static_cast<uint8_t>(
                ShiftCap(r.old_cap, static_cast<size_t>(n), map, r.new_cap));
          }
        }
        // ACLs: a file's or directory's, named user and group entries.
        std::string acl[2], shifted[2];
        bool acl_changed = false;
        for (int i = 0; i < 2 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode));
             ++i) {
          if (i == 1 && !S_ISDIR(st.st_mode)) break;
          acl[i].resize(kAclMax);
          ssize_t n = lgetxattr(AtPath(dirfd, name).c_str(), kAclXattr[i],
                                acl[i].data(), acl[i].size());
          if (n < 0 && errno == ERANGE) {
            return ResourceExhausted(std::string("the ACL of ") + name +
                                     " is too large to re-own");
          }
          if (n < 0 && errno != ENODATA && errno != ENOTSUP)
            return PosixError(std::string("read the ACL of ") + name, errno);
          acl[i].resize(n > 0 ? static_cast<size_t>(n) : 0);
          shifted[i] = acl[i];
          if (!acl[i].empty() && ShiftAcl(shifted[i], map) &&
              shifted[i] != acl[i]) {
            acl_changed = true;
          }
        }
        if (acl_changed) {
          if (plan.acls.size() + 2 * (acl[0].size() + acl[1].size()) >
              kAclAreaMax) {
            return ResourceExhausted("too many ACLs to re-own");
          }
          r.acl_off = static_cast<uint32_t>(plan.acls.size());
          for (int i = 0; i < 2; ++i) {
            r.acl_len[i] = static_cast<uint16_t>(acl[i].size());
            plan.acls += acl[i];
            plan.acls += shifted[i];
          }
        }
        bool changed = r.new_uid != r.old_uid || r.new_gid != r.old_gid ||
                       r.new_cap_len != r.old_cap_len ||
                       memcmp(r.old_cap, r.new_cap, r.old_cap_len) != 0 ||
                       acl_changed;
        if (!changed) return Status::Ok();
        if (recs.size() >= kMaxShiftedInodes) {
          return ResourceExhausted("more than " +
                                   std::to_string(kMaxShiftedInodes) +
                                   " inodes to re-own");
        }
        recs.push_back(r);
        return Status::Ok();
      });
  STRATA_RETURN_IF_ERROR(planned);
  stats.changed = recs.size();
  if (recs.empty()) return stats;
  STRATA_RETURN_IF_ERROR(WriteJournal(journal, plan));
  STRATA_RETURN_IF_ERROR(ApplyAll(tree, plan, ShiftDirection::kForward));
  return stats;
}

Status ReplayShiftJournal(const std::string& tree, const std::string& journal,
                          ShiftDirection direction) {
  auto plan = ReadJournal(journal);
  if (!plan.ok() && plan.status().code() == Code::kNotFound)
    return Status::Ok();
  STRATA_RETURN_IF_ERROR(plan.status());
  return ApplyAll(tree, *plan, direction);
}

Status RemoveShiftJournal(const std::string& journal) {
  if (unlink(journal.c_str()) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return PosixError("remove the owner-shift journal", errno);
  }
  return SyncDir(ParentOf(journal));
}

}  // namespace strata
