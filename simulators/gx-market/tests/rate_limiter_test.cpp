#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "gxm/rate_limiter.hpp"

namespace gxm {
namespace {

using namespace std::chrono_literals;

TEST(RateLimiterTest, SlotsAreOneIntervalApart) {
  RateLimiter rl(100);  // 10 ms
  RateLimiter::Clock::time_point t0{};
  t0 += 1s;
  EXPECT_EQ(rl.reserve(t0), t0);
  EXPECT_EQ(rl.reserve(t0), t0 + 10ms);
  EXPECT_EQ(rl.reserve(t0 + 1ms), t0 + 20ms);
}

TEST(RateLimiterTest, IdleTimeBuildsNoBurst) {
  RateLimiter rl(10);  // 100 ms
  RateLimiter::Clock::time_point t0{};
  rl.reserve(t0);
  auto later = t0 + 5s;
  EXPECT_EQ(rl.reserve(later), later);
  EXPECT_EQ(rl.reserve(later), later + 100ms);
}

TEST(RateLimiterTest, ZeroMeansNoLimit) {
  RateLimiter rl(0);
  EXPECT_FALSE(rl.limited());
  RateLimiter::Clock::time_point t0{};
  EXPECT_EQ(rl.reserve(t0), t0);
  EXPECT_EQ(rl.reserve(t0), t0);
}

TEST(RateLimiterTest, HoldsTheRateAcrossThreads) {
  RateLimiter rl(200);  // 5 ms
  auto start = RateLimiter::Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) rl.acquire();
    });
  }
  for (auto& t : threads) t.join();
  auto took = RateLimiter::Clock::now() - start;
  // 100 slots 5 ms apart: the last starts 495 ms after the first.
  EXPECT_GE(took, 490ms);
  EXPECT_LT(took, 3s);
}

TEST(RateLimiterTest, StopEndsTheWait) {
  RateLimiter rl(0.1);  // 10 s
  std::atomic<bool> stop{false};
  EXPECT_TRUE(rl.acquire(&stop));
  std::thread stopper([&] {
    std::this_thread::sleep_for(200ms);
    stop = true;
  });
  auto start = RateLimiter::Clock::now();
  EXPECT_FALSE(rl.acquire(&stop));
  EXPECT_LT(RateLimiter::Clock::now() - start, 2s);
  stopper.join();
}

}  // namespace
}  // namespace gxm
