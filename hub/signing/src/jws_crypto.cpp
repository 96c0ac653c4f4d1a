#include "jws_crypto.hpp"

#include <openssl/rsa.h>

#include <array>
#include <cstring>

#include "ossl.hpp"

namespace hub::signing::detail {
namespace {

enum class Family { kEcdsa, kEdDsa, kRsaPkcs1, kRsaPss };

struct AlgSpec {
  Family family;
  int sha_bits;       // 256/384/512, 0 for EdDSA (the hash is part of the scheme)
  KeyType key_type;   // for RSA: kRsa
  std::size_t coord;  // ECDSA: bytes of R (and of S)
};

AlgSpec spec_of(JwsAlg alg) {
  switch (alg) {
    case JwsAlg::kEs256:
      return {Family::kEcdsa, 256, KeyType::kEcP256, 32};
    case JwsAlg::kEs384:
      return {Family::kEcdsa, 384, KeyType::kEcP384, 48};
    case JwsAlg::kEs512:
      return {Family::kEcdsa, 512, KeyType::kEcP521, 66};
    case JwsAlg::kEdDsa:
      return {Family::kEdDsa, 0, KeyType::kEd25519, 0};
    case JwsAlg::kRs256:
      return {Family::kRsaPkcs1, 256, KeyType::kRsa, 0};
    case JwsAlg::kRs384:
      return {Family::kRsaPkcs1, 384, KeyType::kRsa, 0};
    case JwsAlg::kRs512:
      return {Family::kRsaPkcs1, 512, KeyType::kRsa, 0};
    case JwsAlg::kPs256:
      return {Family::kRsaPss, 256, KeyType::kRsa, 0};
    case JwsAlg::kPs384:
      return {Family::kRsaPss, 384, KeyType::kRsa, 0};
    case JwsAlg::kPs512:
      return {Family::kRsaPss, 512, KeyType::kRsa, 0};
  }
  return {Family::kEdDsa, 0, KeyType::kOther, 0};
}

// The digests, fetched from the provider once for the process: an explicitly fetched
// EVP_MD spares OpenSSL 3 the implicit fetch that EVP_sha256() costs on every init.
struct Digests {
  EvpMdPtr sha256{EVP_MD_fetch(nullptr, "SHA2-256", nullptr)};
  EvpMdPtr sha384{EVP_MD_fetch(nullptr, "SHA2-384", nullptr)};
  EvpMdPtr sha512{EVP_MD_fetch(nullptr, "SHA2-512", nullptr)};
};

const EVP_MD* digest_for(int sha_bits) {
  static const Digests digests;
  switch (sha_bits) {
    case 256:
      return digests.sha256.get();
    case 384:
      return digests.sha384.get();
    case 512:
      return digests.sha512.get();
    default:
      return nullptr;
  }
}

// DER INTEGER of an unsigned big-endian number; returns the bytes written.
std::size_t der_integer(const unsigned char* p, std::size_t n, unsigned char* out) {
  while (n > 1 && *p == 0) {
    ++p;
    --n;
  }
  std::size_t at = 0;
  bool pad = (*p & 0x80) != 0;
  out[at++] = 0x02;
  out[at++] = static_cast<unsigned char>(n + (pad ? 1 : 0));
  if (pad) out[at++] = 0;
  std::memcpy(out + at, p, n);
  return at + n;
}

// R||S -> DER Ecdsa-Sig-Value, written by hand: no BIGNUM allocations on the hot path.
// Each INTEGER is at most 2 + 67 bytes (P-521), so the SEQUENCE fits in 3 + 138.
std::size_t ecdsa_raw_to_der(std::string_view raw, std::size_t coord,
                             std::array<unsigned char, 160>& der) {
  std::array<unsigned char, 72> r{}, s{};
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  std::size_t rl = der_integer(p, coord, r.data());
  std::size_t sl = der_integer(p + coord, coord, s.data());
  std::size_t body = rl + sl, at = 0;
  der[at++] = 0x30;
  if (body >= 128) der[at++] = 0x81;
  der[at++] = static_cast<unsigned char>(body);
  std::memcpy(der.data() + at, r.data(), rl);
  std::memcpy(der.data() + at + rl, s.data(), sl);
  return at + body;
}

bool ecdsa_der_to_raw(const unsigned char* der, std::size_t len, std::size_t coord,
                      std::string& raw) {
  const unsigned char* p = der;
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)));
  if (!sig) return false;
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  raw.assign(2 * coord, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  return BN_bn2binpad(r, out, static_cast<int>(coord)) == static_cast<int>(coord) &&
         BN_bn2binpad(s, out + coord, static_cast<int>(coord)) == static_cast<int>(coord);
}

