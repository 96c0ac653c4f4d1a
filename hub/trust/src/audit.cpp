#include "hub/trust/audit.hpp"

#include "hub/core/digest.hpp"

namespace hub::trust {
namespace {

const std::string kZeroHash(64, '0');

// The columns of an event, with the timestamp as the exact text the hash covers.
constexpr const char* kColumns =
    "id, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), actor, action, object_type, "
    "object_id, detail::text, prev_hash, hash";

AuditEvent event_at(const db::ResultSet& r, int i) {
  return AuditEvent{r.get_int(i, 0), r.get(i, 1), r.get(i, 2), r.get(i, 3), r.get(i, 4),
                    r.get(i, 5),     r.get(i, 6), r.get(i, 7), r.get(i, 8)};
}

std::string short_hash(const std::string& h) { return h.substr(0, 16) + "..."; }

}  // namespace

std::string audit_event_hash(const AuditEvent& e) {
  // concat_ws(E'\x1f', 'gx-audit-v1', id, occurred_at, actor, action, object_type,
  //           object_id, detail, prev_hash), as gx_audit_digest.
  std::string text = "gx-audit-v1";
  for (const std::string& part : {std::to_string(e.id), e.occurred_at, e.actor, e.action, e.object_type, e.object_id,
                                  e.detail_json, e.prev_hash}) {
    text += '\x1f';
    text += part;
  }
  return sha256_hex(text);
}

std::int64_t append_audit_event(db::Connection& conn, const std::string& actor, const std::string& action,
                                const std::string& object_type, const std::string& object_id,
                                const nlohmann::json& detail) {
  return conn.exec("SELECT gx_audit_append($1, $2, $3, $4, $5)", {actor, action, object_type, object_id, detail.dump()})
      .get_int(0, 0);
}

std::vector<AuditEvent> list_audit_events(db::Connection& conn, const AuditQuery& q) {
  std::vector<db::Param> params;
  std::string where = " WHERE true";
  if (q.since) {
    params.emplace_back(std::to_string(
        std::chrono::duration_cast<std::chrono::microseconds>(q.since->time_since_epoch()).count()));
    where += " AND occurred_at >= to_timestamp($" + std::to_string(params.size()) + "::numeric / 1000000)";
  }
  if (q.action) {
    params.emplace_back(*q.action);
    auto n = std::to_string(params.size());
    where += " AND (action = $" + n + " OR starts_with(action, $" + n + " || '.'))";
  }
  params.emplace_back(std::to_string(q.limit));
  auto r = conn.exec("SELECT * FROM (SELECT " + std::string(kColumns) + " FROM audit_events" + where +
                         " ORDER BY id DESC LIMIT $" + std::to_string(params.size()) + ") x ORDER BY id",
                     params);
  std::vector<AuditEvent> out;
  out.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) out.push_back(event_at(r, i));
  return out;
}

AuditVerifyReport verify_audit_chain(db::Connection& conn) {
  AuditVerifyReport rep;
  db::Transaction tx(conn, db::Transaction::Isolation::kRepeatableRead);
  std::int64_t last_id = 0;
  std::string prev_hash = kZeroHash;
  constexpr int kBatch = 10000;
  while (true) {
    auto r = tx.exec("SELECT " + std::string(kColumns) + " FROM audit_events WHERE id > $1 ORDER BY id LIMIT " +
                         std::to_string(kBatch),
                     {std::to_string(last_id)});
    for (int i = 0; i < r.rows(); ++i) {
      auto e = event_at(r, i);
      ++rep.events;
      if (e.id != last_id + 1) {
        rep.breaks.push_back({e.id, "MISSING_EVENT",
                              last_id + 1 == e.id - 1
                                  ? "audit event " + std::to_string(last_id + 1) + " is missing"
                                  : "audit events " + std::to_string(last_id + 1) + " to " + std::to_string(e.id - 1) +
                                        " are missing"});
      }
      if (e.prev_hash != prev_hash) {
        rep.breaks.push_back({e.id, "PREV_HASH_MISMATCH",
                              "audit event " + std::to_string(e.id) + " links to " + short_hash(e.prev_hash) +
                                  " but the event before it has hash " + short_hash(prev_hash)});
      }
      if (audit_event_hash(e) != e.hash) {
        rep.breaks.push_back({e.id, "HASH_MISMATCH",
                              "audit event " + std::to_string(e.id) + " (" + e.action + " by " + e.actor +
                                  ") does not match its hash: its content was changed after it was written"});
      }
      last_id = e.id;
      prev_hash = e.hash;
    }
    if (r.rows() < kBatch) break;
  }
  tx.commit();
  rep.head_hash = rep.events > 0 ? prev_hash : kZeroHash;
  return rep;
}

}  // namespace hub::trust
