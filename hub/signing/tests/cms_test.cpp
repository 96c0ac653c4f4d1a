#include "hub/signing/cms.hpp"

#include <gtest/gtest.h>
#include <openssl/cms.h>
#include <openssl/pem.h>
#include <sys/resource.h>

#include <fstream>

#include "hub/testing/test_env.hpp"
#include "ossl.hpp"
#include "test_keys.hpp"

namespace {

using hub::signing::CmsVerifier;
using hub::signing::PublicKey;
using hub::signing::testing::certificate_of;
using hub::signing::testing::cms_sign;
using hub::signing::testing::KeyKind;
using hub::signing::testing::test_key;
using hub::signing::testing::TestKey;
namespace detail = hub::signing::detail;

const std::string kCsv =
    "#H,EXCHG-SF-20261121,2026-11-21T17:05:00+09:00,2026-11-21\n"
    "trade_id,trade_time,product,vintage,seller_account,buyer_account,quantity,price_jpy\n"
    "X20261121-0000001,2026-11-21T09:00:03+09:00,GXA,2026,JP-GX-100-0000026,JP-GX-100-0000034,100,"
    "2460\n"
    "#T,1,100\n";

std::string to_pem(const std::string& der) {
  detail::BioPtr out(BIO_new(BIO_s_mem()));
  PEM_write_bio(out.get(), "CMS", "", reinterpret_cast<const unsigned char*>(der.data()),
                static_cast<long>(der.size()));
  char* data = nullptr;
  long n = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

CmsVerifier verifier(std::vector<PublicKey> certs) {
  auto v = CmsVerifier::create(std::move(certs));
  if (!v) throw std::runtime_error(v.error().to_string());
  return *v;
}

void expect_refused(const hub::Result<hub::signing::CmsVerified>& r, const std::string& fragment,
                    const std::string& code = "SIGNATURE_INVALID") {
  ASSERT_FALSE(r.ok()) << "expected a refusal mentioning '" << fragment << "'";
  EXPECT_EQ(r.error().code, code);
  EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
}

TEST(CmsTest, VerifiesDetachedSignaturesInDerAndPemOverBytesAndFiles) {
  hub::testing::TempDir dir;
  hub::testing::write_file(dir.path() / "settlement.csv", kCsv);
  for (KeyKind kind : {KeyKind::kRsa2048, KeyKind::kEcP256}) {
    const auto& key = test_key(kind, "exchange");
    auto v = verifier({test_key(KeyKind::kRsa2048, "other").certificate, key.certificate});
    std::string der = cms_sign(kCsv, key, EVP_sha256());
    for (const std::string& sig : {der, to_pem(der)}) {
      auto r = v.verify_detached(kCsv, sig);
      ASSERT_TRUE(r.ok()) << r.error().to_string();
      EXPECT_EQ(r->signer_subject, "CN=exchange,O=GX Hub tests");
      EXPECT_EQ(r->signer_certificate_sha256, key.certificate.info().cert_fingerprint_sha256);
      EXPECT_EQ(r->digest_algorithm, "SHA256");
      auto f = v.verify_detached_file(dir.path() / "settlement.csv", sig);
      ASSERT_TRUE(f.ok()) << f.error().to_string();
      EXPECT_EQ(f->signer_certificate_sha256, key.certificate.info().cert_fingerprint_sha256);
    }
  }
  const auto& key = test_key(KeyKind::kEcP384, "exchange");
  auto r = verifier({key.certificate}).verify_detached(kCsv, cms_sign(kCsv, key, EVP_sha384()));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->digest_algorithm, "SHA384");
}

TEST(CmsTest, RefusesChangedContent) {
  const auto& key = test_key(KeyKind::kRsa2048, "exchange");
  auto v = verifier({key.certificate});
  std::string sig = cms_sign(kCsv, key, EVP_sha256());
  std::string changed = kCsv;
  changed.replace(changed.find(",100,2460"), 9, ",900,2460");
  expect_refused(v.verify_detached(changed, sig),
                 "does not verify with the registered certificate");
  expect_refused(v.verify_detached(kCsv + "\n", sig), "does not verify");
  hub::testing::TempDir dir;
  hub::testing::write_file(dir.path() / "f.csv", changed);
  expect_refused(v.verify_detached_file(dir.path() / "f.csv", sig), "does not verify");
}

TEST(CmsTest, RefusesSignersThatAreNotRegistered) {
  const auto& intruder = test_key(KeyKind::kRsa2048, "intruder");
  const auto& exchange = test_key(KeyKind::kRsa2048, "exchange");
  // The CMS carries the intruder's certificate: it is never a source of identity.
  expect_refused(verifier({exchange.certificate})
                     .verify_detached(kCsv, cms_sign(kCsv, intruder, EVP_sha256())),
                 "is not a certificate registered for this connector");
}

TEST(CmsTest, RefusesAnImpostorCertificateWithTheRegisteredIssuerAndSerial) {
  // Same issuer name and serial number as the registered certificate (so the SignerInfo
  // names it), but another key: the registered certificate's key decides.
  const auto& exchange = test_key(KeyKind::kRsa2048, "exchange");
  const auto& intruder = test_key(KeyKind::kRsa2048, "intruder");
  auto registered = certificate_of(exchange.certificate_pem);
  detail::X509Ptr impostor(X509_dup(registered.get()));
  ASSERT_EQ(X509_set_pubkey(impostor.get(), intruder.private_key.pkey()), 1);
  ASSERT_GT(X509_sign(impostor.get(), intruder.private_key.pkey(), EVP_sha256()), 0);
  auto bio = detail::memory_bio(kCsv);
  std::string sig =
      cms_sign(bio.get(), {{impostor.get(), intruder.private_key.pkey()}}, EVP_sha256());
  expect_refused(verifier({exchange.certificate}).verify_detached(kCsv, sig),
                 "does not verify with the registered");
}

TEST(CmsTest, RefusesSha1AndOtherShapes) {
  const auto& key = test_key(KeyKind::kRsa2048, "exchange");
  auto v = verifier({key.certificate});
  expect_refused(v.verify_detached(kCsv, cms_sign(kCsv, key, EVP_sha1())),
                 "digest algorithm is SHA-1");
  expect_refused(v.verify_detached(kCsv, cms_sign(kCsv, key, EVP_sha256(), /*detached=*/false)),
                 "carries its content");
  auto cert_a = certificate_of(key.certificate_pem);
  const auto& other = test_key(KeyKind::kEcP256, "exchange-2");
  auto cert_b = certificate_of(other.certificate_pem);
  auto bio = detail::memory_bio(kCsv);
  std::string two = cms_sign(
      bio.get(), {{cert_a.get(), key.private_key.pkey()}, {cert_b.get(), other.private_key.pkey()}},
      EVP_sha256());
  expect_refused(verifier({key.certificate, other.certificate}).verify_detached(kCsv, two),
                 "2 signers");
  expect_refused(v.verify_detached(kCsv, "not a signature"), "not a CMS structure in DER");
  expect_refused(v.verify_detached(kCsv, "-----BEGIN CMS-----\nAAAA\n-----END CMS-----\n"),
                 "not a CMS structure in PEM");
  expect_refused(
      v.verify_detached_file("/nonexistent/settlement.csv", cms_sign(kCsv, key, EVP_sha256())),
      "cannot open", "CONTENT_UNREADABLE");
}

TEST(CmsTest, Rsa1024CannotBeRegisteredNorSign) {
  const auto& weak = test_key(KeyKind::kRsa1024, "weak");
  auto registered = PublicKey::from_pem(weak.certificate_pem);
  ASSERT_FALSE(registered.ok());
  EXPECT_NE(registered.error().message.find("at least 2048"), std::string::npos);
  expect_refused(verifier({test_key(KeyKind::kRsa2048, "exchange").certificate})
                     .verify_detached(kCsv, cms_sign(kCsv, weak, EVP_sha256())),
                 "is not a certificate registered");
}

TEST(CmsTest, CreateNeedsCertificates) {
  auto none = CmsVerifier::create({});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, "KEY_INVALID");
  auto spki = CmsVerifier::create({test_key(KeyKind::kRsa2048, "exchange").spki});
  ASSERT_FALSE(spki.ok());
  EXPECT_NE(spki.error().message.find("CMS names its signer by certificate"), std::string::npos);
}

