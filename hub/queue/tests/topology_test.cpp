#include "hub/queue/topology.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "hub/queue/amqp_connection.hpp"
#include "hub/queue/consumer.hpp"
#include "hub/queue/errors.hpp"
#include "hub/queue/publisher.hpp"
#include "hub/testing/test_env.hpp"
#include "mq_test_support.hpp"

namespace hub::queue {
namespace {

using ::testing::HasSubstr;

const QueueSpec* find_queue(const Topology& t, const std::string& name) {
  for (const auto& q : t.queues) {
    if (q.name == name) return &q;
  }
  return nullptr;
}

TEST(TopologyTest, HubTopologyHasOneApplyQueuePerConnectorDeadLetteringToGxDead) {
  Topology t = hub_topology();
  ASSERT_EQ(t.exchanges.size(), 2U);
  EXPECT_EQ(t.exchanges[0].name, "gx.inbound");
  EXPECT_EQ(t.exchanges[1].name, "gx.dead");
  for (const auto& e : t.exchanges) {
    EXPECT_EQ(e.type, "direct");
    EXPECT_TRUE(e.durable);
  }
  ASSERT_EQ(t.queues.size(), 5U);
  for (const std::string connector : {"gx-market", "jcredit", "jcm", "exchange"}) {
    const QueueSpec* q = find_queue(t, "gx.apply." + connector);
    ASSERT_NE(q, nullptr) << connector;
    EXPECT_TRUE(q->quorum);
    EXPECT_EQ(q->dead_letter_exchange, "gx.dead");
    EXPECT_EQ(q->dead_letter_routing_key, connector);
    EXPECT_EQ(q->delivery_limit, 10);
    ASSERT_EQ(q->bindings.size(), 1U);
    EXPECT_EQ(q->bindings[0].exchange, "gx.inbound");
    EXPECT_EQ(q->bindings[0].routing_key, connector);
  }
  const QueueSpec* dead = find_queue(t, "gx.dead-letter");
  ASSERT_NE(dead, nullptr);
  EXPECT_TRUE(dead->quorum);
  EXPECT_TRUE(dead->dead_letter_exchange.empty());
  ASSERT_EQ(dead->bindings.size(), 4U);
  for (const auto& b : dead->bindings) EXPECT_EQ(b.exchange, "gx.dead");
  EXPECT_TRUE(validate_topology(t).ok());
}

TEST(TopologyTest, ValidationNamesWhatIsWrong) {
  Topology t = hub_topology();
  t.queues[0].bindings[0].exchange = "gx.nowhere";
  auto s = validate_topology(t);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, kMqInvalidTopology);
  EXPECT_THAT(s.error().message, HasSubstr("gx.nowhere"));
  EXPECT_THAT(s.error().message, HasSubstr("gx.apply.gx-market"));

  t = hub_topology();
  t.queues.push_back(t.queues[0]);
  s = validate_topology(t);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("declared twice"));

  t = hub_topology();
  t.queues[1].quorum = false;
  s = validate_topology(t);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("only quorum"));

  t = hub_topology();
  t.queues[2].bindings.push_back({"amq.topic", "x.#"});  // predefined exchanges are fine
  EXPECT_TRUE(validate_topology(t).ok());
}

TEST(QueueErrorsTest, OnlyTransientCodesAreRetryable) {
  EXPECT_TRUE(is_retryable(make_error(kMqUnavailable, "")));
  EXPECT_TRUE(is_retryable(make_error(kMqTimeout, "")));
  EXPECT_TRUE(is_retryable(make_error(kMqNacked, "")));
  EXPECT_FALSE(is_retryable(make_error(kMqUnroutable, "")));
  EXPECT_FALSE(is_retryable(make_error(kMqPreconditionFailed, "")));
  EXPECT_FALSE(is_retryable(make_error(kMqAccessRefused, "")));
}

TEST(TopologyMqTest, DeclaringTheHubTopologyTwiceIsHarmless) {
  const std::string suffix = mqtest::unique_name("t");
  Topology t = mqtest::with_suffix(hub_topology(), suffix);
  mqtest::TopologyCleanup cleanup(t);
  auto connection = AmqpConnection::open(mqtest::broker_settings());
  ASSERT_TRUE(connection.ok()) << connection.error().to_string();
  AmqpConnection& c = **connection;

  auto first = declare_topology(c, t);
  ASSERT_TRUE(first.ok()) << first.error().to_string();
  auto second = declare_topology(c, t);
  ASSERT_TRUE(second.ok()) << second.error().to_string();

  for (const auto& q : t.queues) {
    auto depth = c.queue_depth(q.name);
    ASSERT_TRUE(depth.ok()) << depth.error().to_string();
    EXPECT_EQ(depth->messages, 0U) << q.name;
  }

  // The bindings route by connector name, and dead-lettering lands in the DLX queue.
  auto publisher = Publisher::open(mqtest::broker_settings());
  ASSERT_TRUE(publisher.ok()) << publisher.error().to_string();
  auto published =
      (*publisher)->publish("gx.inbound." + suffix, "jcm", "{}", mqtest::with_id("m-1"));
  ASSERT_TRUE(published.ok()) << published.error().to_string();
  ASSERT_TRUE(hub::testing::wait_until(
      [&] {
        auto d = c.queue_depth("gx.apply.jcm." + suffix);
        return d.ok() && d->messages == 1;
      },
      std::chrono::seconds(5)));
  EXPECT_EQ(c.queue_depth("gx.apply.jcredit." + suffix)->messages, 0U);

  auto consumer = Consumer::open(mqtest::broker_settings());
  ASSERT_TRUE(consumer.ok()) << consumer.error().to_string();
  ASSERT_TRUE((*consumer)->consume("gx.apply.jcm." + suffix, 1).ok());
  auto d = (*consumer)->poll(std::chrono::seconds(5));
  ASSERT_TRUE(d.ok() && d->has_value()) << (d.ok() ? "no delivery" : d.error().to_string());
  ASSERT_TRUE((*consumer)->reject((*d)->delivery_tag, false).ok());
  EXPECT_TRUE(hub::testing::wait_until(
      [&] {
        auto dl = c.queue_depth("gx.dead-letter." + suffix);
        return dl.ok() && dl->messages == 1;
      },
      std::chrono::seconds(5)));
}

TEST(TopologyMqTest, ConflictingQueueArgumentsAreAnErrorNamingTheQueue) {
  QueueSpec spec;
  spec.name = mqtest::unique_name("t.conflict");
  spec.quorum = true;
  spec.delivery_limit = 10;
  Topology t;
  t.queues.push_back(spec);
  mqtest::TopologyCleanup cleanup(t);
  auto connection = AmqpConnection::open(mqtest::broker_settings());
  ASSERT_TRUE(connection.ok()) << connection.error().to_string();
  AmqpConnection& c = **connection;
  ASSERT_TRUE(declare_topology(c, t).ok());

  t.queues[0].delivery_limit = 5;
  auto conflict = declare_topology(c, t);
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code, kMqPreconditionFailed);
  EXPECT_THAT(conflict.error().message, HasSubstr("queue '" + spec.name + "'"));
  EXPECT_THAT(conflict.error().message, HasSubstr("different arguments"));
  EXPECT_THAT(conflict.error().message, HasSubstr("PRECONDITION_FAILED"));

  // The broker closed the channel over it; the connection reopened it and carries on.
  EXPECT_TRUE(c.healthy());
  auto depth = c.queue_depth(spec.name);
  ASSERT_TRUE(depth.ok()) << depth.error().to_string();
  EXPECT_EQ(depth->messages, 0U);

  t.queues[0].quorum = false;  // a classic queue of the same name conflicts too
  t.queues[0].delivery_limit.reset();
  conflict = declare_topology(c, t);
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code, kMqPreconditionFailed);
}

}  // namespace
}  // namespace hub::queue
