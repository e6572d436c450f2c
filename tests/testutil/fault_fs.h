// Fault-injecting FsOps for crash-safety tests (leveldb's
// FaultInjectionTestEnv, for the calls a Strata root's lifecycle makes).
//
// FaultFs fails one chosen call with a chosen errno and passes every other
// call to the real filesystem: the "full disk at step N" and "I/O error at
// step N" cases.
//
// CrashFs makes every call for real and remembers which changes are not yet
// durable under the rules of a journaling filesystem after a power cut:
//   - an entry made, renamed or removed in directory D is durable once D is
//     fsynced (SyncDir(D), both directories for a rename) or the filesystem
//     is synced (SyncFs);
//   - a file's data is durable only after SyncFs.
// Crash() then forgets, newest first, everything not durable: it removes what
// was made, renames back what was renamed, brings back what was removed
// (RemoveTree and Unlink only move things into a grave, emptied once the
// removal is durable) and deletes written files. CrashAt(n) turns call n into
// the moment of the crash: it and every later call fail without touching the
// disk, like a process that died there.
//
// Single-threaded use (the tests drive one operation at a time), but the
// calls are serialized anyway.
#ifndef STRATA_TESTS_TESTUTIL_FAULT_FS_H_
#define STRATA_TESTS_TESTUTIL_FAULT_FS_H_

#include <cerrno>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "io/base/errno.h"
#include "io/fs/fs_ops.h"
#include "io/fs/fs_util.h"

namespace strata {

inline std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// Counts calls; call number `fail_at` (1-based) fails with `err`.
class FaultFs final : public FsOps {
 public:
  explicit FaultFs(int fail_at = 0, int err = ENOSPC)
      : fail_at_(fail_at), err_(err) {}

  // Call number n (counted from construction) fails; 0: none.
  void FailAt(int n) {
    std::lock_guard<std::mutex> l(mu_);
    fail_at_ = n;
  }
  int calls() const { return calls_; }
  bool fired() const { return fail_at_ > 0 && calls_ >= fail_at_; }

  Status MakeDir(const std::string& p, unsigned mode) override {
    if (Hit()) return Injected("mkdir " + p);
    return RealFs().MakeDir(p, mode);
  }
  Status MakeTempDir(std::string& tmpl) override {
    if (Hit()) return Injected("mkdtemp " + tmpl);
    return RealFs().MakeTempDir(tmpl);
  }
  Status Rename(const std::string& a, const std::string& b) override {
    if (Hit()) return Injected("rename " + a);
    return RealFs().Rename(a, b);
  }
  Status RemoveTree(const std::string& p) override {
    if (Hit()) return Injected("remove " + p);
    return RealFs().RemoveTree(p);
  }
  Status Unlink(const std::string& p) override {
    if (Hit()) return Injected("unlink " + p);
    return RealFs().Unlink(p);
  }
  Status WriteFile(const std::string& p, std::string_view d,
                   unsigned mode) override {
    if (Hit()) return Injected("write " + p);
    return RealFs().WriteFile(p, d, mode);
  }
  Status SyncDir(const std::string& p) override {
    if (Hit()) return Injected("fsync " + p);
    return RealFs().SyncDir(p);
  }
  Status SyncFs(int fd) override {
    if (Hit()) return Injected("syncfs");
    return RealFs().SyncFs(fd);
  }

 private:
  bool Hit() {
    std::lock_guard<std::mutex> l(mu_);
    return ++calls_ == fail_at_;
  }
  Status Injected(const std::string& what) const {
    return PosixError("injected fault: " + what, err_);
  }
  std::mutex mu_;
  int calls_ = 0;
  int fail_at_;
  const int err_;
};

class CrashFs final : public FsOps {
 public:
  // `grave`: an empty directory on the same filesystem, for removed entries.
  explicit CrashFs(std::string grave) : grave_(std::move(grave)) {}

  // Call number n (1-based) and all after it fail: the process died there.
  void CrashAt(int n) { crash_at_ = n; }
  bool crashed() const { return crash_at_ > 0 && calls_ >= crash_at_; }
  int calls() const { return calls_; }
  size_t pending() const { return log_.size(); }

  // The power cut: forgets every change not yet durable, newest first. A
  // durable rename or removal made after a forgotten change moved that
  // change's paths: they are followed to where it left them.
  void Crash() {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<const Change*> later_durable;  // newest first
    for (auto it = log_.rbegin(); it != log_.rend(); ++it) {
      const Change& c = *it;
      if (c.pending.empty()) {
        if (c.op != Op::kMade) later_durable.push_back(&c);
        continue;
      }
      std::string a = c.a, b = c.b;
      bool gone = false;
      // Oldest first: the order they happened in after c.
      for (auto m = later_durable.rbegin(); m != later_durable.rend(); ++m) {
        gone = gone || !Follow(**m, a) || (!b.empty() && !Follow(**m, b));
      }
      if (gone) continue;  // inside a tree whose removal is durable
      switch (c.op) {
        case Op::kMade:
          RemoveAll(a).IgnoreError();
          break;
        case Op::kRenamed:
        case Op::kRemoved:  // a: where it was; b: its grave
          RealFs().Rename(b, a).IgnoreError();
          break;
      }
    }
    log_.clear();
  }

