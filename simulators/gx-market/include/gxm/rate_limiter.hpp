#pragma once
// Spaces requests evenly at a target rate, shared by all workers: each send reserves the next
// free slot, slots 1/rate apart; a late caller gets "now" and no burst builds up while idle.
// Thread-safe.

#include <atomic>
#include <chrono>
#include <mutex>

namespace gxm {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RateLimiter(double per_second);  // <= 0: no limit

  // Reserves the next slot at or after `now` and returns it (testable without sleeping).
  Clock::time_point reserve(Clock::time_point now);
  // Sleeps until the caller's slot; returns early (false) if *stop becomes true.
  bool acquire(const std::atomic<bool>* stop = nullptr);
  bool limited() const { return interval_.count() > 0; }

 private:
  std::chrono::nanoseconds interval_{0};
  std::mutex mu_;
  Clock::time_point next_{};
};

}  // namespace gxm
