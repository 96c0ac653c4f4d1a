#pragma once
// The front half of the intake path: the HTTP endpoints of every connector
// (/connectors/{connector}/v1/...). For each request it
//   1. refuses, before the body is read, a TLS client certificate that the trust store
//      does not allow for that connector (403, logged, nothing stored: common.md);
//   2. asks the connector to verify the signature and map the body;
//   3. checks the Idempotency-Key header, then the idempotency key (connector,
//      message_id): a duplicate is answered 200 with the original receipt, a conflict 409
//      with an exception showing both payloads; then freshness (STALE_MESSAGE);
//   4. stores the message, raw, with its canonical command and its signed "accepted"
//      receipt, in one committed INSERT, and only then answers 202;
//   5. hands the stored message to the Relay (RabbitMQ), which a crash may skip: the
//      relay's sweep finds what was stored but never confirmed by the broker.
// Every refused body is kept in the quarantine table with the reason it was refused.
// Also: GET /connectors/{connector}/v1/messages/{message_id} (the current signed receipt)
// and GET /connectors/{connector}/v1/receipt-certificate.
//
// Lifetime: the connectors, trust view, pool, clock, relay and metrics must outlive the
// service and the Router it registered its routes on. Thread-safety: the handlers are
// called concurrently from the server's worker threads; the service holds no mutable
// state of its own beyond thread-safe metrics.

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hub/core/clock.hpp"
#include "hub/core/metrics.hpp"
#include "hub/db/pg.hpp"
#include "hub/http/router.hpp"
#include "hub/intake/connector.hpp"

namespace hub::intake {

class Relay;

struct IntakeSettings {
  // A new message whose sent_at is further than this from the hub's clock is STALE_MESSAGE.
  std::chrono::seconds max_clock_skew{600};
  // Answered with 503 UNAVAILABLE when the database cannot be reached.
  int retry_after_seconds = 1;
};

class IntakeService {
 public:
  IntakeService(IntakeSettings settings, std::vector<const Connector*> connectors, const TrustView& trust,
                db::Pool& pool, const Clock& clock, Relay* relay, MetricsRegistry& metrics);

  // Adds every connector's routes and body limits to the router.
  void register_routes(http::Router& router) const;

  // The request handling, usable without a network (tests).
  http::Response handle_post(const Connector& connector, const Endpoint& endpoint,
                             const http::Request& request) const;
  http::Response handle_status(const Connector& connector, const std::string& message_id) const;
  std::optional<http::Response> check_client(const Connector& connector, const http::Request& request) const;

  const Connector* find(const std::string& name) const;

 private:
  http::Response refuse(const Connector& connector, const http::Request& request, const std::string& body_sha256,
                        const Refusal& refusal, std::optional<std::int64_t> related_inbox_id = std::nullopt) const;

  IntakeSettings settings_;
  std::map<std::string, const Connector*> connectors_;
  const TrustView& trust_;
  db::Pool& pool_;
  const Clock& clock_;
  Relay* relay_;
  Counter& accepted_;
  Counter& duplicates_;
  Counter& refused_;
  Counter& conflicts_;
};

// Writes one quarantine row (the body kept as received). Returns its id. Throws DbError.
std::int64_t store_quarantine(db::Connection& conn, const std::string& connector, const http::Request& request,
                              const std::string& body_sha256, int http_status, const std::string& code,
                              const std::string& detail, const std::optional<std::string>& message_id,
                              std::optional<std::int64_t> related_inbox_id);

// The response of a refusal: problem+json with the code and message_id (common.md "Answers").
http::Response refusal_response(const Refusal& refusal);

}  // namespace hub::intake
