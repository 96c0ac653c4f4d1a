#include "hub/app/settings.hpp"

#include <gtest/gtest.h>

#include "hub/testing/test_env.hpp"

namespace hub::app {
namespace {

TEST(SettingsTest, ShippedConfigFileLoadsWithItsDocumentedDefaults) {
  hub::testing::TempDir dir;
  hub::testing::write_file(dir.path() / "var/secrets/pg_app.password", "app-pw\n");
  hub::testing::write_file(dir.path() / "var/secrets/pg_owner.password", "owner'pw");
  hub::testing::write_file(dir.path() / "var/secrets/mq.password", "mq-pw");
  auto cfg = Config::load(hub::testing::source_root() / "hub/app/hubd.conf",
                          [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  ASSERT_TRUE(cfg.ok()) << cfg.error().to_string();
  cfg->set_base_dir(dir.path());
  auto s = load_settings(*cfg);
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(s->https.address, "127.0.0.1");
  EXPECT_EQ(s->https.port, 8443);
  EXPECT_EQ(s->https.cert_file, (dir.path() / "var/pki/hub-tls.crt").string());
  EXPECT_EQ(s->mq.port, 55672);
  EXPECT_EQ(s->mq.password, "mq-pw");
  EXPECT_EQ(s->shutdown_grace, std::chrono::seconds(20));
  EXPECT_NE(s->db_app_conninfo.find("port=55432"), std::string::npos);
  EXPECT_NE(s->db_app_conninfo.find("password='app-pw'"), std::string::npos);
  EXPECT_NE(s->db_owner_conninfo.find("password='owner\\'pw'"), std::string::npos)
      << s->db_owner_conninfo;
  EXPECT_NE(s->db_app_conninfo.find("statement_timeout=30000"), std::string::npos);
}

TEST(SettingsTest, MissingSecretFileIsAClearError) {
  auto cfg = Config::parse("[db]\npassword_file = /nonexistent/pw\n", "x.conf", {});
  ASSERT_TRUE(cfg.ok());
  auto s = load_settings(*cfg);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("/nonexistent/pw"), std::string::npos) << s.error().message;
}

TEST(SettingsTest, PortOutOfRangeIsRefused) {
  auto cfg = Config::parse("[https]\nport = 70000\n", "x.conf", {});
  ASSERT_TRUE(cfg.ok());
  auto s = load_settings(*cfg);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("https.port"), std::string::npos);
}

}  // namespace
}  // namespace hub::app
