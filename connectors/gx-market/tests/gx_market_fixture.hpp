#pragma once
// What the gx-market tests share: a sender key registered under a kid in a fake trust
// view, a hub receipt signer with its own certificate (both generated per test run), and
// helpers that build signed messages exactly as gx-market.md shows them.

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "connectors/gx_market.hpp"
#include "hub/core/clock.hpp"
#include "hub/core/digest.hpp"
#include "hub/intake/receipt_signer.hpp"
#include "hub/signing/jws.hpp"
#include "hub/testing/test_env.hpp"

namespace hub::connectors::testing {

// A trust view that allows every TLS client and knows the keys put into it.
class FakeTrust final : public intake::TrustView {
 public:
  Status tls_client_allowed(const std::string&, const http::PeerCertificate&, TimePoint) const override { return {}; }
  Result<signing::PublicKey> signing_key(const std::string& connector, const std::string& kid,
                                         TimePoint) const override {
    auto it = keys.find(connector + "/" + kid);
    if (it == keys.end()) return make_error("SIGNATURE_INVALID", "kid '" + kid + "' is not registered for " + connector);
    return it->second;
  }
  std::vector<signing::PublicKey> signing_certificates(const std::string& connector, TimePoint) const override {
    std::vector<signing::PublicKey> out;
    for (const auto& [k, v] : keys) {
      if (k.rfind(connector + "/", 0) == 0) out.push_back(v);
    }
    return out;
  }
  std::map<std::string, signing::PublicKey> keys;
};

// Generates a key pair (and a self-signed certificate) with the openssl command-line tool.
struct GeneratedKey {
  std::filesystem::path key_file, cert_file;
  signing::PrivateKey key;
  signing::PublicKey cert;
};

inline GeneratedKey generate_key(const std::filesystem::path& dir, const std::string& name,
                                 const std::string& curve = "P-256") {
  GeneratedKey g;
  g.key_file = dir / (name + ".key");
  g.cert_file = dir / (name + ".crt");
  auto r = hub::testing::run_command({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                      "ec_paramgen_curve:" + curve, "-nodes", "-keyout", g.key_file.string(), "-out",
                                      g.cert_file.string(), "-days", "2", "-subj", "/CN=" + name});
  if (r.exit_code != 0) throw std::runtime_error("openssl req failed: " + r.output);
  g.key = signing::PrivateKey::from_file(g.key_file.string()).value();
  g.cert = signing::PublicKey::from_file(g.cert_file.string()).value();
  return g;
}

inline const std::string kSeller = "JP-GX-100-0000018";

class GxMarketFixture {
 public:
  GxMarketFixture()
      : sender(generate_key(dir.path(), "gx-market-sender")),
        stranger(generate_key(dir.path(), "stranger")),
        hub_key(generate_key(dir.path(), "hub-receipt")),
        signer(intake::JwsReceiptSigner::load(hub_key.key_file.string(), hub_key.cert_file.string(), "hub-test")
                   .value()),
        connector(signer) {
    trust.keys["gx-market/gxm-test-01"] = sender.cert;
  }

  static std::string jst(TimePoint t) {
    // The market writes Japan time with its offset, as the spec's examples do.
    auto utc = format_rfc3339_utc(t + std::chrono::hours(9));
    return utc.substr(0, 19) + "+09:00";
  }

  nlohmann::json settlement(const std::string& n, const std::string& seller, const std::string& buyer,
                            std::int64_t quantity) const {
    return {{"message_id", "GXM-" + n},
            {"sent_at", jst(now)},
            {"trade_id", "T-" + n},
            {"trade_date", "2026-11-21"},
            {"settlement_date", "2026-11-21"},
            {"session", "continuous"},
            {"seller_account", seller},
            {"buyer_account", buyer},
            {"unit_type", "GXA"},
            {"vintage", 2026},
            {"quantity", quantity},
            {"price_jpy", 2450}};
  }

  std::string sign(const nlohmann::json& payload, const std::string& cty = "settlement",
                   const std::string& kid = "gxm-test-01", const signing::PrivateKey* key = nullptr) const {
    return signing::sign_jws({{"alg", "ES256"}, {"kid", kid}, {"typ", "gx-market+jws"}, {"cty", cty}},
                             payload.dump(), key != nullptr ? *key : sender.key)
        .value();
  }

  http::Request request(const std::string& endpoint_path, std::string body) const {
    http::Request r;
    r.method = "POST";
    r.path = "/connectors/gx-market/v1/" + endpoint_path;
    r.target = r.path;
    r.headers["content-type"] = "application/jose";
    r.body = std::move(body);
    r.peer.present = true;
    r.peer.subject = "CN=gx-market";
    r.peer.fingerprint_sha256 = std::string(64, 'a');
    r.remote_address = "127.0.0.1:40000";
    return r;
  }

  const intake::Endpoint& endpoint(const std::string& path) const {
    for (const auto& e : connector.endpoints()) {
      if (e.path == path) return e;
    }
    throw std::out_of_range(path);
  }

  // The payload of a JWS receipt, after verifying it with the hub's receipt certificate.
  nlohmann::json receipt_payload(const std::string& jws) const {
    signing::JwsPolicy policy;
    policy.expected_typ = "gx-hub-receipt+jws";
    auto v = signing::verify_jws(
        jws, [&](const std::string& kid) -> Result<signing::PublicKey> {
          if (kid != "hub-test") return make_error("SIGNATURE_INVALID", "unexpected receipt kid " + kid);
          return hub_key.cert;
        },
        policy);
    if (!v.ok()) throw std::runtime_error("receipt does not verify: " + v.error().to_string());
    return nlohmann::json::parse(v->payload);
  }

  hub::testing::TempDir dir;
  GeneratedKey sender, stranger, hub_key;
  intake::JwsReceiptSigner signer;
  GxMarketConnector connector;
  FakeTrust trust;
  ManualClock clock{*parse_rfc3339("2026-11-21T15:30:05+09:00")};
  TimePoint now = *parse_rfc3339("2026-11-21T15:30:02+09:00");
};

}  // namespace hub::connectors::testing
