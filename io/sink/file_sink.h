// FileSink: where the extractor sends small regular files (the common case in
// container layers) so they can be written in batches. The extractor handles
// everything else itself, synchronously.
//
// Three sinks, one interface, identical trees (tests run on each):
// SyncFileSink writes each file at once with plain syscalls; ThreadedFileSink
// (threaded_file_sink.h) hands files to a few worker threads; UringFileSink
// (uring_file_sink.h) queues linked openat -> write -> close chains on
// io_uring and finishes metadata when they complete. MakeFileSink builds the
// threaded sink unless STRATA_IO says otherwise (file_sink.cc says why).
//
// This module owns the sink interface and its implementations; io/extract
// (the tar -> tree pipeline) uses them and nothing here depends on it.
//
// Thread-safety: a sink belongs to one extraction (one thread).
#ifndef STRATA_IO_SINK_FILE_SINK_H_
#define STRATA_IO_SINK_FILE_SINK_H_

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/base/result.h"
#include "io/fs/root_dir.h"
#include "io/sink/content_share.h"

namespace strata {

// Everything needed to create one regular file in its parent directory.
struct FileJob {
  SharedFd parent;       // directory the file goes in (kept open by the job)
  std::string name;      // final component, created with O_EXCL|O_NOFOLLOW
  std::string path;      // clean layer path, for messages and Busy()
  uint32_t mode = 0644;  // 07777 bits
  bool chown = false;
  uint32_t uid = 0, gid = 0;
  timespec times[2] = {};  // atime, mtime
  std::vector<std::pair<std::string, std::string>> xattrs;
  // Content sharing (content_share.h): when set, the sink digests the bytes
  // into `share_log` and creates the file as a clone of an equal file
  // `share` proposes, if any. Both outlive the job.
  ContentShare* share = nullptr;
  ShareLog* share_log = nullptr;
};

class FileSink {
 public:
  virtual ~FileSink() = default;
  virtual const char* Name() const = 0;
  // Largest file Submit takes; bigger ones the extractor streams itself.
  virtual size_t max_file_size() const = 0;
  // A buffer of at least len (<= max_file_size()) bytes for the next Submit;
  // may wait for running writes to free one.
  virtual Result<char*> AcquireBuffer(size_t len) = 0;
  // Creates job's file with the first len bytes of buf (from AcquireBuffer).
  // May complete later: errors can surface from a later call or Flush().
  virtual Status Submit(FileJob job, char* buf, size_t len) = 0;
  // Waits for everything submitted; returns the first error, naming its file.
  virtual Status Flush() = 0;
  // Whether a file at this clean path is still being written.
  virtual bool Busy(const std::string& path) const = 0;
};

// The process umask, read without changing it (umask(2) races in threads).
mode_t CurrentUmask();

// Decides which metadata calls a new file still needs after it was created
// with mode `job.mode & 0777`: chown only when the owner the kernel gave it
// (our fsuid, and our fsgid or a setgid parent's group) differs from the
// archive's; chmod only for setuid/setgid/sticky bits, bits the umask
// removed, or a parent whose default ACL overrides the umask. GNU tar makes
// both calls for every file; in a root-owned layer most files need neither.
// Caches what it learnt about the last parent directory.
// Thread-safety: one per thread.
class CreatePlan {
 public:
  CreatePlan();
  struct Needs {
    bool chown = false;
    bool chmod = false;
  };
  Needs For(const FileJob& job);

 private:
  SharedFd parent_;  // holds the descriptor so its number is not reused
  bool parent_keeps_mode_ = true;
  bool parent_setgid_ = false;
  gid_t parent_gid_ = 0;
  uid_t uid_;
  gid_t gid_;
  mode_t umask_;
};

// Writes a file synchronously: creates it with its mode, writes `data`, then
// the ownership, mode, xattrs and times the plan says it needs, via the open
// descriptor. Used by the sync and threaded sinks and the uring fallbacks.
Status WriteFileNow(const FileJob& job, const char* data, size_t len,
                    CreatePlan& plan);

// Sets ownership, mode (as `needs` says), xattrs and times of job's file
// through fd, the descriptor it was created with.
Status FinishOpenFile(int fd, const FileJob& job, CreatePlan::Needs needs);

// The same for a file created and closed by an io_uring chain: reopened by
// name with O_NOFOLLOW and checked to be a regular file first, so nothing
// that replaced it meanwhile is followed.
Status FinishFileNoFollow(const FileJob& job, CreatePlan::Needs needs);

class SyncFileSink final : public FileSink {
 public:
  static constexpr size_t kBufferSize = 1 << 20;
  const char* Name() const override { return "sync"; }
  size_t max_file_size() const override { return kBufferSize; }
  Result<char*> AcquireBuffer(size_t len) override;
  Status Submit(FileJob job, char* buf, size_t len) override;
  Status Flush() override { return Status::Ok(); }
  bool Busy(const std::string&) const override { return false; }

 private:
  std::unique_ptr<char[]> buf_;
  CreatePlan plan_;
};

// Which sink MakeFileSink builds. STRATA_IO (environment) overrides the
// default: "uring", "threads" or "sync".
enum class SinkKind { kUring, kThreads, kSync };

// The default sink, threads (file_sink.cc says why); STRATA_IO=uring falls
// back to threads, logging why, when io_uring is unavailable.
std::unique_ptr<FileSink> MakeFileSink();
std::unique_ptr<FileSink> MakeFileSink(SinkKind kind);

}  // namespace strata

#endif  // STRATA_IO_SINK_FILE_SINK_H_
