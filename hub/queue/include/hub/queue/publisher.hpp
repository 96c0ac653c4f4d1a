#pragma once
// Publishing with publisher confirms: a publish call returns success only once the broker
// has taken responsibility for every message (basic.ack; for a quorum queue, after a
// majority has written it).

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hub/core/metrics.hpp"
#include "hub/core/result.hpp"
#include "hub/queue/amqp_connection.hpp"

namespace hub::queue {

struct PublishOptions {
  std::string message_id;      // empty: not set
  std::string correlation_id;  // empty: not set
  std::string content_type;    // empty: not set
  std::map<std::string, std::string> headers;
  bool persistent = true;  // delivery-mode 2
  // An unroutable message is returned (basic.return) and reported as MQ_UNROUTABLE
  // instead of being silently dropped.
  bool mandatory = true;
};

struct OutgoingMessage {
  std::string exchange;
  std::string routing_key;
  std::string body;
  PublishOptions options;
};

struct PublisherOptions {
  // How often one message is sent in total when the broker nacks it (a quorum queue nacks
  // while its leader is elected); between attempts a short, growing pause.
  int max_attempts = 5;
  // Optional; counters hub_mq_published_total, hub_mq_publish_retries_total,
  // hub_mq_publish_failures_total and hub_mq_publisher_reconnects_total. Must outlive the
  // Publisher.
  MetricsRegistry* metrics = nullptr;
};

// Lifetime: owns its own AMQP connection (channel 1 in confirm mode); the destructor
// closes it. Messages not yet confirmed when a call fails may or may not have reached
// the broker: delivery is at-least-once, so publish them again and let consumers
// deduplicate by message_id.
// Thread-safety: none; one thread at a time. For more throughput, use one Publisher per
// thread (NOTES.md: 4 publishers ~1.6x one) or publish_batch with many in flight.
// Reconnection: rabbitmq-c answers heartbeats only inside calls, so an idle publisher
// is disconnected by the broker after two heartbeat intervals; and a call can fail with
// MQ_UNAVAILABLE or MQ_TIMEOUT. Either way the next call opens a new connection first
// (nothing is in flight between calls, so this loses nothing).
class Publisher {
  struct PrivateTag {
    explicit PrivateTag() = default;
  };

 public:
  static Result<std::unique_ptr<Publisher>> open(const AmqpSettings& settings,
                                                 PublisherOptions options = {});
  // Use open(); public only for std::make_unique.
  Publisher(PrivateTag, std::unique_ptr<AmqpConnection> connection, PublisherOptions options);
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // One message, waiting for its confirm (~2,000/s on this machine: use publish_batch for
  // volume). MQ_UNROUTABLE if mandatory and no queue matched; MQ_NACKED after
  // max_attempts nacks; MQ_NOT_FOUND if the exchange does not exist.
  Status publish(const std::string& exchange, const std::string& routing_key, std::string_view body,
                 const PublishOptions& options = {});

  // Publishes all messages keeping up to max_in_flight unconfirmed, republishing nacked
  // ones, and returns when every message is confirmed or has failed. Messages that fail
  // individually (unroutable, nacked max_attempts times) do not stop the others; the
  // error then counts them and names the first. A connection or channel failure stops
  // the batch.
  Status publish_batch(const std::vector<OutgoingMessage>& messages, std::size_t max_in_flight);

  // False after a connection failure, until the next call reconnects.
  bool healthy() const;
  const std::string& endpoint() const;

 private:
  // Notices a connection the broker closed while we were idle, and replaces a broken one.
  Status ensure_connected();

  std::unique_ptr<AmqpConnection> connection_;
  PublisherOptions options_;
  Counter* published_ = nullptr;
  Counter* retries_ = nullptr;
  Counter* failures_ = nullptr;
  Counter* reconnects_ = nullptr;
};

}  // namespace hub::queue
