// hubd: the GX-ETS integration hub daemon. The composition root: the only place that
// sees every module and wires them together from the configuration file.

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "hub/app/intake_runtime.hpp"
#include "hub/app/pages.hpp"
#include "hub/app/trust_view.hpp"
#include "hub/app/readiness.hpp"
#include "hub/app/settings.hpp"
#include "hub/core/clock.hpp"
#include "hub/core/config.hpp"
#include "hub/core/ids.hpp"
#include "hub/core/log.hpp"
#include "hub/core/metrics.hpp"
#include "hub/core/version.hpp"
#include "hub/db/migrations.hpp"
#include "hub/db/pg.hpp"
#include "hub/http/server.hpp"
#include "hub/queue/amqp_connection.hpp"
#include "hub/queue/topology.hpp"
#include "hub/trust/admin_api.hpp"
#include "registry/ledger/ledger.hpp"

namespace {

using namespace std::chrono_literals;
const hub::Logger kLog("hubd");

struct Args {
  std::string config = "hub/app/hubd.conf";
  std::string port_file;
};

void usage() {
  std::cout << "usage: hubd [--config FILE] [--port-file FILE] [--version]\n"
               "  --config FILE     configuration (default hub/app/hubd.conf)\n"
               "  --port-file FILE  write the HTTPS port here once listening (for https.port = 0)\n";
}

std::optional<Args> parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "--version") {
      std::cout << "hubd " << hub::kVersion << "\n";
      std::exit(0);
    } else if (k == "--help" || k == "-h") {
      usage();
      std::exit(0);
    } else if ((k == "--config" || k == "--port-file") && i + 1 < argc) {
      (k == "--config" ? a.config : a.port_file) = argv[++i];
    } else {
      std::cerr << "hubd: unknown argument " << k << "\n";
      usage();
      return std::nullopt;
    }
  }
  return a;
}

// Runs fn until it succeeds or the deadline passes; logs each failure once per attempt.
template <class Fn>
bool retry_until(std::chrono::milliseconds wait, const char* what, Fn fn) {
  auto deadline = std::chrono::steady_clock::now() + wait;
  int attempt = 0;
  while (true) {
    std::string why;
    if (fn(why)) return true;
    ++attempt;
    if (std::chrono::steady_clock::now() >= deadline) {
      kLog.error(std::string(what) + " not reachable; giving up", {{"error", why}, {"attempts", attempt}});
      return false;
    }
    if (attempt == 1 || attempt % 10 == 0) {
      kLog.warn(std::string(what) + " not reachable yet; retrying", {{"error", why}});
    }
    std::this_thread::sleep_for(500ms);
  }
}

// Links committed journal entries into the hash chain a few times a second
// (docs/adr/0005-journal-hash-chain.md) and shows how far it is behind (entries waiting,
// age of the oldest). Runs on its own connection; a database outage only delays sealing.
class JournalSealer {
 public:
  JournalSealer(std::string conninfo, std::chrono::milliseconds interval, hub::MetricsRegistry& metrics)
      : conninfo_(std::move(conninfo)),
        interval_(interval),
        sealed_(metrics.counter("hub_journal_sealed_total", "Journal entries linked into the hash chain.")),
        unsealed_(metrics.gauge("hub_journal_unsealed_entries", "Journal entries committed but not yet in the hash chain.")),
        oldest_(metrics.gauge("hub_journal_unsealed_oldest_seconds",
                              "Age of the oldest journal entry not yet in the hash chain (0 when none).")),
        thread_([this] { loop(); }) {}
  ~JournalSealer() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void loop() {
    std::unique_ptr<hub::db::Connection> conn;
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      try {
        if (!conn || !conn->healthy()) conn = hub::db::Connection::connect(conninfo_);
        hub::registry::Ledger ledger(*conn);
        for (int n; (n = ledger.seal(10000)) > 0;) sealed_.inc(static_cast<std::uint64_t>(n));
        auto backlog = ledger.seal_backlog();
        unsealed_.set(static_cast<double>(backlog.unsealed));
        oldest_.set(backlog.oldest_age_seconds);
      } catch (const hub::db::DbError& e) {
        conn.reset();
        kLog.warn("journal sealer: database not reachable; retrying", {{"error", e.what()}});
      }
      lock.lock();
      cv_.wait_for(lock, interval_, [this] { return stop_; });
    }
  }
  std::string conninfo_;
  std::chrono::milliseconds interval_;
  hub::Counter& sealed_;
  hub::Gauge& unsealed_;
  hub::Gauge& oldest_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

