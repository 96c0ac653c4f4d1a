#pragma once
// Keys and self-signed certificates made in the test process (nothing is committed), and
// the conversions the vector tests need (JWK, XML KeyValue -> PublicKey).

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hub/signing/keys.hpp"

namespace hub::signing::testing {

enum class KeyKind { kEcP256, kEcP384, kEcP521, kEd25519, kRsa2048, kRsa1024 };

struct TestKey {
  std::string private_pem;
  std::string public_pem;       // SPKI
  std::string certificate_pem;  // self-signed, CN as given, valid from an hour ago for a day
  PrivateKey private_key;
  PublicKey spki;         // from public_pem
  PublicKey certificate;  // from certificate_pem (empty for RSA-1024: refused)
};

// A fresh key with a certificate. Keys are made once per (kind, name) per test process.
const TestKey& test_key(KeyKind kind, const std::string& name = "signer");

// Another self-signed certificate for the same key.
std::string another_certificate_pem(const TestKey& key, const std::string& cn);

std::string public_pem_of(EVP_PKEY* key);
std::string private_pem_of(EVP_PKEY* key);

// Public keys from their parts (big-endian unsigned bytes).
PublicKey rsa_public_key(std::string_view modulus, std::string_view exponent);
// curve: "P-256", "P-384", "P-521".
PublicKey ec_public_key(const std::string& curve, std::string_view x, std::string_view y);
PublicKey ed25519_public_key(std::string_view raw);

// A certificate from PEM (throws if it does not parse).
std::shared_ptr<X509> certificate_of(const std::string& pem);

// A CMS SignedData over the bytes read from `content`, DER, made with the OpenSSL API as
// `openssl cms -sign -binary` makes it (detached unless told otherwise).
struct CmsSigner {
  X509* cert;
  EVP_PKEY* key;
};
std::string cms_sign(BIO* content, const std::vector<CmsSigner>& signers, const EVP_MD* md,
                     bool detached = true);
std::string cms_sign(std::string_view content, const TestKey& key, const EVP_MD* md,
                     bool detached = true);

// base64url / base64 helpers for building test messages.
std::string b64url(std::string_view bytes);
std::string from_b64url(std::string_view text);
std::string from_b64(std::string_view text);
// A decimal number as big-endian bytes (XML ECDSAKeyValue carries decimal coordinates).
std::string decimal_to_bytes(const std::string& decimal, std::size_t width);

}  // namespace hub::signing::testing
