// The connectors' signature profiles (../shared/specs) exercised with the keys that the
// development PKI makes (certs/make-dev-pki.sh, run here into a temporary folder): the
// hub's receipts (ES256 JWS, RSA-SHA256 XML), the market's JWS, J-Credit's and JCM's XML
// signatures, the exchange's CMS made by the openssl command the spec names.

#include <gtest/gtest.h>

#include "hub/signing/cms.hpp"
#include "hub/signing/jws.hpp"
#include "hub/signing/xmldsig.hpp"
#include "hub/testing/test_env.hpp"

namespace {

using namespace hub::signing;
namespace fs = std::filesystem;

class SigningDevPkiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new hub::testing::TempDir();
    auto r = hub::testing::run_command(
        {(hub::testing::source_root() / "certs" / "make-dev-pki.sh").string(),
         dir_->path().string()});
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static fs::path file(const std::string& name) { return dir_->path() / name; }
  static PublicKey pub(const std::string& name) {
    auto k = PublicKey::from_file(file(name));
    if (!k) throw std::runtime_error(k.error().to_string());
    return *k;
  }
  static PrivateKey priv(const std::string& name) {
    auto k = PrivateKey::from_file(file(name));
    if (!k) throw std::runtime_error(k.error().to_string());
    return *k;
  }
  static hub::testing::TempDir* dir_;
};
hub::testing::TempDir* SigningDevPkiTest::dir_ = nullptr;

KeyResolver only(const std::string& kid, const PublicKey& key) {
  return [kid, key](const std::string& asked) -> hub::Result<PublicKey> {
    if (asked == kid) return key;
    return hub::make_error("UNKNOWN_KID", "unknown kid");
  };
}

TEST_F(SigningDevPkiTest, HubSignsEs256ReceiptsThatVerifyWithItsPublishedCertificate) {
  nlohmann::json header = {
      {"alg", "ES256"}, {"kid", "hub-receipt-ec"}, {"typ", "gx-hub-receipt+jws"}};
  std::string payload = R"({"message_id":"GXM-20261121-000001","hub_ref":"H1","status":"applied"})";
  auto jws = sign_jws(header, payload, priv("hub-receipt-ec.key"));
  ASSERT_TRUE(jws.ok()) << jws.error().to_string();
  JwsPolicy policy;
  policy.allowed_algs = {JwsAlg::kEs256};
  policy.expected_typ = "gx-hub-receipt+jws";
  auto v = verify_jws(*jws, only("hub-receipt-ec", pub("hub-receipt-ec.crt")), policy);
  ASSERT_TRUE(v.ok()) << v.error().to_string();
  EXPECT_EQ(v->payload, payload);
}

TEST_F(SigningDevPkiTest, MarketJwsVerifiesUnderTheGxMarketProfile) {
  std::string kid = hub::testing::read_file(file("gx-market-sign.kid"));
  while (!kid.empty() && (kid.back() == '\n' || kid.back() == ' ')) kid.pop_back();
  ASSERT_EQ(kid, "gxm-2026-01");
  auto jws =
      sign_jws({{"alg", "ES256"}, {"kid", kid}, {"typ", "gx-market+jws"}, {"cty", "settlement"}},
               R"({"message_id":"GXM-1"})", priv("gx-market-sign.key"));
  ASSERT_TRUE(jws.ok());
  JwsPolicy policy;
  policy.expected_typ = "gx-market+jws";
  policy.allowed_cty = std::set<std::string>{"settlement"};
  EXPECT_TRUE(verify_jws(*jws, only(kid, pub("gx-market-sign.pub.pem")), policy).ok());
  // The wrong endpoint's cty is refused.
  policy.allowed_cty = std::set<std::string>{"statement"};
  EXPECT_FALSE(verify_jws(*jws, only(kid, pub("gx-market-sign.pub.pem")), policy).ok());
}

