// Many writers at once on the real database: no deadlock, no lost update, and a full
// invariant check afterwards.

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "ledger_fixture.hpp"

namespace hub::registry {
namespace {

using testing::kAlice;
using testing::LedgerFixture;

TEST(LedgerConcurrencyDbTest, ParallelWritersOnOverlappingAccountsLoseNothing) {
  LedgerFixture f("ledger_conc");
  constexpr int kAccounts = 12;  // few accounts: every writer collides with the others
  constexpr int kThreads = 8;
  constexpr int kPerThread = 150;
  constexpr std::int64_t kStart = 1000;
  const auto acc = f.funded_accounts(kAccounts, kStart);
  std::mutex mu;
  std::map<std::string, std::int64_t> expected;
  for (const auto& a : acc) expected[a] = kStart;
  std::atomic<int> posted{0}, refused{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto conn = db::Connection::connect(f.database().app_conninfo());
      Ledger ledger(*conn);
      std::mt19937 rng(1234 + t);
      std::uniform_int_distribution<int> pick(0, kAccounts - 1);
      std::uniform_int_distribution<int> qty(1, 400);
      for (int i = 0; i < kPerThread; ++i) {
        int a = pick(rng), b = pick(rng);
        if (a == b) b = (b + 1) % kAccounts;
        auto q = qty(rng);
        try {
          if (i % 10 == 9) {
            // A small batch, locking its accounts first.
            std::vector<PostingRequest> batch;
            for (int k = 0; k < 3; ++k) {
              int x = pick(rng), y = (x + 1 + k) % kAccounts;
              batch.push_back({PostingKind::kTransfer, "c" + std::to_string(t) + "-" + std::to_string(i) + "-" +
                                                           std::to_string(k),
                               kAlice, "", "", std::nullopt,
                               {{acc[x], UnitType::kGXA, 2026, -q}, {acc[y], UnitType::kGXA, 2026, q}}, {}});
            }
            auto rs = ledger.post_batch(batch);
            for (std::size_t k = 0; k < rs.size(); ++k) {
              if (rs[k].ok()) {
                posted++;
                std::lock_guard lock(mu);
                expected[batch[k].lines[0].account] -= q;
                expected[batch[k].lines[1].account] += q;
              } else {
                refused++;
              }
            }
            continue;
          }
          auto r = ledger.transfer("c" + std::to_string(t) + "-" + std::to_string(i), kAlice, acc[a], acc[b],
                                   UnitType::kGXA, 2026, q);
          if (r.ok()) {
            posted++;
            std::lock_guard lock(mu);
            expected[acc[a]] -= q;
            expected[acc[b]] += q;
          } else {
            EXPECT_EQ(r.error().code, "INSUFFICIENT_BALANCE");
            refused++;
          }
        } catch (const std::exception& e) {
          errors++;
          ADD_FAILURE() << "writer " << t << ": " << e.what();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);  // no deadlock, no serialization failure reached the caller
  EXPECT_GT(posted.load(), kThreads * kPerThread / 2);
  f.expect_tally(expected, kStart * kAccounts);
}

TEST(LedgerConcurrencyDbTest, TheSameKeyPostedByManyWritersAtOnceIsAppliedOnce) {
  LedgerFixture f("ledger_samekey");
  f.fund(f.seller, 1000);
  std::atomic<int> fresh{0}, dup{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      auto conn = db::Connection::connect(f.database().app_conninfo());
      Ledger ledger(*conn);
      auto r = ledger.transfer("the-one", kAlice, f.seller, f.buyer, UnitType::kGXA, 2026, 100);
      ASSERT_TRUE(r.ok()) << r.error().to_string();
      (r->duplicate ? dup : fresh)++;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(fresh.load(), 1);
  EXPECT_EQ(dup.load(), 7);
  EXPECT_EQ(f.held(f.buyer), 100);
}

}  // namespace
}  // namespace hub::registry