TEST(CmsTest, StreamsA64MiBFileWithoutHoldingIt) {
  hub::testing::TempDir dir;
  auto path = dir.path() / "big.csv";
  {
    std::ofstream out(path, std::ios::binary);
    std::string line =
        "X20261121-0000001,2026-11-21T09:00:03+09:00,GXA,2026,JP-GX-100-0000026,JP-GX-100-0000034,"
        "1,2460\n";
    std::string block;
    while (block.size() < (1u << 20)) block += line;
    block.resize(1u << 20);
    for (int i = 0; i < 64; ++i)
      out.write(block.data(), static_cast<std::streamsize>(block.size()));
  }
  const auto& key = test_key(KeyKind::kRsa2048, "exchange");
  auto cert = certificate_of(key.certificate_pem);
  detail::BioPtr in(BIO_new_file(path.c_str(), "rb"));
  std::string sig = cms_sign(in.get(), {{cert.get(), key.private_key.pkey()}}, EVP_sha256());
  auto v = verifier({key.certificate});
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  auto r = v.verify_detached_file(path, sig);
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  // Peak resident size grows by far less than the file (ru_maxrss is in KiB).
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 16 * 1024);
}

// ---- independent peer: the openssl command line, as the exchange's spec says ---------------

TEST(CmsInteropTest, VerifiesWhatOpensslCmsSignsAndRefusesItsSha1) {
  hub::testing::TempDir dir;
  const auto& key = test_key(KeyKind::kRsa2048, "exchange");
  auto p = [&](const char* name) { return (dir.path() / name).string(); };
  hub::testing::write_file(dir.path() / "file.csv", kCsv);
  hub::testing::write_file(dir.path() / "cert.pem", key.certificate_pem);
  hub::testing::write_file(dir.path() / "key.pem", key.private_pem);
  auto v = verifier({key.certificate});
  for (const char* md : {"sha256", "sha1"}) {
    std::string out = p(md);
    auto r = hub::testing::run_command({"openssl", "cms", "-sign", "-binary", "-outform", "DER",
                                        "-md", md, "-in", p("file.csv"), "-signer", p("cert.pem"),
                                        "-inkey", p("key.pem"), "-out", out});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    auto verified = v.verify_detached_file(dir.path() / "file.csv", hub::testing::read_file(out));
    if (std::string(md) == "sha256") {
      ASSERT_TRUE(verified.ok()) << verified.error().to_string();
      EXPECT_EQ(verified->digest_algorithm, "SHA256");
    } else {
      expect_refused(verified, "SHA-1");
    }
  }
  // And the other way: openssl verifies a signature our test helper made the same way.
  hub::testing::write_file(dir.path() / "ours.der", cms_sign(kCsv, key, EVP_sha256()));
  auto r = hub::testing::run_command({"openssl", "cms", "-verify", "-binary", "-inform", "DER",
                                      "-in", p("ours.der"), "-content", p("file.csv"), "-noverify",
                                      "-out", "/dev/null"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace
