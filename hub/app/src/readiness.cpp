#include "hub/app/readiness.hpp"

#include <chrono>

namespace hub::app {

Readiness::Readiness(std::string db_conninfo, queue::AmqpSettings mq, std::string probe_queue)
    : db_conninfo_(std::move(db_conninfo)), mq_(std::move(mq)), probe_queue_(std::move(probe_queue)) {}

namespace {
double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

nlohmann::json Readiness::check_db() {
  auto t0 = std::chrono::steady_clock::now();
  try {
    if (!db_ || !db_->healthy()) db_ = db::Connection::connect(db_conninfo_);
    db_->exec("SELECT 1");
    return {{"ok", true}, {"ms", ms_since(t0)}};
  } catch (const db::DbError& e) {
    db_.reset();
    return {{"ok", false}, {"ms", ms_since(t0)}, {"error", e.what()}};
  }
}

nlohmann::json Readiness::check_mq() {
  auto t0 = std::chrono::steady_clock::now();
  if (!amqp_) {
    auto c = queue::AmqpConnection::open(mq_);
    if (!c.ok()) return {{"ok", false}, {"ms", ms_since(t0)}, {"error", c.error().to_string()}};
    amqp_ = std::move(c).value();
  }
  auto depth = amqp_->queue_depth(probe_queue_);
  if (!depth.ok()) {
    amqp_.reset();
    return {{"ok", false}, {"ms", ms_since(t0)}, {"error", depth.error().to_string()}};
  }
  return {{"ok", true}, {"ms", ms_since(t0)}};
}

ReadinessReport Readiness::check() {
  std::lock_guard lock(mu_);
  ReadinessReport r;
  auto dbj = check_db();
  auto mqj = check_mq();
  r.ready = dbj["ok"].get<bool>() && mqj["ok"].get<bool>();
  r.body = {{"status", r.ready ? "ready" : "not_ready"},
            {"checks", {{"postgresql", dbj}, {"rabbitmq", mqj}}}};
  return r;
}

double Readiness::queue_depth(const std::string& queue) {
  std::lock_guard lock(mu_);
  if (!amqp_) {
    auto c = queue::AmqpConnection::open(mq_);
    if (!c.ok()) return -1;
    amqp_ = std::move(c).value();
  }
  auto d = amqp_->queue_depth(queue);
  if (!d.ok()) {
    amqp_.reset();
    return -1;
  }
  return static_cast<double>(d->messages);
}

}  // namespace hub::app
