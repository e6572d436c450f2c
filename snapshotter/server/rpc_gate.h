// RpcGate: admission for a service's RPCs during graceful shutdown. Each
// handler holds a Pass while it runs; Drain() refuses new passes and waits
// for the running ones to finish.
//
// Thread-safety: thread-safe.
#ifndef STRATA_SNAPSHOTTER_SERVER_RPC_GATE_H_
#define STRATA_SNAPSHOTTER_SERVER_RPC_GATE_H_

#include <grpcpp/support/status.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace strata {

class RpcGate {
 public:
  // RAII: counts one running RPC; not admitted() once draining.
  class Pass {
   public:
    explicit Pass(RpcGate& g) : g_(g) {
      std::lock_guard<std::mutex> lock(g_.mu_);
      admitted_ = !g_.draining_;
      if (admitted_) g_.inflight_++;
    }
    ~Pass() {
      if (!admitted_) return;
      std::lock_guard<std::mutex> lock(g_.mu_);
      if (--g_.inflight_ == 0) g_.idle_.notify_all();
    }
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;
    bool admitted() const { return admitted_; }

   private:
    RpcGate& g_;
    bool admitted_;
  };

  // Whether Drain() has begun: long RPCs poll it to stop early.
  bool draining() {
    std::lock_guard<std::mutex> lock(mu_);
    return draining_;
  }

  // What a refused RPC answers.
  static grpc::Status Refused() {
    return grpc::Status(grpc::UNAVAILABLE,
                        "strata-snapshotter is shutting down");
  }

  // From now on passes are refused; returns once the admitted RPCs have
  // finished (true), or after `timeout` (false).
  bool Drain(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    draining_ = true;
    return idle_.wait_for(lock, timeout, [this] { return inflight_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable idle_;
  int inflight_ = 0;       // GUARDED_BY(mu_)
  bool draining_ = false;  // GUARDED_BY(mu_)
};

}  // namespace strata

#endif  // STRATA_SNAPSHOTTER_SERVER_RPC_GATE_H_
