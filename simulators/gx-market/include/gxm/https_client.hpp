#pragma once
// The simulator's HTTPS client: TLS 1.2+ with a client certificate (mTLS), the server
// verified against a given CA and its name/IP, HTTP/1.1 keep-alive, a timeout on every step
// and a limit on the answer's size. Boost.Beast over OpenSSL.

#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gxm/receipt.hpp"
#include "gxm/result.hpp"

namespace gxm {

struct Endpoint {
  std::string host;
  uint16_t port = 443;
};
// "https://HOST:PORT" (a trailing "/" is allowed; no other path).
Result<Endpoint> parse_https_url(std::string_view url);
// "HOST:PORT".
Result<Endpoint> parse_host_port(std::string_view text);

using TlsContext = std::shared_ptr<boost::asio::ssl::context>;
// Client context: trusts only `ca_file`, presents cert_file/key_file.
Result<TlsContext> make_client_tls(const std::string& ca_file, const std::string& cert_file,
                                   const std::string& key_file);
// Server context: cert_file/key_file; with client_ca_file, a client certificate issued by it
// is required.
Result<TlsContext> make_server_tls(const std::string& cert_file, const std::string& key_file,
                                   const std::string& client_ca_file);

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// One keep-alive connection, opened on first use and again after an error. Not thread-safe:
// each worker owns one. Errors: TRANSPORT (connection, TLS or HTTP framing failed or timed
// out: the request may be sent again) or TLS_VERIFY (the server's certificate was refused:
// sending again will not help).
class HttpsConnection {
 public:
  HttpsConnection(TlsContext tls, Endpoint endpoint, std::chrono::milliseconds timeout);
  ~HttpsConnection();
  HttpsConnection(const HttpsConnection&) = delete;
  HttpsConnection& operator=(const HttpsConnection&) = delete;

  Result<HttpAnswer> send(const std::string& method, const std::string& target,
                          const HeaderList& headers, const std::string& body);
  void close();
  bool is_open() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gxm