int run(const Args& args) {
  auto cfg = hub::Config::load(args.config);
  if (!cfg.ok()) {
    kLog.error("configuration refused", {{"error", cfg.error().to_string()}});
    return 2;
  }
  hub::LogLevel level;
  if (!hub::Logger::parse_level(cfg->get_string("log.level", "info"), level)) {
    kLog.error("configuration refused", {{"error", "log.level must be debug, info, warn or error"}});
    return 2;
  }
  hub::Logger::set_level(level);
  if (auto file = cfg->get_string("log.file", ""); !file.empty()) {
    hub::Logger::set_file(cfg->get_path("log.file", "").string());
  }
  auto settings = hub::app::load_settings(*cfg);
  if (!settings.ok()) {
    kLog.error("configuration refused", {{"error", settings.error().to_string()}});
    return 2;
  }
  const auto& s = *settings;
  const std::string instance_id = hub::random_hex_id();
  kLog.info("starting", {{"version", hub::kVersion}, {"instance", instance_id}, {"config", args.config}});

  // 1. PostgreSQL: apply migrations as the schema owner, then work as the app role.
  int schema_version = 0;
  bool migrated = retry_until(s.startup_wait, "PostgreSQL", [&](std::string& why) {
    try {
      auto owner = hub::db::Connection::connect(s.db_owner_conninfo);
      auto report = hub::db::apply_migrations(*owner, hub::db::embedded_migrations());
      if (!report.ok()) {
        // A failed migration is not a transient fault: stop here, loudly.
        kLog.error("schema migration failed", {{"error", report.error().to_string()}});
        std::exit(3);
      }
      for (const auto& name : report->applied) kLog.info("migration applied", {{"migration", name}});
      schema_version = report->schema_version;
      return true;
    } catch (const hub::db::DbError& e) {
      why = e.what();
      return false;
    }
  });
  if (!migrated) return 3;
  kLog.info("schema ready", {{"schema_version", schema_version}, {"database", s.db_endpoint}});

  hub::db::Pool pool({s.db_app_conninfo, s.db_pool_size, std::chrono::milliseconds(5000)});
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  try {
    auto c = pool.acquire();
    c->exec("INSERT INTO hub_instances (instance_id, version, host, pid) VALUES ($1, $2, $3, $4)",
            {instance_id, std::string(hub::kVersion), std::string(host), std::to_string(::getpid())});
  } catch (const hub::db::DbError& e) {
    kLog.error("cannot record this instance", {{"error", e.what()}});
    return 3;
  }

  // 2. RabbitMQ: declare the topology (idempotent).
  bool declared = retry_until(s.startup_wait, "RabbitMQ", [&](std::string& why) {
    auto conn = hub::queue::AmqpConnection::open(s.mq);
    if (!conn.ok()) {
      why = conn.error().to_string();
      return false;
    }
    auto st = hub::queue::declare_topology(**conn, hub::queue::hub_topology(s.mq_suffix));
    if (!st.ok()) {
      kLog.error("RabbitMQ topology refused", {{"error", st.error().to_string()}});
      std::exit(4);
    }
    kLog.info("RabbitMQ topology declared", {{"server", (*conn)->server_version()}});
    return true;
  });
  if (!declared) return 4;

  // 3. Metrics and HTTP routes.
  hub::MetricsRegistry metrics;
  metrics.gauge("hub_build_info", "Build information; the value is always 1.",
                std::string("version=\"") + hub::kVersion + "\"")
      .set(1);
  metrics.gauge("hub_schema_version", "Schema migration version in force.").set(schema_version);
  auto started = std::chrono::system_clock::now();
  metrics.gauge("hub_start_time_seconds", "Unix time at which this process started.")
      .set(static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                   started.time_since_epoch()).count()));
  const auto topology = hub::queue::hub_topology(s.mq_suffix);
  hub::app::Readiness readiness(s.db_app_conninfo, s.mq, hub::queue::dead_letter_queue(s.mq_suffix));
  for (const auto& q : topology.queues) {
    metrics.callback_gauge("hub_queue_messages", "Messages ready in a RabbitMQ queue (-1: broker unreachable).",
                           [&readiness, name = q.name] { return readiness.queue_depth(name); },
                           "queue=\"" + q.name + "\"");
  }

  hub::http::Router router;
  // Trust per connector: the hot-path snapshot (polled each second) and the admin API.
  hub::trust::TrustStore trust_store(pool);
  hub::trust::TrustCache trust_cache({s.db_app_conninfo, std::chrono::milliseconds(1000)}, &metrics);
  hub::trust::register_trust_admin_routes(router, trust_store, trust_cache);
  // The intake path of every connector (docs/intake.md).
  hub::app::TrustCacheView trust_view(trust_cache);
  auto intake = hub::app::IntakeRuntime::create(s, trust_view, pool, metrics);
  if (!intake.ok()) {
    kLog.error("intake refused its configuration", {{"error", intake.error().to_string()}});
    return 2;
  }
  (*intake)->register_routes(router);
  router.add("GET", "/healthz", [&](const hub::http::Request&, const hub::http::RouteParams&) {
    return hub::http::Response::json(200, {{"status", "ok"}, {"version", hub::kVersion},
                                           {"instance", instance_id}});
  });
  router.add("GET", "/readyz", [&](const hub::http::Request&, const hub::http::RouteParams&) {
    auto r = readiness.check();
    return hub::http::Response::json(r.ready ? 200 : 503, r.body);
  });
  router.add("GET", "/metrics", [&](const hub::http::Request&, const hub::http::RouteParams&) {
    auto resp = hub::http::Response::text(200, metrics.render());
    resp.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    return resp;
  });
  router.add("GET", "/", [](const hub::http::Request&, const hub::http::RouteParams&) {
    auto resp = hub::http::Response::text(200, hub::app::landing_page_html());
    resp.set_header("Content-Type", "text/html; charset=utf-8");
    return resp;
  });

  // Block the stop signals before any thread starts, so that only sigwait sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  JournalSealer sealer(s.db_app_conninfo, std::chrono::milliseconds(200), metrics);
  hub::http::Server server(s.https, std::move(router), metrics);
  auto port = server.start();
  if (!port.ok()) {
    kLog.error("cannot start the HTTPS listener", {{"error", port.error().to_string()}});
    return 5;
  }
  if (!args.port_file.empty()) {
    std::ofstream(args.port_file + ".tmp") << *port << "\n";
    std::rename((args.port_file + ".tmp").c_str(), args.port_file.c_str());
  }
  (*intake)->start();
  kLog.info("listening", {{"address", s.https.address}, {"port", *port}});

  int sig = 0;
  sigwait(&stop_signals, &sig);
  kLog.info("stopping: no new connections; finishing in-flight requests",
            {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"},
             {"grace_ms", s.shutdown_grace.count()}});
  server.stop(s.shutdown_grace);
  (*intake)->stop();
  try {
    auto c = pool.acquire();
    c->exec("UPDATE hub_instances SET stopped_at = now(), stop_reason = $2 WHERE instance_id = $1",
            {instance_id, std::string(sig == SIGTERM ? "SIGTERM" : "SIGINT")});
  } catch (const hub::db::DbError& e) {
    kLog.warn("could not record the stop", {{"error", e.what()}});
  }
  kLog.info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto args = parse_args(argc, argv);
  if (!args) return 2;
  try {
    return run(*args);
  } catch (const std::exception& e) {
    kLog.error("fatal error", {{"error", e.what()}});
    return 1;
  }
}
