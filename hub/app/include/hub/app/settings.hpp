#pragma once
// Turns the configuration file into the plain settings structs the modules take.
// Only the composition root (hub/app) knows about Config and about every module.

#include <chrono>
#include <map>
#include <string>

#include "hub/core/config.hpp"
#include "hub/core/result.hpp"
#include "hub/db/pg.hpp"
#include "hub/http/server.hpp"
#include "hub/queue/amqp_connection.hpp"

namespace hub::app {

struct HubSettings {
  http::ServerSettings https;
  std::chrono::milliseconds shutdown_grace{20000};
  std::string db_app_conninfo;
  std::string db_owner_conninfo;
  std::string db_endpoint;  // host:port/dbname, for people
  int db_pool_size = 16;
  queue::AmqpSettings mq;
  // Appended to every exchange and queue name (hub_topology): lets tests and demos share
  // one broker without consuming each other's work. Empty in production.
  std::string mq_suffix;
  std::chrono::milliseconds startup_wait{60000};
  std::string ca_file;       // what hubctl trusts
  std::string services_dir;  // hub/services: the scripts that run PostgreSQL and RabbitMQ

  // Intake (docs/intake.md).
  std::chrono::seconds max_clock_skew{600};
  int apply_batch = 500;
  std::string receipt_key_file;
  std::string receipt_cert_file;
  std::string receipt_kid;
  // Per connector: the URL final receipts are POSTed to (absent: none).
  std::map<std::string, std::string> callback_urls;
  std::string callback_ca_file;
};

Result<HubSettings> load_settings(const Config& cfg);

// libpq conninfo value quoting.
std::string conninfo_value(const std::string& v);

}  // namespace hub::app
