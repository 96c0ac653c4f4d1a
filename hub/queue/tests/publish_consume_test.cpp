#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "hub/core/metrics.hpp"
#include "hub/queue/amqp_connection.hpp"
#include "hub/queue/consumer.hpp"
#include "hub/queue/errors.hpp"
#include "hub/queue/publisher.hpp"
#include "hub/testing/test_env.hpp"
#include "mq_test_support.hpp"

namespace hub::queue {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string error_text(const Status& s) { return s.ok() ? "ok" : s.error().to_string(); }

// Per test: exchanges in/dead, quorum queue work (DLX dead, key "work", delivery limit
// 2) bound to in/"work", quorum queue dead-letter bound to dead/"work". All deleted at
// the end.
class PublishConsumeMqTest : public ::testing::Test {
 protected:
  static constexpr std::int64_t kDeliveryLimit = 2;

  PublishConsumeMqTest()
      : suffix_(mqtest::unique_name("t")),
        in_("in." + suffix_),
        dead_("dead." + suffix_),
        work_("work." + suffix_),
        dead_letter_("dead-letter." + suffix_),
        cleanup_(make_topology()) {}

  void SetUp() override {
    auto c = AmqpConnection::open(mqtest::broker_settings());
    ASSERT_TRUE(c.ok()) << c.error().to_string();
    admin_ = std::move(c).value();
    auto declared = declare_topology(*admin_, make_topology());
    ASSERT_TRUE(declared.ok()) << declared.error().to_string();
    auto p = Publisher::open(mqtest::broker_settings(), {.max_attempts = 5, .metrics = &metrics_});
    ASSERT_TRUE(p.ok()) << p.error().to_string();
    publisher_ = std::move(p).value();
  }

  Topology make_topology() const {
    Topology t;
    t.exchanges.push_back({in_, "direct", true});
    t.exchanges.push_back({dead_, "direct", true});
    QueueSpec work;
    work.name = work_;
    work.dead_letter_exchange = dead_;
    work.dead_letter_routing_key = "work";
    work.delivery_limit = kDeliveryLimit;
    work.bindings.push_back({in_, "work"});
    QueueSpec dl;
    dl.name = dead_letter_;
    dl.bindings.push_back({dead_, "work"});
    t.queues = {work, dl};
    return t;
  }

  std::unique_ptr<Consumer> consumer_on(const std::string& queue, std::uint16_t prefetch) {
    auto c = Consumer::open(mqtest::broker_settings());
    if (!c.ok()) {
      ADD_FAILURE() << c.error().to_string();
      return nullptr;
    }
    auto s = (*c)->consume(queue, prefetch);
    if (!s.ok()) {
      ADD_FAILURE() << s.error().to_string();
      return nullptr;
    }
    return std::move(c).value();
  }

  // The next delivery, failing the test if none arrives within 10 s.
  std::optional<Delivery> next(Consumer& consumer) {
    auto d = consumer.poll(10s);
    if (!d.ok()) {
      ADD_FAILURE() << d.error().to_string();
      return std::nullopt;
    }
    if (!d->has_value()) ADD_FAILURE() << "no delivery within 10 s";
    return std::move(d).value();
  }

  bool depth_becomes(const std::string& queue, std::uint64_t messages) {
    return hub::testing::wait_until(
        [&] {
          auto d = admin_->queue_depth(queue);
          return d.ok() && d->messages == messages;
        },
        10s);
  }

  std::string suffix_, in_, dead_, work_, dead_letter_;
  mqtest::TopologyCleanup cleanup_;
  MetricsRegistry metrics_;
  std::unique_ptr<AmqpConnection> admin_;
  std::unique_ptr<Publisher> publisher_;
};

TEST_F(PublishConsumeMqTest, ConfirmedPublishIsConsumedAndAckEmptiesTheQueue) {
  PublishOptions o;
  o.message_id = "msg-1";
  o.correlation_id = "corr-1";
  o.content_type = "application/json";
  o.headers = {{"connector", "jcm"}, {"schema", "v2"}};
  auto published = publisher_->publish(in_, "work", R"({"amount":"100"})", o);
  ASSERT_TRUE(published.ok()) << error_text(published);
  ASSERT_TRUE(depth_becomes(work_, 1));

  auto consumer = consumer_on(work_, 10);
  ASSERT_NE(consumer, nullptr);
  auto d = next(*consumer);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->body, R"({"amount":"100"})");
  EXPECT_EQ(d->message_id, "msg-1");
  EXPECT_EQ(d->correlation_id, "corr-1");
  EXPECT_EQ(d->content_type, "application/json");
  EXPECT_EQ(d->routing_key, "work");
  EXPECT_EQ(d->exchange, in_);
  EXPECT_FALSE(d->redelivered);
  EXPECT_EQ(d->headers["connector"], "jcm");
  EXPECT_EQ(d->headers["schema"], "v2");
  ASSERT_TRUE(consumer->ack(d->delivery_tag).ok());

