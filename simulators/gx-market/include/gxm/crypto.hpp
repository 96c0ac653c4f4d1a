#pragma once
// Encodings, hashes and keys for the simulator, on OpenSSL 3 directly. Free functions are
// thread-safe; a Pkey may be used from several threads for signing and verifying (OpenSSL 3
// EVP_PKEY is reference-counted and read-only once loaded).

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

#include "gxm/result.hpp"

namespace gxm {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::shared_ptr<EVP_PKEY>;

std::string base64url_encode(std::string_view bytes);
// Refuses padding, whitespace and characters outside the URL-safe alphabet (RFC 7515 s.2).
Result<std::string> base64url_decode(std::string_view text);
std::string hex_lower(std::string_view bytes);
std::string sha256(std::string_view bytes);  // 32 raw bytes
std::string sha256_hex(std::string_view bytes);
std::string hmac_sha256(std::string_view key, std::string_view data);

std::string read_text_file(const std::string& path);  // throws std::runtime_error

// A private key from a PEM file (PKCS#8 or traditional, unencrypted).
Result<Pkey> load_private_key(const std::string& path);
// A public key from a PEM file holding a certificate or a SubjectPublicKeyInfo.
Result<Pkey> load_public_key(const std::string& path);
Result<Pkey> public_key_from_pem(std::string_view pem);
std::string public_key_pem(EVP_PKEY* key);
// A fresh EC P-256 key (the simulator's "wrong key" fault, tests).
Pkey generate_p256_key();

// The JWS "alg" that matches a key: ES256 (P-256), ES384 (P-384), EdDSA (Ed25519), RS256
// (RSA >= 2048). An error for any other key.
Result<std::string> jws_alg_for_key(EVP_PKEY* key);

// JWS signature of `input` (RFC 7518 encodings: raw r||s for ECDSA). alg must suit the key.
Result<std::string> jws_sign(std::string_view alg, EVP_PKEY* key, std::string_view input);
// True only when `sig` is a valid signature of `input` by `key` under `alg`; alg must be
// one of ES256, ES384, EdDSA, RS256, PS256 and suit the key type (RSA >= 2048 bits).
Status jws_verify(std::string_view alg, EVP_PKEY* key, std::string_view input,
                  std::string_view sig);

}  // namespace gxm
