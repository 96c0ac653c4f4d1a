#include "hub/app/trust_commands.hpp"

#include <pwd.h>
#include <unistd.h>

#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "hub/app/command_options.hpp"
#include "hub/trust/audit.hpp"
#include "hub/trust/credential_json.hpp"
#include "hub/trust/dev_pki.hpp"
#include "hub/trust/time_text.hpp"
#include "hub/trust/trust_store.hpp"

namespace hub::app {
namespace {

using nlohmann::json;
using trust::TrustStore;

// The OS account running hubctl (not $USER, which the caller sets at will).
std::string os_actor() {
  if (const passwd* pw = ::getpwuid(::geteuid()); pw != nullptr && pw->pw_name != nullptr) {
    return std::string("os:") + pw->pw_name;
  }
  return "os:uid-" + std::to_string(::geteuid());
}

std::string read_pem_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Usage("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<TimePoint> time_option(const Options& o, const std::string& name) {
  if (!o.has(name)) return std::nullopt;
  auto t = trust::parse_rfc3339(o.named.at(name));
  if (!t) throw Usage("--" + name + ": " + t.error().message);
  return *t;
}

int refused(const Error& e) {
  std::cerr << "refused: " << e.to_string() << "\n";
  return 1;
}

std::string shorten(const std::string& s, std::size_t n) { return s.size() <= n ? s : s.substr(0, n - 3) + "..."; }

std::string time_or_dash(const std::optional<TimePoint>& t) {
  return t ? trust::format_rfc3339_seconds(*t) : std::string("-");
}

int list(TrustStore& store, const Options& o) {
  auto now = std::chrono::system_clock::now();
  std::optional<std::string> only;
  if (o.has("connector")) only = o.named.at("connector");
  auto connectors = store.connectors();
  if (only && std::none_of(connectors.begin(), connectors.end(), [&](const auto& c) { return c.name == *only; })) {
    return refused(make_error("UNKNOWN_CONNECTOR", "there is no connector " + *only));
  }
  auto tls = store.tls_credentials(only);
  auto keys = store.signing_keys(only);
  if (o.flag("json")) {
    json out = json::array();
    for (const auto& c : connectors) {
      if (only && c.name != *only) continue;
      json j = trust::connector_json(c);
      j["tls_credentials"] = json::array();
      j["signing_keys"] = json::array();
      for (const auto& t : tls) {
        if (t.connector == c.name) j["tls_credentials"].push_back(trust::credential_json(t, now));
      }
      for (const auto& k : keys) {
        if (k.connector == c.name) j["signing_keys"].push_back(trust::credential_json(k, now));
      }
      out.push_back(j);
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::cout << std::left;
  for (const auto& c : connectors) {
    if (only && c.name != *only) continue;
    std::cout << c.name << "  (" << c.description << ")\n  TLS client credentials:\n";
    bool any = false;
    for (const auto& t : tls) {
      if (t.connector != c.name) continue;
      if (!any) {
        std::cout << "    " << std::setw(6) << "ID" << std::setw(13) << "KIND" << std::setw(15) << "STATE"
                  << std::setw(22) << "NOT AFTER" << std::setw(19) << "FINGERPRINT" << "SUBJECT\n";
      }
      any = true;
      std::cout << "    " << std::setw(6) << t.id << std::setw(13) << (t.is_ca ? "ca" : "certificate") << std::setw(15)
                << trust::state_str(t.state(now)) << std::setw(22) << trust::format_rfc3339_seconds(t.not_after)
                << std::setw(19) << t.fingerprint_sha256.substr(0, 16) << t.subject << "\n";
    }
    if (!any) std::cout << "    (none)\n";
    if (c.selector == trust::KeySelector::kNone) continue;
    std::cout << "  signing keys:\n";
    any = false;
    for (const auto& k : keys) {
      if (k.connector != c.name) continue;
      if (!any) {
        std::cout << "    " << std::setw(6) << "ID" << std::setw(16) << "KID" << std::setw(13) << "FORM" << std::setw(15)
                  << "STATE" << std::setw(22) << "FROM" << std::setw(22) << "TO" << std::setw(10) << "TYPE"
                  << "FINGERPRINT\n";
      }
      any = true;
      std::cout << "    " << std::setw(6) << k.id << std::setw(16) << shorten(k.kid.value_or("-"), 15) << std::setw(13)
                << (k.is_certificate ? "certificate" : "public key") << std::setw(15) << trust::state_str(k.state(now))
                << std::setw(22) << time_or_dash(k.effective_from()) << std::setw(22)
                << time_or_dash(k.effective_to()) << std::setw(10) << k.key_type
                << k.cert_sha256.value_or(k.spki_sha256).substr(0, 16) << "\n";
      if (k.revoked) {
        std::cout << "          revoked " << trust::format_rfc3339_seconds(k.revoked->at) << " by " << k.revoked->by
                  << ": " << k.revoked->reason << "\n";
      }
    }
    if (!any) std::cout << "    (none)\n";
  }
  return 0;
}

int registered(const Result<trust::Registration>& r, const std::string& what) {
  if (!r) return refused(r.error());
  std::cout << what << (r->already_registered ? " was registered already as id " : " registered as id ") << r->id
            << "\n";
  return 0;
}

trust::NewSigningKey new_key(const Options& o, const std::string& kid_option) {
  std::optional<std::string> kid;
  if (o.has(kid_option)) kid = o.named.at(kid_option);
  return {need(o, "connector"), kid, read_pem_file(need(o, "pem")), time_option(o, "not-before"),
          time_option(o, "not-after")};
}

int trust_command(const HubSettings& s, const std::vector<std::string>& args) {
  std::string sub = args.size() > 1 ? args[1] : "";
  auto o = parse_options(args, 2);
  db::Pool pool({s.db_app_conninfo, 1, std::chrono::milliseconds(10000)});
  TrustStore store(pool);
  if (sub == "list") return list(store, o);
  if (sub == "add-tls") {
    return registered(store.add_tls_credential(need(o, "connector"), read_pem_file(need(o, "cert")), o.flag("ca"),
                                               os_actor()),
                      o.flag("ca") ? "issuing CA" : "TLS client certificate");
  }
  if (sub == "add-key") return registered(store.add_signing_key(new_key(o, "kid"), os_actor()), "signing key");
  if (sub == "rotate") {
    auto key = new_key(o, "new-kid");
    std::int64_t old_id = 0;
    if (o.has("old-id")) {
      old_id = need_int(o, "old-id");
    } else {
      auto id = store.signing_key_id(key.connector, need(o, "old-kid"));
      if (!id) return refused(id.error());
      old_id = *id;
    }
    auto overlap = trust::parse_duration(need(o, "overlap"));
    if (!overlap) throw Usage("--overlap: " + overlap.error().message);
    auto r = store.rotate_signing_key(old_id, *overlap, key, os_actor());
    if (!r) return refused(r.error());
    auto old_key = store.signing_key(old_id);
    std::cout << "signing key registered as id " << r->id << "; signing key " << old_id << " is accepted until "
              << time_or_dash(old_key ? old_key->effective_to() : std::nullopt) << "\n";
    return 0;
  }
  if (sub == "revoke") {
    auto reason = need(o, "reason");
    std::int64_t id = 0;
    if (o.has("id")) {
      id = need_int(o, "id");
    } else {
      auto found = store.signing_key_id(need(o, "connector"), need(o, "kid"));
      if (!found) return refused(found.error());
      id = *found;
    }
    auto r = store.revoke(id, std::nullopt, os_actor(), reason);
    if (!r) return refused(r.error());
    std::cout << (*r == trust::CredentialKind::kTlsCredential ? "TLS credential " : "signing key ") << id
              << " revoked; every hubd refuses it within about a second\n";
    return 0;
  }
  if (sub == "import-dev-pki") {
    if (o.positional.empty()) throw Usage("trust import-dev-pki DIR");
    auto report = trust::import_dev_pki(store, o.positional[0], os_actor());
    for (const auto& line : report.registered) std::cout << "  " << line << "\n";
    for (const auto& line : report.unchanged) std::cout << "  " << line << "\n";
    for (const auto& line : report.failed) std::cerr << "  FAILED " << line << "\n";
    std::cout << "dev PKI: " << report.registered.size() << " registered, " << report.unchanged.size()
              << " already registered, " << report.failed.size() << " failed\n";
    return report.ok() ? 0 : 1;
  }
  throw Usage("trust list|add-tls|add-key|rotate|revoke|import-dev-pki");
}

int audit_command(const HubSettings& s, const std::vector<std::string>& args) {
  std::string sub = args.size() > 1 ? args[1] : "";
  auto o = parse_options(args, 2);
  auto conn = db::Connection::connect(s.db_app_conninfo);
  if (sub == "list") {
    trust::AuditQuery q;
    q.since = time_option(o, "since");
    if (o.has("action")) q.action = o.named.at("action");
    if (o.has("limit")) q.limit = static_cast<int>(need_int(o, "limit"));
    auto events = trust::list_audit_events(*conn, q);
    if (o.flag("json")) {
      json out = json::array();
      for (const auto& e : events) {
        out.push_back({{"id", e.id},
                       {"occurred_at", e.occurred_at},
                       {"actor", e.actor},
                       {"action", e.action},
                       {"object_type", e.object_type},
                       {"object_id", e.object_id},
                       {"detail", json::parse(e.detail_json)},
                       {"prev_hash", e.prev_hash},
                       {"hash", e.hash}});
      }
      std::cout << out.dump(2) << "\n";
      return 0;
    }
    std::cout << std::left;
    for (const auto& e : events) {
      std::cout << std::setw(7) << e.id << e.occurred_at.substr(0, 19) << "Z  " << std::setw(28) << e.action
                << std::setw(22) << (e.object_type + " " + e.object_id) << e.actor << "\n        " << e.detail_json
                << "\n";
    }
    if (events.empty()) std::cout << "(no audit events match)\n";
    return 0;
  }
  if (sub == "verify") {
    auto rep = trust::verify_audit_chain(*conn);
    if (o.flag("json")) {
      json breaks = json::array();
      for (const auto& b : rep.breaks) breaks.push_back({{"id", b.id}, {"kind", b.kind}, {"detail", b.detail}});
      std::cout << json{{"ok", rep.ok()}, {"events", rep.events}, {"head_hash", rep.head_hash}, {"breaks", breaks}}
                       .dump(2)
                << "\n";
      return rep.ok() ? 0 : 2;
    }
    if (rep.ok()) {
      std::cout << "OK: " << rep.events << " audit events, every hash matches its content and links to the one "
                << "before it; head " << rep.head_hash << "\n";
      return 0;
    }
    std::cout << "BROKEN: " << rep.breaks.size() << " problem(s) in " << rep.events << " audit events\n";
    for (const auto& b : rep.breaks) std::cout << "  - " << b.kind << " [audit event " << b.id << "]: " << b.detail << "\n";
    return 2;
  }
  throw Usage("audit list|verify");
}

}  // namespace

std::string trust_commands_usage() {
  return "  trust list [--connector C] [--json]   TLS credentials and signing keys per connector, with\n"
         "                           their state now: valid, not-yet-valid, expired or revoked\n"
         "  trust add-tls --connector C --cert FILE [--ca]\n"
         "                           register a TLS client certificate (or, --ca, the CA that issues them)\n"
         "  trust add-key --connector C [--kid K] --pem FILE [--not-before T] [--not-after T]\n"
         "                           register a signing key: a certificate, or (gx-market) a public key;\n"
         "                           T is RFC 3339 with an offset, e.g. 2026-04-01T00:00:00+09:00\n"
         "  trust rotate --connector C --old-kid K|--old-id N [--new-kid K] --pem FILE --overlap 7d\n"
         "                           register the new key; the old one stays accepted for the overlap\n"
         "  trust revoke --id N|--connector C --kid K --reason TEXT\n"
         "                           revoke for good (a revoked key or kid is never used again)\n"
         "  trust import-dev-pki DIR register the dev PKI (var/pki) for the four connectors and admin\n"
         "  audit list [--since T] [--action A] [--limit N] [--json]\n"
         "                           the audit trail, oldest first (A: e.g. signing_key or signing_key.revoked)\n"
         "  audit verify [--json]    recompute the audit hash chain; exit 0 when intact, 2 when broken\n"
         "  trust and audit changes are recorded with the actor os:<OS user>.\n";
}

std::optional<int> run_trust_command(const HubSettings& s, const std::vector<std::string>& args) {
  if (args.empty() || (args[0] != "trust" && args[0] != "audit")) return std::nullopt;
  try {
    return args[0] == "trust" ? trust_command(s, args) : audit_command(s, args);
  } catch (const Usage& e) {
    std::cerr << "hubctl " << args[0] << ": " << e.what() << "\nusage:\n" << trust_commands_usage();
    return 2;
  }
}

}  // namespace hub::app
