#include "hub/queue/consumer.hpp"

#include "amqp_session.hpp"

namespace hub::queue {
namespace {

using detail::AmqpSession;

std::string in_quotes(const std::string& name) { return "'" + name + "'"; }

}  // namespace

Consumer::Consumer(PrivateTag, std::unique_ptr<AmqpConnection> connection, ConsumerOptions options)
    : connection_(std::move(connection)), options_(options) {
  if (options_.metrics != nullptr) {
    delivered_ = &options_.metrics->counter("hub_mq_delivered_total",
                                            "Messages received from RabbitMQ by consumers.");
  }
}

Consumer::~Consumer() = default;

Result<std::unique_ptr<Consumer>> Consumer::open(const AmqpSettings& settings,
                                                 ConsumerOptions options) {
  auto connection = AmqpConnection::open(settings);
  if (!connection.ok()) return connection.error();
  return std::make_unique<Consumer>(PrivateTag{}, std::move(connection).value(), options);
}

bool Consumer::healthy() const { return connection_->healthy(); }
const std::string& Consumer::endpoint() const { return connection_->endpoint(); }

bool Consumer::consuming() const {
  return consuming_ && connection_->healthy() &&
         channel_generation_ == connection_->session_->channel_generation();
}

void Consumer::sync_with_channel() {
  // A reopened channel has no consumer, and the broker requeued every delivery that was
  // unacked on the old one: their tags mean nothing now.
  const auto generation = connection_->session_->channel_generation();
  if (generation != channel_generation_) {
    consuming_ = false;
    unsettled_.clear();
    channel_generation_ = generation;
  }
}

Status Consumer::consume(const std::string& queue, std::uint16_t prefetch) {
  AmqpSession& session = *connection_->session_;
  sync_with_channel();
  if (consuming_) {
    return make_error(kMqInvalidState, "already consuming from queue " + in_quotes(queue_) +
                                           "; use one Consumer per queue");
  }
  amqp_basic_qos_t qos{};
  qos.prefetch_count = prefetch;
  auto q = session.rpc(AMQP_BASIC_QOS_METHOD, &qos, {AMQP_BASIC_QOS_OK_METHOD},
                       "setting prefetch for queue " + in_quotes(queue));
  if (!q.ok()) return q.error();

  amqp_basic_consume_t req{};
  req.queue = detail::as_bytes(queue);
  req.consumer_tag = amqp_empty_bytes;  // the broker picks a unique one
  req.arguments = amqp_empty_table;
  auto r = session.rpc(AMQP_BASIC_CONSUME_METHOD, &req, {AMQP_BASIC_CONSUME_OK_METHOD},
                       "consuming from queue " + in_quotes(queue));
  if (!r.ok()) return r.error();
  consumer_tag_ = detail::to_string(static_cast<const amqp_basic_consume_ok_t*>(*r)->consumer_tag);
  session.release();
  queue_ = queue;
  consuming_ = true;
  channel_generation_ = session.channel_generation();
  return {};
}

Result<std::optional<Delivery>> Consumer::poll(std::chrono::milliseconds timeout) {
  AmqpSession& session = *connection_->session_;
  if (queue_.empty()) return make_error(kMqInvalidState, "poll() before consume()");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string what = "receiving from queue " + in_quotes(queue_);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto frame = session.next_frame(std::max(left, std::chrono::milliseconds(0)), what);
    sync_with_channel();
    if (!frame.ok()) return frame.error();
    if (!frame->has_value()) return std::optional<Delivery>();
    const amqp_frame_t f = **frame;
    if (f.channel != AmqpSession::kChannel) {
      session.release();
      continue;
    }
    if (f.frame_type != AMQP_FRAME_METHOD) {
      return session.protocol_failure(what + ": content frame without a basic.deliver");
    }
    if (f.payload.method.id == AMQP_BASIC_DELIVER_METHOD) {
      const auto* d = static_cast<const amqp_basic_deliver_t*>(f.payload.method.decoded);
      Delivery delivery;
      delivery.delivery_tag = d->delivery_tag;
      delivery.redelivered = d->redelivered != 0;
      delivery.exchange = detail::to_string(d->exchange);
      delivery.routing_key = detail::to_string(d->routing_key);
      auto content = session.read_content(what);
      session.release();
      if (!content.ok()) return content.error();
      unsettled_.insert(delivery.delivery_tag);
      if (content->too_large) {
        // Loading it could exhaust memory; retrying cannot help: send it to the DLX.
        auto rejected = reject(delivery.delivery_tag, false);
        return make_error(
            kMqMessageTooLarge,
            "a message of " + std::to_string(content->body_size) + " bytes from queue " +
                in_quotes(queue_) + " exceeds max_message_bytes (" +
                std::to_string(session.settings().max_message_bytes) +
                "); it was rejected without requeue (dead-lettered if the queue "
                "has a dead-letter exchange)" +
                (rejected.ok() ? "" : "; the reject failed: " + rejected.error().message));
      }
      delivery.body = std::move(content->body);
      delivery.message_id = std::move(content->message_id);
      delivery.correlation_id = std::move(content->correlation_id);
      delivery.content_type = std::move(content->content_type);
      delivery.headers = std::move(content->headers);
      if (delivered_ != nullptr) delivered_->inc();
      return std::optional<Delivery>(std::move(delivery));
    }
    if (f.payload.method.id == AMQP_BASIC_CANCEL_METHOD) {
      // The broker cancels a consumer whose queue was deleted (or, for a quorum queue, lost).
      const auto* c = static_cast<const amqp_basic_cancel_t*>(f.payload.method.decoded);
      if (c->nowait == 0) {
        amqp_basic_cancel_ok_t ok{};
        ok.consumer_tag = c->consumer_tag;
        (void)session.send(AMQP_BASIC_CANCEL_OK_METHOD, &ok, "answering basic.cancel");
      }
      session.release();
      consuming_ = false;
      return make_error(kMqConsumerCancelled, "RabbitMQ at " + session.endpoint() +
                                                  " cancelled the consumer of queue " +
                                                  in_quotes(queue_) + " (was the queue deleted?)");
    }
    session.release();  // e.g. a late basic.cancel-ok: nothing to do
  }
}

