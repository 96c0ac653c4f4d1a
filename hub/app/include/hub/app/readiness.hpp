#pragma once
// Answers "can this hub do its work now?": PostgreSQL answers a query and RabbitMQ
// answers on an AMQP channel. Thread-safe: checks are serialized by an internal mutex
// (a probe every few seconds is the expected load). Holds its own connections, so a
// saturated request pool cannot make the hub look dead.

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "hub/db/pg.hpp"
#include "hub/queue/amqp_connection.hpp"

namespace hub::app {

struct ReadinessReport {
  bool ready = false;
  nlohmann::json body;  // {"status": "...", "checks": {...}}
};

class Readiness {
 public:
  // probe_queue: a queue of the hub's topology (with its suffix) that must exist for
  // RabbitMQ to count as ready.
  Readiness(std::string db_conninfo, queue::AmqpSettings mq, std::string probe_queue);
  ReadinessReport check();
  // Depth of a queue, or -1 when RabbitMQ cannot be asked (for metrics).
  double queue_depth(const std::string& queue);

 private:
  nlohmann::json check_db();
  nlohmann::json check_mq();
  std::string db_conninfo_;
  queue::AmqpSettings mq_;
  std::string probe_queue_;
  std::mutex mu_;
  std::unique_ptr<db::Connection> db_;
  std::unique_ptr<queue::AmqpConnection> amqp_;
};

}  // namespace hub::app
