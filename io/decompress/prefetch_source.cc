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
    Chunk buf;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] {
        return stop_ || (ready_.size() < depth_ && untapped_.size() < depth_);
      });
      if (stop_) return;
      if (!spare_.empty()) {
        buf = std::move(spare_.back());
        spare_.pop_back();
      }
    }
    if (buf == nullptr) {
      buf = std::make_shared<Buffer>();
      buf->bytes.reset(new char[chunk_]);  // not zeroed: filled before use
    }
    // Fill the chunk (or up to EOF) so the consumer wakes once per chunk.
    size_t got = 0;
    Status status;
    bool eof = false;
    while (got < chunk_) {
      auto n = inner_->Read(buf->bytes.get() + got, chunk_ - got);
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
    buf->len = got;
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
    Chunk chunk = std::move(untapped_.front());
    untapped_.pop_front();
    lock.unlock();
    cv_.notify_all();  // the reader may wait for room in untapped_
    tap_(std::string_view(chunk->bytes.get(), chunk->len));
    lock.lock();
    Release(std::move(chunk));
  }
}

void PrefetchSource::Release(Chunk chunk) {
  // Every holder releases under mu_, so the count is exact: the last one
  // (consumer or tap) hands the buffer back to the reader.
  if (chunk.use_count() == 1) spare_.push_back(std::move(chunk));
}

Result<size_t> PrefetchSource::Read(char* buf, size_t n) {
  if (current_ == nullptr || pos_ == current_->len) {
    std::unique_lock<std::mutex> lock(mu_);
    if (current_ != nullptr) Release(std::move(current_));
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
  size_t k = std::min(n, current_->len - pos_);
  std::memcpy(buf, current_->bytes.get() + pos_, k);
  pos_ += k;
  return k;
}

}  // namespace strata
