#include "tls.hpp"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace hub::http::tls {
namespace {

// ECDHE key exchange, AEAD ciphers only (TLS 1.2); TLS 1.3 suites are all AEAD.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256";
constexpr const char* kTls13Suites =
    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256";
constexpr const char* kGroups = "X25519:P-256:P-384";

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};

Error config_error(const std::string& what) {
  return make_error("HTTP_TLS_CONFIG", what + ": " + drain_errors());
}

// Protocol and cipher policy common to both sides.
Result<SslCtxPtr> new_context(const SSL_METHOD* method) {
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(method));
  if (!ctx) return config_error("cannot create a TLS context");
  SSL_CTX* c = ctx.get();
  if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) != 1) {
    return config_error("cannot restrict TLS versions to 1.2-1.3");
  }
  SSL_CTX_set_options(
      c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_clear_options(c, SSL_OP_ALLOW_CLIENT_RENEGOTIATION | SSL_OP_LEGACY_SERVER_CONNECT);
  if (SSL_CTX_set_cipher_list(c, kTls12Ciphers) != 1)
    return config_error("cannot set TLS 1.2 ciphers");
  if (SSL_CTX_set_ciphersuites(c, kTls13Suites) != 1)
    return config_error("cannot set TLS 1.3 suites");
  if (SSL_CTX_set1_groups_list(c, kGroups) != 1)
    return config_error("cannot set key exchange groups");
  return ctx;
}

Status load_identity(SSL_CTX* c, const std::string& cert_file, const std::string& key_file) {
  if (SSL_CTX_use_certificate_chain_file(c, cert_file.c_str()) != 1) {
    return config_error("cannot load certificate chain " + cert_file);
  }
  if (SSL_CTX_use_PrivateKey_file(c, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return config_error("cannot load private key " + key_file);
  }
  if (SSL_CTX_check_private_key(c) != 1) {
    return config_error("private key " + key_file + " does not match certificate " + cert_file);
  }
  return {};
}

std::string name_text(const X509_NAME* name) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  // RFC 2253 but keep UTF-8 as is: company names are Japanese.
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return len > 0 ? std::string(data, static_cast<std::size_t>(len)) : std::string();
}

std::string to_hex(const unsigned char* p, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[p[i] >> 4]);
    out.push_back(kDigits[p[i] & 0xf]);
  }
  return out;
}

}  // namespace

std::string drain_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no detail from OpenSSL" : out;
}

Result<SslCtxPtr> make_server_context(const std::string& cert_file, const std::string& key_file,
                                      const std::string& client_ca_file) {
  auto ctx = new_context(TLS_server_method());
  if (!ctx) return ctx.error();
  SSL_CTX* c = ctx->get();
  if (cert_file.empty() || key_file.empty()) {
    return make_error("HTTP_TLS_CONFIG", "the server needs a certificate file and a key file");
  }
  if (auto st = load_identity(c, cert_file, key_file); !st) return st.error();
  // Resumed sessions keep the peer certificate; OpenSSL requires a context id for them
  // whenever peers are verified.
  static constexpr unsigned char kSessionContext[] = "gx-hub";
  SSL_CTX_set_session_id_context(c, kSessionContext, sizeof kSessionContext - 1);
  if (!client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(c, client_ca_file.c_str(), nullptr) != 1) {
      return config_error("cannot load client CA file " + client_ca_file);
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(client_ca_file.c_str());
    if (names == nullptr) return config_error("no CA names in " + client_ca_file);
    SSL_CTX_set_client_CA_list(c, names);  // takes ownership
    // Without SSL_VERIFY_FAIL_IF_NO_PEER_CERT: a certificate is optional, but one that is
    // presented must verify or the handshake ends.
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_verify_depth(c, 4);
  }
  return ctx;
}

Result<SslCtxPtr> make_client_context(const std::string& ca_file, const std::string& cert_file,
                                      const std::string& key_file) {
  auto ctx = new_context(TLS_client_method());
  if (!ctx) return ctx.error();
  SSL_CTX* c = ctx->get();
  int loaded = ca_file.empty() ? SSL_CTX_set_default_verify_paths(c)
                               : SSL_CTX_load_verify_locations(c, ca_file.c_str(), nullptr);
  if (loaded != 1) {
    return config_error("cannot load CA file " + (ca_file.empty() ? "(system store)" : ca_file));
  }
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
  if (!cert_file.empty() || !key_file.empty()) {
    if (auto st = load_identity(c, cert_file, key_file); !st) return st.error();
  }
  return ctx;
}

bool expect_server_identity(SSL* ssl, const std::string& host) {
  std::string bare = host;
  if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']')
    bare = bare.substr(1, bare.size() - 2);
  unsigned char buf[16];
  bool is_ip =
      inet_pton(AF_INET, bare.c_str(), buf) == 1 || inet_pton(AF_INET6, bare.c_str(), buf) == 1;
  if (is_ip) return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), bare.c_str()) == 1;
  return SSL_set_tlsext_host_name(ssl, bare.c_str()) == 1 && SSL_set1_host(ssl, bare.c_str()) == 1;
}

PeerCertificate peer_certificate(SSL* ssl) {
  PeerCertificate out;
  std::unique_ptr<X509, X509Free> cert(SSL_get1_peer_certificate(ssl));
  if (!cert) return out;
  out.present = true;
  out.subject = name_text(X509_get_subject_name(cert.get()));
  out.issuer = name_text(X509_get_issuer_name(cert.get()));
  std::unique_ptr<BIGNUM, BnFree> serial(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr));
  if (serial) {
    char* hex = BN_bn2hex(serial.get());
    if (hex) {
      out.serial_hex = hex;
      OPENSSL_free(hex);
    }
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (X509_digest(cert.get(), EVP_sha256(), md, &md_len) == 1)
    out.fingerprint_sha256 = to_hex(md, md_len);
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(bio.get(), cert.get()) == 1) {
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    if (len > 0) out.pem.assign(data, static_cast<std::size_t>(len));
  }
  ERR_clear_error();
  return out;
}

std::string verify_failure(SSL* ssl) {
  long result = SSL_get_verify_result(ssl);
  if (result == X509_V_OK) return "";
  return X509_verify_cert_error_string(result);
}

}  // namespace hub::http::tls
