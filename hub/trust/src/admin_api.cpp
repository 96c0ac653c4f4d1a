#include "hub/trust/admin_api.hpp"

#include <nlohmann/json.hpp>
#include <variant>

#include "hub/core/log.hpp"
#include "hub/trust/credential_json.hpp"
#include "hub/trust/time_text.hpp"

namespace hub::trust {
namespace {

using http::Request;
using http::Response;
using http::RouteParams;
using nlohmann::json;

const Logger kLog("trust");

int status_of(const std::string& code) {
  if (code == "UNKNOWN_CONNECTOR" || code == "UNKNOWN_CREDENTIAL") return 404;
  if (code == "KID_ALREADY_USED" || code == "ALREADY_REGISTERED" || code == "KEY_REVOKED" ||
      code == "ALREADY_REVOKED") {
    return 409;
  }
  return 400;
}

Response refusal(const Error& e) { return Response::problem(status_of(e.code), e.code, "", e.message); }

Response malformed(const std::string& detail) { return Response::problem(400, "MALFORMED", "", detail); }

// The body as a JSON object, or the 400 answer.
std::variant<json, Response> body_object(const Request& req) {
  json j = json::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return malformed("the body must be a JSON object");
  return j;
}

// A string member: absent (nullopt), or a string; anything else is a usage error.
Result<std::optional<std::string>> string_member(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return make_error("MALFORMED", std::string("\"") + name + "\" must be a string");
  return std::optional<std::string>(it->get<std::string>());
}

Result<std::optional<TimePoint>> time_member(const json& j, const char* name) {
  auto text = string_member(j, name);
  if (!text) return text.error();
  if (!*text) return std::optional<TimePoint>();
  auto t = parse_rfc3339(**text);
  if (!t) return make_error(t.error().code, std::string("\"") + name + "\": " + t.error().message);
  return std::optional<TimePoint>(*t);
}

Result<std::int64_t> id_param(const RouteParams& p) {
  const auto& text = p.at("id");
  std::int64_t v = 0;
  for (char ch : text) {
    if (ch < '0' || ch > '9' || v > 1'000'000'000'000'000) return make_error("UNKNOWN_CREDENTIAL", "no credential " + text);
    v = v * 10 + (ch - '0');
  }
  return v;
}

class AdminApi {
 public:
  AdminApi(TrustStore& store, TrustCache& cache, const Clock& clock) : store_(store), cache_(cache), clock_(clock) {}

  // nullopt: the caller is an operator; else the refusal.
  std::optional<Response> check_client(const Request& req) const {
    if (!req.peer.present) {
      return Response::problem(401, "CLIENT_CERTIFICATE_REQUIRED", "",
                               "the admin API needs a TLS client certificate registered for admin");
    }
    auto allowed = cache_.admin_client_allowed(req.peer, clock_.now());
    if (!allowed.ok()) {
      kLog.warn("admin API refused a client certificate",
                {{"subject", req.peer.subject}, {"fingerprint_sha256", req.peer.fingerprint_sha256}});
      return Response::problem(403, "FORBIDDEN", "", allowed.error().message);
    }
    return std::nullopt;
  }

  // Wraps a handler: the client check again (Router::handle does not run head checks),
  // and a database outage answered 503.
  template <class F>
  http::Handler guarded(F f) const {
    return [this, f](const Request& req, const RouteParams& params) -> Response {
      if (auto refused = check_client(req)) return *refused;
      try {
        return f(req, params, "admin-cert:" + req.peer.fingerprint_sha256);
      } catch (const db::ConnectionError& e) {
        kLog.warn("admin API: database unavailable", {{"error", e.what()}});
        return Response::problem(503, "UNAVAILABLE", "", "the database is not reachable; try again", std::nullopt, 5);
      }
    };
  }

  http::HeadCheck head_check() const {
    return [this](const Request& req, const RouteParams&) { return check_client(req); };
  }

  Response connectors() {
    json list = json::array();
    for (const auto& c : store_.connectors()) list.push_back(connector_json(c));
    return Response::json(200, {{"connectors", list}});
  }

  Response list_tls(const std::string& connector) {
    if (!store_.connector(connector)) return refusal(make_error("UNKNOWN_CONNECTOR", "there is no connector " + connector));
    auto now = clock_.now();
    json list = json::array();
    for (const auto& t : store_.tls_credentials(connector)) list.push_back(credential_json(t, now));
    return Response::json(200, {{"connector", connector}, {"tls_credentials", list}});
  }

  Response list_keys(const std::string& connector) {
    if (!store_.connector(connector)) return refusal(make_error("UNKNOWN_CONNECTOR", "there is no connector " + connector));
    auto now = clock_.now();
    json list = json::array();
    for (const auto& k : store_.signing_keys(connector)) list.push_back(credential_json(k, now));
    return Response::json(200, {{"connector", connector}, {"signing_keys", list}});
  }

  Response add_tls(const Request& req, const std::string& connector, const std::string& actor) {
    auto body = body_object(req);
    if (auto* r = std::get_if<Response>(&body)) return *r;
    const auto& j = std::get<json>(body);
    auto pem = string_member(j, "certificate_pem");
    if (!pem) return refusal(pem.error());
    if (!*pem) return malformed("\"certificate_pem\" is required");
    auto ca = j.find("ca");
    if (ca != j.end() && !ca->is_boolean()) return malformed("\"ca\" must be true or false");
    bool is_ca = ca != j.end() && ca->get<bool>();
    auto r = store_.add_tls_credential(connector, **pem, is_ca, actor);
    if (!r) return refusal(r.error());
    cache_.refresh();
    auto record = store_.tls_credential(r->id);
    json out = credential_json(*record, clock_.now());
    out["already_registered"] = r->already_registered;
    return Response::json(r->already_registered ? 200 : 201, out);
  }

  Response add_key(const Request& req, const std::string& connector, const std::string& actor) {
    auto body = body_object(req);
    if (auto* r = std::get_if<Response>(&body)) return *r;
    const auto& j = std::get<json>(body);
    auto pem = string_member(j, "pem");
    auto kid = string_member(j, "kid");
    auto not_before = time_member(j, "not_before");
    auto not_after = time_member(j, "not_after");
    for (const Error* e : {pem ? nullptr : &pem.error(), kid ? nullptr : &kid.error(),
                           not_before ? nullptr : &not_before.error(), not_after ? nullptr : &not_after.error()}) {
      if (e != nullptr) return refusal(*e);
    }
    if (!*pem) return malformed("\"pem\" is required (a certificate or a public key, PEM)");
    NewSigningKey key{connector, *kid, **pem, *not_before, *not_after};
    Result<Registration> r = Registration{};
    if (auto rot = j.find("rotate"); rot != j.end()) {
      auto old_id = rotation_target(*rot, connector);
      if (!old_id) return refusal(old_id.error());
      auto overlap_text = string_member(*rot, "overlap");
      if (!overlap_text) return refusal(overlap_text.error());
      auto overlap = parse_duration(overlap_text->value_or(""));
      if (!overlap) return refusal(overlap.error());
      r = store_.rotate_signing_key(*old_id, *overlap, key, actor);
    } else {
      r = store_.add_signing_key(key, actor);
    }
    if (!r) return refusal(r.error());
    cache_.refresh();
    auto record = store_.signing_key(r->id);
    json out = credential_json(*record, clock_.now());
    out["already_registered"] = r->already_registered;
    return Response::json(r->already_registered ? 200 : 201, out);
  }

  Response revoke(const Request& req, const RouteParams& params, CredentialKind kind, const std::string& actor) {
    auto id = id_param(params);
    if (!id) return refusal(id.error());
    auto body = body_object(req);
    if (auto* r = std::get_if<Response>(&body)) return *r;
    auto reason = string_member(std::get<json>(body), "reason");
    if (!reason) return refusal(reason.error());
    auto r = store_.revoke(*id, kind, actor, reason->value_or(""));
    if (!r) return refusal(r.error());
    cache_.refresh();
    auto now = clock_.now();
    if (kind == CredentialKind::kTlsCredential) return Response::json(200, credential_json(*store_.tls_credential(*id), now));
    return Response::json(200, credential_json(*store_.signing_key(*id), now));
  }

 private:
  // {"old_id": N} or {"old_kid": "..."}: the key to rotate out.
  Result<std::int64_t> rotation_target(const json& rot, const std::string& connector) {
    if (!rot.is_object()) return make_error("MALFORMED", "\"rotate\" must be an object");
    if (auto id = rot.find("old_id"); id != rot.end() && id->is_number_integer()) return id->get<std::int64_t>();
    if (auto kid = rot.find("old_kid"); kid != rot.end() && kid->is_string()) {
      return store_.signing_key_id(connector, kid->get<std::string>());
    }
    return make_error("MALFORMED", "\"rotate\" needs \"old_id\" (a number) or \"old_kid\" (a string)");
  }

  TrustStore& store_;
  TrustCache& cache_;
  const Clock& clock_;
};

}  // namespace

void register_trust_admin_routes(http::Router& router, TrustStore& store, TrustCache& cache, const Clock& clock) {
  // Shared by the route handlers, which the Router copies into each Server.
  auto api = std::make_shared<AdminApi>(store, cache, clock);
  auto add = [&](const char* method, const char* pattern, auto f) {
    auto handler = api->guarded([api, f](const Request& req, const RouteParams& p, const std::string& actor) {
      return f(*api, req, p, actor);
    });
    router.add(method, pattern, std::move(handler), api->head_check());
  };
  add("GET", "/admin/v1/connectors", [](AdminApi& a, const Request&, const RouteParams&, const std::string&) {
    return a.connectors();
  });
  add("GET", "/admin/v1/connectors/{connector}/tls-credentials",
      [](AdminApi& a, const Request&, const RouteParams& p, const std::string&) { return a.list_tls(p.at("connector")); });
  add("POST", "/admin/v1/connectors/{connector}/tls-credentials",
      [](AdminApi& a, const Request& r, const RouteParams& p, const std::string& actor) {
        return a.add_tls(r, p.at("connector"), actor);
      });
  add("GET", "/admin/v1/connectors/{connector}/signing-keys",
      [](AdminApi& a, const Request&, const RouteParams& p, const std::string&) { return a.list_keys(p.at("connector")); });
  add("POST", "/admin/v1/connectors/{connector}/signing-keys",
      [](AdminApi& a, const Request& r, const RouteParams& p, const std::string& actor) {
        return a.add_key(r, p.at("connector"), actor);
      });
  add("POST", "/admin/v1/tls-credentials/{id}/revoke",
      [](AdminApi& a, const Request& r, const RouteParams& p, const std::string& actor) {
        return a.revoke(r, p, CredentialKind::kTlsCredential, actor);
      });
  add("POST", "/admin/v1/signing-keys/{id}/revoke",
      [](AdminApi& a, const Request& r, const RouteParams& p, const std::string& actor) {
        return a.revoke(r, p, CredentialKind::kSigningKey, actor);
      });
}

}  // namespace hub::trust
