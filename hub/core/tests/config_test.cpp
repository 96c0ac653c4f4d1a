#include "hub/core/config.hpp"

#include <gtest/gtest.h>

namespace hub {
namespace {

Config::EnvLookup no_env() { return {}; }

TEST(ConfigTest, ReadsSectionsCommentsAndTypes) {
  auto cfg = Config::parse(
      "# comment\n[db]\nport = 55432  # trailing comment\nname = gxhub\n[https]\n"
      "enabled = yes\ntimeout = 30s\nquoted = \"a # b\"\n",
      "test.conf", no_env());
  ASSERT_TRUE(cfg.ok()) << cfg.error().to_string();
  EXPECT_EQ(cfg->get_int("db.port", 0).value(), 55432);
  EXPECT_EQ(cfg->get_string("db.name", ""), "gxhub");
  EXPECT_TRUE(cfg->get_bool("https.enabled", false).value());
  EXPECT_EQ(cfg->get_duration("https.timeout", {}).value(), std::chrono::seconds(30));
  EXPECT_EQ(cfg->get_string("https.quoted", ""), "a # b");
  EXPECT_EQ(cfg->get_string("missing.key", "dflt"), "dflt");
}

TEST(ConfigTest, EnvironmentOverridesFileValues) {
  auto env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "HUB_DB_PORT") return "61000";
    return std::nullopt;
  };
  auto cfg = Config::parse("[db]\nport = 55432\n", "t.conf", env);
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->get_int("db.port", 0).value(), 61000);
  EXPECT_EQ(Config::env_name("mq.dist-port"), "HUB_MQ_DIST_PORT");
}

TEST(ConfigTest, ErrorsNameTheFileAndLine) {
  auto cfg = Config::parse("[db]\nport 55432\n", "hubd.conf", no_env());
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.error().code, "CONFIG_INVALID");
  EXPECT_NE(cfg.error().message.find("hubd.conf:2"), std::string::npos) << cfg.error().message;

  auto dup = Config::parse("[a]\nx = 1\nx = 2\n", "c.conf", no_env());
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().message.find("set twice"), std::string::npos);
}

TEST(ConfigTest, BadValuesAreErrorsNotExceptions) {
  auto cfg = Config::parse("[a]\nn = 12x\nb = maybe\nd = 10 parsecs\n", "c.conf", no_env());
  ASSERT_TRUE(cfg.ok());
  EXPECT_FALSE(cfg->get_int("a.n", 0).ok());
  EXPECT_FALSE(cfg->get_bool("a.b", false).ok());
  EXPECT_FALSE(cfg->get_duration("a.d", {}).ok());
  EXPECT_FALSE(cfg->require_string("a.absent").ok());
}

TEST(ConfigTest, RelativePathsResolveAgainstBaseDir) {
  auto cfg = Config::parse("[tls]\ncert = var/pki/hub.crt\nabs = /etc/x\n", "c.conf", no_env());
  ASSERT_TRUE(cfg.ok());
  cfg->set_base_dir("/srv/hub");
  EXPECT_EQ(cfg->get_path("tls.cert", ""), std::filesystem::path("/srv/hub/var/pki/hub.crt"));
  EXPECT_EQ(cfg->get_path("tls.abs", ""), std::filesystem::path("/etc/x"));
}

}  // namespace
}  // namespace hub
