// The intake path end to end with the real binaries: hubd over mutual TLS, the dev PKI's
// gx-market certificate and signing key registered through hubctl, real JWS signatures,
// PostgreSQL and RabbitMQ, and the ledger set up with hubctl.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "hub/core/digest.hpp"
#include "intake_fixture.hpp"

namespace hub {
namespace {

using nlohmann::json;

class IntakeE2eTest : public IntakeFixture {};

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
