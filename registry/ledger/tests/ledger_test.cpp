#include "registry/ledger/ledger.hpp"

#include <gtest/gtest.h>

#include "ledger_fixture.hpp"
#include "registry/domain/serials.hpp"

namespace hub::registry {
namespace {

using testing::kAlice;
using testing::LedgerFixture;

SerialBlock jcr(std::int64_t first, std::int64_t last) {
  return SerialBlock{UnitType::kJCR, "JCR-0312-2024-", first, last, 9};
}

class LedgerDbTest : public ::testing::Test {
 protected:
  LedgerFixture f{"ledger"};
};

TEST_F(LedgerDbTest, IssuanceNeedsASecondPersonAndCreatesAllowancesInTheIssuanceAccount) {
  auto alone = f.ledger().issue("iss-1", kAlice, "alice", f.issuance, 2026, 10000);
  ASSERT_FALSE(alone.ok());
  EXPECT_EQ(alone.error().code, "FOUR_EYES_VIOLATION");
  auto ok = f.ledger().issue("iss-1", kAlice, "bob", f.issuance, 2026, 10000);
  ASSERT_TRUE(ok.ok()) << ok.error().to_string();
  EXPECT_EQ(f.held(f.issuance), 10000);
  auto wrong = f.ledger().issue("iss-2", kAlice, "bob", f.seller, 2026, 5);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, "ACCOUNT_TYPE_NOT_ALLOWED");
}

TEST_F(LedgerDbTest, RefusalSaysWhatIsWrongWithTheNumbers) {
  f.fund(f.seller, 400);
  auto r = f.ledger().transfer("t-1", kAlice, f.seller, f.buyer, UnitType::kGXA, 2026, 1000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "INSUFFICIENT_BALANCE");
  EXPECT_EQ(r.error().message,
            "INSUFFICIENT_BALANCE (check 1005): JP-GX-100-0000018 holds 400 GXA of 2026; the transfer needs 1,000");
  EXPECT_EQ(f.held(f.seller), 400);  // nothing changed
  EXPECT_EQ(f.held(f.buyer), 0);
}

TEST_F(LedgerDbTest, SameKeyAgainReturnsTheFirstResultAndDifferentContentIsAConflict) {
  f.fund(f.seller, 5000);
  auto first = f.ledger().transfer("t-key", kAlice, f.seller, f.buyer, UnitType::kGXA, 2026, 1000);
  ASSERT_TRUE(first.ok()) << first.error().to_string();
  EXPECT_FALSE(first->duplicate);
  auto again = f.ledger().transfer("t-key", kAlice, f.seller, f.buyer, UnitType::kGXA, 2026, 1000);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->entry_id, first->entry_id);
  EXPECT_EQ(f.held(f.buyer), 1000);
  auto conflict = f.ledger().transfer("t-key", kAlice, f.seller, f.buyer, UnitType::kGXA, 2026, 999);
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code, "IDEMPOTENCY_CONFLICT");
  EXPECT_NE(conflict.error().message.find(std::to_string(first->entry_id)), std::string::npos);
  EXPECT_EQ(f.held(f.buyer), 1000);
}

TEST_F(LedgerDbTest, ARefusedKeyCanBePostedOnceItsCauseIsFixed) {
  auto refused = f.ledger().transfer("retry-me", kAlice, f.seller, f.buyer, UnitType::kGXA, 2026, 300);
  ASSERT_FALSE(refused.ok());
  f.fund(f.seller, 300);
  auto retried = f.ledger().transfer("retry-me", kAlice, f.seller, f.buyer, UnitType::kGXA, 2026, 300);
  ASSERT_TRUE(retried.ok()) << retried.error().to_string();
  EXPECT_EQ(f.held(f.buyer), 300);
}

