#include "hub/intake/outbox.hpp"

#include <algorithm>
#include <memory>

#include "hub/core/log.hpp"
#include "hub/db/pg.hpp"
#include "hub/http/client.hpp"

namespace hub::intake {
namespace {
const Logger kLog("outbox");
}  // namespace

bool split_https_url(const std::string& url, std::string& host, int& port, std::string& target) {
  const std::string scheme = "https://";
  if (url.rfind(scheme, 0) != 0) return false;
  auto rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  target = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = authority.rfind(':');
  port = 443;
  host = authority;
  if (colon != std::string::npos) {
    host = authority.substr(0, colon);
    try {
      port = std::stoi(authority.substr(colon + 1));
    } catch (const std::exception&) {
      return false;
    }
    if (port <= 0 || port > 65535) return false;
  }
  return !host.empty();
}

OutboxDeliverer::OutboxDeliverer(OutboxSettings settings, MetricsRegistry& metrics)
    : settings_(std::move(settings)),
      delivered_(metrics.counter("hub_outbox_delivered_total", "Final receipts delivered to a callback URL.")),
      failed_(metrics.counter("hub_outbox_failed_attempts_total", "Callback attempts that did not get a 2xx.")) {}

OutboxDeliverer::~OutboxDeliverer() { stop(); }

void OutboxDeliverer::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { loop(); });
}

void OutboxDeliverer::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int OutboxDeliverer::run_once() {
  if (!conn_ || !conn_->healthy()) conn_ = db::Connection::connect(settings_.db_conninfo);
  auto& conn = conn_;
  int delivered = 0;
  // Rows are claimed one batch at a time by pushing their next attempt forward first, so
  // that a second deliverer (another hubd) does not send the same receipt at the same time.
  auto due = conn->exec(
      "UPDATE outbox SET next_attempt_at = now() + interval '60 seconds' WHERE id IN ("
      "SELECT id FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= now() ORDER BY next_attempt_at "
      "LIMIT $1::int FOR UPDATE SKIP LOCKED) RETURNING id, connector, hub_ref, content_type, body, attempts",
      {std::to_string(settings_.batch)});
  for (int i = 0; i < due.rows(); ++i) {
    const auto id = due.get(i, 0);
    const auto connector = due.get(i, 1);
    const auto attempts = due.get_int(i, 5);
    std::string error;
    auto target = settings_.targets.find(connector);
    if (target == settings_.targets.end()) {
      error = "no callback URL is configured for connector " + connector;
    } else {
      http::ClientRequest req;
      if (!split_https_url(target->second.url, req.host, req.port, req.target)) {
        error = "callback URL " + target->second.url + " is not https://host[:port]/path";
      } else {
        req.method = "POST";
        req.body = due.get(i, 4);
        req.headers = {{"Content-Type", due.get(i, 3)}, {"X-Hub-Ref", due.get(i, 2)}};
        req.ca_file = target->second.ca_file;
        req.client_cert_file = target->second.client_cert_file;
        req.client_key_file = target->second.client_key_file;
        req.timeout = settings_.request_timeout;
        auto resp = http::HttpsClient::request(req);
        if (!resp.ok()) {
          error = resp.error().to_string();
        } else if (resp->status < 200 || resp->status > 299) {
          error = "the callback answered " + std::to_string(resp->status);
        }
      }
    }
    if (error.empty()) {
      conn->exec("UPDATE outbox SET delivered_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = $1::bigint",
                 {id});
      delivered_.inc();
      ++delivered;
    } else {
      auto wait = std::min<std::int64_t>(settings_.max_backoff.count(), std::int64_t{1} << std::min<std::int64_t>(attempts, 20));
      conn->exec(
          "UPDATE outbox SET attempts = attempts + 1, last_error = $2, "
          "next_attempt_at = now() + ($3 || ' seconds')::interval WHERE id = $1::bigint",
          {id, error, std::to_string(wait)});
      failed_.inc();
      kLog.warn("callback failed; will retry", {{"hub_ref", due.get(i, 2)}, {"connector", connector},
                                                {"attempt", attempts + 1}, {"retry_in_s", wait}, {"error", error}});
    }
  }
  return delivered;
}

void OutboxDeliverer::loop() {
  while (true) {
    {
      std::unique_lock lock(mu_);
      if (stop_) return;
    }
    int n = 0;
    try {
      n = run_once();
    } catch (const std::exception& e) {
      conn_.reset();
      kLog.warn("outbox round failed; retrying", {{"error", e.what()}});
    }
    if (n > 0) continue;
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, settings_.poll_interval, [this] { return stop_; });
  }
}

}  // namespace hub::intake
