#include "confirm_tracker.hpp"

#include <gtest/gtest.h>

namespace hub::queue::detail {
namespace {

using namespace std::chrono_literals;
using Clock = ConfirmTracker::Clock;

// Sends as the publisher would: tags 1, 2, 3... in order of sending.
struct Harness {
  explicit Harness(std::size_t n, int max_attempts = 3) : tracker(n, max_attempts) {}
  std::size_t send_up_to(std::size_t window, Clock::time_point now) {
    std::size_t sent = 0;
    while (tracker.in_flight() < window) {
      auto i = tracker.next_to_send(now);
      if (!i) break;
      tracker.sent(next_tag++, *i);
      ++sent;
    }
    return sent;
  }
  ConfirmTracker tracker;
  std::uint64_t next_tag = 1;
};

TEST(ConfirmTrackerTest, MultipleAckSettlesEveryTagUpToIt) {
  Harness h(5);
  auto t0 = Clock::now();
  EXPECT_EQ(h.send_up_to(3, t0), 3U);
  EXPECT_EQ(h.send_up_to(3, t0), 0U);  // window full
  h.tracker.acked(2, true);
  EXPECT_EQ(h.tracker.in_flight(), 1U);
  EXPECT_EQ(h.tracker.outcome(0), MessageOutcome::kConfirmed);
  EXPECT_EQ(h.tracker.outcome(1), MessageOutcome::kConfirmed);
  EXPECT_EQ(h.tracker.outcome(2), MessageOutcome::kPending);
  EXPECT_EQ(h.send_up_to(3, t0), 2U);
  h.tracker.acked(4, false);  // single ack out of order
  EXPECT_EQ(h.tracker.outcome(3), MessageOutcome::kConfirmed);
  EXPECT_EQ(h.tracker.outcome(2), MessageOutcome::kPending);
  h.tracker.acked(4, false);  // duplicate: ignored
  h.tracker.acked(0, true);   // tag 0 + multiple: everything outstanding
  EXPECT_TRUE(h.tracker.finished());
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(h.tracker.outcome(i), MessageOutcome::kConfirmed);
}

TEST(ConfirmTrackerTest, NackedMessagesAreResentAfterABackoffUntilAttemptsRunOut) {
  Harness h(2, 3);
  auto t0 = Clock::now();
  h.send_up_to(10, t0);
  h.tracker.nacked(2, true, t0);  // both
  EXPECT_EQ(h.tracker.in_flight(), 0U);
  EXPECT_FALSE(h.tracker.finished());
  ASSERT_TRUE(h.tracker.next_retry_at().has_value());
  EXPECT_EQ(*h.tracker.next_retry_at(), t0 + ConfirmTracker::backoff(1));
  EXPECT_EQ(h.send_up_to(10, t0), 0U);  // pause not over
  EXPECT_EQ(h.send_up_to(10, t0 + 20ms), 2U);
  EXPECT_EQ(h.tracker.attempts(0), 2);
  h.tracker.acked(3, false);              // message 0 now confirmed
  h.tracker.nacked(4, false, t0 + 20ms);  // message 1: third attempt next
  EXPECT_EQ(h.send_up_to(10, t0 + 20ms + ConfirmTracker::backoff(2)), 1U);
  h.tracker.nacked(5, false, t0 + 1s);
  EXPECT_TRUE(h.tracker.finished());
  EXPECT_EQ(h.tracker.outcome(0), MessageOutcome::kConfirmed);
  EXPECT_EQ(h.tracker.outcome(1), MessageOutcome::kNacked);
  EXPECT_EQ(h.tracker.attempts(1), 3);
  EXPECT_EQ(h.tracker.resends(), 3U);
}

TEST(ConfirmTrackerTest, ReturnedMessageIsUnroutableWhenItsAckArrives) {
  Harness h(3);
  auto t0 = Clock::now();
  h.send_up_to(10, t0);
  // Messages 1 and 2 carry the same content; the return names the first unsettled one.
  EXPECT_TRUE(h.tracker.returned([](std::size_t i) { return i >= 1; }));
  EXPECT_FALSE(h.tracker.returned([](std::size_t i) { return i == 7; }));
  h.tracker.acked(3, true);
  EXPECT_EQ(h.tracker.outcome(0), MessageOutcome::kConfirmed);
  EXPECT_EQ(h.tracker.outcome(1), MessageOutcome::kUnroutable);
  EXPECT_EQ(h.tracker.outcome(2), MessageOutcome::kConfirmed);
}

TEST(ConfirmTrackerTest, BackoffGrowsAndIsCapped) {
  EXPECT_EQ(ConfirmTracker::backoff(1), 20ms);
  EXPECT_EQ(ConfirmTracker::backoff(2), 40ms);
  EXPECT_EQ(ConfirmTracker::backoff(5), 320ms);
  EXPECT_EQ(ConfirmTracker::backoff(50), 1000ms);
}

}  // namespace
}  // namespace hub::queue::detail
