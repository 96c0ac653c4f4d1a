#pragma once
// Keys as the signing module and the trust store see them: a public key (from a PEM
// SubjectPublicKeyInfo or an X.509 certificate) and a private key (from PEM), with what a
// policy needs to know about them (type, size, fingerprint, certificate subject and
// validity). OpenSSL types appear only as opaque pointers for the module's own code.
//
// Thread-safety: PublicKey and PrivateKey are immutable after loading and share their
// OpenSSL objects through shared_ptr; copies are cheap, and any number of threads may
// verify or sign with one key at once (each operation uses its own EVP_MD_CTX).

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "hub/core/result.hpp"

using EVP_PKEY = struct evp_pkey_st;
using X509 = struct x509_st;

namespace hub::signing {

enum class KeyType { kRsa, kEcP256, kEcP384, kEcP521, kEd25519, kOther };
std::string_view key_type_str(KeyType type);  // "RSA", "EC P-256", ..., "Ed25519", "other"

struct KeyInfo {
  KeyType type = KeyType::kOther;
  int bits = 0;                    // RSA modulus / curve size
  std::string fingerprint_sha256;  // lower-case hex SHA-256 of the SubjectPublicKeyInfo DER
  bool from_certificate = false;
  // When loaded from a certificate:
  std::string subject;                  // RFC 2253
  std::string issuer;                   // RFC 2253
  std::string serial_hex;               // upper-case hex
  std::string cert_fingerprint_sha256;  // lower-case hex SHA-256 of the certificate DER
  std::optional<std::chrono::system_clock::time_point> not_before;
  std::optional<std::chrono::system_clock::time_point> not_after;
};

class PublicKey {
 public:
  // A "PUBLIC KEY" (SPKI) or "CERTIFICATE" PEM block; the first block found is used.
  // Refused (code KEY_INVALID): anything else, an RSA key under 2048 bits.
  static Result<PublicKey> from_pem(std::string_view pem);
  static Result<PublicKey> from_file(const std::string& path);

  EVP_PKEY* pkey() const { return pkey_.get(); }
  X509* certificate() const { return cert_.get(); }  // nullptr when loaded from SPKI
  const KeyInfo& info() const { return *info_; }
  std::string spki_pem() const;
  // The PEM it was loaded from (certificate or SPKI), normalised to one block.
  const std::string& pem() const { return *pem_; }

 private:
  std::shared_ptr<EVP_PKEY> pkey_;
  std::shared_ptr<X509> cert_;
  std::shared_ptr<const KeyInfo> info_;
  std::shared_ptr<const std::string> pem_;
};

class PrivateKey {
 public:
  // A PKCS#8 "PRIVATE KEY" or traditional "EC/RSA PRIVATE KEY" PEM, unencrypted.
  static Result<PrivateKey> from_pem(std::string_view pem);
  static Result<PrivateKey> from_file(const std::string& path);

  EVP_PKEY* pkey() const { return pkey_.get(); }
  KeyType type() const { return type_; }
  int bits() const { return bits_; }

 private:
  std::shared_ptr<EVP_PKEY> pkey_;
  KeyType type_ = KeyType::kOther;
  int bits_ = 0;
};

// The type of an OpenSSL key (RSA, EC curve, Ed25519) and its size in bits.
KeyType key_type_of(EVP_PKEY* pkey, int* bits = nullptr);

}  // namespace hub::signing
