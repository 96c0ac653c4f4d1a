#pragma once
// A hubd of the test's own (HubdFixture) with the dev PKI registered in its trust store
// and a small registry set up through hubctl: the Organization's issuance account
// JP-GX-200-0000000, one company with the holding accounts JP-GX-100-0000018 and
// JP-GX-100-0000026, 100,000 GXA of 2026 issued and 5,000 given to ...018. Helpers sign
// settlements with the dev gx-market key and verify the hub's receipts.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "hub/core/clock.hpp"
#include "hub/signing/jws.hpp"
#include "hubd_fixture.hpp"

namespace hub {

using nlohmann::json;

class IntakeFixture : public HubdFixture {
 protected:
  // Extra environment for hubd (e.g. a fixed HUB_HTTPS_PORT).
  virtual std::map<std::string, std::string> hubd_env() { return {}; }

  void SetUp() override {
    HubdFixture::SetUp();
    hubd_ = start_hubd(hubd_env());
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

}  // namespace hub
