// ApplySlots: bounds how many layers are applied at once, across the diff
// service and `strata import` (each Apply holds a file sink's window of
// buffers and threads: see io/extract/apply_layer.h for the memory one
// takes). A caller over the bound waits for a slot, giving up when its RPC
// is cancelled or its deadline passes.
//
// Thread-safety: thread-safe.
#ifndef STRATA_SNAPSHOTTER_SERVER_APPLY_SLOTS_H_
#define STRATA_SNAPSHOTTER_SERVER_APPLY_SLOTS_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <utility>

#include "io/base/status.h"

namespace strata {

class ApplySlots {
 public:
  // n <= 0: twice the CPUs (at least 2).
  explicit ApplySlots(int n);
  int limit() const { return limit_; }

  // Taken slot, returned on destruction.
  class Slot {
   public:
    Slot() = default;
    explicit Slot(ApplySlots* s) : s_(s) {}
    Slot(Slot&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
    Slot& operator=(Slot&& o) noexcept {
      std::swap(s_, o.s_);
      return *this;
    }
    ~Slot();

   private:
    ApplySlots* s_ = nullptr;
  };

  // Waits for a slot; Canceled when cancelled() turns true first.
  Status Acquire(const std::function<bool()>& cancelled, Slot* out);

 private:
  void Release();
  const int limit_;
  std::mutex mu_;
  std::condition_variable cv_;
  int used_ = 0;  // GUARDED_BY(mu_)
};

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_SERVER_APPLY_SLOTS_H_
