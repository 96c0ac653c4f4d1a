#pragma once
// A registry in a database of its own: migrations applied as gx_owner, the ledger used
// as gx_app (the hub's working role), a few companies and accounts.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hub/db/migrations.hpp"
#include "hub/db/pg.hpp"
#include "hub/testing/test_env.hpp"
#include "registry/ledger/ledger.hpp"

namespace hub::registry::testing {

inline const Cause kAlice{CauseType::kUser, "alice"};

class LedgerFixture {
 public:
  // `migrations`: how many of the embedded migrations to apply (all by default; 2 gives
  // the ledger as migration 0002 made it, to compare outcomes with).
  explicit LedgerFixture(const std::string& prefix, std::size_t migrations = SIZE_MAX) : db_(prefix) {
    auto owner = db::Connection::connect(db_.owner_conninfo());
    const auto& all = db::embedded_migrations();
    std::vector<db::Migration> list(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(std::min(migrations, all.size())));
    auto r = db::apply_migrations(*owner, list);
    if (!r.ok()) throw std::runtime_error(r.error().to_string());
    app_ = db::Connection::connect(db_.app_conninfo());
    ledger_ = std::make_unique<Ledger>(*app_);
    must(ledger_->create_company("7000012050002", "GX推進機構", "organization", "setup"));
    must(ledger_->create_company("7123456789012", "株式会社サンプル製鉄", "covered", "setup"));
    issuance = must(ledger_->open_account(200, "7000012050002", "発行口座", "setup"));
    surrender = must(ledger_->open_account(300, "7000012050002", "償却口座", "setup"));
    intake = must(ledger_->open_account(400, "7000012050002", "無効化受入口座", "setup"));
    adjustment = must(ledger_->open_account(900, "7000012050002", "調整口座", "setup"));
    seller = must(ledger_->open_account(100, "7123456789012", "保有口座", "setup", std::string("JP-GX-100-0000018")));
    buyer = must(ledger_->open_account(100, "7123456789012", "保有口座2", "setup"));
  }
  template <class T>
  static T must(Result<T> r) {
    if (!r.ok()) throw std::runtime_error(r.error().to_string());
    return std::move(r).value();
  }
  Ledger& ledger() { return *ledger_; }
  db::Connection& app() { return *app_; }
  const hub::testing::ScratchDatabase& database() const { return db_; }
  std::string super_conninfo() const {
    const auto& s = hub::testing::services();
    return s.conninfo("gx_super", s.super_password, db_.name());
  }
  // Issues `quantity` GXA of `vintage` and allocates them to `to`.
  void fund(const std::string& to, std::int64_t quantity, int vintage = 2026) {
    static int n = 0;
    auto tag = std::to_string(++n) + "-" + to;
    must(ledger_->issue("fund-issue-" + tag, kAlice, "bob", issuance, vintage, quantity));
    must(ledger_->allocate("fund-alloc-" + tag, kAlice, issuance, to, vintage, quantity));
  }
  // `n` new holding accounts of the covered company, each funded with `each` GXA of 2026.
  std::vector<std::string> funded_accounts(int n, std::int64_t each) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) {
      out.push_back(must(ledger_->open_account(100, "7123456789012", "w" + std::to_string(i), "t")));
      fund(out.back(), each);
    }
    return out;
  }
  // After writers kept their own tally: every account holds what the tally says, none
  // holds less than zero, nothing was created or lost, and the full verification passes.
  void expect_tally(const std::map<std::string, std::int64_t>& expected, std::int64_t total) {
    std::int64_t sum = 0;
    for (const auto& [account, quantity] : expected) {
      EXPECT_EQ(held(account), quantity) << account << " lost an update";
      EXPECT_GE(held(account), 0);
      sum += held(account);
    }
    EXPECT_EQ(sum, total);
    auto report = ledger_->verify();
    EXPECT_TRUE(report.ok()) << (report.breaks.empty() ? "" : report.breaks.front().detail);
    EXPECT_EQ(report.sealed, report.entries);
  }
  std::int64_t held(const std::string& account, const std::string& unit = "GXA", int vintage = 2026) {
    for (const auto& b : ledger_->balances(account)) {
      if (b.unit == unit && b.vintage == vintage) return b.quantity;
    }
    return 0;
  }

  std::string issuance, surrender, intake, adjustment, seller, buyer;

 private:
  hub::testing::ScratchDatabase db_;
  std::unique_ptr<db::Connection> app_;
  std::unique_ptr<Ledger> ledger_;
};

}  // namespace hub::registry::testing
