#include "hub/intake/intake_service.hpp"

#include <nlohmann/json.hpp>

#include "hub/core/digest.hpp"
#include "hub/core/ids.hpp"
#include "hub/core/log.hpp"
#include "hub/intake/relay.hpp"
#include "hub/intake/store.hpp"

namespace hub::intake {
namespace {

const Logger kLog("intake");

// Headers that matter for a refused body: kept with it in quarantine. Never cookies or
// authorization (there are none on connector endpoints, but a confused client may send
// them).
const char* const kKeptHeaders[] = {"content-type", "content-length", "idempotency-key", "user-agent",
                                    "x-request-id", "content-disposition", "transfer-encoding"};

std::string yyyymmdd(TimePoint t) {
  return format_rfc3339_utc(t).substr(0, 10).erase(7, 1).erase(4, 1);
}

http::Response receipt_response(const Connector& connector, int status, const std::string& receipt) {
  http::Response r;
  r.status = status;
  r.body = receipt;
  r.set_header("Content-Type", connector.receipt_content_type());
  r.set_header("Cache-Control", "no-store");
  return r;
}

}  // namespace

http::Response refusal_response(const Refusal& refusal) {
  std::optional<int> retry;
  if (refusal.http_status == 429 || refusal.http_status == 503) retry = 1;
  return http::Response::problem(refusal.http_status, refusal.code, "", refusal.detail, refusal.message_id, retry);
}

std::int64_t store_quarantine(db::Connection& conn, const std::string& connector, const http::Request& request,
                              const std::string& body_sha256, int http_status, const std::string& code,
                              const std::string& detail, const std::optional<std::string>& message_id,
                              std::optional<std::int64_t> related_inbox_id) {
  nlohmann::json headers = nlohmann::json::object();
  for (const char* name : kKeptHeaders) {
    if (const auto* v = request.header(name)) headers[name] = *v;
  }
  auto r = conn.exec(
      "INSERT INTO quarantine (connector, method, path, headers, peer_subject, peer_fingerprint, remote_address, "
      "body, body_sha256, http_status, code, detail, message_id, related_inbox_id) "
      "VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, decode($8, 'hex'), $9, $10::int, $11, $12, $13, $14::bigint) "
      "RETURNING id",
      {connector, request.method, request.path, headers.dump(),
       request.peer.present ? db::Param(request.peer.subject) : db::Param(),
       request.peer.present ? db::Param(request.peer.fingerprint_sha256) : db::Param(), request.remote_address,
       to_hex(request.body), body_sha256, std::to_string(http_status), code, detail, message_id,
       related_inbox_id ? db::Param(std::to_string(*related_inbox_id)) : db::Param()});
  return r.get_int(0, 0);
}

IntakeService::IntakeService(IntakeSettings settings, std::vector<const Connector*> connectors,
                             const TrustView& trust, db::Pool& pool, const Clock& clock, Relay* relay,
                             MetricsRegistry& metrics)
    : settings_(settings),
      trust_(trust),
      pool_(pool),
      clock_(clock),
      relay_(relay),
      accepted_(metrics.counter("hub_intake_accepted_total", "Messages accepted (202) and stored.")),
      duplicates_(metrics.counter("hub_intake_duplicates_total", "Duplicates answered with the original receipt.")),
      refused_(metrics.counter("hub_intake_refused_total", "Requests refused and kept in quarantine.")),
      conflicts_(metrics.counter("hub_intake_conflicts_total", "Idempotency conflicts (409).")) {
  for (const auto* c : connectors) connectors_[c->name()] = c;
}

const Connector* IntakeService::find(const std::string& name) const {
  auto it = connectors_.find(name);
  return it == connectors_.end() ? nullptr : it->second;
}

void IntakeService::register_routes(http::Router& router) const {
  for (const auto& [name, connector] : connectors_) {
    const Connector* c = connector;
    const std::string base = "/connectors/" + name + "/v1/";
    auto head_check = [this, c](const http::Request& req, const http::RouteParams&) { return check_client(*c, req); };
    for (const auto& ep : c->endpoints()) {
      const Endpoint* e = &ep;
      router.add(
          "POST", base + ep.path,
          [this, c, e](const http::Request& req, const http::RouteParams&) { return handle_post(*c, *e, req); },
          head_check);
      router.set_body_limit(base + ep.path, ep.body_limit);
    }
    router.add(
        "GET", base + "messages/{message_id}",
        [this, c](const http::Request&, const http::RouteParams& p) { return handle_status(*c, p.at("message_id")); },
        head_check);
    router.add(
        "GET", base + "receipt-certificate",
        [c](const http::Request&, const http::RouteParams&) {
          auto r = http::Response::text(200, c->receipt_certificate_pem());
          r.set_header("Content-Type", "application/x-pem-file");
          return r;
        },
        head_check);
  }
}

std::optional<http::Response> IntakeService::check_client(const Connector& connector,
                                                          const http::Request& request) const {
  if (!request.peer.present) {
    kLog.warn("connector request without a client certificate refused",
              {{"connector", connector.name()}, {"remote", request.remote_address}, {"path", request.path}});
    return http::Response::problem(403, "FORBIDDEN", "", "this endpoint requires a TLS client certificate registered for connector " + connector.name());
  }
  auto allowed = trust_.tls_client_allowed(connector.name(), request.peer, clock_.now());
  if (!allowed.ok()) {
    kLog.warn("connector request with an unregistered client certificate refused",
              {{"connector", connector.name()}, {"remote", request.remote_address},
               {"subject", request.peer.subject}, {"fingerprint", request.peer.fingerprint_sha256},
               {"reason", allowed.error().message}});
    return http::Response::problem(403, "FORBIDDEN", "",
                                   "the TLS client certificate (" + request.peer.subject +
                                       ") is not registered for connector " + connector.name() + ": " +
                                       allowed.error().message);
  }
  return std::nullopt;
}

http::Response IntakeService::refuse(const Connector& connector, const http::Request& request,
                                     const std::string& body_sha256, const Refusal& refusal,
                                     std::optional<std::int64_t> related_inbox_id) const {
  refused_.inc();
  try {
    auto conn = pool_.acquire();
    store_quarantine(*conn, connector.name(), request, body_sha256, refusal.http_status, refusal.code,
                     refusal.detail, refusal.message_id, related_inbox_id);
  } catch (const db::DbError& e) {
    // The body could not be kept: the sender must send it again, so it is not a 4xx.
    kLog.error("quarantine write failed; answering 503", {{"connector", connector.name()}, {"error", e.what()}});
    return http::Response::problem(503, "UNAVAILABLE", "", "the hub cannot store messages right now; send it again",
                                   refusal.message_id, settings_.retry_after_seconds);
  }
  kLog.info("request refused", {{"connector", connector.name()}, {"status", refusal.http_status},
                                {"code", refusal.code}, {"message_id", refusal.message_id.value_or("")},
                                {"detail", refusal.detail}});
  return refusal_response(refusal);
}

http::Response IntakeService::handle_post(const Connector& connector, const Endpoint& endpoint,
                                          const http::Request& request) const {
  const TimePoint now = clock_.now();
  const std::string body_sha256 = sha256_hex(request.body);
  auto outcome = connector.accept(endpoint, request, trust_, now);
  if (auto* refusal = std::get_if<Refusal>(&outcome)) return refuse(connector, request, body_sha256, *refusal);
  auto& msg = std::get<AcceptedMessage>(outcome);

  if (const auto* key = request.header("idempotency-key"); key != nullptr && *key != msg.message_id) {
    return refuse(connector, request, body_sha256,
                  {400, "MALFORMED",
                   "the Idempotency-Key header (" + *key + ") must equal the message_id (" + msg.message_id + ")",
                   msg.message_id});
  }

  try {
    auto conn = pool_.acquire();
    for (int attempt = 0; attempt < 3; ++attempt) {
      // 1. Known key: duplicate or conflict, whatever the message's age.
      if (auto known = find_inbox_message(*conn, connector.name(), msg.message_id)) {
        if (known->payload_sha256 == msg.payload_sha256) {
          duplicates_.inc();
          return receipt_response(connector, 200, known->accepted_receipt);
        }
        conflicts_.inc();
        Refusal r{409, "IDEMPOTENCY_CONFLICT",
                  "message " + msg.message_id + " was accepted on " + known->received_at + " as " + known->hub_ref +
                      " with another payload (SHA-256 " + known->payload_sha256 + "); this one has SHA-256 " +
                      msg.payload_sha256 + ". The first is kept; an exception shows both",
                  msg.message_id};
        db::Transaction tx(*conn);
        auto qid = store_quarantine(*conn, connector.name(), request, body_sha256, r.http_status, r.code, r.detail,
                                    r.message_id, known->id);
        raise_conflict_exception(*conn, connector.name(), msg.message_id, known->id, qid, r.detail);
        tx.commit();
        refused_.inc();
        kLog.warn("idempotency conflict", {{"connector", connector.name()}, {"message_id", msg.message_id},
                                           {"hub_ref", known->hub_ref}});
        return refusal_response(r);
      }
      // 2. New: fresh enough?
      if (msg.sent_at) {
        auto skew = std::chrono::duration_cast<std::chrono::seconds>(now - *msg.sent_at);
        if (skew > settings_.max_clock_skew || -skew > settings_.max_clock_skew) {
          return refuse(connector, request, body_sha256,
                        {400, "STALE_MESSAGE",
                         "sent_at " + format_rfc3339_utc(*msg.sent_at) + " is " + std::to_string(skew.count()) +
                             " s from the hub's clock (" + format_rfc3339_utc(now) + "); at most " +
                             std::to_string(settings_.max_clock_skew.count()) + " s are accepted",
                         msg.message_id});
        }
      }
      // 3. Store it with its signed receipt; the commit is the 202's promise.
      NewInboxMessage row;
      row.connector = connector.name();
      row.message_id = msg.message_id;
      row.hub_ref = make_hub_ref(yyyymmdd(now));
      row.kind = endpoint.kind;
      row.received_at = format_rfc3339_utc(now);
      row.sent_at = msg.sent_at ? std::optional(format_rfc3339_utc(*msg.sent_at)) : std::nullopt;
      row.body = &request.body;
      row.body_sha256 = body_sha256;
      row.payload_sha256 = msg.payload_sha256;
      if (const auto* ct = request.header("content-type")) row.content_type = *ct;
      if (request.peer.present) {
        row.peer_subject = request.peer.subject;
        row.peer_fingerprint = request.peer.fingerprint_sha256;
      }
      row.remote_address = request.remote_address;
      row.signer = msg.signer;
      row.command = &msg.command;
      row.item_count = msg.command.contains("items") ? static_cast<int>(msg.command["items"].size()) : 0;
      ReceiptData receipt{msg.message_id, row.hub_ref, endpoint.kind, "accepted", std::nullopt,
                          row.received_at, body_sha256, {}};
      for (std::size_t i = 0; i < static_cast<std::size_t>(row.item_count); ++i) {
        receipt.items.push_back({msg.command["items"][i].value("business_key", ""),
                                 row.hub_ref + "-" + std::to_string(i + 1), "accepted", std::nullopt});
      }
      row.receipt = connector.sign_receipt(receipt);
      auto id = insert_inbox_message(*conn, row);
      if (!id) continue;  // the same key arrived concurrently: answer as duplicate or conflict
      accepted_.inc();
      if (relay_ != nullptr) relay_->notify({*id, connector.name(), msg.message_id});
      return receipt_response(connector, 202, row.receipt);
    }
    throw std::runtime_error("idempotency key " + msg.message_id + " neither insertable nor found");
  } catch (const db::DbError& e) {
    kLog.error("inbox write failed; answering 503", {{"connector", connector.name()}, {"message_id", msg.message_id},
                                                      {"error", e.what()}});
    return http::Response::problem(503, "UNAVAILABLE", "", "the hub cannot store messages right now; send it again",
                                   msg.message_id, settings_.retry_after_seconds);
  }
}

http::Response IntakeService::handle_status(const Connector& connector, const std::string& message_id) const {
  try {
    auto conn = pool_.acquire();
    auto known = find_inbox_message(*conn, connector.name(), message_id);
    if (!known) {
      return http::Response::problem(404, "NOT_FOUND", "", "no message " + message_id + " was accepted from " +
                                                               connector.name(), message_id);
    }
    return receipt_response(connector, 200, known->current_receipt);
  } catch (const db::DbError& e) {
    return http::Response::problem(503, "UNAVAILABLE", "", "the hub cannot read messages right now", message_id,
                                   settings_.retry_after_seconds);
  }
}

}  // namespace hub::intake
