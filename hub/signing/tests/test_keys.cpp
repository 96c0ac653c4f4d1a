#include "test_keys.hpp"

#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <map>
#include <mutex>
#include <stdexcept>

#include "base64.hpp"
#include "ossl.hpp"

namespace hub::signing::testing {
namespace {

using detail::EvpPkeyPtr;

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

EvpPkeyPtr generate(KeyKind kind) {
  switch (kind) {
    case KeyKind::kEcP256:
      return EvpPkeyPtr(EVP_EC_gen("P-256"));
    case KeyKind::kEcP384:
      return EvpPkeyPtr(EVP_EC_gen("P-384"));
    case KeyKind::kEcP521:
      return EvpPkeyPtr(EVP_EC_gen("P-521"));
    case KeyKind::kEd25519:
      return EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    case KeyKind::kRsa2048:
      return EvpPkeyPtr(EVP_RSA_gen(2048));
    case KeyKind::kRsa1024:
      return EvpPkeyPtr(EVP_RSA_gen(1024));
  }
  return nullptr;
}

void add_extension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) throw std::runtime_error("X509V3_EXT_conf_nid failed");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

std::string self_signed_pem(EVP_PKEY* key, const std::string& cn) {
  detail::X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7F;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("GX Hub tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key);
  add_extension(cert.get(), NID_subject_key_identifier, "hash");
  add_extension(cert.get(), NID_key_usage, "critical,digitalSignature,nonRepudiation");
  const EVP_MD* md = EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ? nullptr : EVP_sha256();
  if (X509_sign(cert.get(), key, md) <= 0) throw std::runtime_error("X509_sign failed");
  detail::BioPtr out(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(out.get(), cert.get());
  return bio_text(out.get());
}

PublicKey must_load(const std::string& pem) {
  auto key = PublicKey::from_pem(pem);
  if (!key) throw std::runtime_error("test key does not load: " + key.error().to_string());
  return *key;
}

EvpPkeyPtr from_params(const char* type, OSSL_PARAM* params) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* key = nullptr;
  bool ok = ctx != nullptr && EVP_PKEY_fromdata_init(ctx) == 1 &&
            EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1;
  EVP_PKEY_CTX_free(ctx);
  if (!ok)
    throw std::runtime_error(std::string("cannot build a ") + type +
                             " key: " + detail::drain_openssl_errors());
  return EvpPkeyPtr(key);
}

}  // namespace

std::string public_pem_of(EVP_PKEY* key) {
  detail::BioPtr out(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(out.get(), key);
  return bio_text(out.get());
}

std::string private_pem_of(EVP_PKEY* key) {
  detail::BioPtr out(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(out.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return bio_text(out.get());
}

const TestKey& test_key(KeyKind kind, const std::string& name) {
  static std::mutex mu;
  static std::map<std::pair<KeyKind, std::string>, TestKey> cache;
  std::lock_guard lock(mu);
  auto it = cache.find({kind, name});
  if (it != cache.end()) return it->second;
  EvpPkeyPtr key = generate(kind);
  if (!key) throw std::runtime_error("key generation failed");
  TestKey t;
  t.private_pem = private_pem_of(key.get());
  t.public_pem = public_pem_of(key.get());
  t.certificate_pem = self_signed_pem(key.get(), name);
  auto priv = PrivateKey::from_pem(t.private_pem);
  if (!priv)
    throw std::runtime_error("test private key does not load: " + priv.error().to_string());
  t.private_key = *priv;
  if (kind != KeyKind::kRsa1024) {
    t.spki = must_load(t.public_pem);
    t.certificate = must_load(t.certificate_pem);
  }
  return cache.emplace(std::make_pair(kind, name), std::move(t)).first->second;
}

std::string another_certificate_pem(const TestKey& key, const std::string& cn) {
  return self_signed_pem(key.private_key.pkey(), cn);
}

std::shared_ptr<X509> certificate_of(const std::string& pem) {
  auto bio = detail::memory_bio(pem);
  X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
  if (cert == nullptr) throw std::runtime_error("certificate PEM does not parse");
  return std::shared_ptr<X509>(cert, X509_free);
}

std::string cms_sign(BIO* content, const std::vector<CmsSigner>& signers, const EVP_MD* md,
                     bool detached) {
  unsigned flags = CMS_BINARY | CMS_PARTIAL | (detached ? CMS_DETACHED : 0u);
  detail::CmsPtr cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, flags));
  for (const auto& s : signers) {
    if (CMS_add1_signer(cms.get(), s.cert, s.key, md, flags) == nullptr)
      throw std::runtime_error("CMS_add1_signer: " + detail::drain_openssl_errors());
  }
  if (CMS_final(cms.get(), content, nullptr, flags) != 1)
    throw std::runtime_error("CMS_final failed");
  detail::BioPtr out(BIO_new(BIO_s_mem()));
  i2d_CMS_bio(out.get(), cms.get());
  return bio_text(out.get());
}

std::string cms_sign(std::string_view content, const TestKey& key, const EVP_MD* md,
                     bool detached) {
  auto cert = certificate_of(key.certificate_pem);
  auto bio = detail::memory_bio(content);
  return cms_sign(bio.get(), {{cert.get(), key.private_key.pkey()}}, md, detached);
}

PublicKey rsa_public_key(std::string_view modulus, std::string_view exponent) {
  BIGNUM* n = BN_bin2bn(reinterpret_cast<const unsigned char*>(modulus.data()),
                        static_cast<int>(modulus.size()), nullptr);
  BIGNUM* e = BN_bin2bn(reinterpret_cast<const unsigned char*>(exponent.data()),
                        static_cast<int>(exponent.size()), nullptr);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EvpPkeyPtr key = from_params("RSA", params);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(n);
  BN_free(e);
  return must_load(public_pem_of(key.get()));
}

PublicKey ec_public_key(const std::string& curve, std::string_view x, std::string_view y) {
  std::string point = "\x04" + std::string(x) + std::string(y);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(curve.c_str()),
                                       0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
      OSSL_PARAM_construct_end(),
  };
  EvpPkeyPtr key = from_params("EC", params);
  return must_load(public_pem_of(key.get()));
}

PublicKey ed25519_public_key(std::string_view raw) {
  EvpPkeyPtr key(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw.data()), raw.size()));
  if (!key) throw std::runtime_error("bad Ed25519 key");
  return must_load(public_pem_of(key.get()));
}

std::string b64url(std::string_view bytes) {
  std::string out;
  detail::base64url_encode(bytes, out);
  return out;
}

std::string from_b64url(std::string_view text) {
  std::string out;
  if (!detail::base64url_decode(text, out))
    throw std::runtime_error("bad base64url in a test vector");
  return out;
}

std::string from_b64(std::string_view text) {
  std::string out;
  if (!detail::base64_decode(text, out)) throw std::runtime_error("bad base64 in a test vector");
  return out;
}

std::string decimal_to_bytes(const std::string& decimal, std::size_t width) {
  BIGNUM* bn = nullptr;
  if (BN_dec2bn(&bn, decimal.c_str()) == 0) throw std::runtime_error("bad decimal");
  std::string out(width, '\0');
  int rc = BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(width));
  BN_free(bn);
  if (rc < 0) throw std::runtime_error("number too large");
  return out;
}

}  // namespace hub::signing::testing
