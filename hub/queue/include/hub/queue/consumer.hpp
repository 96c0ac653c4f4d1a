#pragma once
// Consuming with manual acknowledgements.
//
// Delivery is AT-LEAST-ONCE: a message is removed from the queue only by ack(). If the
// process, the connection or the channel goes away before the ack, the broker delivers
// the message again (redelivered=true), possibly after processing already happened. The
// caller therefore makes processing idempotent (e.g. an inbox table keyed by message_id)
// and acks only after its own work is durable.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "hub/core/metrics.hpp"
#include "hub/core/result.hpp"
#include "hub/queue/amqp_connection.hpp"

namespace hub::queue {

struct Delivery {
  std::uint64_t delivery_tag = 0;  // valid only on the Consumer that received it
  std::string body;
  std::string message_id;
  std::string correlation_id;
  std::string content_type;
  std::string exchange;
  std::string routing_key;
  bool redelivered = false;
  // Scalar headers as text (numbers in decimal, booleans as true/false). Array and table
  // headers (e.g. x-death) are left out. A quorum queue adds x-delivery-count.
  std::map<std::string, std::string> headers;
};

struct ConsumerOptions {
  // Optional; counter hub_mq_delivered_total. Must outlive the Consumer.
  MetricsRegistry* metrics = nullptr;
};

// Lifetime: owns its own AMQP connection; the destructor closes it, and the broker then
// requeues every delivery that was not acked.
// Thread-safety: none; poll, ack, nack and reject from one thread at a time (the thread
// that processes the message acks it, or hands the tag back to the polling thread).
// Acks are sent without waiting for an answer. A tag that is not an unsettled delivery of
// the current channel is refused locally (MQ_PRECONDITION_FAILED) instead of letting the
// broker close the channel. If the broker closes the channel anyway, the next call
// reports it, consumption has stopped (consuming() is false) and consume() must be called
// again; the broker has requeued the unacked deliveries. Heartbeats are handled only inside
// calls, so poll at least every AmqpSettings::heartbeat_seconds.
// After MQ_UNAVAILABLE or MQ_TIMEOUT healthy() is false: make a new Consumer.
class Consumer {
  struct PrivateTag {
    explicit PrivateTag() = default;
  };

 public:
  static Result<std::unique_ptr<Consumer>> open(const AmqpSettings& settings,
                                                ConsumerOptions options = {});
  // Use open(); public only for std::make_unique.
  Consumer(PrivateTag, std::unique_ptr<AmqpConnection> connection, ConsumerOptions options);
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // basic.qos(prefetch) then basic.consume with manual acks. One queue per Consumer.
  Status consume(const std::string& queue, std::uint16_t prefetch);

  // The next delivery, or nullopt if none arrived within `timeout`.
  Result<std::optional<Delivery>> poll(std::chrono::milliseconds timeout);

  Status ack(std::uint64_t delivery_tag);
  // requeue=true: back to the queue (a quorum queue counts the delivery towards
  // x-delivery-limit); requeue=false: dead-lettered if the queue has a DLX, else dropped.
  Status nack(std::uint64_t delivery_tag, bool requeue);
  Status reject(std::uint64_t delivery_tag, bool requeue);

  // Stops new deliveries (basic.cancel). Deliveries already received can still be polled
  // and must still be acked or nacked.
  Status cancel();

  bool consuming() const;
  bool healthy() const;
  const std::string& endpoint() const;

 private:
  void sync_with_channel();
  Status settle(std::uint64_t delivery_tag, const char* verb);

  std::unique_ptr<AmqpConnection> connection_;
  ConsumerOptions options_;
  Counter* delivered_ = nullptr;
  std::string queue_;
  std::string consumer_tag_;
  std::uint64_t channel_generation_ = 0;  // of the channel the state below belongs to
  bool consuming_ = false;
  // Delivered but not yet acked, nacked or rejected: a wrong tag is refused locally
  // rather than letting the broker close the channel over it.
  std::set<std::uint64_t> unsettled_;
};

}  // namespace hub::queue
