#pragma once
// The hub's audit trail (table audit_events, migration 0004): who did what to which
// object, when. Append-only for every database role, and hash-chained: each event's hash
// covers its content and the previous event's hash, so a row changed or removed behind
// the triggers' back (by the database superuser, say) is found by verify_audit_chain.
// Trust changes append their events themselves (inside the SQL functions); other
// modules (logins, later) call append_audit_event in their own transaction.
//
// Actors are "<kind>:<name>": "os:<user>" for hubctl, "admin-cert:<sha-256>" for the
// admin API; actions are "<object>.<verb>" such as "signing_key.revoked".
//
// Free functions over a connection the caller owns; no state, thread-safe as far as the
// connection is (one thread at a time).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hub/core/clock.hpp"
#include "hub/db/pg.hpp"

namespace hub::trust {

struct AuditEvent {
  std::int64_t id = 0;
  std::string occurred_at;  // RFC 3339 UTC with microseconds: the text the hash covers
  std::string actor;
  std::string action;
  std::string object_type;
  std::string object_id;
  std::string detail_json;  // PostgreSQL's jsonb text form (the text the hash covers)
  std::string prev_hash;
  std::string hash;
};

// The hash of an event as gx_audit_digest computes it, recomputed here independently.
std::string audit_event_hash(const AuditEvent& e);

// Appends an event in the caller's transaction; returns its id.
std::int64_t append_audit_event(db::Connection& conn, const std::string& actor, const std::string& action,
                                const std::string& object_type, const std::string& object_id,
                                const nlohmann::json& detail);

struct AuditQuery {
  std::optional<TimePoint> since;
  // Exact action ("signing_key.revoked") or a prefix of whole parts ("signing_key").
  std::optional<std::string> action;
  int limit = 1000;  // the newest `limit` events that match, oldest first
};
std::vector<AuditEvent> list_audit_events(db::Connection& conn, const AuditQuery& query);

struct AuditBreak {
  std::int64_t id = 0;  // the event where the chain breaks
  std::string kind;     // HASH_MISMATCH, PREV_HASH_MISMATCH, MISSING_EVENT
  std::string detail;
};

struct AuditVerifyReport {
  std::int64_t events = 0;
  std::string head_hash;  // the last event's hash (to note down elsewhere)
  std::vector<AuditBreak> breaks;
  bool ok() const { return breaks.empty(); }
};

// Reads the whole trail in id order (in batches, in one snapshot) and checks every
// event's hash against its content and its prev_hash against the event before it.
AuditVerifyReport verify_audit_chain(db::Connection& conn);

}  // namespace hub::trust