TEST_F(LedgerDbTest, AccountStatesGovernDebitsAndCredits) {
  f.fund(f.seller, 100);
  f.fund(f.buyer, 100);
  ASSERT_TRUE(f.ledger().set_account_state(f.seller, "blocked", "alice", "court order").value());
  auto debit = f.ledger().transfer("b-1", kAlice, f.seller, f.buyer, UnitType::kGXA, 2026, 10);
  ASSERT_FALSE(debit.ok());
  EXPECT_EQ(debit.error().code, "ACCOUNT_NOT_OPEN");
  EXPECT_NE(debit.error().message.find("is blocked"), std::string::npos);
  auto credit = f.ledger().transfer("b-2", kAlice, f.buyer, f.seller, UnitType::kGXA, 2026, 10);
  EXPECT_TRUE(credit.ok()) << credit.error().to_string();  // a blocked account may receive
  auto close = f.ledger().set_account_state(f.seller, "closed", "alice", "end");
  ASSERT_FALSE(close.ok());
  EXPECT_EQ(close.error().code, "ACCOUNT_HAS_BALANCE");
  EXPECT_FALSE(f.ledger().set_account_state(f.seller, "blocked", "alice", "again").value());  // unchanged
  auto unknown = f.ledger().transfer("b-3", kAlice, f.buyer, "JP-GX-100-0000091", UnitType::kGXA, 2026, 1);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, "UNKNOWN_ACCOUNT");
  auto malformed = f.ledger().transfer("b-4", kAlice, f.buyer, "JP-GX-100-0000019", UnitType::kGXA, 2026, 1);
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.error().code, "MALFORMED_ACCOUNT_NUMBER");
}

TEST_F(LedgerDbTest, CreditIntakeKeepsSerialsAndNeverCreditsASerialTwice) {
  auto in = f.ledger().credit_intake("jc-1", {CauseType::kConnectorMessage, "jcredit:JCR-1"}, f.intake, f.seller,
                                     2024, {jcr(1, 500)});
  ASSERT_TRUE(in.ok()) << in.error().to_string();
  EXPECT_EQ(f.held(f.seller, "JCR", 2024), 500);
  EXPECT_EQ(f.held(f.intake, "JCR", 2024), -500);
  auto again = f.ledger().credit_intake("jcm-9", {CauseType::kConnectorMessage, "jcm:JCM-9"}, f.intake, f.buyer,
                                        2024, {jcr(495, 504)});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "SERIAL_ALREADY_USED");
  EXPECT_NE(again.error().message.find("JP-GX-100-0000018"), std::string::npos) << again.error().message;
  EXPECT_NE(again.error().message.find(std::to_string(in->entry_id)), std::string::npos);
  auto touching = f.ledger().credit_intake("jc-2", {CauseType::kConnectorMessage, "jcredit:JCR-2"}, f.intake,
                                           f.buyer, 2024, {jcr(501, 510)});
  EXPECT_TRUE(touching.ok()) << touching.error().to_string();
  auto self_overlap = f.ledger().credit_intake("jc-3", {CauseType::kConnectorMessage, "jcredit:JCR-3"}, f.intake,
                                               f.buyer, 2024, {jcr(600, 610), jcr(605, 620)});
  ASSERT_FALSE(self_overlap.ok());
  EXPECT_EQ(self_overlap.error().code, "SERIAL_ALREADY_USED");
  auto history = f.ledger().history(f.seller);
  ASSERT_FALSE(history.empty());
  EXPECT_EQ(history.front().serials, "JCR-0312-2024-000000001..JCR-0312-2024-000000500");
  auto move = f.ledger().transfer("jc-t", kAlice, f.seller, f.buyer, UnitType::kJCR, 2024, 1);
  ASSERT_FALSE(move.ok());
  EXPECT_EQ(move.error().code, "UNIT_NOT_TRANSFERABLE");
}

TEST_F(LedgerDbTest, SurrenderIsFinalAndAReversalAfterUseIsRefused) {
  auto in = f.ledger().credit_intake("jc-1", {CauseType::kConnectorMessage, "jcredit:1"}, f.intake, f.seller, 2024,
                                     {jcr(1, 100)});
  ASSERT_TRUE(in.ok());
  auto in2 = f.ledger().credit_intake("jc-2", {CauseType::kConnectorMessage, "jcredit:2"}, f.intake, f.buyer, 2024,
                                      {jcr(101, 200)});
  ASSERT_TRUE(in2.ok());
  // Reversal before use: the units go back to the intake account.
  auto before = f.ledger().reverse_intake("rev-2", {CauseType::kConnectorMessage, "jcredit:R2"}, in2->entry_id,
                                          "cancellation withdrawn by the J-Credit registry");
  ASSERT_TRUE(before.ok()) << before.error().to_string();
  EXPECT_EQ(f.held(f.buyer, "JCR", 2024), 0);
  auto twice = f.ledger().reverse_intake("rev-2b", {CauseType::kConnectorMessage, "jcredit:R2b"}, in2->entry_id,
                                         "again");
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, "REVERSAL_NOT_POSSIBLE");
  // Surrender, then a reversal after use is refused.
  auto s = f.ledger().surrender("sur-1", {CauseType::kWorkflowStep, "surrender:1"}, f.seller, f.surrender,
                                UnitType::kJCR, 2024, 60);
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  auto after = f.ledger().reverse_intake("rev-1", {CauseType::kConnectorMessage, "jcredit:R1"}, in->entry_id,
                                         "withdrawn");
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().code, "REVERSAL_NOT_POSSIBLE");
  EXPECT_NE(after.error().message.find("holds 40 JCR"), std::string::npos) << after.error().message;
  auto back = f.ledger().transfer("back", kAlice, f.surrender, f.seller, UnitType::kJCR, 2024, 1);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.error().code, "SURRENDERED_UNITS_FINAL");
}

