// The intake path of gx-market against a real PostgreSQL: the service's answers (202,
// 200 duplicate, 409 conflict, 400 stale, 401), what it stores (inbox, quarantine,
// exceptions), and the applier's exactly-once posting with its receipts.

#include <gtest/gtest.h>

#include "gx_market_fixture.hpp"
#include "hub/intake/applier.hpp"
#include "hub/intake/intake_service.hpp"
#include "hub/intake/store.hpp"
#include "ledger_fixture.hpp"

namespace hub::connectors {
namespace {

using nlohmann::json;
using testing::GxMarketFixture;

class GxMarketIntakeDbTest : public ::testing::Test {
 protected:
  GxMarketIntakeDbTest()
      : pool_({ledger_.database().app_conninfo(), 4, std::chrono::milliseconds(5000)}),
        service_({}, {&f.connector}, f.trust, pool_, f.clock, nullptr, metrics_) {
    ledger_.fund(ledger_.seller, 5000);
  }

  http::Response post(const std::string& path, const std::string& body) {
    return service_.handle_post(f.connector, f.endpoint(path), f.request(path, body));
  }
  http::Response settle(const std::string& n, std::int64_t quantity, const std::string* seller = nullptr,
                        const std::string* buyer = nullptr) {
    return post("settlements", f.sign(f.settlement(n, seller ? *seller : ledger_.seller,
                                                   buyer ? *buyer : ledger_.buyer, quantity)));
  }
  std::int64_t count(const std::string& sql) { return ledger_.app().exec(sql).get_int(0, 0); }
  intake::ApplyStats apply_all() {
    auto ids = ledger_.app().exec("SELECT coalesce(array_agg(id ORDER BY id)::text, '{}') FROM inbox_messages");
    std::vector<std::int64_t> v;
    auto text = ids.get(0, 0);
    std::string cur;
    for (char c : text) {
      if (c >= '0' && c <= '9') {
        cur += c;
      } else if (!cur.empty()) {
        v.push_back(std::stoll(cur));
        cur.clear();
      }
    }
    return intake::apply_inbox_batch(ledger_.app(), f.connector, v, true);
  }
  json status(const std::string& message_id) {
    auto r = service_.handle_status(f.connector, message_id);
    EXPECT_EQ(r.status, 200) << r.body;
    return f.receipt_payload(r.body);
  }

  GxMarketFixture f;
  registry::testing::LedgerFixture ledger_{"gxm_intake"};
  MetricsRegistry metrics_;
  db::Pool pool_;
  intake::IntakeService service_;
};

TEST_F(GxMarketIntakeDbTest, AcceptedOnceStoredThenDuplicateGetsTheSameReceipt) {
  auto body = f.sign(f.settlement("1", ledger_.seller, ledger_.buyer, 1000));
  auto first = post("settlements", body);
  ASSERT_EQ(first.status, 202) << first.body;
  EXPECT_EQ(*first.header("content-type"), "application/jose");
  auto receipt = f.receipt_payload(first.body);
  EXPECT_EQ(receipt["status"], "accepted");
  EXPECT_EQ(receipt["message_id"], "GXM-1");
  EXPECT_EQ(receipt["body_sha256"], sha256_hex(body));
  EXPECT_EQ(receipt["trades"][0]["trade_id"], "T-1");
  EXPECT_EQ(count("SELECT count(*) FROM inbox_messages WHERE state = 'accepted'"), 1);

  // The same message again, even much later: 200 with the very same receipt.
  f.clock.advance(std::chrono::hours(48));
  auto again = post("settlements", body);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(count("SELECT count(*) FROM inbox_messages"), 1);
}

TEST_F(GxMarketIntakeDbTest, SameKeyOtherPayloadIs409WithAnExceptionShowingBoth) {
  ASSERT_EQ(settle("1", 1000).status, 202);
  auto conflict = settle("1", 999);
  ASSERT_EQ(conflict.status, 409) << conflict.body;
  auto problem = json::parse(conflict.body);
  EXPECT_EQ(problem["code"], "IDEMPOTENCY_CONFLICT");
  EXPECT_EQ(problem["message_id"], "GXM-1");
  EXPECT_EQ(count("SELECT count(*) FROM inbox_messages"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM quarantine WHERE code = 'IDEMPOTENCY_CONFLICT' AND related_inbox_id IS NOT NULL"), 1);
  auto ex = intake::list_exceptions(ledger_.app(), {});
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].type, "idempotency_conflict");
  EXPECT_EQ(ex[0].status, "open");
  EXPECT_TRUE(ex[0].inbox_id.has_value());
  EXPECT_TRUE(ex[0].quarantine_id.has_value());
  // Nothing reached the ledger.
  apply_all();
  EXPECT_EQ(ledger_.held(ledger_.buyer), 1000);
}

TEST_F(GxMarketIntakeDbTest, RefusedBodiesAreKeptInQuarantineWithTheirReason) {
  auto stale = f.settlement("old", ledger_.seller, ledger_.buyer, 10);
  stale["sent_at"] = f.jst(f.now - std::chrono::minutes(11));
  auto r = post("settlements", f.sign(stale));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["code"], "STALE_MESSAGE");

