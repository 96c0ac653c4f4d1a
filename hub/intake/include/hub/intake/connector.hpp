#pragma once
// The small interface between the hub's intake path and one outside system's connector
// (docs/intake.md, docs/adr/0009-intake.md).
//
// A connector knows its system's format and signature: it turns one verified request
// into canonical commands (accept), and it writes receipts in its system's format
// (sign_receipt). It never touches the database, the queue or the ledger: the intake
// service stores what it accepted, the applier executes the canonical commands against
// the ledger, and both are the same for every connector. Adding a connector is one
// folder under connectors/ plus one line in the composition root (hubd_main.cpp).
//
// Thread-safety: accept() and sign_receipt() are called from many worker threads at once;
// implementations keep no mutable state (or guard it).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "hub/core/clock.hpp"
#include "hub/core/result.hpp"
#include "hub/http/message.hpp"
#include "hub/signing/keys.hpp"

namespace hub::intake {

// What a connector may ask of the trust store (hub/trust implements it; tests fake it).
class TrustView {
 public:
  virtual ~TrustView() = default;
  // OK when the TLS client certificate is registered (or issued by a registered CA) for
  // the connector and valid now; else an error whose message says why.
  virtual Status tls_client_allowed(const std::string& connector, const http::PeerCertificate& peer,
                                    TimePoint now) const = 0;
  // The registered signature key with this kid, valid now; else SIGNATURE_INVALID naming
  // the kid and why (unknown, revoked, expired, not yet valid).
  virtual Result<signing::PublicKey> signing_key(const std::string& connector, const std::string& kid,
                                                 TimePoint now) const = 0;
  // Every signature key or certificate registered for the connector and valid now.
  virtual std::vector<signing::PublicKey> signing_certificates(const std::string& connector,
                                                               TimePoint now) const = 0;
};

// One POST endpoint of a connector: /connectors/{connector}/v1/{path}.
struct Endpoint {
  std::string path;  // "settlements", "settlements:batch", "statements"
  std::string kind;  // what the messages are: "settlement", "settlement-batch", "statement"
  std::size_t body_limit = 1 << 20;
};

// A request refused before it was stored as accepted: the HTTP answer and the reason kept
// with the body in quarantine.
struct Refusal {
  int http_status = 400;
  std::string code;    // MALFORMED, SCHEMA_VIOLATION, SIGNATURE_INVALID, STALE_MESSAGE, ...
  std::string detail;  // what is wrong and where (field, line, XPath)
  std::optional<std::string> message_id;
};

// A verified, well-formed message, mapped.
struct AcceptedMessage {
  std::string message_id;
  std::optional<TimePoint> sent_at;  // checked against the hub's clock (STALE_MESSAGE)
  // SHA-256 (hex) of the canonical signed content: equal = duplicate, else conflict.
  std::string payload_sha256;
  std::string signer;  // kid, or the signing certificate's fingerprint
  // {"items": [ <canonical command>, ... ]}: see docs/intake.md "Canonical commands".
  nlohmann::json command;
};

using AcceptOutcome = std::variant<AcceptedMessage, Refusal>;

// The state of one business item of a message in a receipt.
struct ReceiptItem {
  std::string business_key;  // trade_id, ...
  std::string hub_ref;
  std::string status;  // accepted | applied | exception | rejected
  std::optional<std::string> reason_code;
};

struct ReceiptData {
  std::string message_id;
  std::string hub_ref;
  std::string kind;    // the endpoint's kind
  std::string status;  // accepted | applied | exception | rejected
  std::optional<std::string> reason_code;
  std::string received_at;  // RFC 3339
  std::string body_sha256;
  std::vector<ReceiptItem> items;  // each business item of the message, in order
};

class Connector {
 public:
  virtual ~Connector() = default;
  virtual const std::string& name() const = 0;
  virtual const std::vector<Endpoint>& endpoints() const = 0;
  // Verifies the signature against the registered keys and maps the body. Called only
  // for requests whose TLS client certificate the trust store allowed.
  virtual AcceptOutcome accept(const Endpoint& endpoint, const http::Request& request, const TrustView& trust,
                               TimePoint now) const = 0;
  // The receipt in this system's format, signed by the hub.
  virtual std::string sign_receipt(const ReceiptData& receipt) const = 0;
  virtual const std::string& receipt_content_type() const = 0;
  // The certificate (PEM) senders verify receipts with.
  virtual const std::string& receipt_certificate_pem() const = 0;
};

}  // namespace hub::intake
