#include "io/decompress/prefetch_source.h"

#include <algorithm>
#include <cstring>

namespace strata {

PrefetchSource::PrefetchSource(std::unique_ptr<Source> inner, size_t chunk,
                               size_t depth, Tap tap)
    : inner_(std::move(inner)),
      chunk_(chunk),
      depth_(depth),
      tap_(std::move(tap)),
      tapped_all_(!tap_),
      thread_([this] { Run(); }) {
  if (tap_) tap_thread_ = std::thread([this] { RunTap(); });
}

PrefetchSource::~PrefetchSource() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (tap_thread_.joinable()) tap_thread_.join();
}

void PrefetchSource::Run() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] {
        return stop_ || (ready_.size() < depth_ && untapped_.size() < depth_);
      });
      if (stop_) return;
    }
    auto buf = std::make_shared<std::string>();
    buf->resize(chunk_);
    // Fill the chunk (or up to EOF) so the consumer wakes once per chunk.
    size_t got = 0;
    Status status;
    bool eof = false;
    while (got < chunk_) {
      auto n = inner_->Read(buf->data() + got, chunk_ - got);
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
    buf->resize(got);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (got > 0) {
        ready_.push_back(buf);
        if (tap_) untapped_.push_back(std::move(buf));
      }
      if (!status.ok() || eof) {
        error_ = status;
        done_ = true;
      }
    }
    cv_.notify_all();
    if (!status.ok() || eof) return;
  }
}

void PrefetchSource::RunTap() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || !untapped_.empty() || done_; });
    if (stop_) return;
    if (untapped_.empty()) {  // done_: the reader will add nothing more
      tapped_all_ = true;
      cv_.notify_all();
      return;
    }
    std::shared_ptr<std::string> chunk = std::move(untapped_.front());
    untapped_.pop_front();
    lock.unlock();
    cv_.notify_all();  // the reader may wait for room in untapped_
    tap_(*chunk);
    chunk.reset();
    lock.lock();
  }
}

Result<size_t> PrefetchSource::Read(char* buf, size_t n) {
  if (current_ == nullptr || pos_ == current_->size()) {
    current_.reset();
    std::unique_lock<std::mutex> lock(mu_);
    // End of stream only once the tap has seen every byte too.
    cv_.wait(lock,
             [this] { return !ready_.empty() || (done_ && tapped_all_); });
    if (ready_.empty()) {
      if (!error_.ok()) return error_;
      return size_t{0};
    }
    current_ = std::move(ready_.front());
    ready_.pop_front();
    pos_ = 0;
    lock.unlock();
    cv_.notify_all();
  }
  size_t k = std::min(n, current_->size() - pos_);
  std::memcpy(buf, current_->data() + pos_, k);
  pos_ += k;
  return k;
}

}  // namespace strata
