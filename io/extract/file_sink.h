// FileSink: where the extractor sends small regular files (the common case in
// container layers) so they can be written in batches. The extractor handles
// everything else itself, synchronously.
//
// SyncFileSink writes each file at once with plain syscalls. UringFileSink
// (io/uring/) queues linked openat -> write -> close chains on io_uring and
// finishes metadata when they complete. Both produce identical trees; tests
// run on both. MakeFileSink picks the sync sink unless STRATA_IO=uring (and
// io_uring is available): measured, the io_uring sink has been the slower.
//
// Thread-safety: a sink belongs to one extraction (one thread).
#ifndef STRATA_IO_EXTRACT_FILE_SINK_H_
#define STRATA_IO_EXTRACT_FILE_SINK_H_

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/base/result.h"
#include "io/extract/root_dir.h"

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
};

class FileSink {
 public:
  virtual ~FileSink() = default;
  virtual const char* Name() const = 0;
  // Largest file Submit takes; bigger ones the extractor streams itself.
  virtual size_t max_file_size() const = 0;
  // A buffer of max_file_size() bytes for the next Submit; may wait for
  // running writes to free one.
  virtual Result<char*> AcquireBuffer() = 0;
  // Creates job's file with the first len bytes of buf (from AcquireBuffer).
  // May complete later: errors can surface from a later call or Flush().
  virtual Status Submit(FileJob job, char* buf, size_t len) = 0;
  // Waits for everything submitted; returns the first error, naming its file.
  virtual Status Flush() = 0;
  // Whether a file at this clean path is still being written.
  virtual bool Busy(const std::string& path) const = 0;
};

// Writes a file synchronously: content from `data`, then ownership, mode,
// xattrs and times via the open descriptor. Shared by both sinks' fallbacks.
Status WriteFileNow(const FileJob& job, const char* data, size_t len);

// Sets ownership, mode, xattrs and times of job's file by name (after an
// io_uring chain created and closed it). `mode_ok` skips chmod when the
// create mode already applied exactly.
Status FinishFileByName(const FileJob& job, bool mode_ok);

// The process umask, read without changing it (umask(2) races in threads).
mode_t CurrentUmask();

class SyncFileSink final : public FileSink {
 public:
  static constexpr size_t kBufferSize = 1 << 20;
  const char* Name() const override { return "sync"; }
  size_t max_file_size() const override { return kBufferSize; }
  Result<char*> AcquireBuffer() override;
  Status Submit(FileJob job, char* buf, size_t len) override;
  Status Flush() override { return Status::Ok(); }
  bool Busy(const std::string&) const override { return false; }

 private:
  std::unique_ptr<char[]> buf_;
};

// The sync sink, or io_uring when STRATA_IO=uring and the kernel allows it.
std::unique_ptr<FileSink> MakeFileSink();

}  // namespace strata

#endif  // STRATA_IO_EXTRACT_FILE_SINK_H_
