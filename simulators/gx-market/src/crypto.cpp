#include "gxm/crypto.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <array>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace gxm {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct EcSigFree {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

Pkey wrap(EVP_PKEY* p) { return Pkey(p, PkeyFree{}); }

std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    std::array<char, 256> buf{};
    ERR_error_string_n(e, buf.data(), buf.size());
    if (!out.empty()) out += "; ";
    out += buf.data();
  }
  return out.empty() ? "no OpenSSL detail" : out;
}

constexpr std::string_view kB64Url =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int b64_value(char c) {
  auto pos = kB64Url.find(c);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

// The curve's name of an EC key ("prime256v1", "secp384r1"), empty for other keys.
std::string ec_group(EVP_PKEY* key) {
  std::array<char, 64> name{};
  size_t len = 0;
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return {};
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name.data(), name.size(),
                                     &len) != 1) {
    return {};
  }
  return std::string(name.data(), len);
}

struct AlgInfo {
  const EVP_MD* md = nullptr;  // null for EdDSA
  int key_type = 0;
  std::string curve;  // for ECDSA
  size_t ec_coord = 0;
  bool pss = false;
};

Result<AlgInfo> alg_info(std::string_view alg) {
  if (alg == "ES256") return AlgInfo{EVP_sha256(), EVP_PKEY_EC, "prime256v1", 32, false};
  if (alg == "ES384") return AlgInfo{EVP_sha384(), EVP_PKEY_EC, "secp384r1", 48, false};
  if (alg == "EdDSA") return AlgInfo{nullptr, EVP_PKEY_ED25519, "", 0, false};
  if (alg == "RS256") return AlgInfo{EVP_sha256(), EVP_PKEY_RSA, "", 0, false};
  if (alg == "PS256") return AlgInfo{EVP_sha256(), EVP_PKEY_RSA, "", 0, true};
  return make_error("ALG_REFUSED", "JWS alg '" + std::string(alg) +
                                       "' is not accepted (ES256, ES384, EdDSA, RS256, PS256)");
}

Status key_suits(const AlgInfo& info, std::string_view alg, EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) != info.key_type) {
    return make_error("ALG_KEY_MISMATCH",
                      "JWS alg " + std::string(alg) + " does not match the key's type");
  }
  if (info.key_type == EVP_PKEY_EC && ec_group(key) != info.curve) {
    return make_error("ALG_KEY_MISMATCH", "JWS alg " + std::string(alg) + " needs curve " +
                                              info.curve + ", the key is on " + ec_group(key));
  }
  if (info.key_type == EVP_PKEY_RSA && EVP_PKEY_get_bits(key) < 2048) {
    return make_error("ALG_REFUSED", "RSA keys under 2048 bits are refused");
  }
  return ok_status();
}

Status configure_pss(EVP_PKEY_CTX* pctx, bool pss) {
  if (!pss) return ok_status();
  if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1) {
    return make_error("CRYPTO", "cannot set RSA-PSS parameters: " + openssl_errors());
  }
  return ok_status();
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto at = [&](size_t k) { return static_cast<unsigned char>(bytes[k]); };
  for (; i + 3 <= bytes.size(); i += 3) {
    unsigned v = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
    out += kB64Url[(v >> 18) & 63];
    out += kB64Url[(v >> 12) & 63];
    out += kB64Url[(v >> 6) & 63];
    out += kB64Url[v & 63];
  }
  if (bytes.size() - i == 1) {
    unsigned v = at(i) << 16;
    out += kB64Url[(v >> 18) & 63];
    out += kB64Url[(v >> 12) & 63];
  } else if (bytes.size() - i == 2) {
    unsigned v = (at(i) << 16) | (at(i + 1) << 8);
    out += kB64Url[(v >> 18) & 63];
    out += kB64Url[(v >> 12) & 63];
    out += kB64Url[(v >> 6) & 63];
  }
  return out;
}

Result<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) {
    return make_error("BAD_BASE64URL", "base64url text has an impossible length");
  }
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = b64_value(c);
    if (v < 0) {
      return make_error("BAD_BASE64URL", std::string("character '") + c +
                                             "' is not in the base64url alphabet (no padding)");
    }
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  // Non-canonical encodings (leftover bits set) are refused so that one byte string has one
  // text form.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
    return make_error("BAD_BASE64URL", "base64url text has non-zero padding bits");
  }
  return out;
}

std::string hex_lower(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string sha256(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md.data(), &len, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed: " + openssl_errors());
  }
  return std::string(reinterpret_cast<const char*>(md.data()), len);
}

std::string sha256_hex(std::string_view bytes) { return hex_lower(sha256(bytes)); }

std::string hmac_sha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), md.data(), &len)) {
    throw std::runtime_error("HMAC-SHA256 failed: " + openssl_errors());
  }
  return std::string(reinterpret_cast<const char*>(md.data()), len);
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<Pkey> load_private_key(const std::string& path) {
  std::string pem;
  try {
    pem = read_text_file(path);
  } catch (const std::exception& e) {
    return make_error("KEY_FILE", e.what());
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (!key) {
    return make_error("KEY_FILE", "no unencrypted PEM private key in " + path + ": " +
                                      openssl_errors());
  }
  return wrap(key);
}

Result<Pkey> public_key_from_pem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (pem.find("BEGIN CERTIFICATE") != std::string_view::npos) {
    std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) return make_error("KEY_FILE", "unreadable PEM certificate: " + openssl_errors());
    EVP_PKEY* key = X509_get_pubkey(cert.get());
    if (!key) return make_error("KEY_FILE", "certificate without a usable public key");
    return wrap(key);
  }
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (!key) return make_error("KEY_FILE", "no PEM certificate or public key: " + openssl_errors());
  return wrap(key);
}

