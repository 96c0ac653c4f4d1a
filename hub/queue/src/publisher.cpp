#include "hub/queue/publisher.hpp"

#include <algorithm>
#include <map>

#include "amqp_session.hpp"
#include "confirm_tracker.hpp"

namespace hub::queue {
namespace {

using Clock = detail::ConfirmTracker::Clock;
using detail::AmqpSession;
using detail::MessageOutcome;

// Sends one basic.publish (method, header and body frames); the confirm comes later.
Status send_message(AmqpSession& session, const OutgoingMessage& m) {
  const PublishOptions& o = m.options;
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
  props.delivery_mode = o.persistent ? 2 : 1;
  if (!o.message_id.empty()) {
    props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
    props.message_id = detail::as_bytes(o.message_id);
  }
  if (!o.correlation_id.empty()) {
    props._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
    props.correlation_id = detail::as_bytes(o.correlation_id);
  }
  if (!o.content_type.empty()) {
    props._flags |= AMQP_BASIC_CONTENT_TYPE_FLAG;
    props.content_type = detail::as_bytes(o.content_type);
  }
  std::vector<amqp_table_entry_t> headers;
  headers.reserve(o.headers.size());
  for (const auto& [key, value] : o.headers) {
    amqp_table_entry_t e{};
    e.key = detail::as_bytes(key);
    e.value.kind = AMQP_FIELD_KIND_UTF8;
    e.value.value.bytes = detail::as_bytes(value);
    headers.push_back(e);
  }
  if (!headers.empty()) {
    props._flags |= AMQP_BASIC_HEADERS_FLAG;
    props.headers = amqp_table_t{static_cast<int>(headers.size()), headers.data()};
  }
  int rc = amqp_basic_publish(session.state(), AmqpSession::kChannel, detail::as_bytes(m.exchange),
                              detail::as_bytes(m.routing_key), o.mandatory ? 1 : 0, 0, &props,
                              detail::as_bytes(m.body));
  if (rc == AMQP_STATUS_TABLE_TOO_BIG) {
    // Nothing was sent; the connection is still fine.
    return make_error(kMqProtocol, "the headers of message '" + o.message_id +
                                       "' do not fit in one AMQP frame (frame_max " +
                                       std::to_string(session.settings().frame_max) + ")");
  }
  if (rc != AMQP_STATUS_OK) {
    return session.library_failure(rc, "publishing to exchange '" + m.exchange + "'");
  }
  return {};
}

std::string describe(const OutgoingMessage& m, std::size_t index) {
  std::string text = "message " + std::to_string(index);
  if (!m.options.message_id.empty()) text += " (message_id '" + m.options.message_id + "')";
  return text + " to exchange '" + m.exchange + "' with routing key '" + m.routing_key + "'";
}

}  // namespace

Publisher::Publisher(PrivateTag, std::unique_ptr<AmqpConnection> connection,
                     PublisherOptions options)
    : connection_(std::move(connection)), options_(options) {
  options_.max_attempts = std::max(1, options_.max_attempts);
  if (options_.metrics != nullptr) {
    published_ = &options_.metrics->counter("hub_mq_published_total",
                                            "Messages confirmed by RabbitMQ (basic.ack).");
    retries_ = &options_.metrics->counter("hub_mq_publish_retries_total",
                                          "Messages published again after a basic.nack.");
    failures_ = &options_.metrics->counter(
        "hub_mq_publish_failures_total",
        "Messages not confirmed: unroutable, nacked on every attempt, or connection lost.");
    reconnects_ = &options_.metrics->counter(
        "hub_mq_publisher_reconnects_total",
        "Publisher connections replaced after the broker closed them or a call failed.");
  }
}

Publisher::~Publisher() = default;

Result<std::unique_ptr<Publisher>> Publisher::open(const AmqpSettings& settings,
                                                   PublisherOptions options) {
  auto connection = AmqpConnection::open(settings);
  if (!connection.ok()) return connection.error();
  if (auto s = (*connection)->session_->enable_confirms(); !s.ok()) return s.error();
  return std::make_unique<Publisher>(PrivateTag{}, std::move(connection).value(), options);
}

bool Publisher::healthy() const { return connection_->healthy(); }
const std::string& Publisher::endpoint() const { return connection_->endpoint(); }

Status Publisher::publish(const std::string& exchange, const std::string& routing_key,
                          std::string_view body, const PublishOptions& options) {
  std::vector<OutgoingMessage> one;
  one.push_back(OutgoingMessage{exchange, routing_key, std::string(body), options});
  return publish_batch(one, 1);
}

Status Publisher::ensure_connected() {
  if (connection_->session_->drain_idle()) return {};
  const AmqpSettings settings = connection_->session_->settings();
  auto fresh = AmqpConnection::open(settings);
  if (!fresh.ok()) return fresh.error();
  if (auto s = (*fresh)->session_->enable_confirms(); !s.ok()) return s;
  connection_ = std::move(fresh).value();
  if (reconnects_ != nullptr) reconnects_->inc();
  connection_->session_->log().info("publisher reconnected",
                                    {{"endpoint", connection_->endpoint()}});
  return {};
}

Status Publisher::publish_batch(const std::vector<OutgoingMessage>& messages,
                                std::size_t max_in_flight) {
  if (messages.empty()) return {};
  if (auto connected = ensure_connected(); !connected.ok()) return connected;
  AmqpSession& session = *connection_->session_;
  max_in_flight = std::max<std::size_t>(1, max_in_flight);
  const auto confirm_timeout = session.settings().rpc_timeout;

  detail::ConfirmTracker tracker(messages.size(), options_.max_attempts);
  std::map<std::size_t, std::string> return_reasons;
  auto last_progress = Clock::now();

  // A failure of the connection or channel ends the batch: what was not confirmed yet
  // may or may not be queued, so the caller publishes it again (at-least-once).
  auto abort_batch = [&](const Error& cause) -> Status {
    std::size_t confirmed = 0;
    for (std::size_t i = 0; i < messages.size(); ++i) {
      if (tracker.outcome(i) == MessageOutcome::kConfirmed) ++confirmed;
    }
    if (published_ != nullptr) published_->inc(confirmed);
    if (failures_ != nullptr) failures_->inc(messages.size() - confirmed);
    if (messages.size() == 1) return cause;
    return make_error(cause.code, cause.message + " (batch of " + std::to_string(messages.size()) +
                                      ": " + std::to_string(confirmed) + " confirmed, the rest " +
                                      "unconfirmed and to be published again)");
  };

  while (!tracker.finished()) {
    auto now = Clock::now();
    std::size_t burst = 0;
    while (tracker.in_flight() < max_in_flight) {
      auto index = tracker.next_to_send(now);
      if (!index) break;
      if (burst++ == 1) session.cork(true);  // a lone message goes out uncorked
      if (auto sent = send_message(session, messages[*index]); !sent.ok()) {
        session.cork(false);
        return abort_batch(sent.error());
      }
      tracker.sent(session.take_publish_tag(), *index);
    }
    if (burst > 1) session.cork(false);
    if (tracker.finished()) break;

    auto deadline = Clock::time_point::max();
    if (tracker.in_flight() > 0) deadline = last_progress + confirm_timeout;
    if (auto retry_at = tracker.next_retry_at(); retry_at && tracker.in_flight() < max_in_flight) {
      deadline = std::min(deadline, *retry_at);
    }
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    wait = std::clamp(wait, std::chrono::milliseconds(0), confirm_timeout);

    auto frame = session.next_frame(wait, "waiting for publisher confirms");
    if (!frame.ok()) return abort_batch(frame.error());
    if (!frame->has_value()) {
      if (tracker.in_flight() > 0 && Clock::now() >= last_progress + confirm_timeout) {
        return abort_batch(session.library_failure(
            AMQP_STATUS_TIMEOUT,
            "waiting for confirms of " + std::to_string(tracker.in_flight()) + " messages"));
      }
      continue;
    }
    const amqp_frame_t f = **frame;
    if (f.channel != AmqpSession::kChannel || f.frame_type != AMQP_FRAME_METHOD) {
      session.release();
      continue;
    }
    switch (f.payload.method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        const auto* ack = static_cast<const amqp_basic_ack_t*>(f.payload.method.decoded);
        tracker.acked(ack->delivery_tag, ack->multiple != 0);
        last_progress = Clock::now();
        break;
      }
      case AMQP_BASIC_NACK_METHOD: {
        const auto* nack = static_cast<const amqp_basic_nack_t*>(f.payload.method.decoded);
        tracker.nacked(nack->delivery_tag, nack->multiple != 0, Clock::now());
        last_progress = Clock::now();
        break;
      }
      case AMQP_BASIC_RETURN_METHOD: {
        const auto* ret = static_cast<const amqp_basic_return_t*>(f.payload.method.decoded);
        const std::string exchange = detail::to_string(ret->exchange);
        const std::string routing_key = detail::to_string(ret->routing_key);
        const std::string reason = detail::to_string(ret->reply_text);
        auto content = session.read_content("reading a returned message");
        if (!content.ok()) return abort_batch(content.error());
        // Returns carry no delivery tag: find the message by what it carries.
        tracker.returned([&](std::size_t i) {
          const OutgoingMessage& m = messages[i];
          bool same_body =
              content->too_large ? m.body.size() == content->body_size : m.body == content->body;
          if (m.exchange == exchange && m.routing_key == routing_key &&
              m.options.message_id == content->message_id && same_body) {
            return_reasons[i] = reason;
            return true;
          }
          return false;
        });
        last_progress = Clock::now();
        break;
      }
      default:
        break;  // nothing else is expected on a publishing channel; ignore it
    }
    session.release();
  }

