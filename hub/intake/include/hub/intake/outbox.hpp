#pragma once
// Delivers final receipts (outbox rows) to each source's callback URL: POST with the
// receipt as body, until the source answers 2xx (at-least-once; sources deduplicate by
// hub_ref). A failed attempt is tried again after a growing pause (1 s, 2 s, 4 s, ... at
// most max_backoff), for ever: a receipt is never dropped; the age of the oldest
// undelivered one is a metric operators watch.
//
// Lifetime: start() runs one thread; stop() ends it. Thread-safety: start/stop from one
// thread.

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "hub/core/metrics.hpp"
#include "hub/db/pg.hpp"

namespace hub::intake {

struct CallbackTarget {
  std::string url;  // https://host:port/path
  std::string ca_file;           // to verify the source's server certificate
  std::string client_cert_file;  // the hub's client certificate, if the source asks for one
  std::string client_key_file;
};

struct OutboxSettings {
  std::string db_conninfo;
  std::map<std::string, CallbackTarget> targets;  // per connector
  std::chrono::milliseconds poll_interval{200};
  std::chrono::milliseconds request_timeout{5000};
  std::chrono::seconds max_backoff{300};
  int batch = 50;
};

class OutboxDeliverer {
 public:
  OutboxDeliverer(OutboxSettings settings, MetricsRegistry& metrics);
  ~OutboxDeliverer();
  OutboxDeliverer(const OutboxDeliverer&) = delete;
  OutboxDeliverer& operator=(const OutboxDeliverer&) = delete;
  void start();
  void stop();
  // Delivers what is due now, once; returns how many were delivered (tests). Not while the
  // thread runs. Throws db::DbError when the database cannot be reached.
  int run_once();

 private:
  void loop();
  OutboxSettings settings_;
  Counter& delivered_;
  Counter& failed_;
  std::unique_ptr<db::Connection> conn_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// Splits https://host[:port]/path; false when it is not such a URL.
bool split_https_url(const std::string& url, std::string& host, int& port, std::string& target);

}  // namespace hub::intake
