// The whole back half of the intake path with the real broker: relay -> RabbitMQ ->
// applier -> ledger, on a topology of the test's own (the hub's with a unique suffix).

#include <gtest/gtest.h>

#include "gx_market_fixture.hpp"
#include "hub/intake/applier.hpp"
#include "hub/intake/intake_service.hpp"
#include "hub/intake/relay.hpp"
#include "ledger_fixture.hpp"
#include "mq_test_support.hpp"

namespace hub::connectors {
namespace {

using nlohmann::json;
using testing::GxMarketFixture;

class GxMarketQueueMqTest : public ::testing::Test {
 protected:
  GxMarketQueueMqTest()
      : suffix_(queue::mqtest::unique_name("t").substr(2)),
        topology_(queue::mqtest::with_suffix(queue::hub_topology(), suffix_)),
        cleanup_(topology_),
        pool_({ledger_.database().app_conninfo(), 4, std::chrono::milliseconds(5000)}) {
    auto conn = queue::AmqpConnection::open(queue::mqtest::broker_settings());
    if (!conn.ok()) throw std::runtime_error(conn.error().to_string());
    auto st = queue::declare_topology(**conn, topology_);
    if (!st.ok()) throw std::runtime_error(st.error().to_string());
    ledger_.fund(ledger_.seller, 100000);
  }

  intake::RelaySettings relay_settings() {
    intake::RelaySettings s{ledger_.database().app_conninfo(), queue::mqtest::broker_settings()};
    s.exchange = "gx.inbound." + suffix_;
    s.sweep_interval = std::chrono::milliseconds(300);
    s.sweep_min_age = std::chrono::milliseconds(100);
    return s;
  }
  intake::ApplierSettings applier_settings() {
    intake::ApplierSettings s;
    s.db_conninfo = ledger_.database().app_conninfo();
    s.mq = queue::mqtest::broker_settings();
    s.queue = "gx.apply.gx-market." + suffix_;
    s.batch = 50;
    return s;
  }
  std::int64_t count(const std::string& sql) { return ledger_.app().exec(sql).get_int(0, 0); }
  bool wait_applied(std::int64_t n) {
    return hub::testing::wait_until(
        [&] { return count("SELECT count(*) FROM inbox_messages WHERE state <> 'accepted'") >= n; },
        std::chrono::seconds(30));
  }

  GxMarketFixture f;
  registry::testing::LedgerFixture ledger_{"gxm_queue"};
  std::string suffix_;
  queue::Topology topology_;
  queue::mqtest::TopologyCleanup cleanup_;
  MetricsRegistry metrics_;
  db::Pool pool_;
};

TEST_F(GxMarketQueueMqTest, AcceptedMessagesAreAppliedThroughTheBrokerExactlyOnce) {
  intake::Relay relay(relay_settings(), metrics_);
  intake::IntakeService service({}, {&f.connector}, f.trust, pool_, f.clock, &relay, metrics_);
  intake::Applier applier(applier_settings(), f.connector, metrics_);
  relay.start();
  applier.start();
  const int n = 200;
  for (int i = 0; i < n; ++i) {
    auto body = f.sign(f.settlement(std::to_string(i), ledger_.seller, ledger_.buyer, 10));
    auto r = service.handle_post(f.connector, f.endpoint("settlements"), f.request("settlements", body));
    ASSERT_EQ(r.status, 202) << r.body;
    if (i % 10 == 0) {  // a duplicate now and then
      ASSERT_EQ(service.handle_post(f.connector, f.endpoint("settlements"), f.request("settlements", body)).status, 200);
    }
  }
  ASSERT_TRUE(wait_applied(n));
  EXPECT_EQ(count("SELECT count(*) FROM inbox_messages WHERE state = 'applied'"), n);
  EXPECT_EQ(ledger_.held(ledger_.buyer), 10 * n);
  EXPECT_EQ(count("SELECT count(*) FROM inbox_messages WHERE queued_at IS NULL"), 0);
  applier.stop();
  relay.stop();
  EXPECT_TRUE(ledger_.ledger().verify().ok());
}

TEST_F(GxMarketQueueMqTest, TheSweepPublishesWhatWasStoredButNeverQueued) {
  // Messages committed by a hubd that died before its relay published them: the service
  // without a relay stores them and answers 202, nothing reaches the broker.
  intake::IntakeService lost({}, {&f.connector}, f.trust, pool_, f.clock, nullptr, metrics_);
  for (int i = 0; i < 20; ++i) {
    auto body = f.sign(f.settlement("lost-" + std::to_string(i), ledger_.seller, ledger_.buyer, 5));
    ASSERT_EQ(lost.handle_post(f.connector, f.endpoint("settlements"), f.request("settlements", body)).status, 202);
  }
  EXPECT_EQ(count("SELECT count(*) FROM inbox_messages WHERE queued_at IS NULL"), 20);
  // The next hubd's relay finds them.
  intake::Relay relay(relay_settings(), metrics_);
  intake::Applier applier(applier_settings(), f.connector, metrics_);
  relay.start();
  applier.start();
  ASSERT_TRUE(wait_applied(20));
  EXPECT_EQ(ledger_.held(ledger_.buyer), 100);
}

TEST_F(GxMarketQueueMqTest, ARedeliveredMessageIsAckedWithoutASecondPosting) {
  intake::IntakeService service({}, {&f.connector}, f.trust, pool_, f.clock, nullptr, metrics_);
  auto body = f.sign(f.settlement("once", ledger_.seller, ledger_.buyer, 7));
  ASSERT_EQ(service.handle_post(f.connector, f.endpoint("settlements"), f.request("settlements", body)).status, 202);
  auto id = count("SELECT id FROM inbox_messages");
  // The same reference published three times, as a relay crash and a sweep could.
  auto pub = queue::Publisher::open(queue::mqtest::broker_settings());
  ASSERT_TRUE(pub.ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*pub)->publish("gx.inbound." + suffix_, "gx-market", std::to_string(id)).ok());
  }
  intake::Applier applier(applier_settings(), f.connector, metrics_);
  applier.start();
  ASSERT_TRUE(wait_applied(1));
  ASSERT_TRUE(hub::testing::wait_until(
      [&] {
        auto depth = queue::AmqpConnection::open(queue::mqtest::broker_settings());
        if (!depth.ok()) return false;
        auto d = (*depth)->queue_depth("gx.apply.gx-market." + suffix_);
        return d.ok() && d->messages == 0 && d->consumers >= 1;
      },
      std::chrono::seconds(10)));
  applier.stop();
  EXPECT_EQ(ledger_.held(ledger_.buyer), 7);
  EXPECT_EQ(count("SELECT count(*) FROM journal_entries WHERE idempotency_key = 'gx-market:trade:T-once'"), 1);
}

}  // namespace
}  // namespace hub::connectors
