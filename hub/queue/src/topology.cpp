#include "hub/queue/topology.hpp"

#include <set>

#include "hub/queue/amqp_connection.hpp"
#include "hub/queue/errors.hpp"

namespace hub::queue {
namespace {

constexpr char kInboundExchange[] = "gx.inbound";
constexpr char kDeadExchange[] = "gx.dead";
constexpr char kApplyQueuePrefix[] = "gx.apply.";
constexpr char kDeadLetterQueue[] = "gx.dead-letter";
// Ten deliveries cover transient failures (a database restart, a partner timeout) while
// keeping a poison message from occupying a consumer for long.
constexpr std::int64_t kApplyDeliveryLimit = 10;

bool predefined_exchange(const std::string& name) {
  return name.empty() || name.rfind("amq.", 0) == 0;
}

}  // namespace

const std::vector<std::string>& hub_connectors() {
  static const std::vector<std::string> connectors = {"gx-market", "jcredit", "jcm", "exchange"};
  return connectors;
}

std::string dead_letter_queue(const std::string& suffix) { return std::string(kDeadLetterQueue) + suffix; }

Topology hub_topology(const std::string& suffix) {
  const std::string inbound = std::string(kInboundExchange) + suffix;
  const std::string dead = std::string(kDeadExchange) + suffix;
  Topology t;
  t.exchanges.push_back({inbound, "direct", true});
  t.exchanges.push_back({dead, "direct", true});
  QueueSpec dead_letter;
  dead_letter.name = dead_letter_queue(suffix);
  dead_letter.quorum = true;
  for (const auto& connector : hub_connectors()) {
    QueueSpec apply;
    apply.name = kApplyQueuePrefix + connector + suffix;
    apply.quorum = true;
    apply.dead_letter_exchange = dead;
    apply.dead_letter_routing_key = connector;
    apply.delivery_limit = kApplyDeliveryLimit;
    apply.bindings.push_back({inbound, connector});
    t.queues.push_back(std::move(apply));
    dead_letter.bindings.push_back({dead, connector});
  }
  t.queues.push_back(std::move(dead_letter));
  return t;
}

Status validate_topology(const Topology& topology) {
  std::set<std::string> exchanges;
  for (const auto& e : topology.exchanges) {
    if (e.name.empty() || predefined_exchange(e.name)) {
      return make_error(kMqInvalidTopology,
                        "exchange name '" + e.name + "' is empty or reserved (amq.*)");
    }
    if (e.type.empty())
      return make_error(kMqInvalidTopology, "exchange '" + e.name + "' has no type");
    if (!exchanges.insert(e.name).second) {
      return make_error(kMqInvalidTopology, "exchange '" + e.name + "' is declared twice");
    }
  }
  auto known = [&](const std::string& name) {
    return predefined_exchange(name) || exchanges.count(name) > 0;
  };
  std::set<std::string> queues;
  for (const auto& q : topology.queues) {
    if (q.name.empty() || q.name.rfind("amq.", 0) == 0) {
      return make_error(kMqInvalidTopology,
                        "queue name '" + q.name + "' is empty or reserved (amq.*)");
    }
    if (!queues.insert(q.name).second) {
      return make_error(kMqInvalidTopology, "queue '" + q.name + "' is declared twice");
    }
    if (!q.dead_letter_exchange.empty() && !known(q.dead_letter_exchange)) {
      return make_error(kMqInvalidTopology, "queue '" + q.name + "' dead-letters to exchange '" +
                                                q.dead_letter_exchange +
                                                "', which the topology does not declare");
    }
    if (q.delivery_limit && !q.quorum) {
      return make_error(kMqInvalidTopology, "queue '" + q.name +
                                                "' sets a delivery limit, which only quorum "
                                                "queues enforce");
    }
    if (q.delivery_limit && *q.delivery_limit < 0) {
      return make_error(kMqInvalidTopology, "queue '" + q.name + "' has a negative delivery limit");
    }
    if (q.max_length && *q.max_length < 0) {
      return make_error(kMqInvalidTopology, "queue '" + q.name + "' has a negative max length");
    }
    for (const auto& b : q.bindings) {
      if (b.exchange.empty() || !known(b.exchange)) {
        return make_error(kMqInvalidTopology, "queue '" + q.name + "' is bound to exchange '" +
                                                  b.exchange +
                                                  "', which the topology does not declare");
      }
    }
  }
  return {};
}

Status declare_topology(AmqpConnection& connection, const Topology& topology) {
  if (auto valid = validate_topology(topology); !valid.ok()) return valid;
  for (const auto& e : topology.exchanges) {
    if (auto s = connection.declare_exchange(e); !s.ok()) return s;
  }
  for (const auto& q : topology.queues) {
    if (auto s = connection.declare_queue(q); !s.ok()) return s;
  }
  for (const auto& q : topology.queues) {
    if (q.max_length && *q.max_length < 0) {
      return make_error(kMqInvalidTopology, "queue '" + q.name + "' has a negative max length");
    }
    for (const auto& b : q.bindings) {
      if (auto s = connection.bind_queue(q.name, b.exchange, b.routing_key); !s.ok()) return s;
    }
  }
  return {};
}

}  // namespace hub::queue