  std::size_t failed = 0;
  std::optional<std::size_t> first_failure;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (tracker.outcome(i) == MessageOutcome::kConfirmed) continue;
    ++failed;
    if (!first_failure) first_failure = i;
  }
  if (published_ != nullptr) published_->inc(messages.size() - failed);
  if (retries_ != nullptr) retries_->inc(tracker.resends());
  if (tracker.resends() > 0) {
    session.log().info("republished nacked messages",
                       {{"endpoint", session.endpoint()}, {"resends", tracker.resends()}});
  }
  if (failed == 0) return {};
  if (failures_ != nullptr) failures_->inc(failed);

  const std::size_t i = *first_failure;
  const bool unroutable = tracker.outcome(i) == MessageOutcome::kUnroutable;
  std::string what = describe(messages[i], i);
  std::string reason = unroutable ? "returned as unroutable (" + return_reasons[i] +
                                        "): no queue is bound for this routing key"
                                  : "nacked by the broker on all " +
                                        std::to_string(tracker.attempts(i)) + " attempts";
  std::string message = messages.size() == 1
                            ? what + " " + reason
                            : std::to_string(failed) + " of " + std::to_string(messages.size()) +
                                  " messages were not accepted; the first: " + what + " " + reason;
  return make_error(unroutable ? kMqUnroutable : kMqNacked,
                    message + " (RabbitMQ at " + session.endpoint() + ")");
}

}  // namespace hub::queue
