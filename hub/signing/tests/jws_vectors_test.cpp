// The RFC 7515 / 7520 / 7797 vectors of ../shared/vectors/jws (see its PROVENANCE.md),
// judged by the hub's rules. `expect` in the file says what RFC conformance means; the
// hub accepts less than RFC 7515 allows, so each vector is checked like this:
//   reject                     -> refused;
//   valid, HMAC (kty oct)      -> refused by policy (HS* never identifies a sender);
//   valid, no kid in the
//     protected header         -> refused by policy (kid selects the registered key), and
//                                 the signature itself is checked with the primitive;
//   valid, with kid            -> verified through verify_jws, the key registered under kid;
//   valid-but-alg-unprotected  -> refused (alg must be integrity-protected).
// JSON serializations are checked in their compact form (protected.payload.signature):
// the hub accepts the compact serialization only.
// When ../shared/vectors is absent these tests fail with one line saying so: a missing
// conformance check is not a pass.

#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "hub/signing/jws.hpp"
#include "hub/testing/test_env.hpp"
#include "jws_crypto.hpp"
#include "test_keys.hpp"

namespace {

using hub::signing::JwsAlg;
using hub::signing::JwsPolicy;
using hub::signing::PublicKey;
using hub::signing::testing::from_b64url;
using nlohmann::json;

constexpr const char* kAbsent =
    "../shared/vectors is absent (see docs/development.md): the JWS vector tests cannot run";

json load_vectors() {
  auto dir = hub::testing::shared_vectors_dir();
  if (!dir) return nullptr;
  std::ifstream in(*dir / "jws" / "jws-vectors.json");
  return json::parse(in);
}

PublicKey key_from_jwk(const json& jwk) {
  const std::string kty = jwk.at("kty");
  if (kty == "RSA")
    return hub::signing::testing::rsa_public_key(from_b64url(jwk.at("n").get<std::string>()),
                                                 from_b64url(jwk.at("e").get<std::string>()));
  if (kty == "EC")
    return hub::signing::testing::ec_public_key(jwk.at("crv"),
                                                from_b64url(jwk.at("x").get<std::string>()),
                                                from_b64url(jwk.at("y").get<std::string>()));
  throw std::runtime_error("no public key for kty " + kty);
}

struct Compact {
  std::string text;
  const json* jwk;
};

// Every compact JWS a vector holds, each with the JWK that verifies it.
std::vector<Compact> compacts_of(const json& v, const json& all) {
  std::vector<Compact> out;
  const json* jwk = v.contains("jwk") ? &v.at("jwk") : nullptr;
  if (v.contains("compact")) out.push_back({v.at("compact"), jwk});
  if (v.contains("json")) {
    const json& j = v.at("json");
    auto add = [&](const json& sig) {
      std::string prot = sig.value("protected", "");
      const json* key = jwk;
      // RFC 7515 A.6 signs with the A.2 (RSA) and A.3 (EC) keys; the file gives the first.
      if (!prot.empty() && json::parse(from_b64url(prot)).value("alg", "") == "ES256") {
        for (const auto& other : all) {
          if (other.value("id", "") == "rfc7515-A3") key = &other.at("jwk");
        }
      }
      out.push_back({prot + "." + j.at("payload").get<std::string>() + "." +
                         sig.at("signature").get<std::string>(),
                     key});
    };
    if (j.contains("signatures")) {
      for (const auto& sig : j.at("signatures")) add(sig);
    } else {
      add(j);
    }
  }
  if (v.contains("detached_json")) {
    const json& d = v.at("detached_json");
    out.push_back(
        {d.at("protected").get<std::string>() + ".." + d.at("signature").get<std::string>(), jwk});
  }
  return out;
}

JwsPolicy every_implemented_alg() {
  JwsPolicy p;
  p.allowed_algs = {JwsAlg::kEs256, JwsAlg::kEs384, JwsAlg::kEs512, JwsAlg::kEdDsa, JwsAlg::kRs256,
                    JwsAlg::kRs384, JwsAlg::kRs512, JwsAlg::kPs256, JwsAlg::kPs384, JwsAlg::kPs512};
  return p;
}

TEST(JwsVectorsTest, EachVectorBehavesAsItsExpectationUnderTheHubsRules) {
  json vectors = load_vectors();
  ASSERT_FALSE(vectors.is_null()) << kAbsent;
  ASSERT_GE(vectors.size(), 18u);
  int verified = 0, refused_by_policy = 0, primitive_checked = 0, rejected = 0;
  for (const auto& v : vectors) {
    if (!v.contains("expect")) continue;
    const std::string id = v.at("id");
    const std::string expect = v.at("expect");
    for (const auto& c : compacts_of(v, vectors)) {
      SCOPED_TRACE(id + ": " + c.text.substr(0, 60));
      json header = json::parse(from_b64url(c.text.substr(0, c.text.find('.'))), nullptr, false);
      std::string kid = header.is_object() ? header.value("kid", "") : "";
      bool hmac = c.jwk != nullptr && c.jwk->value("kty", "") == "oct";
      std::optional<PublicKey> key;
      if (c.jwk != nullptr && !hmac) key = key_from_jwk(*c.jwk);
      hub::signing::KeyResolver resolve = [&](const std::string& asked) -> hub::Result<PublicKey> {
        if (key && asked == kid) return *key;
        return hub::make_error("UNKNOWN_KID", "not registered");
      };
      auto r = hub::signing::verify_jws(c.text, resolve, every_implemented_alg());

      if (expect == "reject") {
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().code, "SIGNATURE_INVALID");
        ++rejected;
      } else if (expect == "valid-but-alg-unprotected") {
        ASSERT_FALSE(r.ok());
        EXPECT_NE(r.error().message.find("protected header is empty"), std::string::npos)
            << r.error().message;
        ++refused_by_policy;
      } else if (hmac) {
        ASSERT_FALSE(r.ok());
        EXPECT_NE(r.error().message.find("HMAC"), std::string::npos) << r.error().message;
        ++refused_by_policy;
      } else if (kid.empty()) {
        ASSERT_FALSE(r.ok());
        EXPECT_NE(r.error().message.find("no \"kid\""), std::string::npos) << r.error().message;
        // The RFC's point stands: the signature is right, and a changed payload is not.
        auto alg = hub::signing::jws_alg_from_name(header.at("alg").get<std::string>());
        ASSERT_TRUE(alg.has_value());
        std::size_t dot = c.text.rfind('.');
        std::string signature = from_b64url(c.text.substr(dot + 1));
        EXPECT_TRUE(hub::signing::detail::jws_verify_signature(*alg, c.text.substr(0, dot),
                                                               signature, key->pkey())
                        .ok());
        EXPECT_FALSE(hub::signing::detail::jws_verify_signature(*alg, c.text.substr(0, dot) + "A",
                                                                signature, key->pkey())
                         .ok());
        ++primitive_checked;
      } else {
        ASSERT_TRUE(r.ok()) << r.error().to_string();
        EXPECT_EQ(r->kid, kid);
        std::string payload_part = c.text.substr(c.text.find('.') + 1);
        EXPECT_EQ(r->payload, from_b64url(payload_part.substr(0, payload_part.find('.'))));
        ++verified;
      }
    }
  }
  // The counts pin down that every branch ran on the file as shipped.
  EXPECT_EQ(rejected, 2);           // A.5 (none), E (crit with none)
  EXPECT_GE(verified, 6);           // RFC 7520 4.1-4.3, compact and flattened
  EXPECT_GE(primitive_checked, 5);  // A.2, A.3, A.4, A.6 (two signatures)
  EXPECT_GE(refused_by_policy, 6);  // HS256 vectors, 4.7, RFC 7797
}

