#include "hub/intake/store.hpp"

#include "hub/core/digest.hpp"

namespace hub::intake {

std::optional<KnownMessage> find_inbox_message(db::Connection& conn, const std::string& connector,
                                               const std::string& message_id) {
  auto r = conn.exec(
      "SELECT id, hub_ref, payload_sha256, "
      "to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), state, accepted_receipt, "
      "current_receipt FROM inbox_messages WHERE connector = $1 AND message_id = $2",
      {connector, message_id});
  if (r.rows() == 0) return std::nullopt;
  return KnownMessage{r.get_int(0, 0), r.get(0, 1), r.get(0, 2), r.get(0, 3), r.get(0, 4), r.get(0, 5), r.get(0, 6)};
}

std::optional<std::int64_t> insert_inbox_message(db::Connection& conn, const NewInboxMessage& m) {
  auto r = conn.exec(
      "INSERT INTO inbox_messages (connector, message_id, hub_ref, kind, received_at, sent_at, body, body_sha256, "
      "payload_sha256, content_type, peer_subject, peer_fingerprint, remote_address, signer, command, item_count, "
      "accepted_receipt, current_receipt) "
      "VALUES ($1, $2, $3, $4, $5::timestamptz, $6::timestamptz, decode($7, 'hex'), $8, $9, $10, $11, $12, $13, $14, "
      "$15::jsonb, $16::int, $17, $17) "
      "ON CONFLICT (connector, message_id) DO NOTHING RETURNING id",
      {m.connector, m.message_id, m.hub_ref, m.kind, m.received_at, m.sent_at, to_hex(*m.body), m.body_sha256,
       m.payload_sha256, m.content_type, m.peer_subject, m.peer_fingerprint, m.remote_address, m.signer,
       m.command->dump(), std::to_string(m.item_count), m.receipt});
  if (r.rows() == 0) return std::nullopt;
  return r.get_int(0, 0);
}

std::int64_t raise_conflict_exception(db::Connection& conn, const std::string& connector,
                                      const std::string& message_id, std::int64_t inbox_id,
                                      std::int64_t quarantine_id, const std::string& detail) {
  auto r = conn.exec(
      "WITH e AS (INSERT INTO exceptions (type, reason_code, connector, message_id, inbox_id, quarantine_id, "
      "business_keys, detail) VALUES ('idempotency_conflict', 'IDEMPOTENCY_CONFLICT', $1, $2, $3::bigint, $4::bigint, "
      "jsonb_build_object('message_id', $2::text), $5) RETURNING id) "
      "INSERT INTO exception_events (exception_id, actor, action, detail) "
      "SELECT id, 'system:intake', 'raised', jsonb_build_object('first_inbox_id', $3::bigint, "
      "'conflicting_quarantine_id', $4::bigint) FROM e RETURNING exception_id",
      {connector, message_id, std::to_string(inbox_id), std::to_string(quarantine_id), detail});
  return r.get_int(0, 0);
}

std::vector<ExceptionRow> list_exceptions(db::Connection& conn, const ExceptionFilter& f) {
  auto r = conn.exec(
      "SELECT id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), type, reason_code, "
      "connector, coalesce(message_id, ''), business_keys::text, status, detail, inbox_id, item_seq, quarantine_id "
      "FROM exceptions WHERE ($1::text IS NULL OR connector = $1) AND ($2::text IS NULL OR status = $2) "
      "AND ($3::text IS NULL OR reason_code = $3) ORDER BY id DESC LIMIT $4::int",
      {f.connector, f.status, f.reason_code, std::to_string(f.limit)});
  std::vector<ExceptionRow> out;
  out.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    ExceptionRow e;
    e.id = r.get_int(i, 0);
    e.created_at = r.get(i, 1);
    e.type = r.get(i, 2);
    e.reason_code = r.get(i, 3);
    e.connector = r.get(i, 4);
    e.message_id = r.get(i, 5);
    e.business_keys = r.get(i, 6);
    e.status = r.get(i, 7);
    e.detail = r.get(i, 8);
    if (!r.is_null(i, 9)) e.inbox_id = r.get_int(i, 9);
    if (!r.is_null(i, 10)) e.item_seq = static_cast<int>(r.get_int(i, 10));
    if (!r.is_null(i, 11)) e.quarantine_id = r.get_int(i, 11);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace hub::intake
