#pragma once
// TrustStore: the administration of what the hub trusts per connector: register TLS
// client certificates or issuing CAs, register, rotate and revoke signing keys, list them.
// Every change names its actor ("os:root" from hubctl, "admin-cert:<sha-256>" from the
// admin API) and is written, with its audit event, by one SECURITY DEFINER function of
// migration 0004 in one transaction: the hub's working role has no other way to change
// these tables.
//
// The PEM is parsed here (hub/signing); the database checks the fingerprints against it.
// Expected refusals are values (codes below); a database that cannot be reached throws
// db::DbError, as everywhere in the hub.
//
// Refusal codes: UNKNOWN_CONNECTOR, KEY_INVALID (PEM), CERTIFICATE_REQUIRED, NOT_A_CA,
// CA_NOT_ALLOWED (admin), NO_SIGNING_KEYS (admin), KID_REQUIRED, KID_ALREADY_USED,
// ALREADY_REGISTERED, KEY_REVOKED (a revoked key is never registered again),
// INVALID_WINDOW, UNKNOWN_CREDENTIAL, ALREADY_REVOKED, REASON_REQUIRED.
//
// Lifetime and thread-safety: borrows the Pool, which must outlive it; every member may
// be called from any number of threads at once (each call borrows its own connection).
// Changes reach the hot path through TrustCache (its poller, or its refresh()).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hub/core/result.hpp"
#include "hub/db/pg.hpp"
#include "hub/trust/credentials.hpp"

namespace hub::trust {

struct NewSigningKey {
  std::string connector;
  std::optional<std::string> kid;   // required where the connector names keys by kid
  std::string pem;                  // a certificate, or (kid connectors) an SPKI public key
  std::optional<TimePoint> not_before;
  std::optional<TimePoint> not_after;
};

struct Registration {
  std::int64_t id = 0;
  // The very same credential was registered and in force already: nothing changed.
  bool already_registered = false;
};

enum class CredentialKind { kTlsCredential, kSigningKey };
std::string_view credential_kind_str(CredentialKind kind);  // "tls_credential", "signing_key"

class TrustStore {
 public:
  explicit TrustStore(db::Pool& pool) : pool_(pool) {}

  std::vector<ConnectorInfo> connectors();
  std::optional<ConnectorInfo> connector(std::string_view name);

  // A client certificate (is_ca false) or the CA that issues the connector's client
  // certificates (is_ca true: the certificate must be a CA; not for `admin`).
  Result<Registration> add_tls_credential(std::string_view connector, std::string_view pem, bool is_ca,
                                          const std::string& actor);
  Result<Registration> add_signing_key(const NewSigningKey& key, const std::string& actor);
  // Registers new_key (for the old key's connector) and ends the old key's validity
  // `overlap` from now (or keeps its earlier end), in one transaction.
  Result<Registration> rotate_signing_key(std::int64_t old_id, std::chrono::seconds overlap,
                                          const NewSigningKey& new_key, const std::string& actor);
  // The id of the signing key registered under this kid (UNKNOWN_CREDENTIAL if none).
  Result<std::int64_t> signing_key_id(std::string_view connector, std::string_view kid);
  // Revokes a credential for good. `kind` restricts the id to one kind (the admin API's
  // paths); nullopt accepts either (ids are unique across both).
  Result<CredentialKind> revoke(std::int64_t id, std::optional<CredentialKind> kind, const std::string& actor,
                                const std::string& reason);

  std::vector<TlsCredential> tls_credentials(std::optional<std::string> connector = std::nullopt);
  std::vector<SigningKeyRecord> signing_keys(std::optional<std::string> connector = std::nullopt);
  std::optional<TlsCredential> tls_credential(std::int64_t id);
  std::optional<SigningKeyRecord> signing_key(std::int64_t id);

 private:
  db::Pool& pool_;
};

}  // namespace hub::trust
