#pragma once
// The relay moves stored (committed) inbox messages to RabbitMQ: it publishes a reference
// to each (the inbox id; the command itself stays in PostgreSQL) on exchange gx.inbound
// with the connector's name as routing key, waits for the broker's confirms, then marks
// the messages queued. It is a transactional outbox: the database commit is what makes a
// message durable (the 202), and the relay only has to publish every committed message
// at least once. Messages handed over by notify() go out within milliseconds; a sweep
// (at start, then every sweep_interval) publishes every accepted message that was stored
// but never confirmed (a crash between commit and publish, a broker outage). Publishing
// twice is harmless: the applier skips a message that is no longer `accepted`.
//
// Lifetime: start() runs one thread; stop() (or the destructor) ends it. Messages still in
// memory at stop are found by the next sweep. Thread-safety: notify() from any thread.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "hub/core/metrics.hpp"
#include "hub/queue/amqp_connection.hpp"

namespace hub::intake {

struct RelaySettings {
  std::string db_conninfo;
  queue::AmqpSettings mq;
  std::string exchange = "gx.inbound";
  std::size_t batch = 1000;           // messages per publish_batch
  std::size_t max_in_flight = 500;    // unconfirmed publishes at once
  std::size_t max_pending = 200000;   // beyond this notify() drops to the sweep
  std::chrono::milliseconds sweep_interval{5000};
  std::chrono::milliseconds sweep_min_age{2000};  // younger messages are the fast path's
};

struct RelayItem {
  std::int64_t inbox_id = 0;
  std::string connector;
  std::string message_id;
};

class Relay {
 public:
  Relay(RelaySettings settings, MetricsRegistry& metrics);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  void start();
  void stop();
  void notify(RelayItem item);
  // Messages waiting in memory to be published.
  std::size_t pending() const;

 private:
  void loop();
  RelaySettings settings_;
  Counter& published_;
  Counter& swept_;
  Counter& failures_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<RelayItem> pending_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace hub::intake