  auto unsigned_body = f.settlement("plain", ledger_.seller, ledger_.buyer, 10).dump();
  r = post("settlements", unsigned_body);
  EXPECT_EQ(r.status, 401);

  auto req = f.request("settlements", f.sign(f.settlement("key", ledger_.seller, ledger_.buyer, 10)));
  req.headers["idempotency-key"] = "something-else";
  r = service_.handle_post(f.connector, f.endpoint("settlements"), req);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["code"], "MALFORMED");

  EXPECT_EQ(count("SELECT count(*) FROM inbox_messages"), 0);
  auto q = ledger_.app().exec("SELECT code, http_status, convert_from(body, 'UTF8'), peer_subject FROM quarantine ORDER BY id");
  ASSERT_EQ(q.rows(), 3);
  EXPECT_EQ(q.get(0, 0), "STALE_MESSAGE");
  EXPECT_EQ(q.get(1, 0), "SIGNATURE_INVALID");
  EXPECT_EQ(q.get(1, 1), "401");
  EXPECT_EQ(q.get(1, 2), unsigned_body);  // kept as received
  EXPECT_EQ(q.get(2, 0), "MALFORMED");
  EXPECT_EQ(q.get(2, 3), "CN=gx-market");
  // The quarantine is append-only even for the hub.
  EXPECT_THROW(ledger_.app().exec("UPDATE quarantine SET code = 'X'"), db::DbError);
  EXPECT_THROW(ledger_.app().exec("DELETE FROM quarantine"), db::DbError);
}

TEST_F(GxMarketIntakeDbTest, AppliedExactlyOnceAndTheReceiptTellsTheOutcome) {
  ASSERT_EQ(settle("1", 1000).status, 202);
  auto stats = apply_all();
  EXPECT_EQ(stats.messages, 1);
  EXPECT_EQ(stats.items_applied, 1);
  EXPECT_EQ(ledger_.held(ledger_.seller), 4000);
  EXPECT_EQ(ledger_.held(ledger_.buyer), 1000);
  auto receipt = status("GXM-1");
  EXPECT_EQ(receipt["status"], "applied");
  EXPECT_EQ(receipt["trades"][0]["status"], "applied");

  // A redelivery of the same message changes nothing.
  auto again = apply_all();
  EXPECT_EQ(again.messages, 0);
  EXPECT_EQ(again.skipped, 1);
  EXPECT_EQ(ledger_.held(ledger_.buyer), 1000);
  // The final receipt waits in the outbox for the market's callback.
  EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE kind = 'final_receipt' AND delivered_at IS NULL"), 1);
  // What was received cannot be changed.
  EXPECT_THROW(ledger_.app().exec("UPDATE inbox_messages SET body = 'x'::bytea"), db::DbError);
  EXPECT_THROW(ledger_.app().exec("DELETE FROM inbox_messages"), db::DbError);
}

