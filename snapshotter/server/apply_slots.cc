#include "snapshotter/server/apply_slots.h"

#include <algorithm>
#include <thread>

namespace strata {

ApplySlots::ApplySlots(int n)
    : limit_(n > 0
                 ? n
                 : std::max(2, 2 * static_cast<int>(
                                       std::thread::hardware_concurrency()))) {}

ApplySlots::Slot::~Slot() {
  if (s_ != nullptr) s_->Release();
}

Status ApplySlots::Acquire(const std::function<bool()>& cancelled, Slot* out) {
  std::unique_lock<std::mutex> l(mu_);
  while (used_ >= limit_) {
    if (cancelled())
      return Canceled("cancelled while waiting for one of " +
                      std::to_string(limit_) + " apply slots");
    cv_.wait_for(l, std::chrono::milliseconds(100));
  }
  used_++;
  *out = Slot(this);
  return Status::Ok();
}

void ApplySlots::Release() {
  std::lock_guard<std::mutex> l(mu_);
  used_--;
  cv_.notify_one();
}

}  // namespace strata
