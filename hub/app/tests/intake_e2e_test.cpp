// The intake path end to end with the real binaries: hubd over mutual TLS, the dev PKI's
// gx-market certificate and signing key registered through hubctl, real JWS signatures,
// PostgreSQL and RabbitMQ, and the ledger set up with hubctl.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "hub/core/clock.hpp"
#include "hub/core/digest.hpp"
#include "hub/signing/jws.hpp"
#include "hubd_fixture.hpp"

namespace hub {
namespace {

using nlohmann::json;

class IntakeE2eTest : public HubdFixture {
 protected:
  void SetUp() override {
    HubdFixture::SetUp();
    hubd_ = start_hubd();
    ASSERT_GT(port_, 0) << ht::read_file(log_file());
    auto imported = hubctl({"trust", "import-dev-pki", (ht::var_dir() / "pki").string()});
    ASSERT_EQ(imported.exit_code, 0) << imported.output;
    // hubd's trust snapshot follows the database within about a second.
    ASSERT_TRUE(ht::wait_until(
        [&] {
          auto r = call("GET", "/connectors/gx-market/v1/receipt-certificate", "", "gx-market-tls-client");
          return r.ok() && r->status == 200;
        },
        10s));
    // A registry: the Organization, one company with two holding accounts, allowances.
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"company", "add", "--number", "7000012050002", "--name", "GX推進機構", "--kind", "organization"},
             {"company", "add", "--number", "7123456789012", "--name", "株式会社サンプル製鉄", "--kind", "covered"},
             {"account", "open", "--type", "200", "--holder", "7000012050002", "--name", "発行口座", "--number",
              "JP-GX-200-0000000"},
             {"account", "open", "--type", "100", "--holder", "7123456789012", "--name", "保有口座",
              "--number", "JP-GX-100-0000018"},
             {"account", "open", "--type", "100", "--holder", "7123456789012", "--name", "保有口座2",
              "--number", "JP-GX-100-0000026"},
         }) {
      auto r = hubctl(args);
      ASSERT_EQ(r.exit_code, 0) << r.output;
    }
    issuance_ = "JP-GX-200-0000000";
    auto r = hubctl({"issue", "--account", issuance_, "--vintage", "2026", "--quantity", "100000", "--approved-by", "bob"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    r = hubctl({"allocate", "--from", issuance_, "--to", "JP-GX-100-0000018", "--vintage", "2026", "--quantity", "5000"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    key_ = signing::PrivateKey::from_file((ht::var_dir() / "pki" / "gx-market-sign.key").string()).value();
    kid_ = ht::read_file(ht::var_dir() / "pki" / "gx-market-sign.kid");
    while (!kid_.empty() && (kid_.back() == '\n' || kid_.back() == ' ')) kid_.pop_back();
    receipt_cert_ = signing::PublicKey::from_file((ht::var_dir() / "pki" / "hub-receipt-ec.crt").string()).value();
  }

  std::string settlement(const std::string& n, std::int64_t quantity) {
    auto jst = format_rfc3339_utc(std::chrono::system_clock::now() + std::chrono::hours(9)).substr(0, 19) + "+09:00";
    json p = {{"message_id", "GXM-E2E-" + n}, {"sent_at", jst}, {"trade_id", "T-E2E-" + n},
              {"trade_date", "2026-11-21"}, {"settlement_date", "2026-11-21"}, {"session", "continuous"},
              {"seller_account", "JP-GX-100-0000018"}, {"buyer_account", "JP-GX-100-0000026"},
              {"unit_type", "GXA"}, {"vintage", 2026}, {"quantity", quantity}, {"price_jpy", 2450}};
    return signing::sign_jws({{"alg", "ES256"}, {"kid", kid_}, {"typ", "gx-market+jws"}, {"cty", "settlement"}},
                             p.dump(), key_)
        .value();
  }

  Result<http::ClientResponse> post(const std::string& body, const std::string& client = "gx-market-tls-client") {
    return call("POST", "/connectors/gx-market/v1/settlements", body, client,
                {{"Content-Type", "application/jose"}});
  }

  json receipt(const std::string& jws) {
    signing::JwsPolicy policy;
    policy.expected_typ = "gx-hub-receipt+jws";
    auto v = signing::verify_jws(jws, [&](const std::string&) -> Result<signing::PublicKey> { return receipt_cert_; },
                                 policy);
    if (!v.ok()) throw std::runtime_error("receipt does not verify with the published certificate: " + v.error().to_string());
    return json::parse(v->payload);
  }

  std::unique_ptr<ht::ChildProcess> hubd_;
  std::string issuance_;
  signing::PrivateKey key_;
  std::string kid_;
  signing::PublicKey receipt_cert_;
};

TEST_F(IntakeE2eTest, ASettledTradeIsAcceptedAppliedAndItsReceiptsVerify) {
  auto body = settlement("1", 1000);
  auto r = post(body);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  ASSERT_EQ(r->status, 202) << r->body << ht::read_file(log_file());
  auto accepted = receipt(r->body);
  EXPECT_EQ(accepted["status"], "accepted");
  EXPECT_EQ(accepted["body_sha256"], sha256_hex(body));

  // The published receipt certificate is the one receipts verify with.
  auto cert = call("GET", "/connectors/gx-market/v1/receipt-certificate", "", "gx-market-tls-client");
  ASSERT_TRUE(cert.ok());
  EXPECT_EQ(signing::PublicKey::from_pem(cert->body).value().info().fingerprint_sha256,
            receipt_cert_.info().fingerprint_sha256);

  json final;
  ASSERT_TRUE(ht::wait_until(
      [&] {
        auto s = call("GET", "/connectors/gx-market/v1/messages/GXM-E2E-1", "", "gx-market-tls-client");
        if (!s.ok() || s->status != 200) return false;
        final = receipt(s->body);
        return final["status"] != "accepted";
      },
      20s))
      << ht::read_file(log_file());
  EXPECT_EQ(final["status"], "applied");
  EXPECT_EQ(final["hub_ref"], accepted["hub_ref"]);

  auto again = post(body);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(again->body, r->body);

  auto balances = hubctl({"balances", "JP-GX-100-0000026"});
  ASSERT_EQ(balances.exit_code, 0) << balances.output;
  EXPECT_NE(balances.output.find("1,000"), std::string::npos) << balances.output;
  auto verify = hubctl({"ledger", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
}

TEST_F(IntakeE2eTest, ACertificateNotRegisteredForTheConnectorIsRefusedBeforeTheBody) {
  // jcredit's certificate is registered, but for jcredit, not gx-market.
  auto r = post(settlement("2", 10), "jcredit-tls-client");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->status, 403);
  auto none = post(settlement("3", 10), "");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->status, 403);
  auto q = hubctl({"quarantine"});
  EXPECT_NE(q.output.find("0 refused request(s)"), std::string::npos) << q.output;  // body never read
}

TEST_F(IntakeE2eTest, InsufficientBalanceBecomesAnExceptionListedByHubctl) {
  auto r = post(settlement("big", 999999));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 202) << r->body;
  ASSERT_TRUE(ht::wait_until(
      [&] {
        auto ex = hubctl({"exceptions", "--json"});
        return ex.exit_code == 0 && ex.output.find("INSUFFICIENT_BALANCE") != std::string::npos;
      },
      20s))
      << ht::read_file(log_file());
  auto ex = json::parse(hubctl({"exceptions", "--json"}).output);
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0]["message_id"], "GXM-E2E-big");
  EXPECT_NE(ex[0]["detail"].get<std::string>().find("holds 5,000 GXA of 2026"), std::string::npos) << ex[0]["detail"];
  auto shown = hubctl({"messages", "show", "GXM-E2E-big", "--connector", "gx-market"});
  EXPECT_NE(shown.output.find("\"state\": \"exception\""), std::string::npos) << shown.output;
}

}  // namespace
}  // namespace hub
