// End-to-end tests of the hubd and hubctl binaries against the real private PostgreSQL
// and RabbitMQ, over real TLS. Each test gets its own database and a free port.

#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "hub/db/pg.hpp"
#include "hub/http/client.hpp"
#include "hubd_fixture.hpp"

namespace hub {
namespace {

using namespace std::chrono_literals;
namespace ht = hub::testing;

class HubdE2eTest : public HubdFixture {};

TEST_F(HubdE2eTest, ServesProbesAndMetricsOverTlsAndStopsGracefully) {
  auto hubd = start_hubd();
  ASSERT_GT(port_, 0) << ht::read_file(log_file());

  auto health = get("/healthz");
  ASSERT_TRUE(health.ok()) << health.error().to_string();
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(nlohmann::json::parse(health->body)["status"], "ok");

  auto ready = get("/readyz");
  ASSERT_TRUE(ready.ok()) << ready.error().to_string();
  EXPECT_EQ(ready->status, 200) << ready->body;
  auto rj = nlohmann::json::parse(ready->body);
  EXPECT_TRUE(rj["checks"]["postgresql"]["ok"].get<bool>());
  EXPECT_TRUE(rj["checks"]["rabbitmq"]["ok"].get<bool>());

  auto metrics = get("/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("hub_build_info{version="), std::string::npos) << metrics->body;
  const std::string depth = "hub_queue_messages{queue=\"gx.apply.gx-market" + suffix_ + "\"} ";
  EXPECT_NE(metrics->body.find(depth), std::string::npos) << metrics->body;
  EXPECT_EQ(metrics->body.find(depth + "-1"), std::string::npos);
  EXPECT_NE(metrics->body.find("hub_journal_unsealed_entries "), std::string::npos);

  auto page = get("/");
  ASSERT_TRUE(page.ok());
  EXPECT_NE(page->body.find("GX-ETS 連携ハブ"), std::string::npos);

  auto missing = get("/no-such-page");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);

  // The log is JSON lines.
  auto log = ht::read_file(log_file());
  auto first_line = log.substr(0, log.find('\n'));
  auto j = nlohmann::json::parse(first_line);
  EXPECT_EQ(j["module"], "hubd");
  EXPECT_TRUE(j.contains("ts"));

  hubd->signal(SIGTERM);
  auto code = hubd->wait_exit(15s);
  ASSERT_TRUE(code.has_value()) << "hubd did not stop on SIGTERM";
  EXPECT_EQ(*code, 0) << ht::read_file(log_file());

  auto c = db::Connection::connect(db_->app_conninfo());
  auto r = c->exec("SELECT stop_reason FROM hub_instances");
  ASSERT_EQ(r.rows(), 1);
  EXPECT_EQ(r.get(0, 0), "SIGTERM");
}

TEST_F(HubdE2eTest, RestartKeepsDataAndAppliesNoMigrationTwice) {
  {
    auto hubd = start_hubd();
    ASSERT_GT(port_, 0) << ht::read_file(log_file());
    hubd->signal(SIGTERM);
    ASSERT_EQ(hubd->wait_exit(15s).value_or(-1), 0);
  }
  auto c = db::Connection::connect(db_->app_conninfo());
  auto migrations_before = c->exec("SELECT count(*) FROM schema_migrations").get_int(0, 0);
  {
    auto hubd = start_hubd();
    ASSERT_GT(port_, 0) << ht::read_file(log_file());
    EXPECT_EQ(get("/readyz")->status, 200);
    hubd->signal(SIGTERM);
    ASSERT_EQ(hubd->wait_exit(15s).value_or(-1), 0);
  }
  EXPECT_EQ(c->exec("SELECT count(*) FROM schema_migrations").get_int(0, 0), migrations_before);
  EXPECT_EQ(c->exec("SELECT count(*) FROM hub_instances WHERE stopped_at IS NOT NULL").get_int(0, 0), 2);
  auto log = ht::read_file(log_file());
  // "migration applied" is logged by the first start only.
  auto first = log.find("\"migration applied\"");
  ASSERT_NE(first, std::string::npos);
  auto second_start = log.find("\"starting\"", log.find("\"starting\"") + 1);
  EXPECT_EQ(log.find("\"migration applied\"", second_start), std::string::npos);
}

TEST_F(HubdE2eTest, SealsNewJournalEntriesInTheBackground) {
  auto hubd = start_hubd();
  ASSERT_GT(port_, 0) << ht::read_file(log_file());
  auto c = db::Connection::connect(db_->app_conninfo());
  c->exec("SELECT gx_create_company('7000012050002', 'GX推進機構', 'organization', 't')");
  c->exec("SELECT gx_open_account(200::smallint, '7000012050002', '', 't')");
  auto r = c->exec("SELECT outcome, entry_id FROM gx_post('k1', 'h', 'issuance', 'user', 'alice', '', 'bob', NULL, "
                   "'[{\"account\":\"JP-GX-200-0000018\",\"unit\":\"GXA\",\"vintage\":2026,\"delta\":5}]')");
  ASSERT_EQ(r.get(0, 0), "posted");
  auto entry = r.get(0, 1);
  EXPECT_TRUE(ht::wait_until(
      [&] { return c->exec("SELECT count(*) FROM journal_chain WHERE entry_id = $1", {entry}).get_int(0, 0) == 1; },
      10s));
  hubd->signal(SIGTERM);
  EXPECT_EQ(hubd->wait_exit(15s).value_or(-1), 0);
}

TEST_F(HubdE2eTest, ReadyzAnswers503WhenPostgresGoesAway) {
  auto hubd = start_hubd();
  ASSERT_GT(port_, 0) << ht::read_file(log_file());
  ASSERT_EQ(get("/readyz")->status, 200);
  // Drop the hub's database under it: PostgreSQL no longer serves it.
  auto r = ht::run_command({"psql", "-X", "-q",
                            ht::services().conninfo("gx_super", ht::services().super_password, "postgres"),
                            "-c", "DROP DATABASE " + db_->name() + " WITH (FORCE)"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto ready = get("/readyz");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 503);
  auto j = nlohmann::json::parse(ready->body);
  EXPECT_FALSE(j["checks"]["postgresql"]["ok"].get<bool>());
  EXPECT_TRUE(j["checks"]["rabbitmq"]["ok"].get<bool>());
  EXPECT_EQ(get("/healthz")->status, 200);  // alive, just not ready
  hubd->signal(SIGTERM);
  EXPECT_EQ(hubd->wait_exit(15s).value_or(-1), 0);
}

TEST_F(HubdE2eTest, StartupGivesUpClearlyWhenRabbitMqIsUnreachable) {
  auto hubd = start_hubd({{"HUB_MQ_PORT", std::to_string(ht::free_tcp_port())}});
  auto code = hubd->wait_exit(30s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 4);
  auto log = ht::read_file(log_file());
  EXPECT_NE(log.find("RabbitMQ not reachable; giving up"), std::string::npos) << log;
}

TEST_F(HubdE2eTest, HubctlStatusReportsEveryService) {
  auto hubd = start_hubd();
  ASSERT_GT(port_, 0) << ht::read_file(log_file());
  std::map<std::string, std::string> env = {{"HUB_HTTPS_PORT", std::to_string(port_)}};
  auto r = ht::run_command({HUB_HUBCTL_PATH, "--config", config_.string(), "status", "--json"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output);
  EXPECT_TRUE(j["hubd"]["ready"].get<bool>());
  EXPECT_EQ(j["postgresql"]["schema_version"], j["postgresql"]["schema_version_expected"]);
  EXPECT_NE(j["postgresql"]["server_version"].get<std::string>().rfind("15", 0), std::string::npos);
  EXPECT_NE(j["rabbitmq"]["server_version"].get<std::string>().find("3."), std::string::npos);
  EXPECT_EQ(j["rabbitmq"]["queues"].size(), 5u);

  auto text = ht::run_command({HUB_HUBCTL_PATH, "--config", config_.string(), "status"}, env);
  EXPECT_EQ(text.exit_code, 0) << text.output;
  EXPECT_NE(text.output.find("gx.apply.jcredit"), std::string::npos) << text.output;

  hubd->signal(SIGTERM);
  ASSERT_EQ(hubd->wait_exit(15s).value_or(-1), 0);
  auto down = ht::run_command({HUB_HUBCTL_PATH, "--config", config_.string(), "status"}, env);
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_NE(down.output.find("SOMETHING IS DOWN"), std::string::npos) << down.output;
}

}  // namespace
}  // namespace hub
