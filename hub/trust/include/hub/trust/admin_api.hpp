#pragma once
// The trust administration API: JSON over the hub's HTTPS server, for operators whose
// TLS client certificate is registered for the pseudo-connector `admin`
// (docs/trust.md, "Admin API"):
//
//   GET  /admin/v1/connectors
//   GET  /admin/v1/connectors/{connector}/tls-credentials
//   POST /admin/v1/connectors/{connector}/tls-credentials   {"certificate_pem", "ca"?}
//   GET  /admin/v1/connectors/{connector}/signing-keys
//   POST /admin/v1/connectors/{connector}/signing-keys      {"pem", "kid"?, "not_before"?,
//        "not_after"?, "rotate"?: {"old_id" | "old_kid", "overlap"}}
//   POST /admin/v1/tls-credentials/{id}/revoke              {"reason"}
//   POST /admin/v1/signing-keys/{id}/revoke                 {"reason"}
//
// The client certificate is checked before the body is read (a head check) and again in
// the handler: no certificate 401, any other certificate 403, problem+json. The actor
// recorded in the audit trail is "admin-cert:<SHA-256 of the certificate>". After each
// change the handler refreshes the TrustCache, so the change holds at once in this process
// (other processes see it within their poll interval).
//
// Lifetime: the store, the cache and the clock must outlive the Router and every Server
// that holds a copy of it. Handlers are thread-safe (TrustStore and TrustCache are).

#include "hub/core/clock.hpp"
#include "hub/http/router.hpp"
#include "hub/trust/trust_cache.hpp"
#include "hub/trust/trust_store.hpp"

namespace hub::trust {

void register_trust_admin_routes(http::Router& router, TrustStore& store, TrustCache& cache,
                                 const Clock& clock = SystemClock::instance());

}  // namespace hub::trust
