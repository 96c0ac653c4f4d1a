#include "hub/trust/trust_store.hpp"

#include <openssl/x509v3.h>

#include <nlohmann/json.hpp>

#include "hub/signing/keys.hpp"
#include "hub/trust/time_text.hpp"
#include "cert_times.hpp"
#include "records_sql.hpp"

namespace hub::trust {
namespace {

using nlohmann::json;

// (outcome, id, check_code, detail) of a gx_trust_* function as a Result.
Result<Registration> registration(const db::ResultSet& r) {
  const auto outcome = r.get(0, 0);
  if (outcome == "refused") return make_error(r.get(0, 2), r.get(0, 3));
  return Registration{r.get_int(0, 1), outcome == "duplicate"};
}

void put_time(json& j, const char* name, const std::optional<TimePoint>& t) {
  if (t) j[name] = format_rfc3339_micros(*t);
}

Result<json> key_json(const NewSigningKey& key) {
  auto parsed = signing::PublicKey::from_pem(key.pem);
  if (!parsed) return parsed.error();
  const auto& info = parsed->info();
  json j = {{"pem", parsed->pem()},
            {"is_certificate", info.from_certificate},
            {"key_type", std::string(signing::key_type_str(info.type))},
            {"key_bits", info.bits},
            {"spki_sha256", info.fingerprint_sha256}};
  if (key.kid && !key.kid->empty()) j["kid"] = *key.kid;
  if (info.from_certificate) {
    auto times = detail::certificate_times(*parsed);
    if (!times) return make_error("KEY_INVALID", "the certificate's validity dates cannot be read");
    j["cert_sha256"] = info.cert_fingerprint_sha256;
    j["subject"] = info.subject;
    j["issuer"] = info.issuer;
    j["serial_hex"] = info.serial_hex;
    j["cert_not_before"] = format_rfc3339_micros(times->not_before);
    j["cert_not_after"] = format_rfc3339_micros(times->not_after);
  }
  put_time(j, "valid_from", key.not_before);
  put_time(j, "valid_to", key.not_after);
  return j;
}

}  // namespace

std::string_view credential_kind_str(CredentialKind kind) {
  return kind == CredentialKind::kTlsCredential ? "tls_credential" : "signing_key";
}

std::vector<ConnectorInfo> TrustStore::connectors() {
  auto c = pool_.acquire();
  return detail::load_connectors(*c);
}

std::optional<ConnectorInfo> TrustStore::connector(std::string_view name) {
  for (auto& c : connectors()) {
    if (c.name == name) return c;
  }
  return std::nullopt;
}

Result<Registration> TrustStore::add_tls_credential(std::string_view connector, std::string_view pem, bool is_ca,
                                                    const std::string& actor) {
  auto parsed = signing::PublicKey::from_pem(pem);
  if (!parsed) return parsed.error();
  const auto& info = parsed->info();
  auto times = detail::certificate_times(*parsed);
  if (!info.from_certificate || !times) {
    return make_error("CERTIFICATE_REQUIRED", "a TLS credential is an X.509 certificate (PEM 'CERTIFICATE'), not a "
                                              "bare public key");
  }
  if (is_ca && X509_check_ca(parsed->certificate()) < 1) {
    return make_error("NOT_A_CA", "the certificate " + info.subject +
                                      " is not a CA certificate (no basicConstraints CA:TRUE): register it without "
                                      "--ca, as a client certificate");
  }
  json cert = {{"pem", parsed->pem()},
               {"subject", info.subject},
               {"issuer", info.issuer},
               {"serial_hex", info.serial_hex},
               {"fingerprint_sha256", info.cert_fingerprint_sha256},
               {"spki_sha256", info.fingerprint_sha256},
               {"key_type", std::string(signing::key_type_str(info.type))},
               {"key_bits", info.bits},
               {"not_before", format_rfc3339_micros(times->not_before)},
               {"not_after", format_rfc3339_micros(times->not_after)}};
  auto c = pool_.acquire();
  return registration(c->exec("SELECT * FROM gx_trust_register_tls($1, $2, $3, $4)",
                              {std::string(connector), std::string(is_ca ? "ca" : "certificate"), cert.dump(), actor}));
}

Result<Registration> TrustStore::add_signing_key(const NewSigningKey& key, const std::string& actor) {
  auto j = key_json(key);
  if (!j) return j.error();
  auto c = pool_.acquire();
  return registration(
      c->exec("SELECT * FROM gx_trust_register_key($1, $2, $3)", {key.connector, j->dump(), actor}));
}

Result<Registration> TrustStore::rotate_signing_key(std::int64_t old_id, std::chrono::seconds overlap,
                                                    const NewSigningKey& new_key, const std::string& actor) {
  auto j = key_json(new_key);
  if (!j) return j.error();
  auto c = pool_.acquire();
  return registration(c->exec("SELECT * FROM gx_trust_rotate_key($1, $2, make_interval(secs => $3), $4, $5)",
                              {new_key.connector, std::to_string(old_id), std::to_string(overlap.count()), j->dump(),
                               actor}));
}

Result<std::int64_t> TrustStore::signing_key_id(std::string_view connector, std::string_view kid) {
  auto c = pool_.acquire();
  auto r = c->exec("SELECT id FROM signing_keys WHERE connector = $1 AND kid = $2",
                   {std::string(connector), std::string(kid)});
  if (r.rows() == 0) {
    return make_error("UNKNOWN_CREDENTIAL",
                      "no signing key with kid '" + std::string(kid) + "' is registered for " + std::string(connector));
  }
  return r.get_int(0, 0);
}

Result<CredentialKind> TrustStore::revoke(std::int64_t id, std::optional<CredentialKind> kind, const std::string& actor,
                                          const std::string& reason) {
  db::Param type;
  if (kind) type = std::string(credential_kind_str(*kind));
  auto c = pool_.acquire();
  db::Transaction tx(*c);
  auto r = tx.exec("SELECT * FROM gx_trust_revoke($1, $2, $3, $4)", {std::to_string(id), type, actor, reason});
  if (r.get(0, 0) == "refused") return make_error(r.get(0, 2), r.get(0, 3));
  auto which = tx.exec("SELECT EXISTS (SELECT 1 FROM tls_credentials WHERE id = $1)", {std::to_string(id)});
  tx.commit();
  return which.text(0, 0) == "t" ? CredentialKind::kTlsCredential : CredentialKind::kSigningKey;
}

std::vector<TlsCredential> TrustStore::tls_credentials(std::optional<std::string> connector) {
  auto c = pool_.acquire();
  return detail::load_tls_credentials(*c, {std::move(connector), std::nullopt});
}

std::vector<SigningKeyRecord> TrustStore::signing_keys(std::optional<std::string> connector) {
  auto c = pool_.acquire();
  return detail::load_signing_keys(*c, {std::move(connector), std::nullopt});
}

std::optional<TlsCredential> TrustStore::tls_credential(std::int64_t id) {
  auto c = pool_.acquire();
  auto rows = detail::load_tls_credentials(*c, {std::nullopt, id});
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

std::optional<SigningKeyRecord> TrustStore::signing_key(std::int64_t id) {
  auto c = pool_.acquire();
  auto rows = detail::load_signing_keys(*c, {std::nullopt, id});
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

}  // namespace hub::trust
