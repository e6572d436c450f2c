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

namespace strata {
namespace {

constexpr char kMagic[8] = {'S', 'T', 'R', 'S', 'H', 'F', 'T', '1'};
constexpr const char* kCapXattr = "security.capability";
constexpr size_t kCapMax = 24;  // struct vfs_ns_cap_data
constexpr size_t kCapV2Size = 20;
constexpr uint32_t kCapRevisionMask = 0xFF000000;
constexpr uint32_t kCapRevision2 = 0x02000000;
constexpr uint32_t kCapRevision3 = 0x03000000;

// One changed inode, as stored in the journal (little-endian host layout:
// the journal never leaves the machine that wrote it).
struct Record {
  uint64_t ino;
  uint32_t old_uid, old_gid, new_uid, new_gid;
  uint32_t mode;  // permission and set-ID bits, kept across the chown
  uint8_t old_cap_len, new_cap_len;
  uint8_t pad[2];
  uint8_t old_cap[kCapMax], new_cap[kCapMax];
};
static_assert(sizeof(Record) == 80);

struct Header {
  char magic[8];
  uint64_t count;
};

uint32_t Load32(const uint8_t* p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

// The capability after the shift: a v3 one names its namespace root's host
// uid, which the map rewrites (to v2 when that root becomes 0). Returns its
// length (0: unchanged form, copy as is).
size_t ShiftCap(const uint8_t* cap, size_t len, const OwnerMap& map,
                uint8_t* out) {
  memcpy(out, cap, len);
  if (len != kCapMax) return len;
  uint32_t magic = Load32(cap);
  if ((magic & kCapRevisionMask) != kCapRevision3) return len;
  uint32_t root = map.uid(Load32(cap + kCapV2Size));
  if (root == 0) {
    uint32_t v2 = kCapRevision2 | (magic & ~kCapRevisionMask);
    memcpy(out, &v2, 4);
    return kCapV2Size;
  }
  memcpy(out + kCapV2Size, &root, 4);
  return len;
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
// every entry below it.
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
  return WalkTree(root.get(), fn);
}

std::string AtPath(int dirfd, const char* name) {
  return "/proc/self/fd/" + std::to_string(dirfd) + "/" + name;
}

// Sets one entry to the plan's owners for `direction`, then puts back what
// the chown cleared (set-ID bits, the capability).
Status Apply(int dirfd, const char* name, const struct stat& st,
             const Record& r, ShiftDirection direction) {
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
  if ((r.mode & 07000) == 0 && cap_len == 0) return Status::Ok();
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
  return Status::Ok();
}

Status ApplyAll(const std::string& tree, const std::vector<Record>& recs,
                ShiftDirection direction) {
  std::unordered_map<uint64_t, size_t> by_ino;
  by_ino.reserve(recs.size());
  for (size_t i = 0; i < recs.size(); ++i) by_ino.emplace(recs[i].ino, i);
  return ForEachEntry(
      tree, [&](int dirfd, const char* name, const struct stat& st) -> Status {
        auto it = by_ino.find(st.st_ino);
        if (it == by_ino.end()) return Status::Ok();
        return Apply(dirfd, name, st, recs[it->second], direction);
      });
}

Status WriteJournal(const std::string& journal,
                    const std::vector<Record>& recs) {
  std::string tmp = journal + ".tmp";
  unlink(tmp.c_str());
  UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid()) return PosixError("create the owner-shift journal", errno);
  Header h;
  memcpy(h.magic, kMagic, sizeof(kMagic));
  h.count = recs.size();
  std::string buf(reinterpret_cast<const char*>(&h), sizeof(h));
  buf.append(reinterpret_cast<const char*>(recs.data()),
             recs.size() * sizeof(Record));
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
Result<std::vector<Record>> ReadJournal(const std::string& journal) {
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
      h.count > kMaxShiftedInodes ||
      static_cast<uint64_t>(st.st_size) !=
          sizeof(h) + h.count * sizeof(Record)) {
    return DataLoss("the owner-shift journal is corrupt");
  }
  std::vector<Record> recs(h.count);
  size_t want = h.count * sizeof(Record);
  if (want > 0 && pread(fd.get(), recs.data(), want, sizeof(h)) !=
                      static_cast<ssize_t>(want)) {
    return PosixError("read the owner-shift journal", errno);
  }
  return recs;
}

}  // namespace

Result<ShiftStats> ShiftOwners(const std::string& tree, const OwnerMap& map,
                               const std::string& journal) {
  if (access(journal.c_str(), F_OK) == 0) {
    return FailedPrecondition(
        "an earlier owner shift was not finished or rolled back");
  }
  ShiftStats stats;
  std::vector<Record> recs;
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
        bool changed = r.new_uid != r.old_uid || r.new_gid != r.old_gid ||
                       r.new_cap_len != r.old_cap_len ||
                       memcmp(r.old_cap, r.new_cap, r.old_cap_len) != 0;
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
  STRATA_RETURN_IF_ERROR(WriteJournal(journal, recs));
  STRATA_RETURN_IF_ERROR(ApplyAll(tree, recs, ShiftDirection::kForward));
  return stats;
}

Status ReplayShiftJournal(const std::string& tree, const std::string& journal,
                          ShiftDirection direction) {
  auto recs = ReadJournal(journal);
  if (!recs.ok() && recs.status().code() == Code::kNotFound)
    return Status::Ok();
  STRATA_RETURN_IF_ERROR(recs.status());
  return ApplyAll(tree, *recs, direction);
}

Status RemoveShiftJournal(const std::string& journal) {
  if (unlink(journal.c_str()) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return PosixError("remove the owner-shift journal", errno);
  }
  return SyncDir(ParentOf(journal));
}

}  // namespace strata