Status Consumer::settle(std::uint64_t delivery_tag, const char* verb) {
  sync_with_channel();
  if (unsettled_.count(delivery_tag) == 0) {
    // Sending it would make the broker close the channel (406 unknown delivery tag) and
    // requeue every other unacked delivery: refuse here instead.
    return make_error(kMqPreconditionFailed,
                      std::string("cannot ") + verb + " delivery tag " +
                          std::to_string(delivery_tag) + " on queue " + in_quotes(queue_) +
                          ": it is not an unsettled delivery of this channel (already settled, "
                          "or received before the channel was reopened and since requeued)");
  }
  unsettled_.erase(delivery_tag);
  return {};
}

Status Consumer::ack(std::uint64_t delivery_tag) {
  if (auto s = settle(delivery_tag, "ack"); !s.ok()) return s;
  amqp_basic_ack_t req{};
  req.delivery_tag = delivery_tag;
  return connection_->session_->send(AMQP_BASIC_ACK_METHOD, &req, "acking a delivery");
}

Status Consumer::nack(std::uint64_t delivery_tag, bool requeue) {
  if (auto s = settle(delivery_tag, "nack"); !s.ok()) return s;
  amqp_basic_nack_t req{};
  req.delivery_tag = delivery_tag;
  req.requeue = requeue ? 1 : 0;
  return connection_->session_->send(AMQP_BASIC_NACK_METHOD, &req, "nacking a delivery");
}

Status Consumer::reject(std::uint64_t delivery_tag, bool requeue) {
  if (auto s = settle(delivery_tag, "reject"); !s.ok()) return s;
  amqp_basic_reject_t req{};
  req.delivery_tag = delivery_tag;
  req.requeue = requeue ? 1 : 0;
  return connection_->session_->send(AMQP_BASIC_REJECT_METHOD, &req, "rejecting a delivery");
}

Status Consumer::cancel() {
  sync_with_channel();
  if (!consuming_) return {};
  AmqpSession& session = *connection_->session_;
  amqp_basic_cancel_t req{};
  req.consumer_tag = detail::as_bytes(consumer_tag_);
  auto r = session.rpc(AMQP_BASIC_CANCEL_METHOD, &req, {AMQP_BASIC_CANCEL_OK_METHOD},
                       "cancelling the consumer of queue " + in_quotes(queue_));
  if (!r.ok()) return r.error();
  session.release();
  consuming_ = false;
  return {};
}

}  // namespace hub::queue
