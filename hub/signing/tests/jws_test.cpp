#include "hub/signing/jws.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include "jws_crypto.hpp"
#include "ossl.hpp"
#include "test_keys.hpp"

namespace {

using hub::signing::JwsAlg;
using hub::signing::JwsPolicy;
using hub::signing::KeyResolver;
using hub::signing::PublicKey;
using hub::signing::sign_jws;
using hub::signing::verify_jws;
using hub::signing::testing::b64url;
using hub::signing::testing::KeyKind;
using hub::signing::testing::test_key;
using nlohmann::json;

JwsPolicy all_algs() {
  JwsPolicy p;
  p.allowed_algs = {JwsAlg::kEs256, JwsAlg::kEs384, JwsAlg::kEs512, JwsAlg::kEdDsa, JwsAlg::kRs256,
                    JwsAlg::kRs384, JwsAlg::kRs512, JwsAlg::kPs256, JwsAlg::kPs384, JwsAlg::kPs512};
  return p;
}

// A trust store of one kid.
KeyResolver one_key(const std::string& kid, const PublicKey& key) {
  return [kid, key](const std::string& asked) -> hub::Result<PublicKey> {
    if (asked == kid) return key;
    return hub::make_error("UNKNOWN_KID", "no key is registered under this kid");
  };
}

using TestKeyRef = hub::signing::testing::TestKey;

// A JWS whose header text is exactly `header` (so that tests can put in it what
// sign_jws refuses to write), correctly signed by `key` with `alg`.
std::string craft(const std::string& header, const std::string& payload, JwsAlg alg,
                  const TestKeyRef& key) {
  std::string input = b64url(header) + "." + b64url(payload);
  auto sig = hub::signing::detail::jws_create_signature(alg, input, key.private_key.pkey());
  if (!sig) throw std::runtime_error(sig.error().to_string());
  return input + "." + b64url(*sig);
}

const TestKeyRef& key_for(JwsAlg alg) {
  switch (alg) {
    case JwsAlg::kEs256:
      return test_key(KeyKind::kEcP256);
    case JwsAlg::kEs384:
      return test_key(KeyKind::kEcP384);
    case JwsAlg::kEs512:
      return test_key(KeyKind::kEcP521);
    case JwsAlg::kEdDsa:
      return test_key(KeyKind::kEd25519);
    default:
      return test_key(KeyKind::kRsa2048);
  }
}

void expect_refused(const hub::Result<hub::signing::JwsVerified>& r, const std::string& fragment) {
  ASSERT_FALSE(r.ok()) << "expected a refusal mentioning '" << fragment << "'";
  EXPECT_EQ(r.error().code, "SIGNATURE_INVALID");
  EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
}

const std::string kPayload = R"({"message_id":"GXM-20261121-000001","quantity":100})";

TEST(JwsTest, SignsAndVerifiesEveryAlgorithm) {
  for (JwsAlg alg : all_algs().allowed_algs) {
    SCOPED_TRACE(std::string(hub::signing::jws_alg_name(alg)));
    const auto& key = key_for(alg);
    json header = {
        {"alg", hub::signing::jws_alg_name(alg)}, {"kid", "k1"}, {"typ", "gx-market+jws"}};
    auto jws = sign_jws(header, kPayload, key.private_key);
    ASSERT_TRUE(jws.ok()) << jws.error().to_string();
    auto v = verify_jws(*jws, one_key("k1", key.spki), all_algs());
    ASSERT_TRUE(v.ok()) << v.error().to_string();
    EXPECT_EQ(v->payload, kPayload);
    EXPECT_EQ(v->kid, "k1");
    EXPECT_EQ(v->alg, alg);
    EXPECT_EQ(v->header, header);
    EXPECT_EQ(v->key.info().fingerprint_sha256, key.spki.info().fingerprint_sha256);
  }
}

TEST(JwsTest, EcdsaSignatureIsRawRAndS) {
  auto jws =
      sign_jws({{"alg", "ES256"}, {"kid", "k1"}}, "x", test_key(KeyKind::kEcP256).private_key);
  ASSERT_TRUE(jws.ok());
  std::string sig = hub::signing::testing::from_b64url(jws->substr(jws->rfind('.') + 1));
  EXPECT_EQ(sig.size(), 64u);
  auto jws384 =
      sign_jws({{"alg", "ES384"}, {"kid", "k1"}}, "x", test_key(KeyKind::kEcP384).private_key);
  ASSERT_TRUE(jws384.ok());
  EXPECT_EQ(hub::signing::testing::from_b64url(jws384->substr(jws384->rfind('.') + 1)).size(), 96u);
}

TEST(JwsTest, RefusesTamperedPayloadHeaderAndSignature) {
  const auto& key = test_key(KeyKind::kEcP256);
  auto jws = sign_jws({{"alg", "ES256"}, {"kid", "k1"}}, kPayload, key.private_key);
  ASSERT_TRUE(jws.ok());
  auto resolve = one_key("k1", key.spki);
  std::size_t d1 = jws->find('.'), d2 = jws->rfind('.');

  std::string other_payload = jws->substr(0, d1 + 1) +
                              b64url(R"({"message_id":"GXM-20261121-000001","quantity":999})") +
                              jws->substr(d2);
  expect_refused(verify_jws(other_payload, resolve), "does not verify");

  std::string other_header = b64url(R"({"alg":"ES256","kid":"k1","x":1})") + jws->substr(d1);
  expect_refused(verify_jws(other_header, resolve), "does not verify");

  std::string sig = hub::signing::testing::from_b64url(jws->substr(d2 + 1));
  sig[10] = static_cast<char>(sig[10] ^ 1);
  expect_refused(verify_jws(jws->substr(0, d2 + 1) + b64url(sig), resolve), "does not verify");
}

TEST(JwsTest, RefusesAnotherKeyOfTheSameType) {
  auto jws = sign_jws({{"alg", "ES256"}, {"kid", "k1"}}, kPayload,
                      test_key(KeyKind::kEcP256, "a").private_key);
  ASSERT_TRUE(jws.ok());
  expect_refused(verify_jws(*jws, one_key("k1", test_key(KeyKind::kEcP256, "b").spki)),
                 "does not verify");
  ASSERT_TRUE(verify_jws(*jws, one_key("k1", test_key(KeyKind::kEcP256, "a").spki)).ok());
}

TEST(JwsTest, PassesResolverRefusalsThroughAsSignatureInvalid) {
  auto jws = sign_jws({{"alg", "ES256"}, {"kid", "gxm-2025-01"}}, kPayload,
                      test_key(KeyKind::kEcP256).private_key);
  ASSERT_TRUE(jws.ok());
  KeyResolver revoked = [](const std::string&) -> hub::Result<PublicKey> {
    return hub::make_error("KEY_REVOKED", "key gxm-2025-01 was revoked on 2026-10-01");
  };
  auto r = verify_jws(*jws, revoked);
  expect_refused(r, "revoked on 2026-10-01");
  expect_refused(r, "gxm-2025-01");
  expect_refused(verify_jws(*jws, one_key("other", test_key(KeyKind::kEcP256).spki)),
                 "no key is registered");
}

TEST(JwsTest, RefusesAlgorithmsThatDoNotMatchTheKey) {
  struct Case {
    JwsAlg alg;
    KeyKind signer;
    KeyKind registered;
    std::string fragment;
  };
  // The message is signed correctly with the signer's key; the registered key under kid
  // is of another type, so the alg cannot be honoured whatever the signature.
  const Case cases[] = {
      {JwsAlg::kEs256, KeyKind::kEcP256, KeyKind::kRsa2048,
       "ES256 needs an EC P-256 key, but the key is RSA 2048"},
      {JwsAlg::kEs256, KeyKind::kEcP256, KeyKind::kEcP384,
       "ES256 needs an EC P-256 key, but the key is EC P-384"},
      {JwsAlg::kEs384, KeyKind::kEcP384, KeyKind::kEcP256, "ES384 needs an EC P-384 key"},
      {JwsAlg::kEdDsa, KeyKind::kEd25519, KeyKind::kEcP256, "EdDSA needs an Ed25519 key"},
      {JwsAlg::kRs256, KeyKind::kRsa2048, KeyKind::kEcP256,
       "RS256 needs an RSA key, but the key is EC P-256"},
      {JwsAlg::kPs256, KeyKind::kRsa2048, KeyKind::kEd25519, "PS256 needs an RSA key"},
  };
  for (const auto& c : cases) {
    std::string header =
        R"({"alg":")" + std::string(hub::signing::jws_alg_name(c.alg)) + R"(","kid":"k1"})";
    auto jws = craft(header, kPayload, c.alg, test_key(c.signer));
    expect_refused(verify_jws(jws, one_key("k1", test_key(c.registered).spki), all_algs()),
                   c.fragment);
  }
  // RSA under 2048 bits: such a key cannot be registered at all, and the alg check would refuse it.
  EXPECT_NE(
      hub::signing::detail::jws_key_mismatch(JwsAlg::kRs256, hub::signing::KeyType::kRsa, 1024)
          .find("2048"),
      std::string::npos);
}

TEST(JwsTest, RefusesEachForbiddenHeader) {
  const auto& key = test_key(KeyKind::kEcP256);
  auto resolve = one_key("k1", key.spki);
  const std::pair<std::string, std::string> cases[] = {
      {R"({"alg":"none","kid":"k1"})", "alg \"none\""},
      {R"({"alg":"HS256","kid":"k1"})", "HMAC"},
      {R"({"alg":"HS512","kid":"k1"})", "HMAC"},
      {R"({"alg":"ES256","kid":"k1","crit":["exp"],"exp":1})", "\"crit\" is refused"},
      {R"({"alg":"ES256","kid":"k1","jku":"https://attacker.example/jwks"})", "\"jku\" is refused"},
      {R"({"alg":"ES256","kid":"k1","x5u":"https://attacker.example/cert"})", "\"x5u\" is refused"},
      {R"({"alg":"ES256","kid":"k1","jwk":{"kty":"EC"}})", "\"jwk\" is refused"},
      {R"({"alg":"ES256","kid":"k1","x5c":["MIIB"]})", "\"x5c\" is refused"},
      {R"({"alg":"ES256","kid":"k1","b64":false})", "\"b64\" is refused"},
      {R"({"kid":"k1"})", "no \"alg\""},
      {R"({"alg":256,"kid":"k1"})", "\"alg\" is not a string"},
      {R"({"alg":"ES256K","kid":"k1"})", "not supported"},
      {R"({"alg":"ES256"})", "no \"kid\""},
      {R"({"alg":"ES256","kid":""})", "\"kid\" is not a non-empty string"},
      {R"({"alg":"ES256","kid":7})", "\"kid\" is not a non-empty string"},
      {R"({"alg":"ES256","kid":"k1","kid":"k2"})", "member \"kid\" twice"},
      {R"({"alg":"ES256","kid":"k1","x":{"a":1,"a":2}})", "member \"a\" twice"},
      {R"(["alg","ES256"])", "not a JSON object"},
      {R"({"alg":"ES256","kid":"k1")", "not valid JSON"},
  };
  for (const auto& [header, fragment] : cases) {
    SCOPED_TRACE(header);
    // Signed with a real key (ES256) so that only the header rule can refuse it.
    expect_refused(verify_jws(craft(header, kPayload, JwsAlg::kEs256, key), resolve), fragment);
  }
  // ES512 is implemented but not in the default (gx-market) policy.
  auto es512 =
      craft(R"({"alg":"ES512","kid":"k1"})", kPayload, JwsAlg::kEs512, test_key(KeyKind::kEcP521));
  expect_refused(verify_jws(es512, one_key("k1", test_key(KeyKind::kEcP521).spki)),
                 "ES512 is not allowed here");
}

TEST(JwsTest, ChecksTypAndCtyAsThePolicySays) {
  const auto& key = test_key(KeyKind::kEcP256);
  auto resolve = one_key("k1", key.spki);
  JwsPolicy policy;
  policy.expected_typ = "gx-market+jws";
  policy.allowed_cty = std::set<std::string>{"settlement", "settlement-batch"};
  auto make = [&](const std::string& extra) {
    return craft(R"({"alg":"ES256","kid":"k1")" + extra + "}", kPayload, JwsAlg::kEs256, key);
  };
  EXPECT_TRUE(
      verify_jws(make(R"(,"typ":"gx-market+jws","cty":"settlement")"), resolve, policy).ok());
  // RFC 7515 4.1.9: case-insensitive, "application/" implied.
  EXPECT_TRUE(verify_jws(make(R"(,"typ":"application/GX-Market+JWS","cty":"Settlement-Batch")"),
                         resolve, policy)
                  .ok());
  expect_refused(verify_jws(make(R"(,"cty":"settlement")"), resolve, policy), "no \"typ\"");
  expect_refused(verify_jws(make(R"(,"typ":"JWT","cty":"settlement")"), resolve, policy),
                 "\"typ\" is \"JWT\"");
  expect_refused(verify_jws(make(R"(,"typ":"gx-market+jws")"), resolve, policy), "no \"cty\"");
  expect_refused(verify_jws(make(R"(,"typ":"gx-market+jws","cty":"statement")"), resolve, policy),
                 "\"cty\" is \"statement\", expected settlement, settlement-batch");
  expect_refused(verify_jws(make(R"(,"typ":7,"cty":"settlement")"), resolve, policy),
                 "\"typ\" is not a string");
  // Without expectations, typ and cty are free.
  EXPECT_TRUE(verify_jws(make(R"(,"typ":"anything")"), resolve).ok());
}

TEST(JwsTest, RefusesMalformedCompactSerializations) {
  const auto& key = test_key(KeyKind::kEcP256);
  auto resolve = one_key("k1", key.spki);
  std::string good = craft(R"({"alg":"ES256","kid":"k1"})", kPayload, JwsAlg::kEs256, key);
  std::size_t d1 = good.find('.'), d2 = good.rfind('.');
  expect_refused(verify_jws("", resolve), "signature is missing");
  expect_refused(verify_jws(good.substr(0, d2), resolve), "signature is missing");
  expect_refused(verify_jws(good.substr(0, d2 + 1), resolve), "signature part is empty");
  expect_refused(verify_jws(good + ".x.y", resolve), "more than three parts");
  expect_refused(verify_jws(good.substr(d1), resolve), "protected header is empty");
  expect_refused(verify_jws("e!" + good.substr(d1), resolve),
                 "protected header is not valid base64url");
  // Padding, the standard alphabet, white space and non-zero trailing bits are not base64url.
  expect_refused(verify_jws(good + "=", resolve), "signature part is not valid base64url");
  std::string plus = good;
  plus[d2 + 3] = '+';
  expect_refused(verify_jws(plus, resolve), "signature part is not valid base64url");
  expect_refused(verify_jws(good.substr(0, d1) + " " + good.substr(d1), resolve),
                 "not valid base64url");
  // 64 bytes encode to 86 characters; the last one carries 4 unused bits, which must be 0
  // (the last character is one of A, Q, g, w).
  std::string tail = good;
  const std::map<char, char> flip{{'A', 'B'}, {'Q', 'R'}, {'g', 'h'}, {'w', 'x'}};
  ASSERT_TRUE(flip.contains(tail.back()));
  tail.back() = flip.at(tail.back());
  expect_refused(verify_jws(tail, resolve), "signature part is not valid base64url");
  // A DER ECDSA signature (what OpenSSL produces natively) is not the JWS form.
  std::string input = good.substr(0, d2);
  hub::signing::detail::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  std::size_t len = 0;
  ASSERT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.private_key.pkey()),
            1);
  ASSERT_EQ(EVP_DigestSign(ctx.get(), nullptr, &len,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  std::string der(len, '\0');
  ASSERT_EQ(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &len,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  der.resize(len);
  expect_refused(verify_jws(input + "." + b64url(der), resolve), "R||S of 64 bytes, this one has");
  std::string short_sig(63, 'x');
  expect_refused(verify_jws(input + "." + b64url(short_sig), resolve), "this one has 63");
}

TEST(JwsTest, SignRefusesWhatVerifyWouldRefuse) {
  const auto& ec = test_key(KeyKind::kEcP256);
  auto expect_sign_refused = [](const hub::Result<std::string>& r, const std::string& fragment) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, "SIGNING_FAILED");
    EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
  };
  expect_sign_refused(sign_jws({{"alg", "none"}}, "x", ec.private_key), "none");
  expect_sign_refused(sign_jws({{"alg", "HS256"}}, "x", ec.private_key), "HMAC");
  expect_sign_refused(sign_jws({{"alg", "RS256"}, {"kid", "k"}}, "x", ec.private_key),
                      "RS256 needs an RSA key");
  expect_sign_refused(sign_jws({{"alg", "ES384"}, {"kid", "k"}}, "x", ec.private_key),
                      "ES384 needs an EC P-384");
  expect_sign_refused(sign_jws({{"alg", "ES256"}, {"crit", {"x"}}}, "x", ec.private_key), "crit");
  expect_sign_refused(sign_jws(json::array({1}), "x", ec.private_key), "not a JSON object");
  expect_sign_refused(sign_jws({{"kid", "k"}}, "x", ec.private_key), "no \"alg\"");
}

TEST(JwsTest, PayloadMayBeBinaryAndEmpty) {
  const auto& key = test_key(KeyKind::kEd25519);
  std::string binary("\x00\xff\x10\x80", 4);
  for (const std::string& payload : {binary, std::string()}) {
    auto jws = sign_jws({{"alg", "EdDSA"}, {"kid", "k1"}}, payload, key.private_key);
    ASSERT_TRUE(jws.ok());
    auto v = verify_jws(*jws, one_key("k1", key.spki));
    ASSERT_TRUE(v.ok()) << v.error().to_string();
    EXPECT_EQ(v->payload, payload);
  }
}

TEST(JwsTest, VerifiesFromManyThreadsAtOnce) {
  const auto& key = test_key(KeyKind::kEcP256);
  auto jws = sign_jws({{"alg", "ES256"}, {"kid", "k1"}}, kPayload, key.private_key);
  ASSERT_TRUE(jws.ok());
  auto bad = *jws;
  bad[bad.size() - 5] = bad[bad.size() - 5] == 'A' ? 'B' : 'A';
  auto resolve = one_key("k1", key.spki);
  std::atomic<int> good_ok{0}, bad_refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (verify_jws(*jws, resolve).ok()) ++good_ok;
        if (!verify_jws(bad, resolve).ok()) ++bad_refused;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good_ok.load(), 800);
  EXPECT_EQ(bad_refused.load(), 800);
}

}  // namespace
