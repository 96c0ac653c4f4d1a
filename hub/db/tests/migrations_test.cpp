#include "hub/db/migrations.hpp"

#include "hub/core/digest.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "hub/testing/test_env.hpp"

namespace hub::db {
namespace {

bool table_exists(Connection& c, const std::string& name) {
  return c.exec("SELECT to_regclass($1) IS NOT NULL", {name}).get(0, 0) == "t";
}

TEST(MigrationsDbTest, AppliesEachMigrationOnceAndRecordsIt) {
  hub::testing::ScratchDatabase db("migr_once");
  auto c = Connection::connect(db.owner_conninfo());
  std::vector<Migration> list = {{1, "0001_a", "CREATE TABLE a (x int);"},
                                 {2, "0002_b", "CREATE TABLE b (y int); INSERT INTO b VALUES (1);"}};
  auto first = apply_migrations(*c, list);
  ASSERT_TRUE(first.ok()) << first.error().to_string();
  EXPECT_EQ(first->applied, (std::vector<std::string>{"0001_a", "0002_b"}));
  EXPECT_EQ(first->schema_version, 2);
  auto second = apply_migrations(*c, list);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->applied.empty());
  EXPECT_EQ(c->exec("SELECT count(*) FROM b").get_int(0, 0), 1);  // not run twice
}

TEST(MigrationsDbTest, AFailedMigrationLeavesTheSchemaUntouched) {
  hub::testing::ScratchDatabase db("migr_fail");
  auto c = Connection::connect(db.owner_conninfo());
  std::vector<Migration> list = {
      {1, "0001_ok", "CREATE TABLE ok_table (x int);"},
      {2, "0002_broken", "CREATE TABLE half_done (x int); INSERT INTO half_done VALUES ('not a number');"},
      {3, "0003_never", "CREATE TABLE never_run (x int);"}};
  auto r = apply_migrations(*c, list);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "MIGRATION_FAILED");
  EXPECT_NE(r.error().message.find("0002_broken"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("version 1"), std::string::npos) << r.error().message;
  EXPECT_TRUE(table_exists(*c, "ok_table"));
  EXPECT_FALSE(table_exists(*c, "half_done"));
  EXPECT_FALSE(table_exists(*c, "never_run"));
  EXPECT_EQ(current_schema_version(*c), 1);
}

TEST(MigrationsDbTest, AnEditedAppliedMigrationIsRefused) {
  hub::testing::ScratchDatabase db("migr_edit");
  auto c = Connection::connect(db.owner_conninfo());
  ASSERT_TRUE(apply_migrations(*c, {{1, "0001_a", "CREATE TABLE a (x int);"}}).ok());
  auto r = apply_migrations(*c, {{1, "0001_a", "CREATE TABLE a (x bigint);"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "MIGRATION_CHANGED");
}

TEST(MigrationsDbTest, ConcurrentStartsApplyEachMigrationOnce) {
  hub::testing::ScratchDatabase db("migr_conc");
  std::vector<Migration> list = {{1, "0001_a", "CREATE TABLE a (x int); SELECT pg_sleep(0.3);"},
                                 {2, "0002_b", "CREATE TABLE b (x int);"}};
  std::vector<std::vector<std::string>> applied(3);
  std::vector<std::thread> ts;
  for (int i = 0; i < 3; ++i) {
    ts.emplace_back([&, i] {
      auto c = Connection::connect(db.owner_conninfo());
      auto r = apply_migrations(*c, list);
      if (r.ok()) applied[i] = r->applied;
    });
  }
  for (auto& t : ts) t.join();
  std::size_t total = 0;
  for (auto& a : applied) total += a.size();
  EXPECT_EQ(total, 2u);
  auto c = Connection::connect(db.owner_conninfo());
  EXPECT_EQ(c->exec("SELECT count(*) FROM schema_migrations").get_int(0, 0), 2);
}

TEST(MigrationsDbTest, EmbeddedMigrationsApplyAndTheAppRoleHasLeastPrivilege) {
  hub::testing::ScratchDatabase db("migr_embedded");
  auto owner = Connection::connect(db.owner_conninfo());
  const auto& all = embedded_migrations();
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.front().name, "0001_foundation");
  auto r = apply_migrations(*owner, all);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->schema_version, all.back().version);

  auto app = Connection::connect(db.app_conninfo());
  app->exec("INSERT INTO hub_instances (instance_id, version, host, pid) VALUES ('i1','t','h',1)");
  EXPECT_EQ(current_schema_version(*app), all.back().version);
  EXPECT_THROW(app->exec("CREATE TABLE sneaky (x int)"), InsufficientPrivilege);
  EXPECT_THROW(app->exec("DELETE FROM schema_migrations"), InsufficientPrivilege);
  EXPECT_THROW(app->exec("DROP TABLE hub_instances"), DbError);
}

TEST(MigrationsTest, Sha256MatchesKnownVector) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace hub::db
