#include "hub/intake/applier.hpp"

#include <nlohmann/json.hpp>
#include <set>

#include "hub/core/log.hpp"
#include "hub/queue/consumer.hpp"
#include "registry/ledger/ledger.hpp"

namespace hub::intake {
namespace {

const Logger kLog("applier");

// A PostgreSQL array literal of text values, each quoted.
std::string pg_text_array(const std::set<std::string>& values) {
  std::string a = "{";
  for (const auto& v : values) {
    if (a.size() > 1) a += ',';
    a += '"';
    for (char c : v) {
      if (c == '"' || c == '\\') a += '\\';
      a += c;
    }
    a += '"';
  }
  return a + "}";
}

std::string pg_bigint_array(const std::vector<std::int64_t>& ids) {
  std::string a = "{";
  for (auto id : ids) {
    if (a.size() > 1) a += ',';
    a += std::to_string(id);
  }
  return a + "}";
}

struct ItemOutcome {
  int seq = 0;
  std::string business_key;
  std::string hub_ref;
  std::string state;  // applied | exception
  std::optional<std::string> reason_code;
  std::string detail;
  std::optional<std::int64_t> entry_id;
  nlohmann::json business_keys;
};

struct Stored {
  std::int64_t id = 0;
  std::string message_id;
  std::string hub_ref;
  std::string kind;
  std::string received_at;
  std::string body_sha256;
  nlohmann::json command;
};

// A transfer item before the ledger has answered: what to post, and its outcome shell.
ItemOutcome transfer_outcome_shell(const Stored& m, int seq, const nlohmann::json& item) {
  ItemOutcome o;
  o.seq = seq;
  o.business_key = item.value("business_key", "");
  o.hub_ref = m.hub_ref + "-" + std::to_string(seq + 1);
  o.business_keys = item.value("business_keys", nlohmann::json::object());
  return o;
}

// The ledger's answer for one transfer, as the item's outcome.
void settle_transfer(ItemOutcome& o, const nlohmann::json& item, const Result<registry::Posting>& r) {
  const std::string duplicate_reason = item.value("duplicate_reason", "DUPLICATE");
  if (r.ok() && !r->duplicate) {
    o.state = "applied";
    o.entry_id = r->entry_id;
    return;
  }
  o.state = "exception";
  if (r.ok()) {
    o.reason_code = duplicate_reason;
    o.entry_id = r->entry_id;
    o.detail = o.business_key + " was already applied by journal entry " + std::to_string(r->entry_id) +
               "; it is never applied twice";
  } else if (r.error().code == "IDEMPOTENCY_CONFLICT") {
    o.reason_code = duplicate_reason;
    o.detail = r.error().message;
  } else {
    o.reason_code = r.error().code;
    o.detail = r.error().message;
  }
}

ItemOutcome apply_statement(db::Connection& conn, const std::string& connector, const Stored& m, int seq,
                            const nlohmann::json& item) {
  auto r = conn.exec(
      "INSERT INTO statements (connector, business_date, inbox_id, message_id, received_at, payload) "
      "VALUES ($1, $2::date, $3::bigint, $4, $5::timestamptz, $6::jsonb) RETURNING id",
      {connector, item.at("business_date").get<std::string>(), std::to_string(m.id), m.message_id, m.received_at,
       item.at("payload").dump()});
  auto id = r.get_int(0, 0);
  // A later statement for the same date supersedes the earlier ones (common.md).
  conn.exec(
      "UPDATE statements SET superseded_by = $1::bigint WHERE connector = $2 AND business_date = $3::date "
      "AND id < $1::bigint AND superseded_by IS NULL",
      {std::to_string(id), connector, item.at("business_date").get<std::string>()});
  ItemOutcome o;
  o.seq = seq;
  o.business_key = item.value("business_key", "");
  o.hub_ref = m.hub_ref + "-" + std::to_string(seq + 1);
  o.state = "applied";
  return o;
}

}  // namespace

void mark_apply_failed(db::Connection& conn, const std::string& connector, std::int64_t inbox_id,
                       const std::string& what) {
  db::Transaction tx(conn);
  auto r = tx.exec(
      "UPDATE inbox_messages SET state = 'exception', reason_code = 'APPLY_FAILED', applied_at = now(), "
      "apply_attempts = apply_attempts + 1, updated_at = now() WHERE id = $1::bigint AND state = 'accepted' "
      "RETURNING message_id",
      {std::to_string(inbox_id)});
  if (r.rows() == 1) {
    tx.exec(
        "WITH e AS (INSERT INTO exceptions (type, reason_code, connector, message_id, inbox_id, business_keys, detail) "
        "VALUES ('processing', 'APPLY_FAILED', $1, $2, $3::bigint, jsonb_build_object('message_id', $2::text), $4) "
        "RETURNING id) INSERT INTO exception_events (exception_id, actor, action) SELECT id, 'system:applier', 'raised' FROM e",
        {connector, r.get(0, 0), std::to_string(inbox_id), "the hub could not apply this message: " + what});
  }
  tx.commit();
  kLog.error("message could not be applied; exception raised", {{"inbox_id", inbox_id}, {"error", what}});
}

ApplyStats apply_inbox_batch(db::Connection& conn, const Connector& connector, const std::vector<std::int64_t>& inbox_ids,
                             bool callbacks) {
  ApplyStats stats;
  db::Transaction tx(conn);
  auto rows = tx.exec(
      "SELECT id, message_id, hub_ref, kind, "
      "to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), body_sha256, command::text "
      "FROM inbox_messages WHERE id = ANY($1::bigint[]) AND connector = $2 AND state = 'accepted' "
      "ORDER BY id FOR UPDATE",
      {pg_bigint_array(inbox_ids), connector.name()});
  stats.skipped = static_cast<int>(inbox_ids.size()) - rows.rows();
  if (rows.rows() == 0) {
    tx.commit();
    return stats;
  }
  std::vector<Stored> messages;
  std::set<std::string> accounts;
  for (int i = 0; i < rows.rows(); ++i) {
    Stored m{rows.get_int(i, 0), rows.get(i, 1), rows.get(i, 2), rows.get(i, 3), rows.get(i, 4), rows.get(i, 5),
             nlohmann::json::parse(rows.text(i, 6))};
    for (const auto& item : m.command.value("items", nlohmann::json::array())) {
      if (item.value("type", "") == "transfer") {
        accounts.insert(item.value("from", ""));
        accounts.insert(item.value("to", ""));
      }
    }
    messages.push_back(std::move(m));
  }
  // One lock order for every writer (docs/ledger.md): all accounts first, by account id.
  if (!accounts.empty()) tx.exec("SELECT gx_lock_accounts($1::text[])", {pg_text_array(accounts)});

  // Every transfer of the batch in one round trip (Ledger::transfer_batch, in this
  // transaction), in message order; the other commands one by one.
  registry::Ledger ledger(conn);
  std::vector<std::vector<ItemOutcome>> outcomes(messages.size());
  std::vector<registry::TransferItem> transfers;
  std::vector<std::pair<std::size_t, std::size_t>> transfer_slots;  // (message, outcome index)
  for (std::size_t mi = 0; mi < messages.size(); ++mi) {
    const auto& m = messages[mi];
    const auto& items = m.command.at("items");
    for (int seq = 0; seq < static_cast<int>(items.size()); ++seq) {
      const auto& item = items[static_cast<std::size_t>(seq)];
      const std::string type = item.value("type", "");
      if (type == "transfer") {
        auto o = transfer_outcome_shell(m, seq, item);
        auto unit = registry::parse_unit_type(item.value("unit", ""));
        if (!unit.ok()) {
          o.state = "exception";
          o.reason_code = unit.error().code;
          o.detail = unit.error().message;
          outcomes[mi].push_back(std::move(o));
          continue;
        }
        transfers.push_back({item.at("key").get<std::string>(),
                             registry::Cause{registry::CauseType::kConnectorMessage, connector.name() + ":" + m.message_id},
                             item.at("from").get<std::string>(), item.at("to").get<std::string>(), *unit,
                             item.at("vintage").get<int>(), item.at("quantity").get<std::int64_t>()});
        transfer_slots.emplace_back(mi, outcomes[mi].size());
        outcomes[mi].push_back(std::move(o));
      } else if (type == "statement") {
        outcomes[mi].push_back(apply_statement(conn, connector.name(), m, seq, item));
      } else {
        ItemOutcome o;
        o.seq = seq;
        o.business_key = item.value("business_key", "");
        o.hub_ref = m.hub_ref + "-" + std::to_string(seq + 1);
        o.state = "exception";
        o.reason_code = "UNSUPPORTED_COMMAND";
        o.detail = "the hub cannot apply a command of type '" + type + "'";
        outcomes[mi].push_back(std::move(o));
      }
    }
  }
  if (!transfers.empty()) {
    auto results = ledger.transfer_batch(transfers);
    for (std::size_t i = 0; i < results.size(); ++i) {
      auto [mi, oi] = transfer_slots[i];
      auto& o = outcomes[mi][oi];
      settle_transfer(o, messages[mi].command.at("items")[static_cast<std::size_t>(o.seq)], results[i]);
    }
  }

  nlohmann::json item_rows = nlohmann::json::array();
  nlohmann::json exception_rows = nlohmann::json::array();
  nlohmann::json message_rows = nlohmann::json::array();
  nlohmann::json outbox_rows = nlohmann::json::array();
  for (std::size_t mi = 0; mi < messages.size(); ++mi) {
    const auto& m = messages[mi];
    ReceiptData receipt{m.message_id, m.hub_ref, m.kind, "applied", std::nullopt, m.received_at, m.body_sha256, {}};
    for (const auto& o : outcomes[mi]) {
      receipt.items.push_back({o.business_key, o.hub_ref, o.state, o.reason_code});
      item_rows.push_back({{"inbox_id", m.id}, {"seq", o.seq}, {"business_key", o.business_key},
                           {"state", o.state}, {"reason_code", o.reason_code ? nlohmann::json(*o.reason_code) : nlohmann::json()},
                           {"detail", o.detail}, {"entry_id", o.entry_id ? nlohmann::json(*o.entry_id) : nlohmann::json()},
                           {"hub_ref", o.hub_ref}});
      if (o.state == "exception") {
        ++stats.items_exception;
        if (receipt.status == "applied") {
          receipt.status = "exception";
          receipt.reason_code = o.reason_code;
        }
        nlohmann::json keys = o.business_keys;
        if (!o.business_key.empty()) keys["business_key"] = o.business_key;
        keys["message_id"] = m.message_id;
        exception_rows.push_back({{"inbox_id", m.id}, {"seq", o.seq}, {"reason_code", *o.reason_code},
                                  {"message_id", m.message_id}, {"business_keys", keys}, {"detail", o.detail}});
      } else {
        ++stats.items_applied;
      }
    }
    std::string signed_receipt = connector.sign_receipt(receipt);
    message_rows.push_back({{"id", m.id}, {"state", receipt.status},
                            {"reason_code", receipt.reason_code ? nlohmann::json(*receipt.reason_code) : nlohmann::json()},
                            {"receipt", signed_receipt}});
    if (callbacks && (receipt.status == "applied" || receipt.status == "rejected")) {
      outbox_rows.push_back({{"inbox_id", m.id}, {"hub_ref", m.hub_ref}, {"body", signed_receipt}});
    }
    ++stats.messages;
  }

  tx.exec(
      "INSERT INTO inbox_items (inbox_id, seq, business_key, state, reason_code, detail, entry_id, hub_ref) "
      "SELECT inbox_id, seq, business_key, state, reason_code, detail, entry_id, hub_ref "
      "FROM jsonb_to_recordset($1::jsonb) AS x(inbox_id bigint, seq int, business_key text, state text, "
      "reason_code text, detail text, entry_id bigint, hub_ref text) "
      "ON CONFLICT (inbox_id, seq) DO UPDATE SET state = EXCLUDED.state, reason_code = EXCLUDED.reason_code, "
      "detail = EXCLUDED.detail, entry_id = EXCLUDED.entry_id, decided_at = now()",
      {item_rows.dump()});
  if (!exception_rows.empty()) {
    tx.exec(
        "WITH x AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(inbox_id bigint, seq int, reason_code text, "
        "message_id text, business_keys jsonb, detail text)), "
        "e AS (INSERT INTO exceptions (type, reason_code, connector, message_id, inbox_id, item_seq, business_keys, detail) "
        "SELECT 'processing', reason_code, $2, message_id, inbox_id, seq, business_keys, detail FROM x "
        "ON CONFLICT (inbox_id, item_seq) WHERE type = 'processing' AND status IN ('open', 'claimed') "
        "DO UPDATE SET reason_code = EXCLUDED.reason_code, detail = EXCLUDED.detail, updated_at = now() "
        "RETURNING id, reason_code, detail) "
        "INSERT INTO exception_events (exception_id, actor, action, detail) "
        "SELECT id, 'system:applier', 'raised', jsonb_build_object('reason_code', reason_code, 'detail', detail) FROM e",
        {exception_rows.dump(), connector.name()});
  }
  tx.exec(
      "UPDATE inbox_messages m SET state = x.state, reason_code = x.reason_code, current_receipt = x.receipt, "
      "applied_at = clock_timestamp(), apply_attempts = m.apply_attempts + 1, updated_at = now() "
      "FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, state text, reason_code text, receipt text) WHERE m.id = x.id",
      {message_rows.dump()});
  if (!outbox_rows.empty()) {
    tx.exec(
        "INSERT INTO outbox (connector, kind, hub_ref, inbox_id, content_type, body) "
        "SELECT $2, 'final_receipt', hub_ref, inbox_id, $3, body "
        "FROM jsonb_to_recordset($1::jsonb) AS x(inbox_id bigint, hub_ref text, body text)",
        {outbox_rows.dump(), connector.name(), connector.receipt_content_type()});
  }
  tx.commit();
  return stats;
}

Applier::Applier(ApplierSettings settings, const Connector& connector, MetricsRegistry& metrics)
    : settings_(std::move(settings)),
      connector_(connector),
      applied_(metrics.counter("hub_apply_items_total", "Business items applied to the ledger.",
                               "connector=\"" + connector.name() + "\",outcome=\"applied\"")),
      exceptions_(metrics.counter("hub_apply_items_total", "Business items applied to the ledger.",
                                  "connector=\"" + connector.name() + "\",outcome=\"exception\"")),
      redelivered_(metrics.counter("hub_apply_skipped_total",
                                   "Deliveries of messages no longer accepted (redeliveries), only acked.",
                                   "connector=\"" + connector.name() + "\"")),
      failures_(metrics.counter("hub_apply_failures_total", "Apply transactions that failed and were retried.",
                                "connector=\"" + connector.name() + "\"")),
      batch_seconds_(metrics.histogram("hub_apply_batch_seconds", "Duration of one apply transaction.",
                                       {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5},
                                       "connector=\"" + connector.name() + "\"")) {}

Applier::~Applier() { stop(); }

void Applier::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { loop(); });
}