  // Closing the consumer would requeue an unacked message: the depth staying at 0 after
  // the close shows the ack took effect.
  consumer.reset();
  ASSERT_TRUE(depth_becomes(work_, 0));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(admin_->queue_depth(work_)->messages, 0U);
  EXPECT_EQ(metrics_.counter("hub_mq_published_total", "").value(), 1U);
}

TEST_F(PublishConsumeMqTest, NackWithRequeueRedeliversMarkedRedelivered) {
  ASSERT_TRUE(publisher_->publish(in_, "work", "x", mqtest::with_id("again")).ok());
  auto consumer = consumer_on(work_, 1);
  ASSERT_NE(consumer, nullptr);
  auto first = next(*consumer);
  ASSERT_TRUE(first.has_value());
  EXPECT_FALSE(first->redelivered);
  ASSERT_TRUE(consumer->nack(first->delivery_tag, true).ok());
  auto second = next(*consumer);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->message_id, "again");
  EXPECT_TRUE(second->redelivered);
  EXPECT_NE(second->delivery_tag, first->delivery_tag);
  ASSERT_TRUE(consumer->ack(second->delivery_tag).ok());
  // Settling the same tag twice is refused here, not by the broker closing the channel.
  auto twice = consumer->ack(second->delivery_tag);
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, kMqPreconditionFailed);
  EXPECT_TRUE(consumer->consuming());
}

TEST_F(PublishConsumeMqTest, RejectWithoutRequeueDeadLettersToTheDlxQueue) {
  ASSERT_TRUE(publisher_->publish(in_, "work", "poison", mqtest::with_id("bad-1")).ok());
  auto consumer = consumer_on(work_, 1);
  ASSERT_NE(consumer, nullptr);
  auto d = next(*consumer);
  ASSERT_TRUE(d.has_value());
  ASSERT_TRUE(consumer->reject(d->delivery_tag, false).ok());

  auto dead = consumer_on(dead_letter_, 1);
  ASSERT_NE(dead, nullptr);
  auto dl = next(*dead);
  ASSERT_TRUE(dl.has_value());
  EXPECT_EQ(dl->message_id, "bad-1");
  EXPECT_EQ(dl->body, "poison");
  EXPECT_EQ(dl->exchange, dead_);
  EXPECT_EQ(dl->routing_key, "work");  // x-dead-letter-routing-key
  ASSERT_TRUE(dead->ack(dl->delivery_tag).ok());
  EXPECT_TRUE(depth_becomes(work_, 0));
}

TEST_F(PublishConsumeMqTest, DeliveryLimitDeadLettersAfterRepeatedRequeues) {
  ASSERT_TRUE(publisher_->publish(in_, "work", "flaky", mqtest::with_id("loop-1")).ok());
  auto consumer = consumer_on(work_, 1);
  ASSERT_NE(consumer, nullptr);
  int deliveries = 0;
  for (;;) {
    auto d = consumer->poll(3s);
    ASSERT_TRUE(d.ok()) << d.error().to_string();
    if (!d->has_value()) break;  // no longer in the work queue
    ++deliveries;
    ASSERT_LE(deliveries, 10) << "x-delivery-limit did not stop the redeliveries";
    EXPECT_EQ((*d)->message_id, "loop-1");
    ASSERT_TRUE(consumer->nack((*d)->delivery_tag, true).ok());
  }
  // RabbitMQ 3.10 dead-letters once the delivery count exceeds the limit: limit + 1
  // deliveries in all.
  EXPECT_EQ(deliveries, kDeliveryLimit + 1);
  auto dead = consumer_on(dead_letter_, 1);
  ASSERT_NE(dead, nullptr);
  auto dl = next(*dead);
  ASSERT_TRUE(dl.has_value());
  EXPECT_EQ(dl->message_id, "loop-1");
  ASSERT_TRUE(dead->ack(dl->delivery_tag).ok());
}

