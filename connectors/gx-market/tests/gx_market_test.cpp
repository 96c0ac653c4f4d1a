#include "connectors/gx_market.hpp"

#include <gtest/gtest.h>

#include "gx_market_fixture.hpp"

namespace hub::connectors {
namespace {

using nlohmann::json;
using testing::GxMarketFixture;
using testing::kSeller;

const std::string kBuyer = "JP-GX-100-0000026";

intake::Refusal refusal_of(const intake::AcceptOutcome& o) {
  if (!std::holds_alternative<intake::Refusal>(o)) throw std::runtime_error("expected a refusal, got an acceptance");
  return std::get<intake::Refusal>(o);
}

class GxMarketTest : public ::testing::Test {
 protected:
  intake::AcceptOutcome accept(const std::string& path, const std::string& body) {
    return f.connector.accept(f.endpoint(path), f.request(path, body), f.trust, f.clock.now());
  }
  intake::Refusal refused_settlement(json payload) {
    return refusal_of(accept("settlements", f.sign(payload)));
  }
  GxMarketFixture f;
};

TEST_F(GxMarketTest, MapsASettledTradeToOneTransferKeyedByTradeId) {
  auto payload = f.settlement("1", kSeller, kBuyer, 1000);
  auto out = accept("settlements", f.sign(payload));
  ASSERT_TRUE(std::holds_alternative<intake::AcceptedMessage>(out)) << refusal_of(out).detail;
  const auto& m = std::get<intake::AcceptedMessage>(out);
  EXPECT_EQ(m.message_id, "GXM-1");
  EXPECT_EQ(m.signer, "gxm-test-01");
  EXPECT_EQ(m.payload_sha256, sha256_hex(payload.dump()));
  ASSERT_TRUE(m.sent_at.has_value());
  EXPECT_EQ(format_rfc3339_utc(*m.sent_at), "2026-11-21T06:30:02.000Z");
  ASSERT_EQ(m.command["items"].size(), 1u);
  const auto& t = m.command["items"][0];
  EXPECT_EQ(t["type"], "transfer");
  EXPECT_EQ(t["key"], "gx-market:trade:T-1");
  EXPECT_EQ(t["from"], kSeller);
  EXPECT_EQ(t["to"], kBuyer);
  EXPECT_EQ(t["unit"], "GXA");
  EXPECT_EQ(t["vintage"], 2026);
  EXPECT_EQ(t["quantity"], 1000);
  EXPECT_EQ(t["duplicate_reason"], "DUPLICATE_TRADE");
}

TEST_F(GxMarketTest, RefusesWhatIsNotSignedByARegisteredKeyWith401) {
  auto payload = f.settlement("2", kSeller, kBuyer, 10);
  auto unknown_kid = refusal_of(accept("settlements", f.sign(payload, "settlement", "gxm-unknown")));
  EXPECT_EQ(unknown_kid.http_status, 401);
  EXPECT_EQ(unknown_kid.code, "SIGNATURE_INVALID");
  EXPECT_NE(unknown_kid.detail.find("gxm-unknown"), std::string::npos);
  EXPECT_EQ(unknown_kid.message_id, "GXM-2");  // read for the answer, never trusted

  auto wrong_key = refusal_of(accept("settlements", f.sign(payload, "settlement", "gxm-test-01", &f.stranger.key)));
  EXPECT_EQ(wrong_key.http_status, 401);
  EXPECT_EQ(wrong_key.code, "SIGNATURE_INVALID");

  // The payload altered after signing.
  auto jws = f.sign(payload);
  auto tampered_payload = payload;
  tampered_payload["quantity"] = 9999;
  auto first_dot = jws.find('.');
  auto second_dot = jws.find('.', first_dot + 1);
  auto other = f.sign(tampered_payload);
  auto other_first = other.find('.');
  auto other_second = other.find('.', other_first + 1);
  std::string spliced = jws.substr(0, first_dot + 1) + other.substr(other_first + 1, other_second - other_first - 1) +
                        jws.substr(second_dot);
  auto bad = refusal_of(accept("settlements", spliced));
  EXPECT_EQ(bad.http_status, 401);

  auto not_jws = refusal_of(accept("settlements", payload.dump()));
  EXPECT_EQ(not_jws.http_status, 401);
  EXPECT_EQ(not_jws.code, "SIGNATURE_INVALID");
}

TEST_F(GxMarketTest, RefusesACtyThatDoesNotMatchTheEndpoint) {
  auto r = refusal_of(accept("settlements", f.sign(f.settlement("3", kSeller, kBuyer, 10), "statement")));
  EXPECT_EQ(r.http_status, 401);
  EXPECT_NE(r.detail.find("cty"), std::string::npos) << r.detail;
}

TEST_F(GxMarketTest, RefusesAnotherContentTypeAsMalformed) {
  auto req = f.request("settlements", f.sign(f.settlement("4", kSeller, kBuyer, 10)));
  req.headers["content-type"] = "application/json";
  auto r = refusal_of(f.connector.accept(f.endpoint("settlements"), req, f.trust, f.clock.now()));
  EXPECT_EQ(r.http_status, 400);
  EXPECT_EQ(r.code, "MALFORMED");
  EXPECT_EQ(r.message_id, "GXM-4");
}

TEST_F(GxMarketTest, SchemaViolationsNameTheField) {
  struct Case {
    std::string field;
    json value;  // null: remove the field
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"quantity", 0, "quantity is 0; it must be between 1 and 10000000"},
      {"quantity", 10000001, "quantity is 10000001"},
      {"quantity", 12.5, "quantity must be a whole number"},
      {"quantity", "1000", "quantity must be a whole number"},
      {"price_jpy", 1000001, "price_jpy is 1000001"},
      {"vintage", 2025, "vintage is 2025"},
      {"unit_type", "JCR", "unit_type 'JCR' is not one of GXA"},
      {"session", "night", "session 'night' is not one of auction, block, continuous"},
      {"seller_account", "JP-GX-100-0000019", "seller_account "},
      {"buyer_account", "JP-GX-100-00000", "buyer_account "},
      {"trade_date", "2026-02-30", "trade_date '2026-02-30' is not a date"},
      {"settlement_date", "2026-11-20", "settlement_date is 2026-11-20, before the trade_date 2026-11-21"},
      {"trade_id", nullptr, "trade_id is required"},
      {"extra", "x", "extra is not a field of this message"},
  };
  for (const auto& c : cases) {
    auto p = f.settlement("5", kSeller, kBuyer, 10);
    if (c.value.is_null()) {
      p.erase(c.field);
    } else {
      p[c.field] = c.value;
    }
    auto r = refused_settlement(p);
    EXPECT_EQ(r.http_status, 400) << c.field;
    EXPECT_EQ(r.code, "SCHEMA_VIOLATION") << c.field;
    EXPECT_NE(r.detail.find(c.expect), std::string::npos) << c.field << ": " << r.detail;
    EXPECT_EQ(r.message_id, "GXM-5");
  }
  auto p = f.settlement("6", kSeller, kBuyer, 10);
  p["sent_at"] = "2026-11-21 15:30:02";
  auto r = refused_settlement(p);
  EXPECT_EQ(r.code, "SCHEMA_VIOLATION");
  EXPECT_NE(r.detail.find("sent_at"), std::string::npos);
}

TEST_F(GxMarketTest, BatchMapsEachSettlementAndNamesTheFailingElement) {
  json batch = {{"message_id", "GXM-B-1"}, {"sent_at", f.jst(f.now)}, {"settlements", json::array()}};
  for (int i = 0; i < 3; ++i) {
    auto s = f.settlement("B" + std::to_string(i), kSeller, kBuyer, 10 + i);
    s.erase("message_id");
    s.erase("sent_at");
    batch["settlements"].push_back(s);
  }
  auto out = accept("settlements:batch", f.sign(batch, "settlement-batch"));
  ASSERT_TRUE(std::holds_alternative<intake::AcceptedMessage>(out)) << refusal_of(out).detail;
  const auto& items = std::get<intake::AcceptedMessage>(out).command["items"];
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[2]["key"], "gx-market:trade:T-B2");
  EXPECT_EQ(items[2]["quantity"], 12);

