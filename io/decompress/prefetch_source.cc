#include "io/decompress/prefetch_source.h"

#include <algorithm>
#include <cstring>

namespace strata {

PrefetchSource::PrefetchSource(std::unique_ptr<Source> inner, size_t chunk,
                               size_t depth)
    : inner_(std::move(inner)),
      chunk_(chunk),
      depth_(depth),
      thread_([this] { Run(); }) {}

PrefetchSource::~PrefetchSource() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void PrefetchSource::Run() {
  while (true) {
    std::string buf;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || ready_.size() < depth_; });
      if (stop_) return;
      if (!spare_.empty()) {
        buf = std::move(spare_.front());
        spare_.pop_front();
      }
    }
    buf.resize(chunk_);
    // Fill the chunk (or up to EOF) so the consumer wakes once per chunk.
    size_t got = 0;
    Status status;
    bool eof = false;
    while (got < chunk_) {
      auto n = inner_->Read(buf.data() + got, chunk_ - got);
      if (!n.ok()) {
        status = n.status();
        break;
      }
      if (*n == 0) {
        eof = true;
        break;
      }
      got += *n;
    }
    buf.resize(got);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (got > 0) ready_.push_back(std::move(buf));
      if (!status.ok() || eof) {
        error_ = status;
        done_ = true;
      }
    }
    cv_.notify_all();
    if (!status.ok() || eof) return;
  }
}

Result<size_t> PrefetchSource::Read(char* buf, size_t n) {
  if (pos_ == current_.size()) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return !ready_.empty() || done_; });
    if (ready_.empty()) {
      if (!error_.ok()) return error_;
      return size_t{0};
    }
    if (!current_.empty()) spare_.push_back(std::move(current_));
    current_ = std::move(ready_.front());
    ready_.pop_front();
    pos_ = 0;
    lock.unlock();
    cv_.notify_all();
  }
  size_t k = std::min(n, current_.size() - pos_);
  std::memcpy(buf, current_.data() + pos_, k);
  pos_ += k;
  return k;
}

}  // namespace strata
