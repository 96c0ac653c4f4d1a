// hubctl's registry commands against a real database: set up a registry without SQL,
// then `ledger verify` passes, and names the entry a superuser altered.

#include <gtest/gtest.h>

#include "hub/db/migrations.hpp"
#include "hub/db/pg.hpp"
#include "hub/testing/test_env.hpp"

namespace hub {
namespace {

namespace ht = hub::testing;

class HubctlLedgerE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<ht::ScratchDatabase>("hubctl_ledger");
    auto owner = db::Connection::connect(db_->owner_conninfo());
    ASSERT_TRUE(db::apply_migrations(*owner, db::embedded_migrations()).ok());
    auto secrets = ht::var_dir() / "secrets";
    env_ = {{"HUB_DB_NAME", db_->name()},
            {"HUB_DB_PORT", std::to_string(ht::services().db_port)},
            {"HUB_DB_PASSWORD_FILE", (secrets / "pg_app.password").string()},
            {"HUB_DB_OWNER_PASSWORD_FILE", (secrets / "pg_owner.password").string()},
            {"HUB_MQ_PASSWORD_FILE", (secrets / "mq.password").string()}};
  }
  ht::CommandResult hubctl(std::vector<std::string> args) {
    args.insert(args.begin(), {HUB_HUBCTL_PATH, "--config", (ht::source_root() / "hub/app/hubd.conf").string()});
    return ht::run_command(args, env_);
  }
  std::unique_ptr<ht::ScratchDatabase> db_;
  std::map<std::string, std::string> env_;
};

TEST_F(HubctlLedgerE2eTest, SetsUpARegistryWithoutSqlAndVerifiesIt) {
  auto ok = [&](std::vector<std::string> args) {
    auto r = hubctl(args);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.output;
  };
  ok({"company", "add", "--number", "7000012050002", "--name", "GX推進機構", "--kind", "organization"});
  ok({"company", "add", "--number", "7123456789012", "--name", "株式会社サンプル製鉄", "--kind", "covered"});
  auto bad = hubctl({"company", "add", "--number", "1123456789012", "--name", "x", "--kind", "covered"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("INVALID_CORPORATE_NUMBER"), std::string::npos) << bad.output;
  EXPECT_NE(ok({"account", "open", "--type", "200", "--holder", "7000012050002"}).find("JP-GX-200-0000018"),
            std::string::npos);
  ok({"account", "open", "--type", "100", "--holder", "7123456789012", "--number", "JP-GX-100-0000018"});
  ok({"account", "open", "--type", "100", "--holder", "7123456789012"});
  ok({"issue", "--account", "JP-GX-200-0000018", "--vintage", "2026", "--quantity", "10000", "--actor", "alice",
      "--approved-by", "bob"});
  ok({"allocate", "--from", "JP-GX-200-0000018", "--to", "JP-GX-100-0000018", "--vintage", "2026", "--quantity",
      "400", "--key", "alloc-1"});
  auto dup = ok({"allocate", "--from", "JP-GX-200-0000018", "--to", "JP-GX-100-0000018", "--vintage", "2026",
                 "--quantity", "400", "--key", "alloc-1"});
  EXPECT_NE(dup.find("nothing changed"), std::string::npos) << dup;
  auto refused = hubctl({"transfer", "--from", "JP-GX-100-0000018", "--to", "JP-GX-100-0000026", "--vintage", "2026",
                         "--quantity", "1000"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.output.find("JP-GX-100-0000018 holds 400 GXA of 2026; the transfer needs 1,000"),
            std::string::npos)
      << refused.output;
  ok({"transfer", "--from", "JP-GX-100-0000018", "--to", "JP-GX-100-0000026", "--vintage", "2026", "--quantity",
      "150"});
  auto balances = ok({"balances", "JP-GX-100-0000018"});
  EXPECT_NE(balances.find("GXA 2026"), std::string::npos);
  EXPECT_NE(balances.find("250"), std::string::npos) << balances;
  auto history = ok({"history", "JP-GX-100-0000026"});
  EXPECT_NE(history.find("transfer"), std::string::npos) << history;
  EXPECT_NE(history.find("+150"), std::string::npos) << history;
  ok({"account", "block", "JP-GX-100-0000026", "--reason", "investigation"});
  auto verify = ok({"ledger", "verify"});
  EXPECT_NE(verify.find("OK:"), std::string::npos) << verify;
  EXPECT_NE(verify.find("GXA 2026: issued 10,000, held 10,000"), std::string::npos) << verify;
}

TEST_F(HubctlLedgerE2eTest, VerifyExitsNonZeroAndNamesTheAlteredEntry) {
  hubctl({"company", "add", "--number", "7000012050002", "--name", "GX推進機構", "--kind", "organization"});
  hubctl({"account", "open", "--type", "200", "--holder", "7000012050002"});
  for (int i = 0; i < 3; ++i) {
    auto r = hubctl({"issue", "--account", "JP-GX-200-0000018", "--vintage", "2026", "--quantity", "100", "--actor",
                     "alice", "--approved-by", "bob"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  ASSERT_EQ(hubctl({"ledger", "verify"}).exit_code, 0);
  const auto& s = ht::services();
  auto super = db::Connection::connect(s.conninfo("gx_super", s.super_password, db_->name()));
  super->exec("SET session_replication_role = replica");
  auto entry = super->exec("SELECT min(entry_id) + 1 FROM journal_entries").get(0, 0);
  super->exec("UPDATE journal_lines SET delta = 1000 WHERE entry_id = $1", {entry});
  auto r = hubctl({"ledger", "verify"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("ENTRY_HASH_MISMATCH [journal entry " + entry + "]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("NOT_CONSERVED"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace hub
