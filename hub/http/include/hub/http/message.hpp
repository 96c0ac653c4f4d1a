#pragma once
// The plain values that cross the HTTP boundary: a request as the hub's code sees it, the
// client certificate of the TLS session it arrived on, and the response a handler returns.
// No Beast or Asio types: the server and the client translate at their edges.
// Value types, no thread-safety of their own. Only nlohmann::json's declaration is included:
// callers that build one include <nlohmann/json.hpp>.

#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hub::http {

// The certificate the client presented in the TLS handshake (already verified against
// ServerSettings::client_ca_file), or present == false.
struct PeerCertificate {
  bool present = false;
  std::string subject;             // RFC 2253, e.g. "CN=gx-market,O=GX Market,C=JP"
  std::string issuer;              // RFC 2253
  std::string serial_hex;          // upper-case hex, no separators
  std::string fingerprint_sha256;  // lower-case hex of the SHA-256 of the DER encoding
  std::string pem;
};

struct Request {
  std::string method;  // as sent, e.g. "POST"
  std::string target;  // the request-target as sent, e.g. "/a/b?x=1"
  std::string path;    // target up to '?', not decoded
  std::string query;   // after '?', not decoded; empty when absent
  // Lower-case names; repeated fields are joined with ", " (RFC 9110 5.3).
  std::map<std::string, std::string> headers;
  std::string body;
  PeerCertificate peer;
  std::string remote_address;  // "ip:port" of the TCP peer

  // The value of a header, the name in any case; nullptr when absent.
  const std::string* header(std::string_view name) const;
};

// Values bound by `{name}` segments of a route pattern, percent-decoded.
using RouteParams = std::map<std::string, std::string>;

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  static Response text(int status, std::string body);
  static Response json(int status, const nlohmann::json& body);
  // RFC 9457 application/problem+json: {type: "about:blank", title, status, detail, code,
  // message_id?}. `code` is one of the codes of specs/common.md "Answers" (MALFORMED,
  // TOO_LARGE, OVERLOADED, ...). An empty title becomes the status's reason phrase.
  // Sets Cache-Control: no-store, and Retry-After when retry_after_seconds is given.
  static Response problem(int status, std::string code, std::string title, std::string detail,
                          std::optional<std::string> message_id = std::nullopt,
                          std::optional<int> retry_after_seconds = std::nullopt);

  // The value of a header, the name in any case; nullptr when absent.
  const std::string* header(std::string_view name) const;
  // Replaces every header of that name (any case) by one field.
  Response& set_header(std::string name, std::string value);
};

// The reason phrase of a status code ("Content Too Large" for 413), or "Unknown".
std::string_view reason_phrase(int status);

}  // namespace hub::http
