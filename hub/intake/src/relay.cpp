#include "hub/intake/relay.hpp"

#include <algorithm>

#include "hub/core/log.hpp"
#include "hub/db/pg.hpp"
#include "hub/queue/publisher.hpp"

namespace hub::intake {
namespace {

const Logger kLog("relay");

std::string id_array(const std::vector<RelayItem>& items) {
  std::string a = "{";
  for (const auto& i : items) {
    if (a.size() > 1) a += ',';
    a += std::to_string(i.inbox_id);
  }
  return a + "}";
}

}  // namespace

Relay::Relay(RelaySettings settings, MetricsRegistry& metrics)
    : settings_(std::move(settings)),
      published_(metrics.counter("hub_relay_published_total", "Inbox messages published to RabbitMQ and confirmed.")),
      swept_(metrics.counter("hub_relay_swept_total",
                             "Inbox messages found by the sweep (stored but not confirmed by the broker).")),
      failures_(metrics.counter("hub_relay_failures_total", "Failed publish or database rounds of the relay.")) {
  metrics.callback_gauge("hub_relay_pending", "Inbox messages waiting in memory to be published.",
                         [this] { return static_cast<double>(pending()); });
}

Relay::~Relay() { stop(); }

void Relay::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { loop(); });
}

void Relay::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Relay::notify(RelayItem item) {
  {
    std::lock_guard lock(mu_);
    // Over the limit the message stays only in the database, where the sweep finds it.
    if (pending_.size() >= settings_.max_pending) return;
    pending_.push_back(std::move(item));
  }
  cv_.notify_one();
}

std::size_t Relay::pending() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

void Relay::loop() {
  std::unique_ptr<queue::Publisher> publisher;
  std::unique_ptr<db::Connection> conn;
  auto next_sweep = std::chrono::steady_clock::now();  // sweep at start: a crash may have left messages
  std::vector<RelayItem> batch;
  auto backoff = std::chrono::milliseconds(100);

  while (true) {
    bool sweep = false;
    {
      std::unique_lock lock(mu_);
      if (batch.empty()) {
        cv_.wait_until(lock, next_sweep, [this] { return stop_ || !pending_.empty(); });
        if (stop_) return;
        while (!pending_.empty() && batch.size() < settings_.batch) {
          batch.push_back(std::move(pending_.front()));
          pending_.pop_front();
        }
      } else if (stop_) {
        return;  // what was not confirmed is found by the next start's sweep
      }
      sweep = std::chrono::steady_clock::now() >= next_sweep;
    }
    try {
      if (!conn || !conn->healthy()) conn = db::Connection::connect(settings_.db_conninfo);
      if (sweep) {
        next_sweep = std::chrono::steady_clock::now() + settings_.sweep_interval;
        auto r = conn->exec(
            "SELECT id, connector, message_id FROM inbox_messages WHERE queued_at IS NULL AND state = 'accepted' "
            "AND received_at < now() - $1::interval ORDER BY id LIMIT $2::int",
            {std::to_string(settings_.sweep_min_age.count()) + " milliseconds", std::to_string(settings_.batch * 10)});
        for (int i = 0; i < r.rows(); ++i) batch.push_back({r.get_int(i, 0), r.get(i, 1), r.get(i, 2)});
        if (r.rows() > 0) {
          swept_.inc(static_cast<std::uint64_t>(r.rows()));
          kLog.info("sweep found stored messages not yet queued", {{"count", r.rows()}});
        }
        if (batch.empty()) continue;
      }
      if (!publisher || !publisher->healthy()) {
        auto p = queue::Publisher::open(settings_.mq);
        if (!p.ok()) throw std::runtime_error(p.error().to_string());
        publisher = std::move(*p);
      }
      // Large sweeps go out in slices so that confirms keep flowing.
      for (std::size_t from = 0; from < batch.size(); from += settings_.batch) {
        std::vector<RelayItem> slice(batch.begin() + static_cast<std::ptrdiff_t>(from),
                                     batch.begin() + static_cast<std::ptrdiff_t>(std::min(batch.size(), from + settings_.batch)));
        std::vector<queue::OutgoingMessage> out;
        out.reserve(slice.size());
        for (const auto& item : slice) {
          queue::OutgoingMessage m;
          m.exchange = settings_.exchange;
          m.routing_key = item.connector;
          m.body = std::to_string(item.inbox_id);
          m.options.message_id = item.connector + ":" + item.message_id;
          m.options.content_type = "text/plain";
          out.push_back(std::move(m));
        }
        auto st = publisher->publish_batch(out, settings_.max_in_flight);
        if (!st.ok()) throw std::runtime_error(st.error().to_string());
        conn->exec("UPDATE inbox_messages SET queued_at = now() WHERE id = ANY($1::bigint[]) AND queued_at IS NULL",
                   {id_array(slice)});
        published_.inc(slice.size());
      }
      batch.clear();
      backoff = std::chrono::milliseconds(100);
    } catch (const std::exception& e) {
      // Keep the batch and try again: nothing is lost, at worst published twice.
      failures_.inc();
      kLog.warn("relay round failed; retrying", {{"error", e.what()}, {"messages", batch.size()},
                                                 {"retry_in_ms", backoff.count()}});
      if (dynamic_cast<const db::DbError*>(&e) != nullptr) conn.reset();
      publisher.reset();
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, backoff, [this] { return stop_; });
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
  }
}

}  // namespace hub::intake
