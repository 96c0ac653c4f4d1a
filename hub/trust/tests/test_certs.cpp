#include "test_certs.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <stdexcept>

namespace hub::trust::testing {
namespace {

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string s(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return s;
}

void check(int rc, const char* what) {
  if (rc <= 0) throw std::runtime_error(std::string("test certificate: ") + what + " failed");
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) throw std::runtime_error(std::string("test certificate: extension ") + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

TestCert make(const CertSpec& spec, const TestCert* issuer) {
  TestCert out;
  out.key = make_ec_key();
  X509* x = X509_new();
  out.x509.reset(x, X509_free);
  check(X509_set_version(x, 2), "version");
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
  BN_free(bn);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("GX Hub Test"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(spec.cn.c_str()), -1,
                             -1, 0);
  X509* signer = issuer ? issuer->x509.get() : x;
  check(X509_set_issuer_name(x, X509_get_subject_name(signer)), "issuer");
  ASN1_TIME_set(X509_getm_notBefore(x), std::chrono::system_clock::to_time_t(spec.not_before));
  if (spec.no_expiry) {
    check(ASN1_TIME_set_string(X509_getm_notAfter(x), "99991231235959Z"), "notAfter");
  } else {
    ASN1_TIME_set(X509_getm_notAfter(x), std::chrono::system_clock::to_time_t(spec.not_after));
  }
  check(X509_set_pubkey(x, out.key.pkey.get()), "pubkey");
  add_ext(x, signer, NID_subject_key_identifier, "hash");
  if (issuer) add_ext(x, signer, NID_authority_key_identifier, "keyid:always");
  if (spec.ca) {
    add_ext(x, signer, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(x, signer, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(x, signer, NID_key_usage, "critical,digitalSignature");
    add_ext(x, signer, NID_ext_key_usage, "clientAuth");
  }
  check(X509_sign(x, issuer ? issuer->key.pkey.get() : out.key.pkey.get(), EVP_sha256()), "sign");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x);
  out.pem = bio_text(bio);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  check(X509_digest(x, EVP_sha256(), md, &len), "digest");
  static const char* kHex = "0123456789abcdef";
  for (unsigned int i = 0; i < len; ++i) {
    out.fingerprint_sha256 += kHex[md[i] >> 4];
    out.fingerprint_sha256 += kHex[md[i] & 0xf];
  }
  BIO* subject = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(subject, X509_get_subject_name(x), 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  out.subject = bio_text(subject);
  return out;
}

}  // namespace

TestKey make_ec_key() {
  TestKey k;
  EVP_PKEY* pk = EVP_EC_gen("P-256");
  if (pk == nullptr) throw std::runtime_error("test key: EC generation failed");
  k.pkey.reset(pk, EVP_PKEY_free);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, pk);
  k.public_pem = bio_text(bio);
  return k;
}

TestCert make_ca(const CertSpec& spec) {
  CertSpec s = spec;
  s.ca = true;
  return make(s, nullptr);
}

TestCert issue(const TestCert& issuer, const CertSpec& spec) { return make(spec, &issuer); }

http::PeerCertificate peer_of(const TestCert& cert) {
  http::PeerCertificate p;
  p.present = true;
  p.subject = cert.subject;
  p.fingerprint_sha256 = cert.fingerprint_sha256;
  p.pem = cert.pem;
  return p;
}

TimePoint day(int n) {
  // 2026-01-01T00:00:00Z
  return TimePoint(std::chrono::seconds(1767225600)) + std::chrono::hours(24 * n);
}

}  // namespace hub::trust::testing