TEST_F(GxMarketIntakeDbTest, BusinessProblemsBecomeExceptionsWithTheSpecsReasonCodes) {
  const std::string unknown = "JP-GX-100-0000034";  // well formed, not in the registry
  ASSERT_EQ(settle("1", 1000).status, 202);
  ASSERT_EQ(settle("2", 100000).status, 202);           // more than the seller holds
  ASSERT_EQ(settle("3", 10, &unknown).status, 202);     // unknown seller
  // The same trade again under another message_id.
  auto dup = f.settlement("4", ledger_.seller, ledger_.buyer, 1000);
  dup["trade_id"] = "T-1";
  ASSERT_EQ(post("settlements", f.sign(dup)).status, 202);

  auto stats = apply_all();
  EXPECT_EQ(stats.items_applied, 1);
  EXPECT_EQ(stats.items_exception, 3);
  EXPECT_EQ(ledger_.held(ledger_.buyer), 1000);  // only T-1, once

  EXPECT_EQ(status("GXM-2")["trades"][0]["reason_code"], "INSUFFICIENT_BALANCE");
  EXPECT_EQ(status("GXM-3")["trades"][0]["reason_code"], "UNKNOWN_ACCOUNT");
  auto d = status("GXM-4");
  EXPECT_EQ(d["status"], "exception");
  EXPECT_EQ(d["reason_code"], "DUPLICATE_TRADE");

  auto ex = intake::list_exceptions(ledger_.app(), {std::string("gx-market"), std::string("open"), std::nullopt, 100});
  ASSERT_EQ(ex.size(), 3u);
  std::set<std::string> codes;
  for (const auto& e : ex) {
    codes.insert(e.reason_code);
    EXPECT_EQ(e.type, "processing");
    EXPECT_FALSE(e.detail.empty());
  }
  EXPECT_EQ(codes, (std::set<std::string>{"INSUFFICIENT_BALANCE", "UNKNOWN_ACCOUNT", "DUPLICATE_TRADE"}));
  // Exceptions are not final: no callback for them yet.
  EXPECT_EQ(count("SELECT count(*) FROM outbox"), 1);
  EXPECT_TRUE(ledger_.ledger().verify().ok());
}

TEST_F(GxMarketIntakeDbTest, ABatchAppliesEachTradeOnItsOwn) {
  json batch = {{"message_id", "GXM-B-1"}, {"sent_at", f.jst(f.now)}, {"settlements", json::array()}};
  for (int i = 0; i < 3; ++i) {
    auto s = f.settlement("B" + std::to_string(i), ledger_.seller, ledger_.buyer, i == 1 ? 1000000 : 100);
    s.erase("message_id");
    s.erase("sent_at");
    batch["settlements"].push_back(s);
  }
  auto r = post("settlements:batch", f.sign(batch, "settlement-batch"));
  ASSERT_EQ(r.status, 202) << r.body;
  auto accepted = f.receipt_payload(r.body);
  ASSERT_EQ(accepted["trades"].size(), 3u);
  apply_all();
  auto receipt = status("GXM-B-1");
  EXPECT_EQ(receipt["trades"][0]["status"], "applied");
  EXPECT_EQ(receipt["trades"][1]["status"], "exception");
  EXPECT_EQ(receipt["trades"][1]["reason_code"], "INSUFFICIENT_BALANCE");
  EXPECT_EQ(receipt["trades"][2]["status"], "applied");
  EXPECT_NE(receipt["trades"][0]["hub_ref"], receipt["trades"][2]["hub_ref"]);
  EXPECT_EQ(ledger_.held(ledger_.buyer), 200);
}

TEST_F(GxMarketIntakeDbTest, StatementsAreStoredAndACorrectionSupersedesTheFirst) {
  json st = {{"message_id", "GXM-S-1"}, {"sent_at", f.jst(f.now)}, {"business_date", "2026-11-21"},
             {"trade_count", 0}, {"total_quantity", 0}, {"trades", json::array()}};
  ASSERT_EQ(post("statements", f.sign(st, "statement")).status, 202);
  st["message_id"] = "GXM-S-2";
  ASSERT_EQ(post("statements", f.sign(st, "statement")).status, 202);
  apply_all();
  auto r = ledger_.app().exec("SELECT message_id, superseded_by IS NOT NULL FROM statements ORDER BY id");
  ASSERT_EQ(r.rows(), 2);
  EXPECT_EQ(r.get(0, 1), "t");
  EXPECT_EQ(r.get(1, 1), "f");
  EXPECT_EQ(status("GXM-S-2")["status"], "applied");
}

TEST_F(GxMarketIntakeDbTest, StatusOfAnUnknownMessageIs404) {
  auto r = service_.handle_status(f.connector, "GXM-nope");
  EXPECT_EQ(r.status, 404);
}

}  // namespace
}  // namespace hub::connectors