TEST_F(SigningDevPkiTest, JCreditAndJcmXmlSignaturesAndTheHubsXmlReceipt) {
  const std::string notice =
      "<jc:CancellationNotice xmlns:jc=\"urn:jp:j-credit:registry:gx-link:1\" version=\"1.0\">"
      "<jc:MessageId>JCR-20261121-000101</jc:MessageId><jc:Quantity>500</jc:Quantity></"
      "jc:CancellationNotice>";
  XmlSignOptions with_cert;
  with_cert.include_certificate = true;
  auto jcredit_signer =
      XmlSigner::create(priv("jcredit-sign.key"), pub("jcredit-sign.crt"), with_cert);
  ASSERT_TRUE(jcredit_signer.ok()) << jcredit_signer.error().to_string();
  auto signed_notice = jcredit_signer->sign(notice);
  ASSERT_TRUE(signed_notice.ok());
  XmlDsigPolicy jcredit;  // URI="", exclusive c14n, RSA-SHA256, SHA-256
  jcredit.require_reference_c14n_transform = true;
  jcredit.require_key_info_certificate = true;
  jcredit.signature_methods = {XmlSignatureMethod::kRsaSha256};
  jcredit.digest_methods = {XmlDigestMethod::kSha256};
  auto jcredit_verifier = XmlDsigVerifier::create({pub("jcredit-sign.crt")}, jcredit);
  ASSERT_TRUE(jcredit_verifier.ok());
  EXPECT_TRUE(jcredit_verifier->verify(*signed_notice).ok());

  const std::string jcm_notice =
      "<CancellationForGx xmlns=\"urn:jp:jcm:registry:2\" "
      "Id=\"m-JCM-20261121-0007\"><Header/></CancellationForGx>";
  XmlSignOptions by_id = with_cert;
  by_id.reference = XmlReferenceProfile::kElementById;
  auto jcm_signer = XmlSigner::create(priv("jcm-sign.key"), pub("jcm-sign.crt"), by_id);
  ASSERT_TRUE(jcm_signer.ok());
  auto signed_jcm = jcm_signer->sign(jcm_notice);
  ASSERT_TRUE(signed_jcm.ok());
  XmlDsigPolicy jcm;
  jcm.reference = XmlReferenceProfile::kElementById;
  jcm.require_reference_c14n_transform = true;
  jcm.require_key_info_certificate = true;
  auto jcm_verifier = XmlDsigVerifier::create({pub("jcm-sign.crt")}, jcm);
  ASSERT_TRUE(jcm_verifier.ok());
  auto verified = jcm_verifier->verify(*signed_jcm);
  ASSERT_TRUE(verified.ok()) << verified.error().to_string();
  EXPECT_EQ(verified->signature_method(), XmlSignatureMethod::kEcdsaSha256);
  // J-Credit's verifier does not accept JCM's key.
  EXPECT_FALSE(jcredit_verifier->verify(*signed_jcm).ok());

  // The hub's XML receipt to J-Credit: RSA-SHA256, exclusive c14n, its RSA certificate.
  auto receipt_signer =
      XmlSigner::create(priv("hub-receipt-rsa.key"), pub("hub-receipt-rsa.crt"), with_cert);
  ASSERT_TRUE(receipt_signer.ok());
  auto receipt = receipt_signer->sign(
      "<jc:Receipt "
      "xmlns:jc=\"urn:jp:j-credit:registry:gx-link:1\"><jc:MessageId>JCR-1</jc:MessageId>"
      "<jc:Status>applied</jc:Status></jc:Receipt>");
  ASSERT_TRUE(receipt.ok());
  auto receipt_verifier = XmlDsigVerifier::create({pub("hub-receipt-rsa.crt")}, jcredit);
  ASSERT_TRUE(receipt_verifier.ok());
  EXPECT_TRUE(receipt_verifier->verify(*receipt).ok());
}

TEST_F(SigningDevPkiTest, ExchangeCmsMadeByTheSpecsOpensslCommandVerifies) {
  hub::testing::write_file(file("settlement.csv"),
                           "#H,EXCHG-SF-20261121,2026-11-21T17:05:00+09:00,2026-11-21\n#T,0,0\n");
  auto r = hub::testing::run_command(
      {"openssl", "cms", "-sign", "-binary", "-outform", "DER", "-md", "sha256", "-in",
       file("settlement.csv").string(), "-signer", file("exchange-sign.crt").string(), "-inkey",
       file("exchange-sign.key").string(), "-out", file("settlement.p7s").string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto v = CmsVerifier::create({pub("exchange-sign.crt")});
  ASSERT_TRUE(v.ok());
  auto verified = v->verify_detached_file(file("settlement.csv"),
                                          hub::testing::read_file(file("settlement.p7s")));
  ASSERT_TRUE(verified.ok()) << verified.error().to_string();
  EXPECT_NE(verified->signer_subject.find("exchange"), std::string::npos)
      << verified->signer_subject;
  // The jcredit certificate is registered elsewhere, not for the exchange.
  auto wrong = CmsVerifier::create({pub("jcredit-sign.crt")});
  ASSERT_TRUE(wrong.ok());
  EXPECT_FALSE(wrong
                   ->verify_detached_file(file("settlement.csv"),
                                          hub::testing::read_file(file("settlement.p7s")))
                   .ok());
}

}  // namespace
