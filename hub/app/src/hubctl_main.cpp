// hubctl: the administration command of the GX-ETS integration hub.
// `hubctl [--config FILE] status [--json]`: services, versions, schema version, queues.

#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "hub/app/intake_commands.hpp"
#include "hub/app/ledger_commands.hpp"
#include "hub/app/settings.hpp"
#include "hub/app/trust_commands.hpp"
#include "hub/core/config.hpp"
#include "hub/core/version.hpp"
#include "hub/db/migrations.hpp"
#include "hub/db/pg.hpp"
#include "hub/http/client.hpp"
#include "hub/queue/amqp_connection.hpp"
#include "hub/queue/topology.hpp"

namespace {

using nlohmann::json;

void usage(std::ostream& out) {
  out << "usage: hubctl [--config FILE] <command> [options]\n\n"
         "commands:\n"
         "  status [--json]   hubd, PostgreSQL and RabbitMQ: up or down, versions, schema\n"
         "                    version, queue depths. Exit 0 when everything answers.\n"
         "  version           print hubctl's version\n"
         "  migrate           apply pending schema migrations (as hubd does at start)\n"
      << hub::app::ledger_commands_usage() << hub::app::trust_commands_usage() << hub::app::intake_commands_usage() << "\n"
         "--config defaults to hub/app/hubd.conf; HUB_<SECTION>_<KEY> variables override it.\n";
}

json hubd_status(const hub::app::HubSettings& s) {
  json out = {{"endpoint", "https://" + s.https.address + ":" + std::to_string(s.https.port)}};
  hub::http::ClientRequest req;
  req.host = s.https.address;
  req.port = s.https.port;
  req.method = "GET";
  req.target = "/healthz";
  req.ca_file = s.ca_file;
  req.timeout = std::chrono::seconds(5);
  auto health = hub::http::HttpsClient::request(req);
  if (!health.ok()) {
    out["up"] = false;
    out["error"] = health.error().to_string();
    return out;
  }
  out["up"] = health->status == 200;
  try {
    auto j = json::parse(health->body);
    out["version"] = j.value("version", "");
  } catch (const json::exception&) {
  }
  req.target = "/readyz";
  auto ready = hub::http::HttpsClient::request(req);
  out["ready"] = ready.ok() && ready->status == 200;
  return out;
}

json db_status(const hub::app::HubSettings& s) {
  json out = {{"endpoint", s.db_endpoint}};
  try {
    auto c = hub::db::Connection::connect(s.db_app_conninfo);
    out["up"] = true;
    out["server_version"] = c->server_version_text();
    int v = hub::db::current_schema_version(*c);
    const auto& embedded = hub::db::embedded_migrations();
    out["schema_version"] = v;
    out["schema_version_expected"] = embedded.empty() ? 0 : embedded.back().version;
    if (v > 0) {
      auto r = c->exec("SELECT count(*), max(applied_at)::text FROM schema_migrations");
      out["migrations_applied"] = r.get_int(0, 0);
      out["last_migration_at"] = r.get(0, 1);
    }
  } catch (const hub::db::DbError& e) {
    out["up"] = false;
    out["error"] = e.what();
  }
  return out;
}

json mq_status(const hub::app::HubSettings& s) {
  json out = {{"endpoint", s.mq.host + ":" + std::to_string(s.mq.port)}};
  auto c = hub::queue::AmqpConnection::open(s.mq);
  if (!c.ok()) {
    out["up"] = false;
    out["error"] = c.error().to_string();
    return out;
  }
  out["up"] = true;
  out["server_version"] = (*c)->server_product() + " " + (*c)->server_version();
  json queues = json::array();
  for (const auto& q : hub::queue::hub_topology(s.mq_suffix).queues) {
    auto d = (*c)->queue_depth(q.name);
    if (d.ok()) {
      queues.push_back({{"name", q.name}, {"messages", d->messages}, {"consumers", d->consumers}});
    } else {
      queues.push_back({{"name", q.name}, {"error", d.error().to_string()}});
    }
  }
  out["queues"] = queues;
  return out;
}

std::string up_word(const json& j) { return j.value("up", false) ? "up" : "DOWN"; }

int status(const hub::app::HubSettings& s, bool as_json) {
  json all = {{"hubctl_version", hub::kVersion},
              {"hubd", hubd_status(s)},
              {"postgresql", db_status(s)},
              {"rabbitmq", mq_status(s)}};
  bool ok = all["hubd"].value("up", false) && all["postgresql"].value("up", false) &&
            all["rabbitmq"].value("up", false);
  if (as_json) {
    std::cout << all.dump(2) << "\n";
    return ok ? 0 : 1;
  }
  const auto& h = all["hubd"];
  const auto& d = all["postgresql"];
  const auto& m = all["rabbitmq"];
  std::cout << "GX-ETS integration hub: " << (ok ? "all services up" : "SOMETHING IS DOWN") << "\n\n";
  std::cout << "  hubd        " << std::left << std::setw(26) << h["endpoint"].get<std::string>()
            << up_word(h);
  if (h.value("up", false)) {
    std::cout << ", version " << h.value("version", "?") << (h.value("ready", false) ? ", ready" : ", NOT ready");
  } else {
    std::cout << "  (" << h.value("error", "") << ")";
  }
  std::cout << "\n  PostgreSQL  " << std::setw(26) << d["endpoint"].get<std::string>() << up_word(d);
  if (d.value("up", false)) {
    std::cout << ", server " << d.value("server_version", "?") << ", schema version "
              << d.value("schema_version", 0) << " (this build expects "
              << d.value("schema_version_expected", 0) << ")";
  } else {
    std::cout << "  (" << d.value("error", "") << ")";
  }
  std::cout << "\n  RabbitMQ    " << std::setw(26) << m["endpoint"].get<std::string>() << up_word(m);
  if (m.value("up", false)) {
    std::cout << ", " << m.value("server_version", "?") << "\n\n  queue                        ready  consumers\n";
    for (const auto& q : m["queues"]) {
      std::cout << "  " << std::setw(28) << q["name"].get<std::string>();
      if (q.contains("error")) {
        std::cout << " " << q["error"].get<std::string>() << "\n";
      } else {
        std::cout << std::right << std::setw(6) << q["messages"].get<long long>() << std::setw(11)
                  << q["consumers"].get<long long>() << std::left << "\n";
      }
    }
  } else {
    std::cout << "  (" << m.value("error", "") << ")\n";
  }
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config = "hub/app/hubd.conf";
  std::vector<std::string> rest;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config = argv[++i];
    } else if (a == "--help" || a == "-h") {
      usage(std::cout);
      return 0;
    } else {
      rest.push_back(a);
    }
  }
  if (rest.empty()) {
    usage(std::cerr);
    return 2;
  }
  if (rest[0] == "version") {
    std::cout << "hubctl " << hub::kVersion << "\n";
    return 0;
  }
  auto cfg = hub::Config::load(config);
  if (!cfg.ok()) {
    std::cerr << "hubctl: " << cfg.error().to_string() << "\n";
    return 2;
  }
  auto settings = hub::app::load_settings(*cfg);
  if (!settings.ok()) {
    std::cerr << "hubctl: " << settings.error().to_string() << "\n";
    return 2;
  }
  try {
    if (rest[0] == "status") {
      bool as_json = rest.size() > 1 && rest[1] == "--json";
      return status(*settings, as_json);
    }
    if (rest[0] == "migrate") {
      auto owner = hub::db::Connection::connect(settings->db_owner_conninfo);
      auto report = hub::db::apply_migrations(*owner, hub::db::embedded_migrations());
      if (!report.ok()) {
        std::cerr << "hubctl: " << report.error().to_string() << "\n";
        return 1;
      }
      std::cout << "schema version " << report->schema_version << " (" << report->applied.size() << " applied now)\n";
      return 0;
    }
    if (auto rc = hub::app::run_ledger_command(*settings, rest)) return *rc;
    if (auto rc = hub::app::run_intake_command(*settings, rest)) return *rc;
    if (auto rc = hub::app::run_trust_command(*settings, rest)) return *rc;
  } catch (const std::exception& e) {
    std::cerr << "hubctl: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "hubctl: unknown command '" << rest[0] << "'\n";
  usage(std::cerr);
  return 2;
}