bool set_pss(EVP_PKEY_CTX* pctx) {
  // RFC 7518 3.5: MGF1 with the same hash, salt as long as the hash.
  return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
}

}  // namespace

std::string jws_key_mismatch(JwsAlg alg, KeyType type, int bits) {
  AlgSpec s = spec_of(alg);
  std::string key = std::string(key_type_str(type));
  if (type == KeyType::kRsa) key += " " + std::to_string(bits);
  if (s.key_type == KeyType::kRsa) {
    if (type != KeyType::kRsa)
      return std::string(jws_alg_name(alg)) + " needs an RSA key, but the key is " + key;
    if (bits < 2048)
      return std::string(jws_alg_name(alg)) + " needs RSA of at least 2048 bits, but the key is " +
             key;
    return {};
  }
  if (type != s.key_type)
    return std::string(jws_alg_name(alg)) + " needs an " + std::string(key_type_str(s.key_type)) +
           " key, but the key is " + key;
  return {};
}

Status jws_verify_signature(JwsAlg alg, std::string_view signing_input, std::string_view signature,
                            EVP_PKEY* key) {
  AlgSpec s = spec_of(alg);
  const auto* sig = reinterpret_cast<const unsigned char*>(signature.data());
  std::size_t sig_len = signature.size();
  std::array<unsigned char, 160> der{};
  if (s.family == Family::kEcdsa) {
    if (signature.size() != 2 * s.coord)
      return make_error("SIGNATURE_INVALID",
                        "an " + std::string(jws_alg_name(alg)) + " signature is R||S of " +
                            std::to_string(2 * s.coord) + " bytes, this one has " +
                            std::to_string(signature.size()));
    sig_len = ecdsa_raw_to_der(signature, s.coord, der);
    sig = der.data();
  }
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  bool ready = ctx &&
               EVP_DigestVerifyInit(ctx.get(), &pctx, digest_for(s.sha_bits), nullptr, key) == 1 &&
               (s.family != Family::kRsaPss || set_pss(pctx));
  if (!ready)
    return make_error("SIGNATURE_INVALID", "the key cannot verify " +
                                               std::string(jws_alg_name(alg)) + " (" +
                                               drain_openssl_errors() + ")");
  int rc = EVP_DigestVerify(ctx.get(), sig, sig_len,
                            reinterpret_cast<const unsigned char*>(signing_input.data()),
                            signing_input.size());
  if (rc == 1) return {};
  drain_openssl_errors();
  return make_error("SIGNATURE_INVALID",
                    "the " + std::string(jws_alg_name(alg)) +
                        " signature does not verify: the header or payload was changed, "
                        "or another key signed it");
}

Result<std::string> jws_create_signature(JwsAlg alg, std::string_view signing_input,
                                         EVP_PKEY* key) {
  AlgSpec s = spec_of(alg);
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  bool ready = ctx &&
               EVP_DigestSignInit(ctx.get(), &pctx, digest_for(s.sha_bits), nullptr, key) == 1 &&
               (s.family != Family::kRsaPss || set_pss(pctx));
  const auto* in = reinterpret_cast<const unsigned char*>(signing_input.data());
  std::size_t len = 0;
  if (!ready || EVP_DigestSign(ctx.get(), nullptr, &len, in, signing_input.size()) != 1)
    return make_error("SIGNING_FAILED", "cannot sign " + std::string(jws_alg_name(alg)) +
                                            " with this key (" + drain_openssl_errors() + ")");
  std::string out(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, in,
                     signing_input.size()) != 1)
    return make_error("SIGNING_FAILED", "signing failed (" + drain_openssl_errors() + ")");
  out.resize(len);
  if (s.family != Family::kEcdsa) return out;
  std::string raw;
  if (!ecdsa_der_to_raw(reinterpret_cast<const unsigned char*>(out.data()), out.size(), s.coord,
                        raw))
    return make_error("SIGNING_FAILED", "the ECDSA signature could not be converted to R||S");
  return raw;
}

}  // namespace hub::signing::detail
