#pragma once
// TLS policy and certificate facts on plain OpenSSL (no Asio), shared by the server and the
// client. Internal to hub_http.

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "hub/core/result.hpp"
#include "hub/http/message.hpp"

namespace hub::http::tls {

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

// TLS 1.2 and 1.3 only; for 1.2 only ECDHE key exchange with AEAD ciphers; server cipher
// preference; no compression; no renegotiation. When client_ca_file is set, a client MAY
// present a certificate, which must then verify against it (chain and clientAuth purpose).
Result<SslCtxPtr> make_server_context(const std::string& cert_file, const std::string& key_file,
                                      const std::string& client_ca_file);

// The same protocol and cipher policy for our outgoing connections; the server is verified
// against ca_file (or the system store when empty).
Result<SslCtxPtr> make_client_context(const std::string& ca_file, const std::string& cert_file,
                                      const std::string& key_file);

// SNI (for names) and the name or IP address the server's certificate must carry.
bool expect_server_identity(SSL* ssl, const std::string& host);

// The verified certificate of the peer of an established session.
PeerCertificate peer_certificate(SSL* ssl);

// Why the peer's certificate did not verify, or "" when it did (or none was presented).
std::string verify_failure(SSL* ssl);

// Drains this thread's OpenSSL error queue into one line.
std::string drain_errors();

}  // namespace hub::http::tls