  Status MakeDir(const std::string& p, unsigned mode) override {
    std::lock_guard<std::mutex> l(mu_);
    if (Dead()) return Died("mkdir " + p);
    STRATA_RETURN_IF_ERROR(RealFs().MakeDir(p, mode));
    log_.push_back({Op::kMade, p, "", {DirOf(p)}});
    return Status::Ok();
  }
  Status MakeTempDir(std::string& tmpl) override {
    std::lock_guard<std::mutex> l(mu_);
    if (Dead()) return Died("mkdtemp " + tmpl);
    STRATA_RETURN_IF_ERROR(RealFs().MakeTempDir(tmpl));
    log_.push_back({Op::kMade, tmpl, "", {DirOf(tmpl)}});
    return Status::Ok();
  }
  Status Rename(const std::string& a, const std::string& b) override {
    std::lock_guard<std::mutex> l(mu_);
    if (Dead()) return Died("rename " + a);
    STRATA_RETURN_IF_ERROR(RealFs().Rename(a, b));
    // An entry made inside `a` now waits for a sync of its new parent.
    for (Change& c : log_) {
      std::set<std::string> moved;
      for (const std::string& d : c.pending) {
        bool under =
            d == a || (d.size() > a.size() && d.compare(0, a.size(), a) == 0 &&
                       d[a.size()] == '/');
        moved.insert(under ? b + d.substr(a.size()) : d);
      }
      c.pending = std::move(moved);
    }
    log_.push_back({Op::kRenamed, a, b, {DirOf(a), DirOf(b)}});
    return Status::Ok();
  }
  Status RemoveTree(const std::string& p) override {
    std::lock_guard<std::mutex> l(mu_);
    if (Dead()) return Died("remove " + p);
    return Bury(p);
  }
  Status Unlink(const std::string& p) override {
    std::lock_guard<std::mutex> l(mu_);
    if (Dead()) return Died("unlink " + p);
    return Bury(p);
  }
  Status WriteFile(const std::string& p, std::string_view d,
                   unsigned mode) override {
    std::lock_guard<std::mutex> l(mu_);
    if (Dead()) return Died("write " + p);
    STRATA_RETURN_IF_ERROR(Bury(p));  // what it replaces comes back at a crash
    STRATA_RETURN_IF_ERROR(RealFs().WriteFile(p, d, mode));
    // "<data>" stands for the file's pages: only SyncFs clears it.
    log_.push_back({Op::kMade, p, "", {DirOf(p), "<data>"}});
    return Status::Ok();
  }
  Status SyncDir(const std::string& p) override {
    std::lock_guard<std::mutex> l(mu_);
    if (Dead()) return Died("fsync " + p);
    for (Change& c : log_) c.pending.erase(p);
    Settle();
    return Status::Ok();
  }
  Status SyncFs(int /*fd*/) override {
    std::lock_guard<std::mutex> l(mu_);
    if (Dead()) return Died("syncfs");
    for (Change& c : log_) c.pending.clear();
    Settle();
    return Status::Ok();
  }

 private:
  enum class Op { kMade, kRenamed, kRemoved };
  struct Change {
    Op op;
    std::string a, b;
    std::set<std::string> pending;  // what must be synced for it to last
  };

  bool Dead() { return ++calls_ >= crash_at_ && crash_at_ > 0; }
  static Status Died(const std::string& what) {
    return Unavailable("simulated crash before " + what);
  }
  // Moves p (if present) into the grave, recording it as removed.
  Status Bury(const std::string& p) {
    std::string to = grave_ + "/" + std::to_string(graves_++);
    Status s = RealFs().Rename(p, to);
    if (s.code() == Code::kNotFound) return Status::Ok();
    STRATA_RETURN_IF_ERROR(s);
    log_.push_back({Op::kRemoved, p, to, {DirOf(p)}});
    return Status::Ok();
  }
  // Where path p (an entry at the time of an earlier change) is after the
  // durable change m; false when m deleted it for good.
  static bool Follow(const Change& m, std::string& p) {
    auto under = [&](const std::string& dir) {
      return p == dir ||
             (p.size() > dir.size() && p.compare(0, dir.size(), dir) == 0 &&
              p[dir.size()] == '/');
    };
    if (!under(m.a)) return true;
    if (m.op == Op::kRemoved) return false;
    p = m.b + p.substr(m.a.size());
    return true;
  }
  // Empties the graves of removals that became durable. Durable changes stay
  // logged until SyncFs: Crash() follows paths through them.
  void Settle() {
    bool all = true;
    for (Change& c : log_) {
      if (!c.pending.empty()) {
        all = false;
        continue;
      }
      if (c.op == Op::kRemoved && !c.b.empty()) {
        RemoveAll(c.b).IgnoreError();
        c.b.clear();
      }
    }
    if (all) log_.clear();
  }

  std::mutex mu_;
  const std::string grave_;
  int graves_ = 0;
  int calls_ = 0;
  int crash_at_ = 0;
  std::vector<Change> log_;
};

}  // namespace strata

#endif  // STRATA_TESTS_TESTUTIL_FAULT_FS_H_
