#include "hub/signing/keys.hpp"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "hub/core/digest.hpp"
#include "ossl.hpp"

namespace hub::signing {
namespace {

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return len > 0 ? std::string(data, static_cast<std::size_t>(len)) : std::string();
}

std::string name_rfc2253(X509_NAME* name) {
  detail::BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  return bio_text(bio.get());
}

std::optional<std::chrono::system_clock::time_point> asn1_time(const ASN1_TIME* t) {
  if (t == nullptr) return std::nullopt;
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("KEY_INVALID", "cannot read key file " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string_view key_type_str(KeyType type) {
  switch (type) {
    case KeyType::kRsa:
      return "RSA";
    case KeyType::kEcP256:
      return "EC P-256";
    case KeyType::kEcP384:
      return "EC P-384";
    case KeyType::kEcP521:
      return "EC P-521";
    case KeyType::kEd25519:
      return "Ed25519";
    case KeyType::kOther:
      break;
  }
  return "other";
}

KeyType key_type_of(EVP_PKEY* pkey, int* bits) {
  if (bits != nullptr) *bits = EVP_PKEY_get_bits(pkey);
  switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
      return KeyType::kRsa;
    case EVP_PKEY_ED25519:
      return KeyType::kEd25519;
    case EVP_PKEY_EC: {
      char curve[64] = {0};
      std::size_t len = 0;
      if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof curve,
                                         &len) != 1)
        return KeyType::kOther;
      std::string c(curve, len);
      if (c == "prime256v1" || c == "P-256") return KeyType::kEcP256;
      if (c == "secp384r1" || c == "P-384") return KeyType::kEcP384;
      if (c == "secp521r1" || c == "P-521") return KeyType::kEcP521;
      return KeyType::kOther;
    }
    default:
      return KeyType::kOther;
  }
}

Result<PublicKey> PublicKey::from_pem(std::string_view pem) {
  PublicKey key;
  auto info = std::make_shared<KeyInfo>();
  auto find = [&](std::string_view label) {
    return pem.find("-----BEGIN " + std::string(label) + "-----");
  };
  auto cert_at = find("CERTIFICATE");
  auto spki_at = find("PUBLIC KEY");
  if (cert_at == std::string_view::npos && spki_at == std::string_view::npos)
    return make_error("KEY_INVALID", "no PEM 'CERTIFICATE' or 'PUBLIC KEY' block found");
  bool use_cert =
      cert_at != std::string_view::npos && (spki_at == std::string_view::npos || cert_at < spki_at);
  std::string_view block = pem.substr(use_cert ? cert_at : spki_at);
  detail::BioPtr bio = detail::memory_bio(block);
  if (!bio) return make_error("KEY_INVALID", "the PEM text is too large");
  if (use_cert) {
    X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (cert == nullptr) {
      detail::drain_openssl_errors();
      return make_error("KEY_INVALID", "the CERTIFICATE PEM block does not parse");
    }
    key.cert_.reset(cert, X509_free);
    EVP_PKEY* pk = X509_get_pubkey(cert);
    if (pk == nullptr)
      return make_error("KEY_INVALID", "the certificate's public key cannot be read");
    key.pkey_.reset(pk, EVP_PKEY_free);
    info->from_certificate = true;
    info->subject = name_rfc2253(X509_get_subject_name(cert));
    info->issuer = name_rfc2253(X509_get_issuer_name(cert));
    if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)) {
      char* h = BN_bn2hex(bn);
      info->serial_hex = h;
      OPENSSL_free(h);
      BN_free(bn);
    }
    info->not_before = asn1_time(X509_get0_notBefore(cert));
    info->not_after = asn1_time(X509_get0_notAfter(cert));
    info->cert_fingerprint_sha256 = sha256_hex(detail::certificate_der(cert));
    detail::BioPtr out(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(out.get(), cert);
    key.pem_ = std::make_shared<const std::string>(bio_text(out.get()));
  } else {
    EVP_PKEY* pk = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
    if (pk == nullptr) {
      detail::drain_openssl_errors();
      return make_error("KEY_INVALID", "the PUBLIC KEY PEM block does not parse");
    }
    key.pkey_.reset(pk, EVP_PKEY_free);
  }
  info->type = key_type_of(key.pkey_.get(), &info->bits);
  if (info->type == KeyType::kRsa && info->bits < 2048)
    return make_error("KEY_INVALID", "RSA key of " + std::to_string(info->bits) +
                                         " bits: at least 2048 are required");
  if (info->type == KeyType::kOther)
    return make_error("KEY_INVALID",
                      "unsupported key type (RSA, EC P-256/P-384/P-521 or Ed25519 are accepted)");
  std::string der = detail::spki_der(key.pkey_.get());
  info->fingerprint_sha256 = sha256_hex(der);
  key.info_ = std::move(info);
  if (!key.pem_) key.pem_ = std::make_shared<const std::string>(key.spki_pem());
  return key;
}

Result<PublicKey> PublicKey::from_file(const std::string& path) {
  auto text = read_file(path);
  if (!text) return text.error();
  return from_pem(*text);
}

std::string PublicKey::spki_pem() const {
  detail::BioPtr out(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(out.get(), pkey_.get());
  return bio_text(out.get());
}

Result<PrivateKey> PrivateKey::from_pem(std::string_view pem) {
  detail::BioPtr bio = detail::memory_bio(pem);
  EVP_PKEY* pk = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (pk == nullptr) {
    detail::drain_openssl_errors();
    return make_error("KEY_INVALID", "no unencrypted private key PEM block found");
  }
  PrivateKey key;
  key.pkey_.reset(pk, EVP_PKEY_free);
  key.type_ = key_type_of(pk, &key.bits_);
  if (key.type_ == KeyType::kOther)
    return make_error("KEY_INVALID", "unsupported private key type");
  return key;
}

Result<PrivateKey> PrivateKey::from_file(const std::string& path) {
  auto text = read_file(path);
  if (!text) return text.error();
  return from_pem(*text);
}

}  // namespace hub::signing
