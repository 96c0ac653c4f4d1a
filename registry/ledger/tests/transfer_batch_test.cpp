// Ledger::transfer_batch (gx_post_transfers, migration 0003) against posting one by one:
// every outcome a transfer can meet must be the same, entry ids and sentences included,
// as with gx_post of 0003 and with gx_post as migration 0002 made it. Then the
// transaction contract (the batch runs in the caller's transaction; a refusal never
// aborts it), keys committed concurrently, and the set-based sealer.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "ledger_fixture.hpp"
#include "registry/domain/account_number.hpp"

namespace hub::registry {
namespace {

using testing::kAlice;
using testing::LedgerFixture;

const Cause kMarket{CauseType::kConnectorMessage, "gx-market:GXM-7"};

std::string holding(int serial) { return AccountNumber::make(AccountType::kHolding, serial).str(); }

// The same registry in every database: the fixture's accounts, three more holding
// accounts (one blocked with units, one closed, one never funded), GXA of 2026 and 2027,
// JCR credited and partly surrendered, and one transfer posted before the batch.
struct Registry {
  std::string blocked, closed, third;
  std::int64_t before_entry = 0;
};

Registry set_up(LedgerFixture& f) {
  auto& l = f.ledger();
  Registry r;
  r.blocked = LedgerFixture::must(l.open_account(100, "7123456789012", "blocked", "setup"));
  r.closed = LedgerFixture::must(l.open_account(100, "7123456789012", "closed", "setup"));
  r.third = LedgerFixture::must(l.open_account(100, "7123456789012", "third", "setup"));
  LedgerFixture::must(l.issue("setup-iss-26", kAlice, "bob", f.issuance, 2026, 100000));
  LedgerFixture::must(l.issue("setup-iss-27", kAlice, "bob", f.issuance, 2027, 100000));
  LedgerFixture::must(l.allocate("setup-al-1", kAlice, f.issuance, f.seller, 2026, 1000));
  LedgerFixture::must(l.allocate("setup-al-2", kAlice, f.issuance, f.seller, 2027, 500));
  LedgerFixture::must(l.allocate("setup-al-3", kAlice, f.issuance, f.buyer, 2026, 50));
  LedgerFixture::must(l.allocate("setup-al-4", kAlice, f.issuance, r.blocked, 2026, 100));
  LedgerFixture::must(l.credit_intake("setup-jc", kMarket, f.intake, f.seller, 2024,
                                      {SerialBlock{UnitType::kJCR, "JCR-0312-2024-", 1, 300, 9}}));
  LedgerFixture::must(
      l.surrender("setup-sur", {CauseType::kWorkflowStep, "s-1"}, f.seller, f.surrender, UnitType::kJCR, 2024, 100));
  LedgerFixture::must(l.set_account_state(r.blocked, "blocked", "alice", "court order"));
  LedgerFixture::must(l.set_account_state(r.closed, "closed", "alice", "never used"));
  r.before_entry =
      LedgerFixture::must(l.transfer("before", kMarket, f.seller, f.buyer, UnitType::kGXA, 2026, 1)).entry_id;
  return r;
}

// One of every outcome a transfer can meet, in an order where later transfers depend on
// earlier ones (a credit that funds a later debit, a refusal the next one must not see,
// keys repeated inside the batch).
std::vector<TransferItem> scenario(const LedgerFixture& f, const Registry& r) {
  const auto gxa = UnitType::kGXA;
  const std::string unknown1 = holding(900001), unknown2 = holding(900002);
  return {
      {"t1", kMarket, f.seller, f.buyer, gxa, 2026, 100},                // posted
      {"t1", kMarket, f.seller, f.buyer, gxa, 2026, 100},                // duplicate of the line above
      {"t1", kMarket, f.seller, f.buyer, gxa, 2026, 99},                 // conflict with it
      {"t2", kMarket, f.buyer, f.seller, gxa, 2026, 150},                // needs t1's credit: posted
      {"t3", kMarket, f.buyer, r.third, gxa, 2026, 2},                   // insufficient (holds 1)
      {"before", kMarket, f.seller, f.buyer, gxa, 2026, 1},              // duplicate of an entry in the journal
      {"before", kMarket, f.seller, f.buyer, gxa, 2026, 2},              // conflict with it
      {"t4", kMarket, f.seller, unknown1, gxa, 2026, 1},                 // unknown account
      {"t5", kMarket, unknown2, unknown1, gxa, 2026, 1},                 // both unknown, sorted
      {"t5b", kMarket, unknown1, unknown1, gxa, 2026, 1},                // unknown, named once
      {"t4", kMarket, unknown1, r.closed, gxa, 2026, 1},                 // unknown before anything else
      {"t6", kMarket, r.blocked, f.seller, gxa, 2026, 1},                // blocked: no debit
      {"t7", kMarket, f.seller, r.blocked, gxa, 2026, 5},                // blocked may receive: posted
      {"t8", kMarket, f.seller, r.closed, gxa, 2026, 1},                 // closed: no credit
      {"t8b", kMarket, r.blocked, r.closed, gxa, 2026, 1},               // the debit side is checked first
      {"t9", kMarket, f.seller, f.seller, gxa, 2026, 1},                 // same account
      {"t9b", kMarket, r.blocked, r.blocked, gxa, 2026, 1},              // blocked before same account
      {"t10", kMarket, f.seller, f.issuance, gxa, 2026, 1},              // credit of a 200 account
      {"t11", kMarket, f.issuance, f.seller, gxa, 2026, 1},              // debit of a 200 account
      {"t12", kMarket, f.surrender, f.seller, UnitType::kJCR, 2024, 1},  // surrendered units are final
      {"t12b", kMarket, f.surrender, f.issuance, UnitType::kJCR, 2024, 1},
      {"t13", kMarket, f.seller, f.buyer, UnitType::kJCR, 2024, 1},      // credits do not move
      {"t13b", kMarket, f.intake, f.seller, UnitType::kJCR, 2024, 1},    // debit of a 400 account
      {"t13c", kMarket, f.seller, f.adjustment, gxa, 2026, 1},           // credit of a 900 account
      {"t14", kMarket, f.seller, f.buyer, gxa, 2027, 10},                // a balance row the batch creates
      {"t15", kMarket, f.buyer, r.third, gxa, 2027, 10},                 // ... and then debits
      {"t16", kMarket, f.seller, f.buyer, gxa, 2026, 10000},             // insufficient, with the numbers
      {"rp", kMarket, r.third, f.buyer, gxa, 2026, 5},                   // refused (third holds no 2026)
      {"t17", kMarket, f.seller, r.third, gxa, 2026, 5},
      {"rp", kMarket, r.third, f.buyer, gxa, 2026, 5},                   // the refused key again: posted now
      {"rp", kMarket, r.third, f.buyer, gxa, 2026, 5},                   // and now a duplicate
      {"bad-number", kMarket, f.seller, "JP-GX-100-0000019", gxa, 2026, 1},  // refused before the database
      {"bad-quantity", kMarket, f.seller, f.buyer, gxa, 2026, 0},
      {"negative", kMarket, f.seller, f.buyer, gxa, 2026, -5},
      {"bad-vintage", kMarket, f.seller, f.buyer, gxa, 2020, 1},
      {"", kMarket, f.seller, f.buyer, gxa, 2026, 1},
      {"no-cause", {CauseType::kUser, ""}, f.seller, f.buyer, gxa, 2026, 1},
      {R"(key "with" quotes, {braces}, \back\slash and NULL)", kMarket, f.seller, f.buyer, gxa, 2026, 3},
      {"NULL", {CauseType::kUser, "a \"quoted\" user"}, f.seller, f.buyer, gxa, 2026, 4},
      {"t18", {CauseType::kSystem, "sys"}, f.seller, f.buyer, gxa, 2026, 7},
  };
}

std::string describe(const Result<Posting>& r) {
  if (r.ok()) return std::string(r->duplicate ? "duplicate " : "posted ") + std::to_string(r->entry_id);
  return r.error().code + " | " + r.error().message;
}

// What a ledger holds, in a form two databases can be compared with.
std::vector<std::string> journal(db::Connection& c) {
  std::vector<std::string> out;
  auto lines = c.exec(
      "SELECT e.entry_id, e.kind, e.idempotency_key, e.request_sha256, e.cause_type, e.cause_ref, l.line_no, "
      "a.account_number, l.unit_type, l.vintage, l.delta FROM journal_entries e JOIN journal_lines l USING (entry_id) "
      "JOIN accounts a ON a.account_id = l.account_id ORDER BY e.entry_id, l.line_no");
  for (int i = 0; i < lines.rows(); ++i) {
    std::string row;
    for (int k = 0; k < lines.columns(); ++k) row += lines.get(i, k) + "|";
    out.push_back(row);
  }
  auto balances = c.exec(
      "SELECT a.account_number, b.unit_type, b.vintage, b.quantity FROM balances b JOIN accounts a USING (account_id) "
      "ORDER BY 1, 2, 3");
  for (int i = 0; i < balances.rows(); ++i) {
    out.push_back("balance " + balances.get(i, 0) + " " + balances.get(i, 1) + " " + balances.get(i, 2) + " " +
                  balances.get(i, 3));
  }
  return out;
}

TEST(TransferBatchDbTest, EveryOutcomeIsTheSameAsPostingOneByOneWithGxPostOf0002And0003) {
  LedgerFixture as_0002("batch_ref", 2), single("batch_single"), batched("batch_set");
  auto r0 = set_up(as_0002);
  auto r1 = set_up(single);
  auto r2 = set_up(batched);
  ASSERT_EQ(r0.before_entry, r2.before_entry);
  const auto items = scenario(batched, r2);

  std::vector<Result<Posting>> reference, one_by_one;
  for (const auto& t : scenario(as_0002, r0)) {
    reference.push_back(as_0002.ledger().transfer(t.idempotency_key, t.cause, t.from, t.to, t.unit, t.vintage,
                                                  t.quantity));
  }
  for (const auto& t : scenario(single, r1)) {
    one_by_one.push_back(single.ledger().transfer(t.idempotency_key, t.cause, t.from, t.to, t.unit, t.vintage,
                                                  t.quantity));
  }
  auto set_based = batched.ledger().transfer_batch(items);

  ASSERT_EQ(set_based.size(), items.size());
  ASSERT_EQ(reference.size(), items.size());
  std::map<std::string, int> codes;
  for (std::size_t i = 0; i < items.size(); ++i) {
    SCOPED_TRACE("transfer " + std::to_string(i + 1) + " (key '" + items[i].idempotency_key + "')");
    EXPECT_EQ(describe(set_based[i]), describe(reference[i]));
    EXPECT_EQ(describe(one_by_one[i]), describe(reference[i]));
    codes[set_based[i].ok() ? (set_based[i]->duplicate ? "duplicate" : "posted") : set_based[i].error().code]++;
  }
  // The scenario reaches every outcome it means to (guards against a scenario that
  // silently stops testing something).
  for (const char* code : {"posted", "duplicate", "IDEMPOTENCY_CONFLICT", "INSUFFICIENT_BALANCE", "UNKNOWN_ACCOUNT",
                           "ACCOUNT_NOT_OPEN", "SAME_ACCOUNT", "ACCOUNT_TYPE_NOT_ALLOWED", "SURRENDERED_UNITS_FINAL",
                           "UNIT_NOT_TRANSFERABLE", "MALFORMED_ACCOUNT_NUMBER", "INVALID_QUANTITY", "INVALID_VINTAGE",
                           "INVALID_REQUEST"}) {
    EXPECT_GT(codes[code], 0) << code;
  }
  EXPECT_EQ(codes["posted"], 10);

  auto a = journal(as_0002.app()), b = journal(single.app()), c = journal(batched.app());
  EXPECT_EQ(b, a);
  EXPECT_EQ(c, a);
  for (auto* f : {&as_0002, &single, &batched}) {
    auto report = f->ledger().verify();
    EXPECT_TRUE(report.ok()) << report.breaks.front().kind << ": " << report.breaks.front().detail;
    EXPECT_EQ(report.sealed, report.entries);
  }
}

TEST(TransferBatchDbTest, AnUnknownUnitTypeIsRefusedAsGxPostRefusesIt) {
  // The C++ API cannot name an unknown unit; the SQL functions must still agree.
  LedgerFixture as_0002("batch_unit_ref", 2), current("batch_unit");
  const char* lines =
      R"([{"account":"JP-GX-100-0000018","unit":"XYZ","vintage":2026,"delta":-1},)"
      R"({"account":"JP-GX-100-0000026","unit":"XYZ","vintage":2026,"delta":1}])";
  const std::string post = std::string("SELECT outcome, check_code, detail::text FROM gx_post('u1', 'h', 'transfer', "
                                       "'user', 'alice', '', '', NULL, '") + lines + "')";
  auto ref = as_0002.app().exec(post);
  auto single = current.app().exec(post);
  auto batch = current.app().exec(
      "SELECT outcome, check_code, detail::text FROM gx_post_transfers('{u1}', '{h}', '{user}', '{alice}', "
      "'{JP-GX-100-0000018}', '{JP-GX-100-0000026}', '{XYZ}', '{2026}', '{1}')");
  ASSERT_EQ(batch.rows(), 1);
  EXPECT_EQ(ref.get(0, 1), "UNKNOWN_UNIT_TYPE");
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(single.get(0, k), ref.get(0, k));
    EXPECT_EQ(batch.get(0, k), ref.get(0, k));
  }
}

TEST(TransferBatchDbTest, PostBatchGivesTheSameOutcomesWhetherItTakesTheSetBasedPathOrNot) {
  // All plain transfers: post_batch goes through transfer_batch. One request that is not
  // a plain transfer (a reason): post_batch posts one by one with gx_post. A negative
  // quantity is left out: as a PostingRequest it is a valid transfer the other way.
  LedgerFixture set_based("batch_post_set"), each("batch_post_each"), direct("batch_post_direct");
  auto r1 = set_up(set_based);
  auto r2 = set_up(each);
  auto r3 = set_up(direct);
  auto requests = [](const LedgerFixture& f, const Registry& r) {
    std::vector<PostingRequest> out;
    for (const auto& t : scenario(f, r)) {
      if (t.quantity > 0) out.push_back(t.request());
    }
    return out;
  };
  auto plain = requests(set_based, r1);
  auto mixed = requests(each, r2);
  mixed.push_back(mixed.front());
  mixed.back().idempotency_key = "with-a-reason";
  mixed.back().reason = "not a plain transfer";
  std::vector<TransferItem> items;
  for (const auto& t : scenario(direct, r3)) {
    if (t.quantity > 0) items.push_back(t);
  }
  auto a = set_based.ledger().post_batch(plain);
  auto b = each.ledger().post_batch(mixed);
  auto c = direct.ledger().transfer_batch(items);
  ASSERT_EQ(a.size(), c.size());
  ASSERT_EQ(b.size(), c.size() + 1);
  for (std::size_t i = 0; i < c.size(); ++i) {
    EXPECT_EQ(describe(a[i]), describe(c[i])) << "transfer " << i + 1;
    EXPECT_EQ(describe(b[i]), describe(c[i])) << "transfer " << i + 1;
  }
  EXPECT_TRUE(b.back().ok()) << b.back().error().to_string();
  EXPECT_EQ(journal(set_based.app()), journal(direct.app()));
}

TEST(TransferBatchDbTest, RunsInTheCallersTransactionAndARefusalLeavesItUsable) {
  LedgerFixture f("batch_tx");
  f.fund(f.seller, 100);
  {
    // Rolled back by the caller: nothing of the batch remains, its keys are free again.
    db::Transaction tx(f.app());
    auto rs = f.ledger().transfer_batch({{"rb-1", kAlice, f.seller, f.buyer, UnitType::kGXA, 2026, 30}});
    ASSERT_TRUE(rs[0].ok());
  }
  EXPECT_EQ(f.held(f.buyer), 0);

  db::Transaction tx(f.app());
  tx.exec("CREATE TEMP TABLE inbox (message text)");  // stands for the intake consumer's own write
  tx.exec("INSERT INTO inbox VALUES ('GXM-1')");
  auto rs = f.ledger().transfer_batch({{"rb-1", kAlice, f.seller, f.buyer, UnitType::kGXA, 2026, 30},
                                       {"ok-2", kAlice, f.seller, f.buyer, UnitType::kGXA, 2026, 500},
                                       {"ok-3", kAlice, f.seller, f.seller, UnitType::kGXA, 2026, 1},
                                       {"ok-4", kAlice, f.seller, f.buyer, UnitType::kGXA, 2026, 70}});
  ASSERT_EQ(rs.size(), 4u);
  EXPECT_TRUE(rs[0].ok());
  EXPECT_EQ(rs[1].error().code, "INSUFFICIENT_BALANCE");
  EXPECT_EQ(rs[2].error().code, "SAME_ACCOUNT");
  EXPECT_TRUE(rs[3].ok());
  // The transaction is still usable after the refusals, and commits everything together.
  EXPECT_EQ(tx.exec("SELECT count(*) FROM inbox").get_int(0, 0), 1);
  tx.commit();
  EXPECT_EQ(f.held(f.seller), 0);
  EXPECT_EQ(f.held(f.buyer), 100);
  EXPECT_TRUE(f.ledger().verify().ok());
}

TEST(TransferBatchDbTest, AKeyCommittedByAnotherTransactionMeanwhileIsAnsweredNotRaised) {
  LedgerFixture f("batch_race");
  auto third = LedgerFixture::must(f.ledger().open_account(100, "7123456789012", "third", "t"));
  auto fourth = LedgerFixture::must(f.ledger().open_account(100, "7123456789012", "fourth", "t"));
  f.fund(f.seller, 100);
  f.fund(third, 100);

  // Transaction 1 posts key K (seller -> buyer) and keeps its transaction open.
  auto c1 = db::Connection::connect(f.database().app_conninfo());
  Ledger l1(*c1);
  db::Transaction tx1(*c1);
  auto first = l1.transfer_batch({{"K", kAlice, f.seller, f.buyer, UnitType::kGXA, 2026, 10}});
  ASSERT_TRUE(first[0].ok());

  // Transaction 2 posts K for other accounts (so it does not wait for an account lock)
  // and a fresh key; its insert of K waits for transaction 1.
  std::vector<Result<Posting>> second;
  std::string second_error;
  std::thread t([&] {
    try {
      auto c2 = db::Connection::connect(f.database().app_conninfo());
      Ledger l2(*c2);
      db::Transaction tx2(*c2);
      second = l2.transfer_batch({{"K", kAlice, third, fourth, UnitType::kGXA, 2026, 10},
                                  {"K2", kAlice, third, fourth, UnitType::kGXA, 2026, 20}});
      tx2.exec("SELECT 1");  // still usable
      tx2.commit();
    } catch (const std::exception& e) {
      second_error = e.what();
    }
  });
  auto watcher = db::Connection::connect(f.database().app_conninfo());
  bool waiting = false;
  for (int i = 0; i < 200 && !waiting; ++i) {
    waiting = watcher
                  ->exec("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                         "AND wait_event_type = 'Lock'")
                  .get_int(0, 0) > 0;
    if (!waiting) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(waiting) << "transaction 2 never waited for transaction 1";
  tx1.commit();
  t.join();
  ASSERT_EQ(second_error, "");
  ASSERT_EQ(second.size(), 2u);
  ASSERT_FALSE(second[0].ok());
  EXPECT_EQ(second[0].error().code, "IDEMPOTENCY_CONFLICT");
  EXPECT_NE(second[0].error().message.find(std::to_string(first[0]->entry_id)), std::string::npos);
  ASSERT_TRUE(second[1].ok()) << second[1].error().to_string();
  EXPECT_EQ(f.held(f.buyer), 10);
  EXPECT_EQ(f.held(third), 80);
  EXPECT_EQ(f.held(fourth), 20);
  EXPECT_TRUE(f.ledger().verify().ok());
}

TEST(TransferBatchDbTest, ParallelBatchesOnOverlappingAccountsLoseNothing) {
  LedgerFixture f("batch_conc");
  constexpr int kAccounts = 12, kThreads = 6, kRounds = 25, kPerBatch = 20;
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
      std::mt19937 rng(99 + t);
      std::uniform_int_distribution<int> pick(0, kAccounts - 1), qty(1, 300);
      for (int round = 0; round < kRounds; ++round) {
        std::vector<TransferItem> items;
        for (int k = 0; k < kPerBatch; ++k) {
          int a = pick(rng), b = pick(rng);
          // Keys shared between threads: each is posted once, the others answer duplicate.
          auto key = (k % 5 == 0) ? "shared-" + std::to_string(round) + "-" + std::to_string(k)
                                  : "b" + std::to_string(t) + "-" + std::to_string(round) + "-" + std::to_string(k);
          if (k % 5 == 0) a = k % kAccounts, b = (k + 1) % kAccounts;
          items.push_back({key, kAlice, acc[a], acc[b], UnitType::kGXA, 2026, k % 5 == 0 ? 3 : qty(rng)});
        }
        try {
          db::Transaction tx(*conn);
          auto rs = ledger.transfer_batch(items);
          tx.commit();
          std::lock_guard lock(mu);
          for (std::size_t k = 0; k < rs.size(); ++k) {
            if (rs[k].ok() && !rs[k]->duplicate) {
              posted++;
              expected[items[k].from] -= items[k].quantity;
              expected[items[k].to] += items[k].quantity;
            } else if (!rs[k].ok()) {
              refused++;
              if (rs[k].error().code != "INSUFFICIENT_BALANCE" && rs[k].error().code != "SAME_ACCOUNT") {
                ADD_FAILURE() << "unexpected refusal " << rs[k].error().to_string();
              }
            }
          }
        } catch (const std::exception& e) {
          errors++;
          ADD_FAILURE() << "writer " << t << ": " << e.what();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_GT(posted.load(), kThreads * kRounds * kPerBatch / 3);
  f.expect_tally(expected, kStart * kAccounts);
  auto shared = f.app().exec("SELECT count(*) FROM journal_entries WHERE idempotency_key LIKE 'shared-%'");
  EXPECT_GT(shared.get_int(0, 0), 0);
  EXPECT_LE(shared.get_int(0, 0), kRounds * kPerBatch / 5);
}

TEST(TransferBatchDbTest, TheSealerLinksABacklogInOneCallAndReportsIt) {
  LedgerFixture f("batch_seal");
  f.fund(f.seller, 100000);
  while (f.ledger().seal() > 0) {
  }
  std::vector<TransferItem> items;
  for (int i = 0; i < 700; ++i) {
    items.push_back({"s-" + std::to_string(i), kAlice, i % 2 == 0 ? f.seller : f.buyer,
                     i % 2 == 0 ? f.buyer : f.seller, UnitType::kGXA, 2026, 1});
  }
  auto rs = f.ledger().transfer_batch(items);
  for (const auto& r : rs) ASSERT_TRUE(r.ok()) << r.error().to_string();
  auto backlog = f.ledger().seal_backlog();
  EXPECT_EQ(backlog.unsealed, 700);
  EXPECT_GE(backlog.oldest_age_seconds, 0.0);
  EXPECT_EQ(f.ledger().seal(300), 300);  // in pieces: the chain continues across calls
  EXPECT_EQ(f.ledger().seal_backlog().unsealed, 400);
  EXPECT_EQ(f.ledger().seal(), 400);
  EXPECT_EQ(f.ledger().seal_backlog().unsealed, 0);
  EXPECT_EQ(f.ledger().seal_backlog().oldest_age_seconds, 0.0);
  auto report = f.ledger().verify();
  EXPECT_TRUE(report.ok()) << (report.breaks.empty() ? "" : report.breaks.front().detail);
  EXPECT_EQ(report.sealed, report.entries);
}

TEST(TransferBatchDbTest, VerifyNamesAJournalLineWithoutItsEntryOrAccount) {
  LedgerFixture f("batch_orphan");
  f.fund(f.seller, 10);
  ASSERT_TRUE(f.ledger().verify().ok());
  auto super = db::Connection::connect(f.super_conninfo());
  super->exec("INSERT INTO journal_lines VALUES (987654, 1, 1, 'GXA', 2026, 5)");
  auto broken = f.ledger().verify();
  bool named = false;
  for (const auto& b : broken.breaks) named = named || (b.kind == "ORPHAN_LINE" && b.entry_id == 987654);
  EXPECT_TRUE(named);
}

TEST(TransferBatchDbTest, AccountsAndUnitTypesTheJournalNamesCannotBeRemoved) {
  LedgerFixture f("batch_removal");
  auto owner = db::Connection::connect(f.database().owner_conninfo());
  EXPECT_THROW(owner->exec("DELETE FROM accounts WHERE account_number = 'JP-GX-100-0000018'"), db::RaisedException);
  EXPECT_THROW(owner->exec("UPDATE accounts SET account_number = 'JP-GX-100-0000026' "
                           "WHERE account_number = 'JP-GX-100-0000018'"),
               db::RaisedException);
  EXPECT_THROW(owner->exec("TRUNCATE accounts CASCADE"), db::RaisedException);
  EXPECT_THROW(owner->exec("DELETE FROM unit_types WHERE code = 'JCM'"), db::RaisedException);
  // Account states still change (the trigger watches only the identity).
  EXPECT_TRUE(f.ledger().set_account_state(f.seller, "blocked", "alice", "check").value());
}

}  // namespace
}  // namespace hub::registry
