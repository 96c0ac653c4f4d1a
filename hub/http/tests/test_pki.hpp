#pragma once
// Test helpers for hub_http: a throwaway PKI made with the openssl command line, and a raw
// TLS client on plain OpenSSL that can do what HttpsClient deliberately cannot (old
// protocol versions, weak ciphers, partial requests, keep-alive).

#include <openssl/ssl.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace hub::http::testing {

// Made once per test process, in a temporary folder removed at exit.
struct TestPki {
  std::filesystem::path dir;
  std::string ca_cert;                              // "Test Hub CA"
  std::string server_cert, server_key;              // SAN IP:127.0.0.1, DNS:localhost
  std::string wrong_name_cert, wrong_name_key;      // same CA, SAN DNS:elsewhere.example only
  std::string client_cert, client_key;              // clientAuth, issued by the CA
  std::string client_subject;                       // as the openssl tool prints it (RFC 2253)
  std::string client_fingerprint;                   // lower-case hex SHA-256, from the openssl tool
  std::string other_ca_cert;                        // an unrelated CA
  std::string other_client_cert, other_client_key;  // issued by the unrelated CA
};
const TestPki& pki();

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

class RawTlsClient {
 public:
  struct Options {
    std::string ca_file;  // verify the server against it when set
    std::string cert_file, key_file;
    int min_version = TLS1_2_VERSION;
    int max_version = TLS1_3_VERSION;
    std::string cipher_list;  // TLS 1.2 ciphers, OpenSSL syntax; empty: library default
  };
  // Connects to 127.0.0.1:port and completes the handshake; nullptr and *error on failure.
  static std::unique_ptr<RawTlsClient> connect(int port, const Options& options,
                                               std::string* error);
  ~RawTlsClient();
  RawTlsClient(const RawTlsClient&) = delete;
  RawTlsClient& operator=(const RawTlsClient&) = delete;

  bool send(std::string_view data);
  // One response: head, then a Content-Length body. nullopt on EOF, error or timeout.
  std::optional<RawResponse> read_response();
  // One response head only (for answers to HEAD, which have no body).
  std::optional<RawResponse> read_head_only();
  // True when the server closes the connection (or breaks it) within the receive timeout.
  bool wait_closed();

 private:
  RawTlsClient() = default;
  bool fill();
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string pending_;
};

}  // namespace hub::http::testing