TEST(JwsVectorsTest, DefaultPolicyRefusesPs384AndEs512FromRfc7520) {
  json vectors = load_vectors();
  ASSERT_FALSE(vectors.is_null()) << kAbsent;
  int checked = 0;
  for (const auto& v : vectors) {
    const std::string id = v.value("id", "");
    if (id != "rfc7520-4.2-compact" && id != "rfc7520-4.3-compact") continue;
    PublicKey key = key_from_jwk(v.at("jwk"));
    auto resolve = [&](const std::string&) -> hub::Result<PublicKey> { return key; };
    auto r = hub::signing::verify_jws(v.at("compact").get<std::string>(), resolve);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("is not allowed here"), std::string::npos)
        << r.error().message;
    ++checked;
  }
  EXPECT_EQ(checked, 2);
}

TEST(JwsVectorsTest, UnsecuredJwsFileIsRefused) {
  auto dir = hub::testing::shared_vectors_dir();
  ASSERT_TRUE(dir.has_value()) << kAbsent;
  std::string jws = hub::testing::read_file(*dir / "jws" / "rfc7515-A5-alg-none.jws");
  while (!jws.empty() && (jws.back() == '\n' || jws.back() == '\r')) jws.pop_back();
  auto any_key = [](const std::string&) -> hub::Result<PublicKey> {
    return hub::signing::testing::test_key(hub::signing::testing::KeyKind::kRsa2048).spki;
  };
  auto r = hub::signing::verify_jws(jws, any_key, every_implemented_alg());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "SIGNATURE_INVALID");
  // Three parts, the last empty: refused as a missing signature before alg is even read.
  EXPECT_NE(r.error().message.find("signature"), std::string::npos) << r.error().message;
}

}  // namespace
