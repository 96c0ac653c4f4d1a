#pragma once
// The back half of the intake path: consumes a connector's queue (gx.apply.<connector>)
// and applies the canonical commands of the referenced inbox messages to the ledger.
//
// Exactly once: the inbox rows are locked and read with state `accepted` in the same
// PostgreSQL transaction that posts their transfers, records each item's outcome, opens
// the exceptions, stores the final receipt and queues its callback. The delivery is acked
// only after that commit. A redelivery (crash before the ack, broker restart) finds the
// message no longer `accepted` and is only acked. The ledger's own idempotency key per
// business item (e.g. "gx-market:trade:<trade_id>") makes a second posting of the same
// trade impossible even under another message_id: that arrival becomes a DUPLICATE_TRADE
// exception.
//
// Lifetime: start() runs one thread with its own AMQP consumer and database connection;
// stop() ends it (unacked deliveries go back to the queue). The Connector, Clock and
// MetricsRegistry must outlive the Applier. Thread-safety: start/stop from one thread.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <condition_variable>
#include <string>
#include <thread>
#include <vector>

#include "hub/core/clock.hpp"
#include "hub/core/metrics.hpp"
#include "hub/db/pg.hpp"
#include "hub/intake/connector.hpp"
#include "hub/queue/amqp_connection.hpp"

namespace hub::intake {

struct ApplierSettings {
  std::string db_conninfo;
  queue::AmqpSettings mq;
  std::string queue;                 // gx.apply.<connector>
  std::size_t batch = 500;           // messages per transaction at most
  std::uint16_t prefetch = 2000;
  std::chrono::milliseconds linger{2};  // wait this long for more deliveries to fill a batch
  bool callbacks = false;            // the connector has a callback URL: queue final receipts
};

struct ApplyStats {
  int messages = 0;    // applied in this call (state was accepted)
  int skipped = 0;     // no longer accepted (redelivery) or unknown
  int items_applied = 0;
  int items_exception = 0;
};

// Applies the accepted messages among `inbox_ids` in one transaction on `conn` and commits.
// Throws db::DbError when the transaction failed (nothing of it is kept).
ApplyStats apply_inbox_batch(db::Connection& conn, const Connector& connector, const std::vector<std::int64_t>& inbox_ids,
                             bool callbacks);

// Puts a message the applier cannot handle (a defect, not a business refusal) in state
// `exception` with reason APPLY_FAILED and an exception for a person.
void mark_apply_failed(db::Connection& conn, const std::string& connector, std::int64_t inbox_id,
                       const std::string& what);

class Applier {
 public:
  Applier(ApplierSettings settings, const Connector& connector, MetricsRegistry& metrics);
  ~Applier();
  Applier(const Applier&) = delete;
  Applier& operator=(const Applier&) = delete;
  void start();
  void stop();

 private:
  void loop();
  ApplierSettings settings_;
  const Connector& connector_;
  Counter& applied_;
  Counter& exceptions_;
  Counter& redelivered_;
  Counter& failures_;
  Histogram& batch_seconds_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace hub::intake
