#include "records_sql.hpp"

namespace hub::trust::detail {
namespace {

// Timestamps travel as microseconds since the epoch: exact, and no text to parse.
std::string micros(const std::string& column) {
  return "(extract(epoch FROM " + column + ") * 1000000)::bigint";
}

TimePoint time_at(const db::ResultSet& r, int row, int col) {
  return TimePoint(std::chrono::microseconds(r.get_int(row, col)));
}

std::optional<TimePoint> opt_time_at(const db::ResultSet& r, int row, int col) {
  if (r.is_null(row, col)) return std::nullopt;
  return time_at(r, row, col);
}

std::optional<Revocation> revocation_at(const db::ResultSet& r, int row) {
  int at = r.column("revoked_at_us");
  if (r.is_null(row, at)) return std::nullopt;
  return Revocation{time_at(r, row, at), r.get(row, r.column("revoked_by")), r.get(row, r.column("revoked_reason"))};
}

// "WHERE ..." for the filter, with its parameters.
std::string where(const RecordFilter& f, std::vector<db::Param>& params) {
  std::string sql;
  if (f.connector) {
    params.emplace_back(*f.connector);
    sql += " AND connector = $" + std::to_string(params.size());
  }
  if (f.id) {
    params.emplace_back(std::to_string(*f.id));
    sql += " AND id = $" + std::to_string(params.size());
  }
  return " WHERE true" + sql + " ORDER BY connector, id";
}

}  // namespace

std::vector<ConnectorInfo> load_connectors(db::Connection& conn) {
  auto r = conn.exec(
      "SELECT connector, kind, signature_selector, description, callback_url FROM connectors ORDER BY connector");
  std::vector<ConnectorInfo> out;
  for (int i = 0; i < r.rows(); ++i) {
    ConnectorInfo c;
    c.name = r.get(i, 0);
    c.is_operator = r.text(i, 1) == "operator";
    auto sel = r.get_opt(i, 2);
    c.selector = !sel ? KeySelector::kNone : *sel == "kid" ? KeySelector::kKid : KeySelector::kCertificate;
    c.description = r.get(i, 3);
    c.callback_url = r.get_opt(i, 4);
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<TlsCredential> load_tls_credentials(db::Connection& conn, const RecordFilter& filter) {
  std::vector<db::Param> params;
  auto r = conn.exec("SELECT id, connector, kind, subject, issuer, serial_hex, fingerprint_sha256, spki_sha256, key_type, "
                     "key_bits, " + micros("not_before") + " AS not_before_us, " + micros("not_after") +
                         " AS not_after_us, " + micros("registered_at") + " AS registered_at_us, registered_by, " +
                         micros("revoked_at") + " AS revoked_at_us, revoked_by, revoked_reason, certificate_pem "
                         "FROM tls_credentials" + where(filter, params),
                     params);
  std::vector<TlsCredential> out;
  out.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    TlsCredential t;
    t.id = r.get_int(i, 0);
    t.connector = r.get(i, 1);
    t.is_ca = r.text(i, 2) == "ca";
    t.subject = r.get(i, 3);
    t.issuer = r.get(i, 4);
    t.serial_hex = r.get(i, 5);
    t.fingerprint_sha256 = r.get(i, 6);
    t.spki_sha256 = r.get(i, 7);
    t.key_type = r.get(i, 8);
    t.key_bits = static_cast<int>(r.get_int(i, 9));
    t.not_before = time_at(r, i, 10);
    t.not_after = time_at(r, i, 11);
    t.registered_at = time_at(r, i, 12);
    t.registered_by = r.get(i, 13);
    t.revoked = revocation_at(r, i);
    t.certificate_pem = r.get(i, r.column("certificate_pem"));
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<SigningKeyRecord> load_signing_keys(db::Connection& conn, const RecordFilter& filter) {
  std::vector<db::Param> params;
  auto r = conn.exec("SELECT id, connector, kid, key_pem, is_certificate, key_type, key_bits, spki_sha256, cert_sha256, "
                     "subject, issuer, serial_hex, " + micros("cert_not_before") + ", " + micros("cert_not_after") +
                         ", " + micros("valid_from") + ", " + micros("valid_to") + ", replaces, " +
                         micros("registered_at") + ", registered_by, " + micros("revoked_at") +
                         " AS revoked_at_us, revoked_by, revoked_reason FROM signing_keys" + where(filter, params),
                     params);
  std::vector<SigningKeyRecord> out;
  out.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    SigningKeyRecord k;
    k.id = r.get_int(i, 0);
    k.connector = r.get(i, 1);
    k.kid = r.get_opt(i, 2);
    k.pem = r.get(i, 3);
    k.is_certificate = r.text(i, 4) == "t";
    k.key_type = r.get(i, 5);
    k.key_bits = static_cast<int>(r.get_int(i, 6));
    k.spki_sha256 = r.get(i, 7);
    k.cert_sha256 = r.get_opt(i, 8);
    k.subject = r.get_opt(i, 9);
    k.issuer = r.get_opt(i, 10);
    k.serial_hex = r.get_opt(i, 11);
    k.cert_not_before = opt_time_at(r, i, 12);
    k.cert_not_after = opt_time_at(r, i, 13);
    k.valid_from = opt_time_at(r, i, 14);
    k.valid_to = opt_time_at(r, i, 15);
    if (!r.is_null(i, 16)) k.replaces = r.get_int(i, 16);
    k.registered_at = time_at(r, i, 17);
    k.registered_by = r.get(i, 18);
    k.revoked = revocation_at(r, i);
    out.push_back(std::move(k));
  }
  return out;
}

std::int64_t load_trust_version(db::Connection& conn) {
  return conn.exec("SELECT version FROM trust_state").get_int(0, 0);
}

}  // namespace hub::trust::detail
