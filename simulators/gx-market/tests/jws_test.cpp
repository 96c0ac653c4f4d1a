// The JWS the simulator makes, checked against the RFC vectors and an independent
// implementation (Debian's python3-jwcrypto).
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>

#include <nlohmann/json.hpp>

#include "gxm/factory.hpp"
#include "gxm/jws.hpp"
#include "test_support.hpp"

namespace gxm {
namespace {

using gxm::testing::read_file;
using gxm::testing::run_command;
using gxm::testing::TempDir;
using gxm::testing::write_file;

// An EC public key from a JWK (kty EC, crv P-256), built with OpenSSL's own parameters.
Pkey ec_key_from_jwk(const nlohmann::json& jwk) {
  auto x = base64url_decode(jwk["x"].get<std::string>());
  auto y = base64url_decode(jwk["y"].get<std::string>());
  EXPECT_TRUE(x.ok() && y.ok());
  std::string point = "\x04" + *x + *y;
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  EVP_PKEY* key = nullptr;
  EVP_PKEY_fromdata_init(ctx);
  EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  return Pkey(key, PkeyFree{});
}

nlohmann::json vectors() {
  auto dir = gxm::testing::shared_vectors_dir();
  if (!dir) return nullptr;
  return nlohmann::json::parse(read_file(*dir / "jws" / "jws-vectors.json"));
}

TEST(JwsTest, Base64UrlRoundTripsAndRefusesNonCanonicalText) {
  for (std::string s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar",
                                                std::string("\xff\xfe\x00", 3)}) {
    auto enc = base64url_encode(s);
    EXPECT_EQ(enc.find_first_of("+/="), std::string::npos);
    auto dec = base64url_decode(enc);
    ASSERT_TRUE(dec.ok()) << enc;
    EXPECT_EQ(*dec, s);
  }
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_FALSE(base64url_decode("Zm9v=").ok());
  EXPECT_FALSE(base64url_decode("Zm+v").ok());
  EXPECT_EQ(base64url_decode("Zm8").value(), "fo");
  EXPECT_FALSE(base64url_decode("Zm9").ok());  // "fo" with non-zero trailing bits
  EXPECT_FALSE(base64url_decode("Zh").ok());  // leftover bits set
  EXPECT_FALSE(base64url_decode("Z").ok());
}

TEST(JwsTest, VerifiesTheRfc7515Es256VectorAndRefusesItWhenAltered) {
  auto v = vectors();
  if (v.is_null()) FAIL() << "../shared/vectors is absent: the RFC vectors cannot be checked";
  const nlohmann::json* a3 = nullptr;
  for (const auto& item : v) {
    if (item["id"] == "rfc7515-A3") a3 = &item;
  }
  ASSERT_NE(a3, nullptr);
  auto key = ec_key_from_jwk((*a3)["jwk"]);
  ASSERT_TRUE(key);
  std::string compact = (*a3)["compact"];
  auto ok = jws_verify_compact(compact, key.get(), "");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_NE(ok->payload.find("\"iss\":\"joe\""), std::string::npos);
  std::string altered = compact;
  altered[compact.find('.') + 5] ^= 1;
  EXPECT_FALSE(jws_verify_compact(altered, key.get(), "").ok());
}

TEST(JwsTest, RefusesTheUnsecuredRfc7515A5Vector) {
  auto dir = gxm::testing::shared_vectors_dir();
  if (!dir) FAIL() << "../shared/vectors is absent: the RFC vectors cannot be checked";
  std::string compact = read_file(*dir / "jws" / "rfc7515-A5-alg-none.jws");
  while (!compact.empty() && (compact.back() == '\n' || compact.back() == '\r')) compact.pop_back();
  auto key = generate_p256_key();
  auto r = jws_verify_compact(compact, key.get(), "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "ALG_REFUSED");
}

TEST(JwsTest, RefusesHmacNoneForbiddenHeadersAndAWrongTyp) {
  auto key = generate_p256_key();
  OrderedJson h{{"alg", "ES256"}, {"typ", "x"}};
  auto good = jws_make(h, "{}", key.get());
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(jws_verify_compact(*good, key.get(), "x").ok());
  EXPECT_EQ(jws_verify_compact(*good, key.get(), "y").error().code, "JWS_TYP");
  for (const char* extra : {"crit", "jku", "x5u", "jwk"}) {
    OrderedJson h2 = h;
    h2[extra] = "z";
    auto j = jws_make(h2, "{}", key.get());
    ASSERT_TRUE(j.ok());
    EXPECT_EQ(jws_verify_compact(*j, key.get(), "").error().code, "JWS_HEADER") << extra;
  }
  // An HS256 token keyed with the public key must not pass (key confusion).
  OrderedJson hs{{"alg", "HS256"}};
  std::string input = base64url_encode(hs.dump()) + "." + base64url_encode("{}");
  std::string token = input + "." + base64url_encode(hmac_sha256(public_key_pem(key.get()), input));
  EXPECT_FALSE(jws_verify_compact(token, key.get(), "").ok());
  // An ES256 JWS verified with a P-384 key is refused for the mismatch, not attempted.
  Pkey p384(EVP_EC_gen("P-384"), PkeyFree{});
  EXPECT_EQ(jws_verify_compact(*good, p384.get(), "").error().code, "ALG_KEY_MISMATCH");
}

TEST(JwsTest, Es256SignaturesAreRawRAndSOf64Bytes) {
  auto key = generate_p256_key();
  for (int i = 0; i < 20; ++i) {
    auto sig = jws_sign("ES256", key.get(), "input " + std::to_string(i));
    ASSERT_TRUE(sig.ok());
    EXPECT_EQ(sig->size(), 64u);
  }
}

const char* kPyVerify = R"PY(
import json, sys
from jwcrypto import jwk, jws
pem = open(sys.argv[1], 'rb').read()
token = open(sys.argv[2]).read().strip()
key = jwk.JWK.from_pem(pem)
obj = jws.JWS()
obj.deserialize(token)
obj.verify(key, alg='ES256')
print(json.dumps({"header": obj.jose_header, "payload": obj.payload.decode('utf-8')}))
)PY";

TEST(JwsTest, JwcryptoVerifiesTheSettlementsTheSimulatorSigns) {
  auto key = generate_p256_key();
  auto factory = MessageFactory::make({key, "gxm-2026-01", true});
  ASSERT_TRUE(factory.ok());
  TempDir dir;
  write_file(dir.path() / "pub.pem", public_key_pem(key.get()));
  write_file(dir.path() / "verify.py", kPyVerify);
  PlanConfig pc;
  pc.run_id = "JWC";
  pc.accounts = {"JP-GX-100-0000018", "JP-GX-100-0000026", "JP-GX-100-0000034"};
  pc.trade_date = pc.settlement_date = "2026-11-21";
  pc.count = 3;
  pc.seed = 7;
  auto planner = Planner::make(pc);
  ASSERT_TRUE(planner.ok());
  while (auto plan = (*planner)->next()) {
    auto req = factory->build(*plan, std::chrono::system_clock::now());
    ASSERT_TRUE(req.ok());
    write_file(dir.path() / "token", req->body);
    auto r = run_command({"/usr/bin/python3", (dir.path() / "verify.py").string(),
                          (dir.path() / "pub.pem").string(), (dir.path() / "token").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto out = nlohmann::json::parse(gxm::testing::last_line(r.out));
    EXPECT_EQ(out["header"], (nlohmann::json{{"alg", "ES256"}, {"kid", "gxm-2026-01"},
                                             {"typ", "gx-market+jws"}, {"cty", "settlement"}}));
    auto payload = nlohmann::json::parse(out["payload"].get<std::string>());
    EXPECT_EQ(payload["message_id"], plan->message_id);
    EXPECT_EQ(payload["trade_id"], plan->trades[0].trade_id);
    EXPECT_EQ(payload["quantity"], plan->trades[0].quantity);
  }
}

TEST(JwsTest, JwcryptoRefusesTheBadSignatureFault) {
  auto key = generate_p256_key();
  auto factory = MessageFactory::make({key, "gxm-2026-01", true});
  ASSERT_TRUE(factory.ok());
  Plan plan;
  plan.message_id = "GXM-JWC-1";
  plan.fault = Fault::kBadSignature;
  plan.trades.push_back({"T-1", "2026-11-21", "2026-11-21", "block", "JP-GX-100-0000018",
                         "JP-GX-100-0000026", "GXA", 2026, 5, 2000});
  auto req = factory->build(plan, std::chrono::system_clock::now());
  ASSERT_TRUE(req.ok());
  TempDir dir;
  write_file(dir.path() / "pub.pem", public_key_pem(key.get()));
  write_file(dir.path() / "verify.py", kPyVerify);
  write_file(dir.path() / "token", req->body);
  auto r = run_command({"/usr/bin/python3", (dir.path() / "verify.py").string(),
                        (dir.path() / "pub.pem").string(), (dir.path() / "token").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("InvalidJWSSignature"), std::string::npos) << r.err;
}

TEST(JwsTest, VerifiesAReceiptThatJwcryptoSigned) {
  TempDir dir;
  const char* sign = R"PY(
import json, sys
from jwcrypto import jwk, jws
key = jwk.JWK.generate(kty='EC', crv='P-256')
open(sys.argv[1], 'wb').write(key.export_to_pem())
payload = json.dumps({"message_id": "GXM-1", "hub_ref": "H-1", "status": "accepted",
                      "received_at": "2026-11-21T15:30:02+09:00", "body_sha256": "0" * 64})
s = jws.JWS(payload.encode())
s.add_signature(key, None, json.dumps({"alg": "ES256", "typ": "gx-hub-receipt+jws"}))
print(s.serialize(compact=True))
)PY";
  write_file(dir.path() / "sign.py", sign);
  auto r = run_command({"/usr/bin/python3", (dir.path() / "sign.py").string(),
                        (dir.path() / "pub.pem").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto key = load_public_key((dir.path() / "pub.pem").string());
  ASSERT_TRUE(key.ok()) << key.error().message;
  auto parts = jws_verify_compact(gxm::testing::last_line(r.out), key->get(), "gx-hub-receipt+jws");
  ASSERT_TRUE(parts.ok()) << parts.error().message;
  EXPECT_NE(parts->payload.find("\"hub_ref\": \"H-1\""), std::string::npos);
}

}  // namespace
}  // namespace gxm
