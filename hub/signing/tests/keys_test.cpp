#include "hub/signing/keys.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

namespace {

std::string pem_of(EVP_PKEY* pk, bool priv) {
  BIO* out = BIO_new(BIO_s_mem());
  if (priv)
    PEM_write_bio_PrivateKey(out, pk, nullptr, nullptr, 0, nullptr, nullptr);
  else
    PEM_write_bio_PUBKEY(out, pk);
  char* data = nullptr;
  long n = BIO_get_mem_data(out, &data);
  std::string s(data, static_cast<std::size_t>(n));
  BIO_free(out);
  return s;
}

TEST(KeysTest, LoadsEcPublicAndPrivateKeys) {
  EVP_PKEY* pk = EVP_EC_gen("P-256");
  ASSERT_NE(pk, nullptr);
  auto pub = hub::signing::PublicKey::from_pem(pem_of(pk, false));
  ASSERT_TRUE(pub.ok()) << pub.error().to_string();
  EXPECT_EQ(pub->info().type, hub::signing::KeyType::kEcP256);
  EXPECT_EQ(pub->info().fingerprint_sha256.size(), 64u);
  EXPECT_FALSE(pub->info().from_certificate);
  auto priv = hub::signing::PrivateKey::from_pem(pem_of(pk, true));
  ASSERT_TRUE(priv.ok());
  EXPECT_EQ(priv->type(), hub::signing::KeyType::kEcP256);
  EVP_PKEY_free(pk);
}

TEST(KeysTest, RefusesShortRsaAndGarbage) {
  EVP_PKEY* pk = EVP_RSA_gen(1024);
  ASSERT_NE(pk, nullptr);
  auto pub = hub::signing::PublicKey::from_pem(pem_of(pk, false));
  ASSERT_FALSE(pub.ok());
  EXPECT_NE(pub.error().message.find("2048"), std::string::npos);
  EVP_PKEY_free(pk);
  EXPECT_FALSE(hub::signing::PublicKey::from_pem("hello").ok());
  EXPECT_FALSE(hub::signing::PrivateKey::from_pem(
                   "-----BEGIN PRIV" "ATE KEY-----\nAAAA\n-----END PRIV" "ATE KEY-----\n")
                   .ok());
}

}  // namespace