TEST_F(PublishConsumeMqTest, BatchOf5000With100InFlightArrivesExactlyOnce) {
  constexpr std::size_t kCount = 5000;
  const std::string body(1024, 'x');  // NOTES.md measured 1 KB messages
  std::vector<OutgoingMessage> batch;
  batch.reserve(kCount);
  for (std::size_t i = 0; i < kCount; ++i) {
    OutgoingMessage m;
    m.exchange = in_;
    m.routing_key = "work";
    m.body = body;
    m.options.message_id = "b-" + std::to_string(i);
    batch.push_back(std::move(m));
  }
  auto start = Clock::now();
  auto published = publisher_->publish_batch(batch, 100);
  auto seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_TRUE(published.ok()) << error_text(published);
  const double batch_rate = kCount / seconds;

  // One in flight, for the ratio (NOTES.md: ~13x slower).
  std::vector<OutgoingMessage> slow(batch.begin(), batch.begin() + 300);
  for (auto& m : slow) m.options.message_id = "s-" + m.options.message_id;
  start = Clock::now();
  ASSERT_TRUE(publisher_->publish_batch(slow, 1).ok());
  const double single_rate = static_cast<double>(slow.size()) /
                             std::chrono::duration<double>(Clock::now() - start).count();
  std::cout << "[ perf ] publish_batch 1 KiB persistent, quorum queue: "
            << static_cast<int>(batch_rate) << " msg/s with 100 in flight, "
            << static_cast<int>(single_rate) << " msg/s with 1 in flight\n";
  RecordProperty("publish_batch_msgs_per_s_100_in_flight", static_cast<int>(batch_rate));
  RecordProperty("publish_batch_msgs_per_s_1_in_flight", static_cast<int>(single_rate));
  EXPECT_GT(batch_rate, 2 * single_rate) << "pipelining should pay off";

  auto consumer = consumer_on(work_, 500);
  ASSERT_NE(consumer, nullptr);
  std::map<std::string, int> seen;
  const std::size_t expected = kCount + slow.size();
  std::size_t received = 0;
  while (received < expected) {
    auto d = consumer->poll(10s);
    ASSERT_TRUE(d.ok()) << d.error().to_string();
    ASSERT_TRUE(d->has_value()) << "only " << received << " of " << expected << " arrived";
    ++seen[(*d)->message_id];
    ++received;
    ASSERT_TRUE(consumer->ack((*d)->delivery_tag).ok());
  }
  auto extra = consumer->poll(1s);  // nothing more: no duplicates
  ASSERT_TRUE(extra.ok());
  EXPECT_FALSE(extra->has_value()) << "duplicate " << (*extra)->message_id;
  EXPECT_EQ(seen.size(), expected);
  for (const auto& [id, n] : seen) ASSERT_EQ(n, 1) << id;
  for (std::size_t i = 0; i < kCount; ++i) ASSERT_EQ(seen.count("b-" + std::to_string(i)), 1U);
}

TEST_F(PublishConsumeMqTest, UnroutableMandatoryPublishIsReported) {
  auto s = publisher_->publish(in_, "nobody-listens", "lost", mqtest::with_id("u-1"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, kMqUnroutable);
  EXPECT_THAT(s.error().message, HasSubstr("u-1"));
  EXPECT_THAT(s.error().message, HasSubstr("nobody-listens"));
  EXPECT_TRUE(publisher_->healthy());

  // Without mandatory the broker drops it silently: that is what the flag is for.
  PublishOptions not_mandatory;
  not_mandatory.mandatory = false;
  EXPECT_TRUE(publisher_->publish(in_, "nobody-listens", "lost", not_mandatory).ok());

  // In a batch, only the unroutable one fails; the others are confirmed and delivered.
  std::vector<OutgoingMessage> batch;
  for (int i = 0; i < 10; ++i) {
    OutgoingMessage m{in_, i == 6 ? "nobody-listens" : "work", "m", {}};
    m.options.message_id = "mix-" + std::to_string(i);
    batch.push_back(m);
  }
  s = publisher_->publish_batch(batch, 100);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, kMqUnroutable);
  EXPECT_THAT(s.error().message, HasSubstr("1 of 10"));
  EXPECT_THAT(s.error().message, HasSubstr("mix-6"));
  EXPECT_TRUE(depth_becomes(work_, 9));
}

TEST_F(PublishConsumeMqTest, PublishToMissingExchangeIsNotFoundAndThePublisherRecovers) {
  const std::string missing = mqtest::unique_name("t.no-exchange");
  auto s = publisher_->publish(missing, "work", "x");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, kMqNotFound);
  EXPECT_THAT(s.error().message, HasSubstr(missing));
  EXPECT_TRUE(publisher_->healthy());
  // The channel was reopened in confirm mode: confirms work again.
  auto again = publisher_->publish(in_, "work", "x");
  ASSERT_TRUE(again.ok()) << error_text(again);
  EXPECT_TRUE(depth_becomes(work_, 1));
}

TEST_F(PublishConsumeMqTest, NackedPublishIsRetriedThenReportedAsNacked) {
  // A full queue with reject-publish nacks every publish: the same answer a quorum queue
  // gives while it has no leader, but deterministic. (A classic queue: a quorum queue
  // applies its length limit a little late, so the first publish over it may pass.)
  const std::string full = mqtest::unique_name("t.full");
  cleanup_.add_queue(full);
  QueueSpec q;
  q.name = full;
  q.quorum = false;
  q.max_length = 1;
  ASSERT_TRUE(admin_->declare_queue(q).ok());
  ASSERT_TRUE(publisher_->publish("", full, "first", mqtest::with_id("f-1")).ok());

  auto start = Clock::now();
  auto s = publisher_->publish("", full, "second", mqtest::with_id("f-2"));
  auto elapsed = Clock::now() - start;
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, kMqNacked);
  EXPECT_THAT(s.error().message, HasSubstr("f-2"));
  EXPECT_THAT(s.error().message, HasSubstr("all 5 attempts"));
  EXPECT_TRUE(is_retryable(s.error()));
  EXPECT_GE(elapsed, 20ms + 40ms + 80ms + 160ms);  // the pauses between the 5 attempts
  EXPECT_EQ(metrics_.counter("hub_mq_publish_retries_total", "").value(), 4U);
  EXPECT_TRUE(publisher_->healthy());

  // Room again: the next publish goes through.
  auto consumer = consumer_on(full, 1);
  ASSERT_NE(consumer, nullptr);
  auto d = next(*consumer);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->message_id, "f-1");
  ASSERT_TRUE(consumer->ack(d->delivery_tag).ok());
  ASSERT_TRUE(depth_becomes(full, 0));
  auto again = publisher_->publish("", full, "third", mqtest::with_id("f-3"));
  EXPECT_TRUE(again.ok()) << error_text(again);
}

TEST_F(PublishConsumeMqTest, IdlePublisherReconnectsAfterTheBrokerDroppedIt) {
  auto settings = mqtest::broker_settings();
  settings.heartbeat_seconds = 1;
  MetricsRegistry metrics;
  PublisherOptions options;
  options.metrics = &metrics;
  auto p = Publisher::open(settings, options);
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  ASSERT_TRUE((*p)->publish(in_, "work", "before").ok());
  // No calls, so no heartbeats: RabbitMQ closes the connection after two missed ones.
  std::this_thread::sleep_for(4s);
  auto after = (*p)->publish(in_, "work", "after");
  ASSERT_TRUE(after.ok()) << error_text(after);
  EXPECT_EQ(metrics.counter("hub_mq_publisher_reconnects_total", "").value(), 1U);
  EXPECT_TRUE(depth_becomes(work_, 2));
}

TEST_F(PublishConsumeMqTest, OversizedDeliveryIsDeadLetteredNotLoaded) {
  ASSERT_TRUE(
      publisher_->publish(in_, "work", std::string(300000, 'z'), mqtest::with_id("big-1")).ok());
  ASSERT_TRUE(publisher_->publish(in_, "work", "small", mqtest::with_id("small-1")).ok());
  auto settings = mqtest::broker_settings();
  settings.max_message_bytes = 100000;
  auto consumer = Consumer::open(settings);
  ASSERT_TRUE(consumer.ok()) << consumer.error().to_string();
  ASSERT_TRUE((*consumer)->consume(work_, 10).ok());
  auto big = (*consumer)->poll(10s);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code, kMqMessageTooLarge);
  EXPECT_THAT(big.error().message, HasSubstr("300000 bytes"));
  // The stream stays in step: the next message is read normally.
  auto small = next(**consumer);
  ASSERT_TRUE(small.has_value());
  EXPECT_EQ(small->message_id, "small-1");
  ASSERT_TRUE((*consumer)->ack(small->delivery_tag).ok());

  auto dead = consumer_on(dead_letter_, 1);
  ASSERT_NE(dead, nullptr);
  auto dl = next(*dead);
  ASSERT_TRUE(dl.has_value());
  EXPECT_EQ(dl->message_id, "big-1");
  EXPECT_EQ(dl->body.size(), 300000U);
  ASSERT_TRUE(dead->ack(dl->delivery_tag).ok());
}

TEST_F(PublishConsumeMqTest, DeletedQueueCancelsTheConsumer) {
  const std::string extra = mqtest::unique_name("t.short-lived");
  cleanup_.add_queue(extra);
  QueueSpec q;
  q.name = extra;
  ASSERT_TRUE(admin_->declare_queue(q).ok());
  auto consumer = consumer_on(extra, 1);
  ASSERT_NE(consumer, nullptr);
  ASSERT_TRUE(admin_->delete_queue(extra).ok());
  auto d = consumer->poll(5s);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, kMqConsumerCancelled);
  EXPECT_THAT(d.error().message, HasSubstr(extra));
  EXPECT_FALSE(consumer->consuming());
  EXPECT_TRUE(consumer->healthy());
}

}  // namespace
}  // namespace hub::queue