void Applier::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Applier::loop() {
  std::unique_ptr<queue::Consumer> consumer;
  std::unique_ptr<db::Connection> conn;
  auto backoff = std::chrono::milliseconds(100);
  auto stopping = [this] {
    std::lock_guard lock(mu_);
    return stop_;
  };
  auto pause = [&] {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, backoff, [this] { return stop_; });
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  };
  while (!stopping()) {
    try {
      if (!consumer || !consumer->healthy() || !consumer->consuming()) {
        consumer.reset();
        auto c = queue::Consumer::open(settings_.mq);
        if (!c.ok()) throw std::runtime_error(c.error().to_string());
        auto st = (*c)->consume(settings_.queue, settings_.prefetch);
        if (!st.ok()) throw std::runtime_error(st.error().to_string());
        consumer = std::move(*c);
      }
      auto first = consumer->poll(std::chrono::milliseconds(200));
      if (!first.ok()) throw std::runtime_error(first.error().to_string());
      if (!first->has_value()) continue;
      std::vector<queue::Delivery> deliveries;
      deliveries.push_back(std::move(**first));
      while (deliveries.size() < settings_.batch) {
        auto more = consumer->poll(settings_.linger);
        if (!more.ok() || !more->has_value()) break;
        deliveries.push_back(std::move(**more));
      }
      std::vector<std::int64_t> ids;
      ids.reserve(deliveries.size());
      for (const auto& d : deliveries) {
        try {
          ids.push_back(std::stoll(d.body));
        } catch (const std::exception&) {
          kLog.error("delivery without an inbox id dropped", {{"queue", settings_.queue}, {"message_id", d.message_id}});
        }
      }
      if (!conn || !conn->healthy()) conn = db::Connection::connect(settings_.db_conninfo);
      auto t0 = std::chrono::steady_clock::now();
      auto count = [this](const ApplyStats& stats) {
        applied_.inc(static_cast<std::uint64_t>(stats.items_applied));
        exceptions_.inc(static_cast<std::uint64_t>(stats.items_exception));
        redelivered_.inc(static_cast<std::uint64_t>(stats.skipped));
      };
      try {
        count(apply_inbox_batch(*conn, connector_, ids, settings_.callbacks));
      } catch (const db::DbError&) {
        throw;
      } catch (const std::exception& e) {
        // Not the database: something in one message the applier cannot handle. Apply
        // them one by one so that only that message waits for a person.
        kLog.error("apply batch failed; applying its messages one by one", {{"error", e.what()}});
        for (auto id : ids) {
          try {
            count(apply_inbox_batch(*conn, connector_, {id}, settings_.callbacks));
          } catch (const db::DbError&) {
            throw;
          } catch (const std::exception& one) {
            mark_apply_failed(*conn, connector_.name(), id, one.what());
          }
        }
      }
      batch_seconds_.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      for (const auto& d : deliveries) {
        auto st = consumer->ack(d.delivery_tag);
        if (!st.ok()) throw std::runtime_error(st.error().to_string());
      }
      backoff = std::chrono::milliseconds(100);
    } catch (const std::exception& e) {
      // Nothing was acked: dropping the consumer makes the broker deliver the messages
      // again, and the transaction either committed (they are skipped) or not (applied).
      failures_.inc();
      kLog.warn("apply round failed; retrying", {{"queue", settings_.queue}, {"error", e.what()},
                                                 {"retry_in_ms", backoff.count()}});
      if (dynamic_cast<const db::DbError*>(&e) != nullptr) conn.reset();
      consumer.reset();
      pause();
    }
  }
}

}  // namespace hub::intake
