#include "io/extract/threaded_file_sink.h"

#include <algorithm>
#include <cstdlib>

namespace strata {

ThreadedFileSink::ThreadedFileSink(unsigned workers) {
  if (workers == 0) {
    const char* env = std::getenv("STRATA_EXTRACT_THREADS");
    workers = env != nullptr ? static_cast<unsigned>(std::atoi(env)) : 0;
    if (workers == 0) workers = std::clamp(std::thread::hardware_concurrency(), 2u, 8u);
  }
  workers = std::clamp(workers, 1u, 64u);
  for (unsigned i = 0; i < workers; ++i) threads_.emplace_back([this] { Work(); });
}

ThreadedFileSink::~ThreadedFileSink() {
  Flush().IgnoreError();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

Result<char*> ThreadedFileSink::AcquireBuffer() {
  std::unique_lock<std::mutex> lock(mu_);
  if (acquired_ != nullptr) return acquired_;  // the last one was not submitted
  if (free_.empty() && buffers_.size() < kSlots) {
    buffers_.emplace_back(new char[kBufferSize]);
    free_.push_back(buffers_.back().get());
  }
  done_cv_.wait(lock, [this] { return !free_.empty(); });
  acquired_ = free_.back();
  free_.pop_back();
  return acquired_;
}

Status ThreadedFileSink::Submit(FileJob job, char* buf, size_t len) {
  std::unique_lock<std::mutex> lock(mu_);
  if (buf == nullptr || buf != acquired_ || len > kBufferSize) {
    return Internal("threaded sink: buffer not acquired");
  }
  acquired_ = nullptr;
  if (!first_error_.ok()) {
    free_.push_back(buf);
    return first_error_;
  }
  busy_.insert(job.path);
  inflight_++;
  queue_.push_back({std::move(job), buf, len});
  lock.unlock();
  work_cv_.notify_one();
  return Status::Ok();
}

Status ThreadedFileSink::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [this] { return inflight_ == 0; });
  return first_error_;
}

bool ThreadedFileSink::Busy(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  return busy_.count(path) > 0;
}

void ThreadedFileSink::Work() {
  CreatePlan plan;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    work_cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_ and nothing left
    Task t = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    Status s = WriteFileNow(t.job, t.buf, t.len, plan);
    std::string path = std::move(t.job.path);
    t.job = FileJob();  // drop the parent descriptor outside the lock
    lock.lock();
    if (!s.ok() && first_error_.ok()) first_error_ = s.WithContext("file \"" + path + "\"");
    busy_.erase(busy_.find(path));
    free_.push_back(t.buf);
    inflight_--;
    done_cv_.notify_all();
  }
}

}  // namespace strata
