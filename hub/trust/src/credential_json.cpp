#include "hub/trust/credential_json.hpp"

#include "hub/trust/time_text.hpp"

namespace hub::trust {
namespace {

using nlohmann::json;

json time_or_null(const std::optional<TimePoint>& t) { return t ? json(format_rfc3339_seconds(*t)) : json(); }

template <class T>
json opt(const std::optional<T>& v) {
  return v ? json(*v) : json();
}

json revocation_json(const std::optional<Revocation>& r) {
  if (!r) return json();
  return {{"at", format_rfc3339_seconds(r->at)}, {"by", r->by}, {"reason", r->reason}};
}

std::string_view selector_str(KeySelector s) {
  switch (s) {
    case KeySelector::kKid: return "kid";
    case KeySelector::kCertificate: return "certificate";
    case KeySelector::kNone: break;
  }
  return "none";
}

}  // namespace

json connector_json(const ConnectorInfo& c) {
  return {{"connector", c.name},
          {"kind", c.is_operator ? "operator" : "external"},
          {"signature_key_selector", selector_str(c.selector)},
          {"description", c.description},
          {"callback_url", opt(c.callback_url)}};
}

json credential_json(const TlsCredential& t, TimePoint now) {
  return {{"id", t.id},
          {"connector", t.connector},
          {"kind", t.is_ca ? "ca" : "certificate"},
          {"state", state_str(t.state(now))},
          {"subject", t.subject},
          {"issuer", t.issuer},
          {"serial", t.serial_hex},
          {"fingerprint_sha256", t.fingerprint_sha256},
          {"key_type", t.key_type},
          {"key_bits", t.key_bits},
          {"not_before", format_rfc3339_seconds(t.not_before)},
          {"not_after", format_rfc3339_seconds(t.not_after)},
          {"registered_at", format_rfc3339_seconds(t.registered_at)},
          {"registered_by", t.registered_by},
          {"revoked", revocation_json(t.revoked)},
          {"certificate_pem", t.certificate_pem}};
}

json credential_json(const SigningKeyRecord& k, TimePoint now) {
  return {{"id", k.id},
          {"connector", k.connector},
          {"kid", opt(k.kid)},
          {"form", k.is_certificate ? "certificate" : "public_key"},
          {"state", state_str(k.state(now))},
          {"key_type", k.key_type},
          {"key_bits", k.key_bits},
          {"spki_sha256", k.spki_sha256},
          {"certificate_sha256", opt(k.cert_sha256)},
          {"subject", opt(k.subject)},
          {"issuer", opt(k.issuer)},
          {"serial", opt(k.serial_hex)},
          {"certificate_not_before", time_or_null(k.cert_not_before)},
          {"certificate_not_after", time_or_null(k.cert_not_after)},
          {"valid_from", time_or_null(k.valid_from)},
          {"valid_to", time_or_null(k.valid_to)},
          {"effective_from", time_or_null(k.effective_from())},
          {"effective_to", time_or_null(k.effective_to())},
          {"replaces", opt(k.replaces)},
          {"registered_at", format_rfc3339_seconds(k.registered_at)},
          {"registered_by", k.registered_by},
          {"revoked", revocation_json(k.revoked)},
          {"pem", k.pem}};
}

}  // namespace hub::trust