Result<Pkey> load_public_key(const std::string& path) {
  std::string pem;
  try {
    pem = read_text_file(path);
  } catch (const std::exception& e) {
    return make_error("KEY_FILE", e.what());
  }
  auto key = public_key_from_pem(pem);
  if (!key) return make_error("KEY_FILE", path + ": " + key.error().message);
  return key;
}

std::string public_key_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PUBKEY(bio.get(), key) != 1) {
    throw std::runtime_error("cannot write a public key: " + openssl_errors());
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Pkey generate_p256_key() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (!key) throw std::runtime_error("cannot generate a P-256 key: " + openssl_errors());
  return wrap(key);
}

Result<std::string> jws_alg_for_key(EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_EC: {
      auto g = ec_group(key);
      if (g == "prime256v1") return std::string("ES256");
      if (g == "secp384r1") return std::string("ES384");
      return make_error("KEY_TYPE", "EC curve " + g + " has no JWS alg here (P-256, P-384)");
    }
    case EVP_PKEY_ED25519:
      return std::string("EdDSA");
    case EVP_PKEY_RSA:
      if (EVP_PKEY_get_bits(key) < 2048) return make_error("KEY_TYPE", "RSA key under 2048 bits");
      return std::string("RS256");
    default:
      return make_error("KEY_TYPE", "key type has no JWS alg here");
  }
}

Result<std::string> jws_sign(std::string_view alg, EVP_PKEY* key, std::string_view input) {
  auto info = alg_info(alg);
  if (!info) return info.error();
  if (auto st = key_suits(*info, alg, key); !st) return st.error();
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestSignInit(ctx.get(), &pctx, info->md, nullptr, key) != 1) {
    return make_error("CRYPTO", "sign init failed: " + openssl_errors());
  }
  if (auto st = configure_pss(pctx, info->pss); !st) return st.error();
  size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(input.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &len, in, input.size()) != 1) {
    return make_error("CRYPTO", "sign failed: " + openssl_errors());
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                     input.size()) != 1) {
    return make_error("CRYPTO", "sign failed: " + openssl_errors());
  }
  sig.resize(len);
  if (info->key_type != EVP_PKEY_EC) return sig;

  // OpenSSL gives ECDSA signatures as DER; JWS wants r||s, each left-padded to the
  // coordinate size (RFC 7518 s.3.4).
  const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
  std::unique_ptr<ECDSA_SIG, EcSigFree> es(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)));
  if (!es) return make_error("CRYPTO", "unreadable ECDSA signature: " + openssl_errors());
  std::string raw(info->ec_coord * 2, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(es.get()), out, static_cast<int>(info->ec_coord)) < 0 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(es.get()), out + info->ec_coord,
                   static_cast<int>(info->ec_coord)) < 0) {
    return make_error("CRYPTO", "ECDSA signature does not fit the curve size");
  }
  return raw;
}

Status jws_verify(std::string_view alg, EVP_PKEY* key, std::string_view input,
                  std::string_view sig) {
  auto info = alg_info(alg);
  if (!info) return info.error();
  if (auto st = key_suits(*info, alg, key); !st) return st.error();
  std::string der;
  if (info->key_type == EVP_PKEY_EC) {
    if (sig.size() != info->ec_coord * 2) {
      return make_error("BAD_SIGNATURE", "ECDSA signature has " + std::to_string(sig.size()) +
                                             " bytes, expected " +
                                             std::to_string(info->ec_coord * 2));
    }
    const auto* raw = reinterpret_cast<const unsigned char*>(sig.data());
    std::unique_ptr<ECDSA_SIG, EcSigFree> es(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(raw, static_cast<int>(info->ec_coord), nullptr);
    BIGNUM* s = BN_bin2bn(raw + info->ec_coord, static_cast<int>(info->ec_coord), nullptr);
    if (!es || !r || !s || ECDSA_SIG_set0(es.get(), r, s) != 1) {
      BN_free(r);
      BN_free(s);
      return make_error("CRYPTO", "cannot rebuild the ECDSA signature");
    }
    unsigned char* buf = nullptr;
    int n = i2d_ECDSA_SIG(es.get(), &buf);
    if (n <= 0) return make_error("CRYPTO", "cannot encode the ECDSA signature");
    der.assign(reinterpret_cast<char*>(buf), static_cast<size_t>(n));
    OPENSSL_free(buf);
    sig = der;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestVerifyInit(ctx.get(), &pctx, info->md, nullptr, key) != 1) {
    return make_error("CRYPTO", "verify init failed: " + openssl_errors());
  }
  if (auto st = configure_pss(pctx, info->pss); !st) return st.error();
  int rc = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()),
                            sig.size(), reinterpret_cast<const unsigned char*>(input.data()),
                            input.size());
  ERR_clear_error();
  if (rc != 1) return make_error("BAD_SIGNATURE", "the signature does not verify with the key");
  return ok_status();
}

}  // namespace gxm
