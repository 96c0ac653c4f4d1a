#pragma once
// The intake tables (migration 0005) as functions on a connection: what the intake
// service, the applier, the outbox and hubctl read and write. Each function runs in the
// caller's transaction if one is open; they throw db::DbError subclasses on database
// failures. No thread-safety of their own (a Connection is one thread's at a time).

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "hub/db/pg.hpp"

namespace hub::intake {

struct KnownMessage {
  std::int64_t id = 0;
  std::string hub_ref;
  std::string payload_sha256;
  std::string received_at;
  std::string state;
  std::string accepted_receipt;
  std::string current_receipt;
};

std::optional<KnownMessage> find_inbox_message(db::Connection& conn, const std::string& connector,
                                               const std::string& message_id);

struct NewInboxMessage {
  std::string connector;
  std::string message_id;
  std::string hub_ref;
  std::string kind;
  std::string received_at;
  std::optional<std::string> sent_at;
  const std::string* body = nullptr;
  std::string body_sha256;
  std::string payload_sha256;
  std::optional<std::string> content_type;
  std::optional<std::string> peer_subject;
  std::optional<std::string> peer_fingerprint;
  std::string remote_address;
  std::string signer;
  const nlohmann::json* command = nullptr;
  int item_count = 0;
  std::string receipt;
};

// Inserts the message (state accepted, its receipt as both accepted and current) and
// commits it if no transaction is open. nullopt when (connector, message_id) exists
// already (a concurrent arrival of the same key).
std::optional<std::int64_t> insert_inbox_message(db::Connection& conn, const NewInboxMessage& m);

// Opens an `idempotency_conflict` exception showing the first message and the conflicting
// body (kept in quarantine).
std::int64_t raise_conflict_exception(db::Connection& conn, const std::string& connector,
                                      const std::string& message_id, std::int64_t inbox_id,
                                      std::int64_t quarantine_id, const std::string& detail);

struct ExceptionRow {
  std::int64_t id = 0;
  std::string created_at;
  std::string type;
  std::string reason_code;
  std::string connector;
  std::string message_id;
  std::string business_keys;  // JSON text
  std::string status;
  std::string detail;
  std::optional<std::int64_t> inbox_id;
  std::optional<int> item_seq;
  std::optional<std::int64_t> quarantine_id;
};

struct ExceptionFilter {
  std::optional<std::string> connector;
  std::optional<std::string> status;       // open | claimed | resolved | closed; none: all
  std::optional<std::string> reason_code;
  int limit = 100;
};

std::vector<ExceptionRow> list_exceptions(db::Connection& conn, const ExceptionFilter& filter);

}  // namespace hub::intake
