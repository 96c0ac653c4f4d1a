#pragma once
// What the trust store holds per connector: the TLS client credentials it accepts
// (a client certificate, or the CA that issues them) and, separately, the keys that sign
// its messages (specs/common.md, Transport). Plain value types, no thread-safety of their
// own. The pseudo-connector `admin` holds the operators' client certificates for the
// admin API (docs/trust.md).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "hub/core/clock.hpp"

namespace hub::trust {

// The connector name of the operators' admin API credentials.
inline constexpr std::string_view kAdminConnector = "admin";

enum class CredentialState { kValid, kNotYetValid, kExpired, kRevoked };
// "valid", "not-yet-valid", "expired", "revoked".
std::string_view state_str(CredentialState state);

// How a connector's messages name the key that signed them.
enum class KeySelector {
  kNone,         // no message signatures (the pseudo-connector admin)
  kKid,          // JWS `kid` (gx-market)
  kCertificate,  // the signer's certificate travels with the message (XML-DSig, CMS)
};

struct ConnectorInfo {
  std::string name;
  bool is_operator = false;  // true for `admin`
  KeySelector selector = KeySelector::kNone;
  std::string description;
  std::optional<std::string> callback_url;
};

struct Revocation {
  TimePoint at;
  std::string by;
  std::string reason;
};

// Is `now` inside [from, to] (either end open when absent)? Revocation wins over both.
CredentialState window_state(const std::optional<Revocation>& revoked, std::optional<TimePoint> from,
                             std::optional<TimePoint> to, TimePoint now);

struct TlsCredential {
  std::int64_t id = 0;
  std::string connector;
  bool is_ca = false;  // an issuing CA rather than one client certificate
  std::string subject;
  std::string issuer;
  std::string serial_hex;
  std::string fingerprint_sha256;  // of the certificate's DER, lower-case hex
  std::string spki_sha256;         // of its public key
  std::string key_type;            // "EC P-256", "RSA", ...
  int key_bits = 0;
  TimePoint not_before;
  TimePoint not_after;
  TimePoint registered_at;
  std::string registered_by;
  std::optional<Revocation> revoked;
  std::string certificate_pem;

  CredentialState state(TimePoint now) const { return window_state(revoked, not_before, not_after, now); }
};

struct SigningKeyRecord {
  std::int64_t id = 0;
  std::string connector;
  std::optional<std::string> kid;
  std::string pem;  // a certificate or an SPKI public key
  bool is_certificate = false;
  std::string key_type;
  int key_bits = 0;
  std::string spki_sha256;
  // When the key was registered as a certificate:
  std::optional<std::string> cert_sha256;
  std::optional<std::string> subject;
  std::optional<std::string> issuer;
  std::optional<std::string> serial_hex;
  std::optional<TimePoint> cert_not_before;
  std::optional<TimePoint> cert_not_after;
  // The registered window (optional ends).
  std::optional<TimePoint> valid_from;
  std::optional<TimePoint> valid_to;
  std::optional<std::int64_t> replaces;  // the key this one rotated out
  TimePoint registered_at;
  std::string registered_by;
  std::optional<Revocation> revoked;

  // When the key is accepted: the registered window within the certificate's validity.
  std::optional<TimePoint> effective_from() const;
  std::optional<TimePoint> effective_to() const;
  CredentialState state(TimePoint now) const {
    return window_state(revoked, effective_from(), effective_to(), now);
  }
};

}  // namespace hub::trust
