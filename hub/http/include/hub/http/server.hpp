#pragma once
// Server: HTTPS/1.1 with optional client certificates, on Boost.Beast (hidden in src/).
//
// Each connection is a session on the I/O threads: TLS handshake, then requests read with a
// header limit, a body limit per path prefix and timeouts, keep-alive between them. Route
// handlers (and head checks) run on a separate pool of worker threads, so a handler may
// block (on the database, say) without stalling the I/O.
//
// Answers the server gives on its own (all RFC 9457 problem+json):
//   400 MALFORMED      unparsable request head or path (431 when the head is too big)
//   404 NOT_FOUND / 405 METHOD_NOT_ALLOWED (with Allow)
//   413 TOO_LARGE      Content-Length over the limit (decided before any body is read) or
//                      a chunked body that grows over it; the connection is then closed
//   503 OVERLOADED     max_in_flight requests are being handled already; Retry-After: 1
//   503 UNAVAILABLE    a handler took longer than handler_timeout (it keeps running on its
//                      worker; its answer is dropped); Retry-After: 1
//   500 INTERNAL       a handler threw
// Every response carries Strict-Transport-Security and X-Content-Type-Options: nosniff;
// problem responses carry Cache-Control: no-store.
//
// Metrics (in the registry given): hub_http_requests_total{route,code},
// hub_http_request_duration_seconds (histogram), hub_http_in_flight (gauge),
// hub_tls_handshake_failures_total. Logs: Logger("http"), one line per request, never bodies.
//
// Lifetime and thread-safety: start() once, stop() once (the destructor stops with no
// grace if needed), from one controlling thread. Never call stop() or destroy the Server
// from a handler: stop() waits for the worker threads. The MetricsRegistry must outlive the
// Server.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "hub/core/metrics.hpp"
#include "hub/core/result.hpp"
#include "hub/http/router.hpp"

namespace hub::http {

struct ServerSettings {
  std::string address = "127.0.0.1";
  int port = 0;           // 0: a free port, reported by start()
  std::string cert_file;  // PEM chain, leaf first
  std::string key_file;   // PEM private key
  // Optional. When set, clients MAY present a certificate, which is then verified against
  // these CAs (PEM); a presented certificate that fails verification ends the handshake.
  // When empty, no client certificate is asked for.
  std::string client_ca_file;
  int io_threads = 1;
  int worker_threads = 4;
  int max_in_flight = 256;  // requests between their head being read and their answer
  // The TLS handshake, the first request's head, every body and every response write must
  // each finish within read_timeout; a keep-alive connection may wait idle_timeout for the
  // head of its next request. Either expiring closes the connection without an answer.
  std::chrono::milliseconds read_timeout{15000};
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds handler_timeout{30000};
  std::size_t default_body_limit = 1 << 20;
  std::size_t header_limit = 16 * 1024;  // bytes of request line + fields
};

class Server {
 public:
  Server(ServerSettings settings, Router router, MetricsRegistry& metrics);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Loads the certificate and key, binds, listens and starts the threads. Returns the port
  // actually bound. Errors: HTTP_TLS_CONFIG (certificate, key or CA file unusable),
  // HTTP_LISTEN_FAILED (address, bind, listen), HTTP_STATE (started twice).
  Result<int> start();

  // Graceful: stops accepting at once (new connections are refused), closes idle
  // keep-alive connections, lets requests already being read or handled finish and answer
  // (with Connection: close) for up to `grace`, then closes whatever is left and joins the
  // threads. Waits for handlers still running on the worker threads (they cannot be
  // interrupted). Does nothing if the server is not running.
  void stop(std::chrono::milliseconds grace);

  // The bound port once started, else 0.
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hub::http
