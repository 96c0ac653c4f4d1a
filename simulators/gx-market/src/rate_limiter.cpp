#include "gxm/rate_limiter.hpp"

#include <thread>

namespace gxm {

RateLimiter::RateLimiter(double per_second) {
  if (per_second > 0) {
    interval_ = std::chrono::nanoseconds(static_cast<int64_t>(1e9 / per_second));
  }
}

RateLimiter::Clock::time_point RateLimiter::reserve(Clock::time_point now) {
  if (!limited()) return now;
  std::lock_guard lock(mu_);
  auto slot = next_ > now ? next_ : now;
  next_ = slot + interval_;
  return slot;
}

bool RateLimiter::acquire(const std::atomic<bool>* stop) {
  auto slot = reserve(Clock::now());
  // Sleep in short steps so that a stop request (SIGTERM) is honoured promptly.
  while (Clock::now() < slot) {
    if (stop && stop->load()) return false;
    auto left = slot - Clock::now();
    std::this_thread::sleep_for(std::min<Clock::duration>(left, std::chrono::milliseconds(100)));
  }
  return !(stop && stop->load());
}

}  // namespace gxm
