#include "snapshotter/engine/space.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "io/base/errno.h"
#include "io/base/sha256.h"
#include "io/base/unique_fd.h"
#include "io/clone/reflink.h"
#include "io/fs/fs_util.h"
#include "io/fs/tree_walk.h"
#include "snapshotter/backend/probe.h"
#include "snapshotter/meta/snapshot_store.h"

namespace strata {
namespace {

using Clock = std::chrono::steady_clock;

// A snapshot's directory, or an invalid fd if it is gone (removed since the
// listing): callers skip it.
Result<UniqueFd> OpenSnapshotDir(const Engine::Entry& e) {
  UniqueFd fd(
      open(e.dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid() && errno != ENOENT) {
    return PosixError(SnapshotName(e.info.name), errno);
  }
  return fd;
}

// The regular file `name` in dirfd, if it is still the inode the walk saw:
// never a FIFO or a device (O_NONBLOCK, then the inode check), never through
// a symlink.
UniqueFd OpenSeenFile(int dirfd, const char* name, const struct stat& seen) {
  UniqueFd fd(openat(
      dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  struct stat st;
  if (!fd.valid() || fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
      st.st_ino != seen.st_ino || st.st_dev != seen.st_dev) {
    return UniqueFd();
  }
  return fd;
}

// ---- strata df ----

struct SharedExtent {
  uint64_t physical;
  uint64_t length;
  uint32_t snapshot;  // index into the report
};

// Walks one snapshot's directory: its logical bytes and inodes; its shared
// extents go to `shared` for the sweep.
Status MeasureOne(int dirfd, uint32_t index, SnapshotSpace& out,
                  std::vector<SharedExtent>& shared) {
  struct stat root;
  if (fstat(dirfd, &root) != 0) return PosixError("stat", errno);
  out.logical += static_cast<int64_t>(root.st_blocks) * 512;
  std::set<ino_t> linked;  // hardlinked inodes, counted once
  return WalkTree(
      dirfd, [&](int dir, const char* name, const struct stat& st) -> Status {
        if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 &&
            !linked.insert(st.st_ino).second) {
          return Status::Ok();
        }
        const int64_t allocated = static_cast<int64_t>(st.st_blocks) * 512;
        if (!S_ISREG(st.st_mode)) {
          out.logical += allocated;
          return Status::Ok();
        }
        UniqueFd fd = OpenSeenFile(dir, name, st);
        if (!fd.valid()) return Status::Ok();  // changed meanwhile
        int64_t mapped = 0;
        Status fiemap = ForEachExtent(fd.get(), [&](const FileExtent& e) {
          mapped += static_cast<int64_t>(e.length);
          if (e.shared && e.located && shared.size() < kMaxSharedExtents + 1)
            shared.push_back({e.physical, e.length, index});
        });
        if (shared.size() > kMaxSharedExtents) {
          return ResourceExhausted("more than " +
                                   std::to_string(kMaxSharedExtents) +
                                   " shared extents to account");
        }
        out.logical += fiemap.ok() ? mapped : allocated;
        return Status::Ok();
      });
}

// One pass over the shared extents' boundaries: each physical byte range is
// charged to the lowest snapshot index mapping it; every other mapping of it
// is saved.
void Sweep(std::vector<SharedExtent>& extents, SpaceReport& report) {
  struct Event {
    uint64_t at;
    int delta;
    uint32_t snapshot;
  };
  std::vector<Event> events;
  events.reserve(extents.size() * 2);
  for (const SharedExtent& e : extents) {
    events.push_back({e.physical, +1, e.snapshot});
    events.push_back({e.physical + e.length, -1, e.snapshot});
  }
  extents.clear();
  extents.shrink_to_fit();
  std::sort(events.begin(), events.end(),
            [](const Event& a, const Event& b) { return a.at < b.at; });
  std::map<uint32_t, int> mapping;  // snapshot -> extents covering here
  uint64_t prev = 0;
  for (const Event& ev : events) {
    if (ev.at > prev && !mapping.empty()) {
      const int64_t len = static_cast<int64_t>(ev.at - prev);
      const uint32_t owner = mapping.begin()->first;
      const bool across = mapping.size() > 1;
      if (across) report.shared += len;
      for (const auto& [snap, count] : mapping) {
        SnapshotSpace& s = report.snapshots[snap];
        if (across) s.shared += len;
        s.saved += (count - (snap == owner ? 1 : 0)) * len;
      }
    }
    prev = ev.at;
    auto it = mapping.try_emplace(ev.snapshot, 0).first;
    it->second += ev.delta;
    if (it->second == 0) mapping.erase(it);
  }
}

// ---- strata dedup ----

// A file found by the scan, reopened later by its handle.
struct Candidate {
  int64_t size;
  uint32_t order;      // scan order: lower snapshot ids first
  std::string handle;  // struct file_handle, as bytes
  std::string digest;
};

class Deduper {
 public:
  Deduper(Engine& engine, const DedupOptions& options)
      : engine_(engine), opts_(options), start_(Clock::now()) {}

  Result<DedupProgress> Run() {
    mount_fd_ = UniqueFd(open(engine_.layout().root().c_str(),
                              O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!mount_fd_.valid()) return PosixError("open the root", errno);
    STRATA_RETURN_IF_ERROR(Scan());
    if (Stopped()) return Finish();
    // Size first: only files another file has the size of are digested.
    std::sort(files_.begin(), files_.end(),
              [](const Candidate& a, const Candidate& b) {
                return a.size != b.size ? a.size < b.size : a.order < b.order;
              });
    std::vector<Candidate> kept;
    for (size_t i = 0; i < files_.size();) {
      size_t j = i;
      while (j < files_.size() && files_[j].size == files_[i].size) ++j;
      if (j - i > 1) {
        for (size_t k = i; k < j; ++k) kept.push_back(std::move(files_[k]));
      }
      i = j;
    }
    files_ = std::move(kept);
    p_.candidates = static_cast<int64_t>(files_.size());
    for (const Candidate& c : files_) p_.bytes_to_digest += c.size;
    Report(DedupProgress::Phase::kDigest, true);
    for (size_t i = 0; i < files_.size() && !Stopped();) {
      size_t j = i;
      while (j < files_.size() && files_[j].size == files_[i].size) ++j;
      ShareSizeGroup(i, j);
      i = j;
    }
    return Finish();
  }

 private:
  bool Stopped() {
    if (!p_.interrupted && opts_.cancelled && opts_.cancelled())
      p_.interrupted = true;
    return p_.interrupted;
  }

  void Report(DedupProgress::Phase phase, bool force) {
    p_.phase = phase;
    auto now = Clock::now();
    if (!force && now - last_report_ < std::chrono::milliseconds(100)) return;
    last_report_ = now;
    p_.seconds = std::chrono::duration<double>(now - start_).count();
    if (opts_.progress) opts_.progress(p_);
  }

  DedupProgress Finish() {
    Report(DedupProgress::Phase::kDone, true);
    return p_;
  }

  Status Scan() {
    STRATA_ASSIGN_OR_RETURN(std::vector<Engine::Entry> entries,
                            engine_.Entries());
    Report(DedupProgress::Phase::kScan, true);
    std::set<std::pair<dev_t, ino_t>> seen;  // hardlinks: one candidate
    for (const Engine::Entry& e : entries) {
      if (e.info.kind != Kind::kCommitted) continue;
      if (Stopped()) return Status::Ok();
      STRATA_ASSIGN_OR_RETURN(UniqueFd dir, OpenSnapshotDir(e));
      if (!dir.valid()) continue;
      ++p_.snapshots;
      Status s = WalkTree(
          dir.get(),
          [&](int dirfd, const char* name, const struct stat& st) -> Status {
            if (!S_ISREG(st.st_mode) || st.st_size < opts_.min_bytes ||
                st.st_size == 0) {
              return Status::Ok();
            }
            if (!seen.insert({st.st_dev, st.st_ino}).second)
              return Status::Ok();
            if (files_.size() >= kMaxDedupFiles) {
              return ResourceExhausted("more than " +
                                       std::to_string(kMaxDedupFiles) +
                                       " files to compare");
            }
            std::string handle = FileHandleAt(dirfd, name);
            if (handle.empty()) {
              ++p_.skipped;
              return Status::Ok();
            }
            ++p_.files_examined;
            files_.push_back({st.st_size,
                              static_cast<uint32_t>(files_.size()),
                              std::move(handle),
                              {}});
            Report(DedupProgress::Phase::kScan, false);
            return Stopped() ? Canceled("interrupted") : Status::Ok();
          });
      if (s.code() == Code::kCanceled) return Status::Ok();
      if (s.code() == Code::kResourceExhausted) return s;
      // A snapshot removed while walked: what was found still counts.
    }
    return Status::Ok();
  }

  // The candidate's file, if it is still a regular file of its size.
  UniqueFd Reopen(const Candidate& c) {
    auto fd = OpenFileHandle(mount_fd_.get(), c.handle);
    struct stat st;
    if (!fd.ok() || fstat(fd->get(), &st) != 0 || st.st_size != c.size)
      return UniqueFd();
    return std::move(*fd);
  }

  // SHA-256 of the file, or "" if it changed while read.
  std::string Digest(int fd, int64_t size) {
    auto before = IdentityOf(fd);
    if (!before.ok()) return "";
    Sha256 hash;
    int64_t total = 0;
    for (ssize_t n; (n = read(fd, buf_.data(), buf_.size())) > 0;) {
      hash.Update({buf_.data(), static_cast<size_t>(n)});
      total += n;
      p_.bytes_digested += n;
      Report(DedupProgress::Phase::kDigest, false);
    }
    auto after = IdentityOf(fd);
    if (total != size || !after.ok() || !(*after == *before)) return "";
    return hash.Raw();
  }

  static std::vector<FileExtent> Extents(int fd) {
    std::vector<FileExtent> out;
    if (!ForEachExtent(fd, [&](const FileExtent& e) {
           out.push_back(e);
         }).ok()) {
      return {};
    }
    return out;
  }

  // Whether dst maps exactly src's extents already.
  static bool SameExtents(const std::vector<FileExtent>& a,
                          const std::vector<FileExtent>& b) {
    if (a.empty() || a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!a[i].located || !b[i].located || a[i].logical != b[i].logical ||
          a[i].physical != b[i].physical || a[i].length != b[i].length) {
        return false;
      }
    }
    return true;
  }

  // Files [i, j) have one size: digest them, then share each digest group.
  void ShareSizeGroup(size_t i, size_t j) {
    for (size_t k = i; k < j && !Stopped(); ++k) {
      UniqueFd fd = Reopen(files_[k]);
      if (fd.valid()) files_[k].digest = Digest(fd.get(), files_[k].size);
      if (files_[k].digest.empty()) ++p_.skipped;
    }
    std::stable_sort(files_.begin() + static_cast<ptrdiff_t>(i),
                     files_.begin() + static_cast<ptrdiff_t>(j),
                     [](const Candidate& a, const Candidate& b) {
                       return a.digest < b.digest;
                     });
    for (size_t a = i; a < j && !Stopped();) {
      size_t b = a;
      while (b < j && files_[b].digest == files_[a].digest) ++b;
      if (!files_[a].digest.empty() && b - a > 1) ShareGroup(a, b);
      a = b;
    }
  }

  // Files [a, b) are equal by digest: each shares the first one's extents.
  void ShareGroup(size_t a, size_t b) {
    Report(DedupProgress::Phase::kShare, false);
    UniqueFd src = Reopen(files_[a]);
    if (!src.valid()) {
      p_.skipped += static_cast<int64_t>(b - a);
      return;
    }
    const std::vector<FileExtent> src_extents = Extents(src.get());
    for (size_t k = a + 1; k < b && !Stopped(); ++k) {
      const int64_t size = files_[k].size;
      UniqueFd dst = Reopen(files_[k]);
      if (!dst.valid()) {
        ++p_.skipped;
        continue;
      }
      if (SameExtents(src_extents, Extents(dst.get()))) {
        ++p_.already_shared;
        continue;
      }
      // Freed: dst's extents nothing else maps (measured just before, so a
      // chain of clones is freed by its last member, once).
      auto exclusive = ExclusiveBytes(dst.get());
      const int64_t freed = exclusive.ok() ? *exclusive : 0;
      if (opts_.dry_run) {
        ++p_.files_shared;
        p_.bytes_shared += size;
        p_.bytes_freed += freed;
        continue;
      }
      auto done = DedupeFileData(src.get(), dst.get(), size);
      if (!done.ok() || done->differs || done->bytes != size) {
        ++p_.skipped;
        if (done.ok() && done->bytes > 0) p_.bytes_shared += done->bytes;
        continue;
      }
      ++p_.files_shared;
      p_.bytes_shared += size;
      p_.bytes_freed += freed;
      Report(DedupProgress::Phase::kShare, false);
    }
  }

  Engine& engine_;
  const DedupOptions& opts_;
  const Clock::time_point start_;
  Clock::time_point last_report_{};
  DedupProgress p_;
  UniqueFd mount_fd_;
  std::vector<Candidate> files_;
  std::vector<char> buf_ = std::vector<char>(1 << 20);
};

std::atomic<bool> dedup_running{false};

}  // namespace

Result<SpaceReport> MeasureSpace(Engine& engine) {
  STRATA_ASSIGN_OR_RETURN(std::vector<Engine::Entry> entries, engine.Entries());
  SpaceReport report;
  std::vector<SharedExtent> shared;
  for (Engine::Entry& e : entries) {
    STRATA_ASSIGN_OR_RETURN(UniqueFd dir, OpenSnapshotDir(e));
    if (!dir.valid()) continue;  // removed since listed
    auto usage = engine.GetUsage(e.info.name);
    if (!usage.ok()) {
      if (usage.status().code() == Code::kNotFound) continue;
      return usage.status();
    }
    SnapshotSpace space{.info = std::move(e.info), .usage = *usage};
    const auto index = static_cast<uint32_t>(report.snapshots.size());
    const size_t before = shared.size();
    Status s = MeasureOne(dir.get(), index, space, shared);
    if (s.code() == Code::kResourceExhausted) return s;
    if (!s.ok()) {
      // Removed while walked (its directory moved to trash/): drop it.
      shared.resize(before);
      if (access(e.dir.c_str(), F_OK) != 0) continue;
      return s.WithContext(SnapshotName(space.info.name));
    }
    report.snapshots.push_back(std::move(space));
  }
  Sweep(shared, report);
  for (const SnapshotSpace& s : report.snapshots) {
    report.logical += s.logical;
    report.saved += s.saved;
  }
  struct statvfs sv;
  if (statvfs(engine.layout().root().c_str(), &sv) == 0) {
    const auto frsize = static_cast<int64_t>(sv.f_frsize);
    report.fs_size = static_cast<int64_t>(sv.f_blocks) * frsize;
    report.fs_used = static_cast<int64_t>(sv.f_blocks - sv.f_bfree) * frsize;
    report.fs_available = static_cast<int64_t>(sv.f_bavail) * frsize;
  }
  report.metadata_bytes = engine.MetadataBytes();
  return report;
}

Result<DedupProgress> Dedup(Engine& engine, const DedupOptions& options) {
  if (!CanShareExtents(engine.layout().StagingDir())) {
    return Unimplemented(
        "dedup: the root's filesystem cannot share extents (no reflink)");
  }
  if (dedup_running.exchange(true)) {
    return FailedPrecondition("dedup: another dedup is running");
  }
  Result<DedupProgress> out = Deduper(engine, options).Run();
  dedup_running = false;
  return out;
}

}  // namespace strata
