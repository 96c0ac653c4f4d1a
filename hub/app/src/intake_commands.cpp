#include "hub/app/intake_commands.hpp"

#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "hub/app/command_options.hpp"
#include "hub/db/pg.hpp"
#include "hub/intake/store.hpp"

namespace hub::app {
namespace {

using nlohmann::json;

std::string clip(const std::string& s, std::size_t n) { return s.size() <= n ? s : s.substr(0, n - 1) + "~"; }

int exceptions(db::Connection& conn, const Options& o) {
  intake::ExceptionFilter f;
  if (o.named.count("connector")) f.connector = o.named.at("connector");
  auto status = opt(o, "status", "open");
  if (status != "all") f.status = status;
  if (o.named.count("reason")) f.reason_code = o.named.at("reason");
  if (o.named.count("limit")) f.limit = static_cast<int>(need_int(o, "limit"));
  auto rows = intake::list_exceptions(conn, f);
  if (o.flags.count("json")) {
    json out = json::array();
    for (const auto& e : rows) {
      out.push_back({{"id", e.id},
                     {"created_at", e.created_at},
                     {"type", e.type},
                     {"reason_code", e.reason_code},
                     {"connector", e.connector},
                     {"message_id", e.message_id},
                     {"business_keys", json::parse(e.business_keys)},
                     {"status", e.status},
                     {"detail", e.detail},
                     {"inbox_id", e.inbox_id ? json(*e.inbox_id) : json()},
                     {"item_seq", e.item_seq ? json(*e.item_seq) : json()},
                     {"quarantine_id", e.quarantine_id ? json(*e.quarantine_id) : json()}});
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  if (rows.empty()) {
    std::cout << "no exceptions (" << (f.status ? "status " + *f.status : std::string("any status")) << ")\n";
    return 0;
  }
  std::cout << std::left << std::setw(7) << "ID" << std::setw(22) << "CREATED" << std::setw(11) << "CONNECTOR"
            << std::setw(22) << "REASON" << std::setw(26) << "MESSAGE" << std::setw(9) << "STATUS" << "DETAIL\n";
  for (const auto& e : rows) {
    std::cout << std::left << std::setw(7) << e.id << std::setw(22) << e.created_at << std::setw(11) << e.connector
              << std::setw(22) << e.reason_code << std::setw(26) << clip(e.message_id, 25) << std::setw(9) << e.status
              << e.detail << "\n";
  }
  std::cout << rows.size() << " exception(s)" << (static_cast<int>(rows.size()) == f.limit ? " (limit reached: --limit N)" : "")
            << "\n";
  return 0;
}

int message(db::Connection& conn, const Options& o) {
  if (o.positional.empty()) throw Usage("messages show MESSAGE_ID --connector C");
  auto connector = need(o, "connector");
  auto r = conn.exec(
      "SELECT m.hub_ref, m.kind, m.state, coalesce(m.reason_code, ''), m.received_at::text, "
      "coalesce(m.queued_at::text, ''), coalesce(m.applied_at::text, ''), m.body_sha256, m.current_receipt, "
      "coalesce((SELECT json_agg(json_build_object('seq', seq, 'business_key', business_key, 'state', state, "
      "'reason_code', reason_code, 'detail', detail, 'entry_id', entry_id) ORDER BY seq) FROM inbox_items i "
      "WHERE i.inbox_id = m.id), '[]')::text "
      "FROM inbox_messages m WHERE connector = $1 AND message_id = $2",
      {connector, o.positional[0]});
  if (r.rows() == 0) {
    std::cerr << "no message " << o.positional[0] << " from " << connector << "\n";
    return 1;
  }
  json out = {{"connector", connector},   {"message_id", o.positional[0]}, {"hub_ref", r.get(0, 0)},
              {"kind", r.get(0, 1)},      {"state", r.get(0, 2)},         {"reason_code", r.get(0, 3)},
              {"received_at", r.get(0, 4)}, {"queued_at", r.get(0, 5)},   {"applied_at", r.get(0, 6)},
              {"body_sha256", r.get(0, 7)}, {"items", json::parse(r.get(0, 9))}};
  if (o.flags.count("receipt")) out["receipt"] = r.get(0, 8);
  std::cout << out.dump(2) << "\n";
  return 0;
}

int quarantine(db::Connection& conn, const Options& o) {
  auto limit = o.named.count("limit") ? need_int(o, "limit") : 50;
  auto r = conn.exec(
      "SELECT id, to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), coalesce(connector, ''), "
      "http_status, code, coalesce(message_id, ''), octet_length(body), detail FROM quarantine "
      "WHERE ($1::text IS NULL OR connector = $1) ORDER BY id DESC LIMIT $2::int",
      {o.named.count("connector") ? db::Param(o.named.at("connector")) : db::Param(), std::to_string(limit)});
  std::cout << std::left << std::setw(7) << "ID" << std::setw(22) << "RECEIVED" << std::setw(11) << "CONNECTOR"
            << std::setw(5) << "HTTP" << std::setw(22) << "CODE" << std::setw(26) << "MESSAGE" << std::setw(9)
            << "BYTES" << "DETAIL\n";
  for (int i = 0; i < r.rows(); ++i) {
    std::cout << std::left << std::setw(7) << r.get(i, 0) << std::setw(22) << r.get(i, 1) << std::setw(11)
              << r.get(i, 2) << std::setw(5) << r.get(i, 3) << std::setw(22) << r.get(i, 4) << std::setw(26)
              << clip(r.get(i, 5), 25) << std::setw(9) << r.get(i, 6) << r.get(i, 7) << "\n";
  }
  std::cout << r.rows() << " refused request(s)\n";
  return 0;
}

}  // namespace

std::string intake_commands_usage() {
  return "  exceptions [--connector C] [--status open|claimed|resolved|closed|all] [--reason CODE]\n"
         "             [--limit N] [--json]      what waits for a person (default: open ones)\n"
         "  messages show MESSAGE_ID --connector C [--receipt]\n"
         "                                       state, items and current receipt of a message\n"
         "  quarantine [--connector C] [--limit N]\n"
         "                                       refused request bodies, newest first\n";
}

std::optional<int> run_intake_command(const HubSettings& s, const std::vector<std::string>& args) {
  if (args.empty()) return std::nullopt;
  const auto& cmd = args[0];
  if (cmd != "exceptions" && cmd != "messages" && cmd != "quarantine") return std::nullopt;
  try {
    auto conn = db::Connection::connect(s.db_app_conninfo);
    if (cmd == "exceptions") return exceptions(*conn, parse_options(args, args.size() > 1 && args[1] == "list" ? 2 : 1));
    if (cmd == "quarantine") return quarantine(*conn, parse_options(args, args.size() > 1 && args[1] == "list" ? 2 : 1));
    if (args.size() < 2 || args[1] != "show") throw Usage("messages show MESSAGE_ID --connector C");
    return message(*conn, parse_options(args, 2));
  } catch (const Usage& e) {
    std::cerr << "hubctl " << cmd << ": " << e.what() << "\n" << intake_commands_usage();
    return 2;
  }
}

}  // namespace hub::app