  batch["settlements"][1]["quantity"] = -1;
  auto r = refusal_of(accept("settlements:batch", f.sign(batch, "settlement-batch")));
  EXPECT_EQ(r.code, "SCHEMA_VIOLATION");
  EXPECT_NE(r.detail.find("settlements[1].quantity"), std::string::npos) << r.detail;

  batch["settlements"] = json::array();
  r = refusal_of(accept("settlements:batch", f.sign(batch, "settlement-batch")));
  EXPECT_NE(r.detail.find("1 to 5000"), std::string::npos) << r.detail;
}

TEST_F(GxMarketTest, StatementKeepsItsTradesAndLeavesTotalsToReconciliation) {
  json st = {{"message_id", "GXM-S-1"},
             {"sent_at", f.jst(f.now)},
             {"business_date", "2026-11-21"},
             {"trade_count", 3},  // disagrees with its lines: a TOTALS_MISMATCH break later, not a refusal
             {"total_quantity", 1500},
             {"trades", {{{"trade_id", "T1"}, {"seller_account", kSeller}, {"buyer_account", kBuyer},
                          {"vintage", 2026}, {"quantity", 1000}}}}};
  auto out = accept("statements", f.sign(st, "statement"));
  ASSERT_TRUE(std::holds_alternative<intake::AcceptedMessage>(out)) << refusal_of(out).detail;
  const auto& item = std::get<intake::AcceptedMessage>(out).command["items"][0];
  EXPECT_EQ(item["type"], "statement");
  EXPECT_EQ(item["business_date"], "2026-11-21");
  EXPECT_EQ(item["payload"]["trades"].size(), 1u);

  st["trades"][0]["extra"] = 1;
  auto r = refusal_of(accept("statements", f.sign(st, "statement")));
  EXPECT_NE(r.detail.find("trades[0].extra"), std::string::npos) << r.detail;
}

TEST_F(GxMarketTest, ReceiptIsAJwsOfTheHubWithTheSpecsFields) {
  intake::ReceiptData r{"GXM-1", "HUB-1", "settlement", "exception", std::string("INSUFFICIENT_BALANCE"),
                        "2026-11-21T06:30:03.000Z", std::string(64, 'b'),
                        {{"T-1", "HUB-1-1", "exception", std::string("INSUFFICIENT_BALANCE")}}};
  auto jws = f.connector.sign_receipt(r);
  auto p = f.receipt_payload(jws);
  EXPECT_EQ(p["message_id"], "GXM-1");
  EXPECT_EQ(p["hub_ref"], "HUB-1");
  EXPECT_EQ(p["status"], "exception");
  EXPECT_EQ(p["reason_code"], "INSUFFICIENT_BALANCE");
  EXPECT_EQ(p["body_sha256"], std::string(64, 'b'));
  EXPECT_EQ(p["trades"][0]["trade_id"], "T-1");
  EXPECT_EQ(p["trades"][0]["status"], "exception");
  EXPECT_EQ(p["trades"][0]["reason_code"], "INSUFFICIENT_BALANCE");
}

}  // namespace
}  // namespace hub::connectors
