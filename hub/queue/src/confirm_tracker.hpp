#pragma once
// Private to hub_queue: the bookkeeping of one Publisher::publish_batch call, kept free
// of I/O so that the tag arithmetic can be tested without a broker. Time is passed in.
// A value owned by one call; no thread-safety.
//
// Publisher-confirm rules it implements (RabbitMQ "Consumer Acknowledgements and
// Publisher Confirms"): after confirm.select the n-th basic.publish on the channel has
// delivery tag n; basic.ack/basic.nack with multiple=true settle every tag up to and
// including theirs (tag 0 with multiple settles all); a mandatory message that no queue
// takes comes back as basic.return *before* its basic.ack.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <vector>

namespace hub::queue::detail {

enum class MessageOutcome { kPending, kConfirmed, kNacked, kUnroutable };

class ConfirmTracker {
 public:
  using Clock = std::chrono::steady_clock;

  ConfirmTracker(std::size_t message_count, int max_attempts);

  // The next message to send at `now`: retries whose pause has passed first, then
  // messages not yet sent, in order.
  std::optional<std::size_t> next_to_send(Clock::time_point now);
  void sent(std::uint64_t tag, std::size_t index);

  // Unknown tags (already settled, or from before a call) are ignored.
  void acked(std::uint64_t tag, bool multiple);
  void nacked(std::uint64_t tag, bool multiple, Clock::time_point now);
  // Marks the lowest unsettled tag whose message `matches` as returned; its ack will then
  // settle it as unroutable. False if no unsettled message matches.
  bool returned(const std::function<bool(std::size_t)>& matches);

  std::size_t in_flight() const { return in_flight_.size(); }
  bool finished() const;
  std::optional<Clock::time_point> next_retry_at() const;
  MessageOutcome outcome(std::size_t index) const { return outcomes_.at(index); }
  int attempts(std::size_t index) const { return attempts_.at(index); }
  std::size_t resends() const { return resends_; }

  // Pause before the next attempt after `attempts` sends: 20 ms doubling, at most 1 s.
  static std::chrono::milliseconds backoff(int attempts);

 private:
  struct Unsettled {
    std::size_t index;
    bool returned;
  };
  void settle_ack(const Unsettled& u);
  void settle_nack(const Unsettled& u, Clock::time_point now);

  std::map<std::uint64_t, Unsettled> in_flight_;
  std::multimap<Clock::time_point, std::size_t> retries_;
  std::vector<MessageOutcome> outcomes_;
  std::vector<int> attempts_;
  std::size_t next_fresh_ = 0;
  std::size_t resends_ = 0;
  int max_attempts_;
};

}  // namespace hub::queue::detail
