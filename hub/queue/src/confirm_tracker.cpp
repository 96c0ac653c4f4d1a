#include "confirm_tracker.hpp"

#include <algorithm>

namespace hub::queue::detail {

ConfirmTracker::ConfirmTracker(std::size_t message_count, int max_attempts)
    : outcomes_(message_count, MessageOutcome::kPending),
      attempts_(message_count, 0),
      max_attempts_(std::max(1, max_attempts)) {}

std::chrono::milliseconds ConfirmTracker::backoff(int attempts) {
  const int shift = std::clamp(attempts - 1, 0, 6);
  return std::min(std::chrono::milliseconds(20 << shift), std::chrono::milliseconds(1000));
}

std::optional<std::size_t> ConfirmTracker::next_to_send(Clock::time_point now) {
  if (!retries_.empty() && retries_.begin()->first <= now) {
    std::size_t index = retries_.begin()->second;
    retries_.erase(retries_.begin());
    ++resends_;
    return index;
  }
  if (next_fresh_ < outcomes_.size()) return next_fresh_++;
  return std::nullopt;
}

void ConfirmTracker::sent(std::uint64_t tag, std::size_t index) {
  ++attempts_.at(index);
  in_flight_[tag] = Unsettled{index, false};
}

void ConfirmTracker::settle_ack(const Unsettled& u) {
  outcomes_[u.index] = u.returned ? MessageOutcome::kUnroutable : MessageOutcome::kConfirmed;
}

void ConfirmTracker::settle_nack(const Unsettled& u, Clock::time_point now) {
  if (u.returned) {
    outcomes_[u.index] = MessageOutcome::kUnroutable;
  } else if (attempts_[u.index] >= max_attempts_) {
    outcomes_[u.index] = MessageOutcome::kNacked;
  } else {
    retries_.emplace(now + backoff(attempts_[u.index]), u.index);
  }
}

void ConfirmTracker::acked(std::uint64_t tag, bool multiple) {
  if (multiple) {
    auto end = tag == 0 ? in_flight_.end() : in_flight_.upper_bound(tag);
    for (auto it = in_flight_.begin(); it != end; ++it) settle_ack(it->second);
    in_flight_.erase(in_flight_.begin(), end);
    return;
  }
  if (auto it = in_flight_.find(tag); it != in_flight_.end()) {
    settle_ack(it->second);
    in_flight_.erase(it);
  }
}

void ConfirmTracker::nacked(std::uint64_t tag, bool multiple, Clock::time_point now) {
  if (multiple) {
    auto end = tag == 0 ? in_flight_.end() : in_flight_.upper_bound(tag);
    for (auto it = in_flight_.begin(); it != end; ++it) settle_nack(it->second, now);
    in_flight_.erase(in_flight_.begin(), end);
    return;
  }
  if (auto it = in_flight_.find(tag); it != in_flight_.end()) {
    settle_nack(it->second, now);
    in_flight_.erase(it);
  }
}

bool ConfirmTracker::returned(const std::function<bool(std::size_t)>& matches) {
  for (auto& entry : in_flight_) {
    Unsettled& u = entry.second;
    if (!u.returned && matches(u.index)) {
      u.returned = true;
      return true;
    }
  }
  return false;
}

bool ConfirmTracker::finished() const {
  return in_flight_.empty() && retries_.empty() && next_fresh_ >= outcomes_.size();
}

std::optional<ConfirmTracker::Clock::time_point> ConfirmTracker::next_retry_at() const {
  if (retries_.empty()) return std::nullopt;
  return retries_.begin()->first;
}

}  // namespace hub::queue::detail
