#include "hub/queue/amqp_connection.hpp"

#include "amqp_session.hpp"

namespace hub::queue {
namespace {

std::string in_quotes(const std::string& name) { return "'" + name + "'"; }

// x-arguments of a queue declaration. The strings stay owned by `spec`.
class QueueArguments {
 public:
  explicit QueueArguments(const QueueSpec& spec) {
    if (spec.quorum) add_text("x-queue-type", kQuorum);
    if (!spec.dead_letter_exchange.empty()) {
      add_text("x-dead-letter-exchange", spec.dead_letter_exchange);
    }
    if (!spec.dead_letter_routing_key.empty()) {
      add_text("x-dead-letter-routing-key", spec.dead_letter_routing_key);
    }
    if (spec.delivery_limit) add_number("x-delivery-limit", *spec.delivery_limit);
    if (spec.max_length) {
      add_number("x-max-length", *spec.max_length);
      add_text("x-overflow", kRejectPublish);
    }
  }
  amqp_table_t table() {
    return amqp_table_t{static_cast<int>(entries_.size()),
                        entries_.empty() ? nullptr : entries_.data()};
  }

 private:
  static constexpr std::string_view kQuorum = "quorum";
  static constexpr std::string_view kRejectPublish = "reject-publish";
  void add_number(const char* key, std::int64_t value) {
    amqp_table_entry_t e{};
    e.key = amqp_cstring_bytes(key);
    e.value.kind = AMQP_FIELD_KIND_I64;
    e.value.value.i64 = value;
    entries_.push_back(e);
  }
  void add_text(const char* key, std::string_view value) {
    amqp_table_entry_t e{};
    e.key = amqp_cstring_bytes(key);
    e.value.kind = AMQP_FIELD_KIND_UTF8;
    e.value.value.bytes = detail::as_bytes(value);
    entries_.push_back(e);
  }
  std::vector<amqp_table_entry_t> entries_;
};

}  // namespace

AmqpConnection::AmqpConnection(PrivateTag, std::unique_ptr<detail::AmqpSession> session)
    : session_(std::move(session)) {}

AmqpConnection::~AmqpConnection() = default;

Result<std::unique_ptr<AmqpConnection>> AmqpConnection::open(const AmqpSettings& settings) {
  auto session = detail::AmqpSession::open(settings);
  if (!session.ok()) return session.error();
  return std::make_unique<AmqpConnection>(PrivateTag{}, std::move(session).value());
}

const std::string& AmqpConnection::server_version() const { return session_->server_version(); }
const std::string& AmqpConnection::server_product() const { return session_->server_product(); }
const std::string& AmqpConnection::endpoint() const { return session_->endpoint(); }
bool AmqpConnection::healthy() const { return session_->healthy(); }

Result<QueueDepth> AmqpConnection::queue_depth(const std::string& queue) {
  amqp_queue_declare_t req{};
  req.queue = detail::as_bytes(queue);
  req.passive = 1;
  req.arguments = amqp_empty_table;
  auto r = session_->rpc(AMQP_QUEUE_DECLARE_METHOD, &req, {AMQP_QUEUE_DECLARE_OK_METHOD},
                         "queue depth of " + in_quotes(queue));
  if (!r.ok()) return r.error();
  const auto* ok = static_cast<const amqp_queue_declare_ok_t*>(*r);
  QueueDepth depth{ok->message_count, ok->consumer_count};
  session_->release();
  return depth;
}

Status AmqpConnection::declare_exchange(const ExchangeSpec& exchange) {
  amqp_exchange_declare_t req{};
  req.exchange = detail::as_bytes(exchange.name);
  req.type = detail::as_bytes(exchange.type);
  req.durable = exchange.durable ? 1 : 0;
  req.arguments = amqp_empty_table;
  auto r = session_->rpc(AMQP_EXCHANGE_DECLARE_METHOD, &req, {AMQP_EXCHANGE_DECLARE_OK_METHOD},
                         "declaring exchange " + in_quotes(exchange.name));
  if (!r.ok()) {
    if (r.error().code == kMqPreconditionFailed) {
      return make_error(kMqPreconditionFailed,
                        "exchange " + in_quotes(exchange.name) +
                            " already exists with a different type or durability (" +
                            r.error().message + ")");
    }
    return r.error();
  }
  session_->release();
  return {};
}

Status AmqpConnection::declare_queue(const QueueSpec& queue) {
  QueueArguments arguments(queue);
  amqp_queue_declare_t req{};
  req.queue = detail::as_bytes(queue.name);
  req.durable = 1;
  req.arguments = arguments.table();
  auto r = session_->rpc(AMQP_QUEUE_DECLARE_METHOD, &req, {AMQP_QUEUE_DECLARE_OK_METHOD},
                         "declaring queue " + in_quotes(queue.name));
  if (!r.ok()) {
    if (r.error().code == kMqPreconditionFailed) {
      return make_error(kMqPreconditionFailed,
                        "queue " + in_quotes(queue.name) +
                            " already exists with different arguments; RabbitMQ cannot change "
                            "them in place, so delete the queue or use a new name (" +
                            r.error().message + ")");
    }
    return r.error();
  }
  session_->release();
  return {};
}

Status AmqpConnection::bind_queue(const std::string& queue, const std::string& exchange,
                                  const std::string& routing_key) {
  amqp_queue_bind_t req{};
  req.queue = detail::as_bytes(queue);
  req.exchange = detail::as_bytes(exchange);
  req.routing_key = detail::as_bytes(routing_key);
  req.arguments = amqp_empty_table;
  auto r = session_->rpc(AMQP_QUEUE_BIND_METHOD, &req, {AMQP_QUEUE_BIND_OK_METHOD},
                         "binding queue " + in_quotes(queue) + " to exchange " +
                             in_quotes(exchange) + " with key " + in_quotes(routing_key));
  if (!r.ok()) return r.error();
  session_->release();
  return {};
}

Status AmqpConnection::delete_queue(const std::string& queue) {
  amqp_queue_delete_t req{};
  req.queue = detail::as_bytes(queue);
  auto r = session_->rpc(AMQP_QUEUE_DELETE_METHOD, &req, {AMQP_QUEUE_DELETE_OK_METHOD},
                         "deleting queue " + in_quotes(queue));
  if (!r.ok()) return r.error();
  session_->release();
  return {};
}

Status AmqpConnection::delete_exchange(const std::string& exchange) {
  amqp_exchange_delete_t req{};
  req.exchange = detail::as_bytes(exchange);
  auto r = session_->rpc(AMQP_EXCHANGE_DELETE_METHOD, &req, {AMQP_EXCHANGE_DELETE_OK_METHOD},
                         "deleting exchange " + in_quotes(exchange));
  if (!r.ok()) return r.error();
  session_->release();
  return {};
}

Result<std::uint64_t> AmqpConnection::purge_queue(const std::string& queue) {
  amqp_queue_purge_t req{};
  req.queue = detail::as_bytes(queue);
  auto r = session_->rpc(AMQP_QUEUE_PURGE_METHOD, &req, {AMQP_QUEUE_PURGE_OK_METHOD},
                         "purging queue " + in_quotes(queue));
  if (!r.ok()) return r.error();
  std::uint64_t purged = static_cast<const amqp_queue_purge_ok_t*>(*r)->message_count;
  session_->release();
  return purged;
}

}  // namespace hub::queue
