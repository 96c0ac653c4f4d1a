#pragma once
// Turns the configuration file into the plain settings structs the modules take.
// Only the composition root (hub/app) knows about Config and about every module.

#include <chrono>
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
  std::chrono::milliseconds startup_wait{60000};
  std::string ca_file;       // what hubctl trusts
  std::string services_dir;  // hub/services: the scripts that run PostgreSQL and RabbitMQ
};

Result<HubSettings> load_settings(const Config& cfg);

// libpq conninfo value quoting.
std::string conninfo_value(const std::string& v);

}  // namespace hub::app
