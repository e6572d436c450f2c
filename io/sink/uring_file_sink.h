// UringFileSink: small files as linked io_uring chains
//   openat_direct(parent, name, O_EXCL|O_NOFOLLOW) -> write_fixed ->
//   close_direct
// from a fixed pool of registered buffers and file slots, so a layer of many
// small files costs a few io_uring_enter calls per batch instead of three
// syscalls per file, and peak memory is the pool (kSlots x kBufferSize), not
// the layer. Ownership, mode, xattrs and times have no io_uring opcode here;
// they run by name when a chain completes.
//
// Each job owns its slot: buffer i and file slot i, user_data = i. A job is
// done when its three CQEs arrived. The first error wins; members cancelled
// because an earlier link failed (-ECANCELED) are not reported.
//
// Thread-safety: one extraction thread.
#ifndef STRATA_IO_SINK_URING_FILE_SINK_H_
#define STRATA_IO_SINK_URING_FILE_SINK_H_

#include <liburing.h>

#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "io/sink/file_sink.h"

namespace strata {

class UringFileSink final : public FileSink {
 public:
  static constexpr unsigned kSlots = 64;
  static constexpr size_t kBufferSize = 128 << 10;

  // Unimplemented when io_uring is unavailable (ENOSYS, EPERM from
  // kernel.io_uring_disabled) or lacks an opcode or direct descriptors.
  static Result<std::unique_ptr<UringFileSink>> Create();
  ~UringFileSink() override;

  const char* Name() const override { return "io_uring"; }
  size_t max_file_size() const override { return kBufferSize; }
  Result<char*> AcquireBuffer(size_t len) override;
  Status Submit(FileJob job, char* buf, size_t len) override;
  Status Flush() override;
  bool Busy(const std::string& path) const override {
    return busy_.count(path) > 0;
  }

 private:
  struct Job {
    FileJob file;
    size_t len = 0;
    int pending = 0;
    int error = 0;            // first real errno of the chain
    const char* failed = "";  // which member failed
  };

  UringFileSink() = default;
  // Waits for at least `min` completions (0: only those ready) and handles
  // them.
  Status Reap(unsigned min);
  void Complete(unsigned slot);

  io_uring ring_{};
  bool ring_ready_ = false;
  std::unique_ptr<char[]> pool_;
  std::vector<Job> jobs_{kSlots};
  std::vector<unsigned> free_;
  std::unordered_multiset<std::string> busy_;
  unsigned inflight_ = 0;
  unsigned unsubmitted_ = 0;
  int next_acquired_ = -1;
  CreatePlan plan_;
  Status first_error_;
};

}  // namespace strata

#endif  // STRATA_IO_SINK_URING_FILE_SINK_H_
