#pragma once
// The broker objects the hub relies on, as data: what exists is decided here and
// declared by declare_topology() at start-up, before any publisher starts (a quorum
// queue nacks publishes while its leader is elected). Pure values; no thread-safety
// concerns.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hub/core/result.hpp"

namespace hub::queue {

class AmqpConnection;

struct ExchangeSpec {
  std::string name;
  std::string type = "direct";  // direct, fanout, topic, headers
  bool durable = true;
};

struct BindingSpec {
  std::string exchange;
  std::string routing_key;
};

struct QueueSpec {
  std::string name;
  bool quorum = true;  // x-queue-type=quorum (always durable); else a durable classic queue
  std::string dead_letter_exchange;     // empty: no x-dead-letter-exchange
  std::string dead_letter_routing_key;  // empty: keep the message's routing key
  // Quorum queues only: after this many redeliveries the message is dead-lettered
  // (x-delivery-limit), so a poison message cannot loop for ever.
  std::optional<std::int64_t> delivery_limit;
  // At most this many messages in the queue (x-max-length); further publishes are refused
  // (x-overflow=reject-publish), which a Publisher sees as basic.nack: backpressure
  // instead of unbounded growth. Quorum queues apply the limit slightly late: a few
  // publishes past it may still be accepted.
  std::optional<std::int64_t> max_length;
  std::vector<BindingSpec> bindings;
};

struct Topology {
  std::vector<ExchangeSpec> exchanges;
  std::vector<QueueSpec> queues;
};

// The connectors whose work arrives through the hub's queues, in a fixed order.
const std::vector<std::string>& hub_connectors();

// The hub's own topology: direct durable exchanges gx.inbound and gx.dead; per connector
// a quorum queue gx.apply.<connector> bound to gx.inbound with the connector's name as
// routing key, dead-lettering to gx.dead with that key after 10 deliveries; and the
// quorum queue gx.dead-letter bound to gx.dead for every connector's key.
// `suffix` (e.g. ".test-1a2b") is appended to every exchange and queue name, so that
// several hubs (a test's, a demo's) can share one broker without ever consuming each
// other's work; production leaves it empty.
Topology hub_topology(const std::string& suffix = "");

// Name of the dead-letter queue in hub_topology(suffix).
std::string dead_letter_queue(const std::string& suffix = "");

// Checks a topology before it goes to the broker: names present and unique, and every
// binding or dead-letter exchange declared here or predefined by the broker ("" or
// "amq.*"). MQ_INVALID_TOPOLOGY names the offending object.
Status validate_topology(const Topology& topology);

// Declares every exchange, then every queue, then every binding, on `connection`.
// Idempotent: declaring the same topology again changes nothing. An object that exists
// with other properties or arguments is MQ_PRECONDITION_FAILED naming it (RabbitMQ never
// changes a queue's arguments in place: delete it or declare a new name).
Status declare_topology(AmqpConnection& connection, const Topology& topology);

}  // namespace hub::queue