TEST_F(LedgerDbTest, CorrectionIsProposedByOneAndApprovedByAnother) {
  f.fund(f.seller, 100);
  std::vector<PostingLine> lines = {{f.seller, UnitType::kGXA, 2026, -30}, {f.adjustment, UnitType::kGXA, 2026, 30}};
  auto id = f.ledger().propose_correction("alice", "allocation entered twice (ticket 42)", lines);
  ASSERT_TRUE(id.ok()) << id.error().to_string();
  auto self = f.ledger().decide_correction(*id, "alice", true, "ok");
  ASSERT_FALSE(self.ok());
  EXPECT_EQ(self.error().code, "FOUR_EYES_VIOLATION");
  EXPECT_EQ(f.held(f.seller), 100);
  auto approved = f.ledger().decide_correction(*id, "bob", true, "checked the ticket");
  ASSERT_TRUE(approved.ok()) << approved.error().to_string();
  ASSERT_TRUE(approved->has_value());
  EXPECT_EQ(f.held(f.seller), 70);
  EXPECT_EQ(f.held(f.adjustment), 30);
  auto again = f.ledger().decide_correction(*id, "carol", true, "");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "CORRECTION_NOT_PENDING");
  auto no_reason = f.ledger().propose_correction("alice", "  ", lines);
  ASSERT_FALSE(no_reason.ok());
  EXPECT_EQ(no_reason.error().code, "INVALID_REASON");
}

TEST_F(LedgerDbTest, TheDatabaseItselfEnforcesTheRules) {
  auto owner = db::Connection::connect(f.database().owner_conninfo());
  // Check digits, even for the schema owner.
  EXPECT_THROW(owner->exec("INSERT INTO companies (corporate_number, name, kind, created_by) "
                           "VALUES ('1123456789012', 'x', 'covered', 't')"),
               db::CheckViolation);
  EXPECT_THROW(owner->exec("SELECT gx_open_account(100::smallint, '7123456789012', 'x', 't', 'JP-GX-100-0000019')"),
               db::CheckViolation);
  EXPECT_THROW(owner->exec("SELECT gx_open_account(100::smallint, '7123456789012', 'x', 't', 'JP-GX-300-0000018')"),
               db::CheckViolation);
  // Balances never negative on holding accounts.
  EXPECT_THROW(owner->exec("INSERT INTO balances SELECT account_id, 100, 'GXA', 2026, -1 FROM accounts "
                           "WHERE account_number = 'JP-GX-100-0000018'"),
               db::CheckViolation);
  // The journal is append-only, for the app role and for the owner.
  f.fund(f.seller, 10);
  EXPECT_THROW(f.app().exec("UPDATE journal_lines SET delta = delta + 1"), db::InsufficientPrivilege);
  EXPECT_THROW(f.app().exec("DELETE FROM journal_entries"), db::InsufficientPrivilege);
  EXPECT_THROW(f.app().exec("UPDATE balances SET quantity = 1000000"), db::InsufficientPrivilege);
  EXPECT_THROW(owner->exec("UPDATE journal_lines SET delta = delta + 1"), db::RaisedException);
  EXPECT_THROW(owner->exec("DELETE FROM journal_entries"), db::RaisedException);
  EXPECT_THROW(owner->exec("TRUNCATE journal_chain CASCADE"), db::DbError);
  // A serial range overlapping one ever credited, whoever inserts it.
  ASSERT_TRUE(f.ledger().credit_intake("jc", kAlice, f.intake, f.seller, 2024, {jcr(1, 10)}).ok());
  EXPECT_THROW(owner->exec("INSERT INTO serial_blocks (entry_id, unit_type, serial_prefix, serial_first, serial_last, "
                           "digits, account_id, vintage) SELECT entry_id, 'JCM', 'JCR-0312-2024-', 10, 20, 9, "
                           "account_id, 2024 FROM serial_blocks LIMIT 1"),
               db::ExclusionViolation);
}

TEST_F(LedgerDbTest, VerifyPassesOnAHealthyLedgerAndNamesATamperedEntry) {
  f.fund(f.seller, 1000);
  auto t = f.ledger().transfer("t-1", kAlice, f.seller, f.buyer, UnitType::kGXA, 2026, 250);
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(f.ledger().credit_intake("jc", kAlice, f.intake, f.seller, 2024, {jcr(1, 10)}).ok());
  auto report = f.ledger().verify();
  EXPECT_TRUE(report.ok()) << report.breaks.front().detail;
  EXPECT_EQ(report.sealed, report.entries);
  EXPECT_GE(report.entries, 4);
  ASSERT_FALSE(report.totals.empty());
  EXPECT_EQ(report.totals.front(), "GXA 2026: issued 1,000, held 1,000");

  // The superuser bypasses the append-only triggers and alters one line.
  auto super = db::Connection::connect(f.super_conninfo());
  super->exec("SET session_replication_role = replica");
  super->exec("UPDATE journal_lines SET delta = -200 WHERE entry_id = $1 AND delta = -250",
              {std::to_string(t->entry_id)});
  auto broken = f.ledger().verify();
  ASSERT_FALSE(broken.ok());
  bool named = false;
  for (const auto& b : broken.breaks) {
    if (b.kind == "ENTRY_HASH_MISMATCH" && b.entry_id == t->entry_id) named = true;
  }
  EXPECT_TRUE(named) << "verify did not name entry " << t->entry_id;
  bool balance = false;
  for (const auto& b : broken.breaks) balance = balance || b.kind == "BALANCE_MISMATCH";
  EXPECT_TRUE(balance);
}

TEST_F(LedgerDbTest, VerifyDetectsARewrittenHashThroughTheChain) {
  f.fund(f.seller, 10);
  auto report = f.ledger().verify();
  ASSERT_TRUE(report.ok());
  auto super = db::Connection::connect(f.super_conninfo());
  super->exec("SET session_replication_role = replica");
  // A forger who changes an entry and recomputes its entry_hash still breaks the chain.
  super->exec("UPDATE journal_entries SET reason = 'forged', entry_hash = gx_entry_digest(entry_id, kind, "
              "idempotency_key, request_sha256, cause_type, cause_ref, 'forged', approved_by, reverses_entry, "
              "posted_at, gx_entry_lines_text(entry_id), gx_entry_serials_text(entry_id)) WHERE entry_id = 1");
  auto broken = f.ledger().verify();
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.breaks.front().kind, "CHAIN_BROKEN");
  EXPECT_EQ(broken.breaks.front().entry_id, 1);
}

TEST_F(LedgerDbTest, BatchAppliesEachPostingOnItsOwn) {
  f.fund(f.seller, 100);
  std::vector<PostingRequest> batch;
  for (int i = 0; i < 5; ++i) {
    batch.push_back({PostingKind::kTransfer, "batch-" + std::to_string(i), kAlice, "", "", std::nullopt,
                     {{f.seller, UnitType::kGXA, 2026, -30}, {f.buyer, UnitType::kGXA, 2026, 30}}, {}});
  }
  auto results = f.ledger().post_batch(batch);
  ASSERT_EQ(results.size(), 5u);
  int ok = 0;
  for (const auto& r : results) ok += r.ok() ? 1 : 0;
  EXPECT_EQ(ok, 3);  // 3 x 30 of 100; the fourth and fifth are refused
  EXPECT_EQ(results[3].error().code, "INSUFFICIENT_BALANCE");
  EXPECT_EQ(f.held(f.seller), 10);
  EXPECT_EQ(f.held(f.buyer), 90);
}

}  // namespace
}  // namespace hub::registry
