#include "hub/db/pg.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "hub/testing/test_env.hpp"

namespace hub::db {
namespace {

class PgDbTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { db_ = new hub::testing::ScratchDatabase("pgtest"); }
  static void TearDownTestSuite() {
    delete db_;
    db_ = nullptr;
  }
  static hub::testing::ScratchDatabase* db_;
};
hub::testing::ScratchDatabase* PgDbTest::db_ = nullptr;

TEST_F(PgDbTest, RunsParameterisedQueriesAndKeepsJapaneseText) {
  auto c = Connection::connect(db_->owner_conninfo());
  EXPECT_GE(c->server_version(), 150000);
  auto r = c->exec("SELECT $1::text AS name, $2::bigint + 1 AS n, NULL::text AS nothing",
                   {std::string("株式会社サンプル製鉄"), std::string("41")});
  ASSERT_EQ(r.rows(), 1);
  EXPECT_EQ(r.get(0, r.column("name")), "株式会社サンプル製鉄");
  EXPECT_EQ(r.get_int(0, r.column("n")), 42);
  EXPECT_TRUE(r.is_null(0, 2));
  EXPECT_EQ(r.get_opt(0, 2), std::nullopt);
}

TEST_F(PgDbTest, MapsSqlStatesToExceptionTypes) {
  auto c = Connection::connect(db_->owner_conninfo());
  c->exec("CREATE TABLE IF NOT EXISTS t_unique (k text PRIMARY KEY, n int CHECK (n >= 0))");
  c->exec("DELETE FROM t_unique");
  c->exec("INSERT INTO t_unique VALUES ('a', 1)");
  EXPECT_THROW(c->exec("INSERT INTO t_unique VALUES ('a', 2)"), UniqueViolation);
  EXPECT_THROW(c->exec("INSERT INTO t_unique VALUES ('b', -1)"), CheckViolation);
  EXPECT_THROW(c->exec("SELECT * FROM no_such_table"), DbError);
  try {
    c->exec("INSERT INTO t_unique VALUES ('a', 3)");
    FAIL() << "expected a UniqueViolation";
  } catch (const UniqueViolation& e) {
    EXPECT_EQ(e.sqlstate(), "23505");
    EXPECT_NE(std::string(e.what()).find("t_unique_pkey"), std::string::npos) << e.what();
  }
}

TEST_F(PgDbTest, TransactionRollsBackUnlessCommitted) {
  auto c = Connection::connect(db_->owner_conninfo());
  c->exec("CREATE TABLE IF NOT EXISTS t_tx (k text PRIMARY KEY)");
  c->exec("DELETE FROM t_tx");
  {
    Transaction tx(*c);
    tx.exec("INSERT INTO t_tx VALUES ('rolled-back')");
  }
  {
    Transaction tx(*c);
    tx.exec("INSERT INTO t_tx VALUES ('kept')");
    tx.commit();
  }
  auto r = c->exec("SELECT k FROM t_tx ORDER BY k");
  ASSERT_EQ(r.rows(), 1);
  EXPECT_EQ(r.get(0, 0), "kept");
}

TEST_F(PgDbTest, WrongPasswordIsAConnectionErrorThatSaysWhy) {
  const auto& s = hub::testing::services();
  try {
    Connection::connect(s.conninfo("gx_app", "not-the-password", db_->name()));
    FAIL() << "connected with a wrong password";
  } catch (const ConnectionError& e) {
    EXPECT_NE(std::string(e.what()).find("password authentication failed"), std::string::npos)
        << e.what();
  }
}

TEST_F(PgDbTest, ConnectingToAClosedPortFailsFast) {
  int port = hub::testing::free_tcp_port();
  auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(Connection::connect("host=127.0.0.1 port=" + std::to_string(port) +
                                   " dbname=x user=x connect_timeout=2"),
               ConnectionError);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(PgDbTest, PoolSharesConnectionsAcrossThreadsWithinItsSize) {
  Pool pool({db_->owner_conninfo(), 3, std::chrono::milliseconds(10000)});
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        auto c = pool.acquire();
        auto r = c->exec("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()");
        if (r.get_int(0, 0) <= 4) ok++;  // 3 pooled + at most the superuser's drop later
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 160);
  EXPECT_LE(pool.idle(), 3);
}

TEST_F(PgDbTest, PoolTimesOutWhenExhausted) {
  Pool pool({db_->owner_conninfo(), 1, std::chrono::milliseconds(200)});
  auto held = pool.acquire();
  EXPECT_THROW(pool.acquire(), ConnectionError);
}

TEST(PgQuoteTest, QuotesIdentifiers) {
  EXPECT_EQ(quote_ident("plain"), "\"plain\"");
  EXPECT_EQ(quote_ident("we\"ird"), "\"we\"\"ird\"");
}

}  // namespace
}  // namespace hub::db
