#include "hub/app/settings.hpp"

namespace hub::app {

std::string conninfo_value(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

namespace {

#define HUB_TRY_ASSIGN(var, expr)          \
  auto var##_r = (expr);                   \
  if (!var##_r.ok()) return var##_r.error(); \
  auto var = std::move(var##_r).value()

std::string conninfo(const std::string& host, std::int64_t port, const std::string& db,
                     const std::string& user, const std::string& password,
                     std::chrono::milliseconds connect_timeout,
                     std::chrono::milliseconds statement_timeout) {
  auto secs = std::max<long long>(1, connect_timeout.count() / 1000);
  return "host=" + conninfo_value(host) + " port=" + std::to_string(port) +
         " dbname=" + conninfo_value(db) + " user=" + conninfo_value(user) +
         " password=" + conninfo_value(password) + " connect_timeout=" + std::to_string(secs) +
         " application_name=hubd options=" +
         conninfo_value("-c statement_timeout=" + std::to_string(statement_timeout.count()));
}

}  // namespace

Result<HubSettings> load_settings(const Config& cfg) {
  HubSettings s;
  s.https.address = cfg.get_string("https.address", "127.0.0.1");
  HUB_TRY_ASSIGN(port, cfg.get_int("https.port", 8443));
  if (port < 0 || port > 65535) {
    return make_error("CONFIG_INVALID", cfg.origin() + ": https.port must be 0..65535");
  }
  s.https.port = static_cast<int>(port);
  s.https.cert_file = cfg.get_path("https.cert_file", "var/pki/hub-tls.crt").string();
  s.https.key_file = cfg.get_path("https.key_file", "var/pki/hub-tls.key").string();
  s.https.client_ca_file = cfg.get_path("https.client_ca_file", "").string();
  HUB_TRY_ASSIGN(io_threads, cfg.get_int("https.io_threads", 2));
  HUB_TRY_ASSIGN(workers, cfg.get_int("https.worker_threads", 8));
  HUB_TRY_ASSIGN(max_in_flight, cfg.get_int("https.max_in_flight", 512));
  HUB_TRY_ASSIGN(body_limit, cfg.get_int("https.default_body_limit", 1 << 20));
  HUB_TRY_ASSIGN(read_timeout, cfg.get_duration("https.read_timeout", std::chrono::seconds(15)));
  HUB_TRY_ASSIGN(idle_timeout, cfg.get_duration("https.idle_timeout", std::chrono::seconds(60)));
  HUB_TRY_ASSIGN(grace, cfg.get_duration("https.shutdown_grace", std::chrono::seconds(20)));
  s.https.io_threads = static_cast<int>(io_threads);
  s.https.worker_threads = static_cast<int>(workers);
  s.https.max_in_flight = static_cast<int>(max_in_flight);
  s.https.default_body_limit = static_cast<std::size_t>(body_limit);
  s.https.read_timeout = read_timeout;
  s.https.idle_timeout = idle_timeout;
  s.shutdown_grace = grace;

  auto host = cfg.get_string("db.host", "127.0.0.1");
  HUB_TRY_ASSIGN(db_port, cfg.get_int("db.port", 55432));
  auto db_name = cfg.get_string("db.name", "gxhub");
  HUB_TRY_ASSIGN(connect_timeout, cfg.get_duration("db.connect_timeout", std::chrono::seconds(5)));
  HUB_TRY_ASSIGN(stmt_timeout, cfg.get_duration("db.statement_timeout", std::chrono::seconds(30)));
  HUB_TRY_ASSIGN(app_password, cfg.read_secret_file("db.password_file"));
  HUB_TRY_ASSIGN(owner_password, cfg.read_secret_file("db.owner_password_file"));
  HUB_TRY_ASSIGN(pool_size, cfg.get_int("db.pool_size", 16));
  s.db_app_conninfo = conninfo(host, db_port, db_name, cfg.get_string("db.user", "gx_app"),
                               app_password, connect_timeout, stmt_timeout);
  // Migrations may legitimately run long (index builds): no statement timeout for them.
  s.db_owner_conninfo = conninfo(host, db_port, db_name, cfg.get_string("db.owner_user", "gx_owner"),
                                 owner_password, connect_timeout, std::chrono::milliseconds(0));
  s.db_endpoint = host + ":" + std::to_string(db_port) + "/" + db_name;
  s.db_pool_size = static_cast<int>(pool_size);

  s.mq.host = cfg.get_string("mq.host", "127.0.0.1");
  HUB_TRY_ASSIGN(mq_port, cfg.get_int("mq.port", 55672));
  s.mq.port = static_cast<int>(mq_port);
  s.mq.vhost = cfg.get_string("mq.vhost", "/");
  s.mq.user = cfg.get_string("mq.user", "gxhub");
  HUB_TRY_ASSIGN(mq_password, cfg.read_secret_file("mq.password_file"));
  s.mq.password = mq_password;
  HUB_TRY_ASSIGN(heartbeat, cfg.get_duration("mq.heartbeat", std::chrono::seconds(30)));
  s.mq.heartbeat_seconds = static_cast<int>(heartbeat.count() / 1000);
  HUB_TRY_ASSIGN(mq_connect, cfg.get_duration("mq.connect_timeout", std::chrono::seconds(5)));
  s.mq.connect_timeout = mq_connect;
  s.mq_suffix = cfg.get_string("mq.queue_suffix", "");

  HUB_TRY_ASSIGN(wait, cfg.get_duration("startup.wait_for_dependencies", std::chrono::seconds(60)));
  s.startup_wait = wait;
  s.ca_file = cfg.get_path("hubctl.ca_file", "var/pki/ca.crt").string();
  s.services_dir = cfg.get_path("hubctl.services_dir", "hub/services").string();

  HUB_TRY_ASSIGN(skew, cfg.get_duration("intake.max_clock_skew", std::chrono::minutes(10)));
  s.max_clock_skew = std::chrono::duration_cast<std::chrono::seconds>(skew);
  HUB_TRY_ASSIGN(apply_batch, cfg.get_int("intake.apply_batch", 500));
  if (apply_batch < 1 || apply_batch > 5000) {
    return make_error("CONFIG_INVALID", cfg.origin() + ": intake.apply_batch must be 1..5000");
  }
  s.apply_batch = static_cast<int>(apply_batch);
  s.receipt_key_file = cfg.get_path("receipts.jws_key_file", "var/pki/hub-receipt-ec.key").string();
  s.receipt_cert_file = cfg.get_path("receipts.jws_cert_file", "var/pki/hub-receipt-ec.crt").string();
  s.receipt_kid = cfg.get_string("receipts.kid", "");
  for (const char* c : {"gx-market", "jcredit", "jcm", "exchange"}) {
    auto url = cfg.get_string(std::string("callbacks.") + c, "");
    if (url.empty()) continue;
    if (url.rfind("https://", 0) != 0) {
      return make_error("CONFIG_INVALID", cfg.origin() + ": callbacks." + c + " must be an https:// URL, got " + url);
    }
    s.callback_urls[c] = url;
  }
  s.callback_ca_file = cfg.get_path("callbacks.ca_file", "var/pki/ca.crt").string();
  return s;
}

}  // namespace hub::app
