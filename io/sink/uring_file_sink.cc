#include "io/sink/uring_file_sink.h"

#include <fcntl.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include "io/base/errno.h"

namespace strata {

Result<std::unique_ptr<UringFileSink>> UringFileSink::Create() {
  std::unique_ptr<UringFileSink> s(new UringFileSink());
  int rc = io_uring_queue_init(kSlots * 4, &s->ring_, 0);
  if (rc < 0)
    return Unimplemented(std::string("io_uring unavailable: ") +
                         std::strerror(-rc));
  s->ring_ready_ = true;
  io_uring_probe* probe = io_uring_get_probe_ring(&s->ring_);
  bool ok = probe && io_uring_opcode_supported(probe, IORING_OP_OPENAT) &&
            io_uring_opcode_supported(probe, IORING_OP_WRITE_FIXED) &&
            io_uring_opcode_supported(probe, IORING_OP_CLOSE);
  if (probe) io_uring_free_probe(probe);
  if (!ok) return Unimplemented("io_uring lacks openat/write_fixed/close");
  s->pool_.reset(new char[kSlots * kBufferSize]);
  std::vector<iovec> iov(kSlots);
  for (unsigned i = 0; i < kSlots; ++i) {
    iov[i] = {s->pool_.get() + i * kBufferSize, kBufferSize};
  }
  if ((rc = io_uring_register_buffers(&s->ring_, iov.data(), kSlots)) < 0) {
    return Unimplemented(std::string("io_uring buffer registration: ") +
                         std::strerror(-rc));
  }
  if ((rc = io_uring_register_files_sparse(&s->ring_, kSlots)) < 0) {
    return Unimplemented(std::string("io_uring direct descriptors: ") +
                         std::strerror(-rc));
  }
  for (unsigned i = kSlots; i > 0; --i) s->free_.push_back(i - 1);
  return s;
}

UringFileSink::~UringFileSink() {
  if (!ring_ready_) return;
  // Never let the ring outlive memory its SQEs point at.
  Flush().IgnoreError();
  io_uring_queue_exit(&ring_);
}

Result<char*> UringFileSink::AcquireBuffer(size_t) {
  while (free_.empty()) {
    if (unsubmitted_ > 0) {
      io_uring_submit(&ring_);
      unsubmitted_ = 0;
    }
    STRATA_RETURN_IF_ERROR(Reap(1));
  }
  next_acquired_ = static_cast<int>(free_.back());
  return pool_.get() + free_.back() * kBufferSize;
}

Status UringFileSink::Submit(FileJob file, char* buf, size_t len) {
  STRATA_RETURN_IF_ERROR(first_error_);
  unsigned slot = static_cast<unsigned>((buf - pool_.get()) / kBufferSize);
  if (free_.empty() || free_.back() != slot || len > kBufferSize) {
    return Internal("uring sink: buffer not acquired");
  }
  free_.pop_back();
  if (file.share != nullptr) {
    // Content sharing needs the bytes digested and compared before the file
    // exists: done here, synchronously (the threaded sink does it on its
    // workers).
    Status s = WriteFileNow(file, buf, len, plan_);
    free_.push_back(slot);
    return s.WithContext("file \"" + file.path + "\"");
  }
  if (io_uring_sq_space_left(&ring_) < 3) {
    io_uring_submit(&ring_);
    unsubmitted_ = 0;
  }
  Job& job = jobs_[slot];
  job.file = std::move(file);
  job.len = len;
  job.pending = 3;
  job.error = 0;
  job.failed = "";
  busy_.insert(job.file.path);

  io_uring_sqe* open = io_uring_get_sqe(&ring_);
  io_uring_prep_openat_direct(
      open, job.file.parent->get(), job.file.name.c_str(),
      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, job.file.mode & 0777, slot);
  open->flags |= IOSQE_IO_LINK;
  io_uring_sqe_set_data64(open, slot);
  io_uring_sqe* write = io_uring_get_sqe(&ring_);
  io_uring_prep_write_fixed(write, static_cast<int>(slot), buf,
                            static_cast<unsigned>(len), 0,
                            static_cast<int>(slot));
  // Hard link: the close runs even if the write fails, freeing the slot.
  write->flags |= IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK;
  io_uring_sqe_set_data64(write, slot);
  io_uring_sqe* close = io_uring_get_sqe(&ring_);
  io_uring_prep_close_direct(close, slot);
  io_uring_sqe_set_data64(close, slot);
  inflight_++;
  if (++unsubmitted_ >= 16) {
    io_uring_submit(&ring_);
    unsubmitted_ = 0;
  }
  return Reap(0);
}

Status UringFileSink::Flush() {
  if (!ring_ready_) return first_error_;
  if (unsubmitted_ > 0) {
    io_uring_submit(&ring_);
    unsubmitted_ = 0;
  }
  while (inflight_ > 0) {
    Status s = Reap(1);
    if (!s.ok() && first_error_.ok()) first_error_ = s;
  }
  return first_error_;
}

Status UringFileSink::Reap(unsigned min) {
  io_uring_cqe* cqe = nullptr;
  if (min > 0 && inflight_ > 0) {
    int rc = io_uring_wait_cqe(&ring_, &cqe);
    if (rc < 0 && rc != -EINTR) return PosixError("io_uring wait", -rc);
  }
  unsigned head;
  unsigned seen = 0;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    seen++;
    unsigned slot = static_cast<unsigned>(io_uring_cqe_get_data64(cqe));
    Job& job = jobs_[slot];
    int res = cqe->res;
    const char* member = job.pending == 3   ? "create"
                         : job.pending == 2 ? "write"
                                            : "close";
    if (res < 0 && res != -ECANCELED && job.error == 0) {
      job.error = -res;
      job.failed = member;
    } else if (job.pending == 2 && res >= 0 &&
               static_cast<size_t>(res) != job.len && job.error == 0) {
      job.error = EIO;
      job.failed = "short write";
    }
    if (--job.pending == 0) Complete(slot);
  }
  io_uring_cq_advance(&ring_, seen);
  return first_error_;
}

void UringFileSink::Complete(unsigned slot) {
  Job& job = jobs_[slot];
  Status s;
  if (job.error != 0) {
    s = PosixError(job.failed, job.error);
  } else {
    s = FinishFileNoFollow(job.file, plan_.For(job.file));
  }
  if (!s.ok() && first_error_.ok())
    first_error_ = s.WithContext("file \"" + job.file.path + "\"");
  auto it = busy_.find(job.file.path);
  if (it != busy_.end()) busy_.erase(it);
  job.file = FileJob();
  inflight_--;
  free_.push_back(slot);
}

}  // namespace strata
