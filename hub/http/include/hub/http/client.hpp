#pragma once
// HttpsClient: one blocking HTTPS/1.1 request per call, on its own connection (for hubctl,
// tests and the callback outbox). The server is always verified: against ca_file when given,
// else the system's trust store, with a hostname / IP address check on `host`.
// TLS 1.2 or newer. Stateless: request() is safe to call from many threads at once.

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hub/core/result.hpp"

namespace hub::http {

struct ClientRequest {
  std::string host;  // a DNS name or an IP address; also the name checked in the certificate
  int port = 443;
  std::string method = "GET";
  std::string target = "/";
  std::vector<std::pair<std::string, std::string>> headers;  // Host is added unless given
  std::string body;
  std::string ca_file;           // PEM CAs to verify the server against
  std::string client_cert_file;  // optional PEM chain presented to the server
  std::string client_key_file;
  // The whole exchange (resolve, connect, handshake, write, read) must end within it.
  std::chrono::milliseconds timeout{10000};
  std::size_t response_body_limit = 8u << 20;
};

struct ClientResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  const std::string* header(std::string_view name) const;
};

class HttpsClient {
 public:
  // Any answer from the server, whatever its status, is a value. Errors, each naming
  // host:port and the step that failed:
  //   HTTP_CONNECT_FAILED  name resolution or TCP connect failed
  //   HTTP_TLS_FAILED      handshake failed, the server's certificate did not verify, the
  //                        server refused ours, or a TLS file could not be loaded
  //   HTTP_TIMEOUT         `timeout` passed before the answer was read
  //   HTTP_IO_FAILED       the connection broke or the answer was not valid HTTP / too big
  static Result<ClientResponse> request(const ClientRequest& request);
};

}  // namespace hub::http
