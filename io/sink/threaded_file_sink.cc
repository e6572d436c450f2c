#include "io/sink/threaded_file_sink.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

namespace strata {

ThreadedFileSink::ThreadedFileSink(unsigned workers) {
  if (workers == 0) {
    const char* env = std::getenv("STRATA_EXTRACT_THREADS");
    workers = env != nullptr ? static_cast<unsigned>(std::atoi(env)) : 0;
    if (workers == 0)
      workers = std::clamp(std::thread::hardware_concurrency(), 2u, 8u);
  }
  workers = std::clamp(workers, 1u, 64u);
  for (unsigned i = 0; i < workers; ++i)
    workers_.push_back(std::make_unique<Worker>());
  for (auto& w : workers_)
    w->thread = std::thread([this, &w = *w] { Work(w); });
}

ThreadedFileSink::~ThreadedFileSink() {
  Flush().IgnoreError();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  for (auto& w : workers_) w->cv.notify_all();
  for (auto& w : workers_) w->thread.join();
}

Result<char*> ThreadedFileSink::AcquireBuffer(size_t len) {
  if (len > kMaxFile)
    return Internal("threaded sink: file over max_file_size()");
  len = std::max<size_t>(len, 1);
  std::unique_lock<std::mutex> lock(mu_);
  if (acquired_ && acquired_len_ >= len) return acquired_.get();
  waiting_ = true;
  done_cv_.wait(lock, [&] {
    return inflight_ < kMaxJobs && inflight_bytes_ + len <= kMaxBytes;
  });
  waiting_ = false;
  lock.unlock();
  acquired_.reset(new char[len]);
  acquired_len_ = len;
  return acquired_.get();
}

unsigned ThreadedFileSink::RouteFor(const SharedFd& dir) {
  auto it = routes_.find(dir.get());
  if (it == routes_.end()) {
    unsigned best = 0;
    for (unsigned i = 1; i < workers_.size(); ++i) {
      if (workers_[i]->queue.size() < workers_[best]->queue.size()) best = i;
    }
    it = routes_.emplace(dir.get(), Route{best, 0, dir}).first;
  }
  it->second.inflight++;
  return it->second.worker;
}

Status ThreadedFileSink::Submit(FileJob job, char* buf, size_t len) {
  std::unique_lock<std::mutex> lock(mu_);
  if (buf == nullptr || buf != acquired_.get() || len > acquired_len_) {
    return Internal("threaded sink: buffer not acquired");
  }
  std::unique_ptr<char[]> owned = std::move(acquired_);
  size_t cost = acquired_len_;
  acquired_len_ = 0;
  if (!first_error_.ok()) return first_error_;
  busy_.insert(job.path);
  inflight_++;
  inflight_bytes_ += cost;
  Worker& w = *workers_[RouteFor(job.parent)];
  w.queue.push_back({std::move(job), std::move(owned), len, cost});
  bool wake = w.idle;  // a busy worker finds the task without a wake-up
  lock.unlock();
  if (wake) w.cv.notify_one();
  return Status::Ok();
}

Status ThreadedFileSink::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  waiting_ = true;
  done_cv_.wait(lock, [this] { return inflight_ == 0; });
  waiting_ = false;
  return first_error_;
}

bool ThreadedFileSink::Busy(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  return busy_.count(path) > 0;
}

void ThreadedFileSink::Work(Worker& w) {
  CreatePlan plan;
  // Tasks are taken and retired kBatch at a time: one lock of mu_ per batch
  // on this side instead of two per file, so the extractor (which locks it
  // per Submit) rarely finds it held (strace: 4 futex calls per file before).
  std::vector<Task> batch;
  struct Done {
    std::string path;
    const UniqueFd* dir;
    size_t cost;
  };
  std::vector<Done> done;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (!stop_ && w.queue.empty()) {
      w.idle = true;
      w.cv.wait(lock, [&] { return stop_ || !w.queue.empty(); });
      w.idle = false;
    }
    if (w.queue.empty()) return;  // stop_ and nothing left
    while (!w.queue.empty() && batch.size() < kBatch) {
      batch.push_back(std::move(w.queue.front()));
      w.queue.pop_front();
    }
    lock.unlock();
    Status first;
    std::string first_path;
    for (Task& t : batch) {
      Status s = WriteFileNow(t.job, t.buf.get(), t.len, plan);
      if (!s.ok() && first.ok()) {
        first = s;
        first_path = t.job.path;
      }
      // The route still holds the directory, so the pointer stays a key.
      done.push_back({std::move(t.job.path), t.job.parent.get(), t.cost});
    }
    batch.clear();  // frees the buffers and descriptors outside the lock
    lock.lock();
    if (!first.ok() && first_error_.ok())
      first_error_ = first.WithContext("file \"" + first_path + "\"");
    for (const Done& d : done) {
      busy_.erase(busy_.find(d.path));
      auto route = routes_.find(d.dir);
      if (--route->second.inflight == 0) routes_.erase(route);
      inflight_--;
      inflight_bytes_ -= d.cost;
    }
    done.clear();
    // The extractor waits only for room in the window or for everything.
    if (waiting_) done_cv_.notify_all();
  }
}

}  // namespace strata
