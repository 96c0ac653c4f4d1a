// The callback outbox against a real HTTPS server (the hub's own, as the source's
// callback endpoint) and a real PostgreSQL: delivery, retries with back-off, no loss.

#include "hub/intake/outbox.hpp"

#include <gtest/gtest.h>

#include <atomic>

#include "hub/db/migrations.hpp"
#include "hub/db/pg.hpp"
#include "hub/http/server.hpp"
#include "hub/testing/test_env.hpp"

namespace hub::intake {
namespace {

namespace ht = hub::testing;
using namespace std::chrono_literals;

TEST(OutboxUrlTest, SplitsHttpsUrlsOnly) {
  std::string host, target;
  int port = 0;
  ASSERT_TRUE(split_https_url("https://127.0.0.1:9443/cb/receipts", host, port, target));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 9443);
  EXPECT_EQ(target, "/cb/receipts");
  ASSERT_TRUE(split_https_url("https://market.example", host, port, target));
  EXPECT_EQ(port, 443);
  EXPECT_EQ(target, "/");
  EXPECT_FALSE(split_https_url("http://127.0.0.1/cb", host, port, target));
  EXPECT_FALSE(split_https_url("https://h:99999/", host, port, target));
}

class OutboxDbTest : public ::testing::Test {
 protected:
  OutboxDbTest() : db_("outbox") {
    auto owner = db::Connection::connect(db_.owner_conninfo());
    auto r = db::apply_migrations(*owner, db::embedded_migrations());
    if (!r.ok()) throw std::runtime_error(r.error().to_string());
    app_ = db::Connection::connect(db_.app_conninfo());
  }

  // A final receipt waiting for delivery, as the applier leaves it.
  void queue_receipt(const std::string& hub_ref) {
    auto id = app_->exec(
        "INSERT INTO inbox_messages (connector, message_id, hub_ref, kind, received_at, body, body_sha256, "
        "payload_sha256, command, item_count, accepted_receipt, current_receipt, state) "
        "VALUES ('gx-market', $1, $1, 'settlement', now(), '\\x7b7d', repeat('a', 64), repeat('b', 64), "
        "'{\"items\": []}', 0, 'r', 'r', 'applied') RETURNING id",
        {hub_ref});
    app_->exec(
        "INSERT INTO outbox (connector, kind, hub_ref, inbox_id, content_type, body) "
        "VALUES ('gx-market', 'final_receipt', $1, $2::bigint, 'application/jose', 'jws-of-' || $1)",
        {hub_ref, id.get(0, 0)});
  }

  ht::ScratchDatabase db_;
  std::unique_ptr<db::Connection> app_;
};

TEST_F(OutboxDbTest, RetriesWithBackOffUntilTheSourceAnswers2xx) {
  std::atomic<int> calls{0};
  std::mutex mu;
  std::vector<std::string> bodies;
  http::Router router;
  router.add("POST", "/cb", [&](const http::Request& req, const http::RouteParams&) {
    // The source is down for the first two attempts.
    if (calls.fetch_add(1) < 2) return http::Response::text(500, "down");
    std::lock_guard lock(mu);
    bodies.push_back(req.body + "|" + *req.header("x-hub-ref"));
    return http::Response::text(204, "");
  });
  http::ServerSettings ss;
  ss.cert_file = (ht::var_dir() / "pki" / "hub-tls.crt").string();
  ss.key_file = (ht::var_dir() / "pki" / "hub-tls.key").string();
  MetricsRegistry metrics;
  http::Server server(ss, router, metrics);
  auto port = server.start();
  ASSERT_TRUE(port.ok()) << port.error().to_string();

  OutboxSettings os;
  os.db_conninfo = db_.app_conninfo();
  os.targets["gx-market"] = {"https://127.0.0.1:" + std::to_string(*port) + "/cb",
                             (ht::var_dir() / "pki" / "ca.crt").string(), "", ""};
  OutboxDeliverer outbox(os, metrics);
  queue_receipt("HUB-1");

  EXPECT_EQ(outbox.run_once(), 0);  // 500: not delivered, next attempt in 1 s
  auto row = app_->exec("SELECT attempts, last_error, next_attempt_at > now() FROM outbox");
  EXPECT_EQ(row.get(0, 0), "1");
  EXPECT_NE(row.get(0, 1).find("500"), std::string::npos);
  EXPECT_EQ(row.get(0, 2), "t");
  EXPECT_EQ(outbox.run_once(), 0);  // not due yet: nothing sent
  EXPECT_EQ(calls.load(), 1);

  outbox.start();
  ASSERT_TRUE(ht::wait_until(
      [&] { return app_->exec("SELECT count(*) FROM outbox WHERE delivered_at IS NOT NULL").get_int(0, 0) == 1; },
      15s));
  outbox.stop();
  EXPECT_EQ(calls.load(), 3);
  std::lock_guard lock(mu);
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(bodies[0], "jws-of-HUB-1|HUB-1");
  EXPECT_EQ(app_->exec("SELECT attempts FROM outbox").get(0, 0), "3");
  server.stop(1s);
}

TEST_F(OutboxDbTest, AnUnreachableSourceKeepsTheReceiptForLater) {
  OutboxSettings os;
  os.db_conninfo = db_.app_conninfo();
  os.targets["gx-market"] = {"https://127.0.0.1:" + std::to_string(ht::free_tcp_port()) + "/cb",
                             (ht::var_dir() / "pki" / "ca.crt").string(), "", ""};
  os.request_timeout = 2s;
  MetricsRegistry metrics;
  OutboxDeliverer outbox(os, metrics);
  queue_receipt("HUB-2");
  EXPECT_EQ(outbox.run_once(), 0);
  auto row = app_->exec("SELECT delivered_at IS NULL, attempts, last_error FROM outbox");
  EXPECT_EQ(row.get(0, 0), "t");
  EXPECT_EQ(row.get(0, 1), "1");
  EXPECT_NE(row.get(0, 2).find("HTTP_CONNECT_FAILED"), std::string::npos) << row.get(0, 2);
}

}  // namespace
}  // namespace hub::intake
