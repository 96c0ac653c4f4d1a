#include "mq_test_support.hpp"

#include <gtest/gtest.h>

#include "hub/core/ids.hpp"
#include "hub/testing/test_env.hpp"

namespace hub::queue::mqtest {

AmqpSettings broker_settings() {
  const auto& services = hub::testing::services();
  AmqpSettings s;
  s.host = "127.0.0.1";
  s.port = services.mq_port;
  s.user = services.mq_user;
  s.password = services.mq_password;
  s.connect_timeout = std::chrono::seconds(5);
  s.rpc_timeout = std::chrono::seconds(15);
  s.connection_name = "hub_queue_tests";
  return s;
}

PublishOptions with_id(const std::string& message_id) {
  PublishOptions o;
  o.message_id = message_id;
  return o;
}

std::string unique_name(const std::string& prefix) {
  return prefix + "." + random_hex_id().substr(0, 10);
}

Topology with_suffix(const Topology& topology, const std::string& suffix) {
  auto rename = [&](const std::string& name) {
    return (name.empty() || name.rfind("amq.", 0) == 0) ? name : name + "." + suffix;
  };
  Topology out = topology;
  for (auto& e : out.exchanges) e.name = rename(e.name);
  for (auto& q : out.queues) {
    q.name = rename(q.name);
    q.dead_letter_exchange = rename(q.dead_letter_exchange);
    for (auto& b : q.bindings) b.exchange = rename(b.exchange);
  }
  return out;
}

TopologyCleanup::~TopologyCleanup() {
  auto connection = AmqpConnection::open(broker_settings());
  if (!connection.ok()) {
    ADD_FAILURE() << "cleanup could not connect: " << connection.error().to_string();
    return;
  }
  for (const auto& q : topology_.queues) {
    auto s = (*connection)->delete_queue(q.name);
    EXPECT_TRUE(s.ok()) << "deleting queue " << q.name << ": " << s.error().to_string();
  }
  for (const auto& e : topology_.exchanges) {
    auto s = (*connection)->delete_exchange(e.name);
    EXPECT_TRUE(s.ok()) << "deleting exchange " << e.name << ": " << s.error().to_string();
  }
}

}  // namespace hub::queue::mqtest
