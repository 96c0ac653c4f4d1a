#pragma once
// A connection to RabbitMQ (AMQP 0-9-1 over rabbitmq-c) with one channel, for
// administration: topology, queue depth, deleting test objects. Publisher and Consumer
// each open their own.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "hub/core/result.hpp"
#include "hub/queue/errors.hpp"
#include "hub/queue/topology.hpp"

namespace hub::queue {

namespace detail {
class AmqpSession;
}

// How to reach the broker. Plain values; the caller fills them from configuration.
struct AmqpSettings {
  std::string host = "127.0.0.1";
  int port = 5672;
  std::string vhost = "/";
  std::string user;
  std::string password;
  // 0 disables heartbeats. rabbitmq-c sends and checks heartbeats only while one of our
  // calls is running, so a consumer must poll() at least every heartbeat_seconds.
  int heartbeat_seconds = 30;
  // TCP connect (the name lookup before it is not bounded: use an address or /etc/hosts).
  std::chrono::milliseconds connect_timeout{5000};
  // AMQP handshake, each RPC, each publisher confirm wait, and each blocked socket write
  // (TCP_USER_TIMEOUT): a broker that does not answer within this is treated as lost.
  std::chrono::milliseconds rpc_timeout{10000};
  int frame_max = 131072;
  // Deliveries larger than this are not loaded into memory: they are dead-lettered.
  std::uint64_t max_message_bytes = 16U * 1024U * 1024U;
  // Shown by `rabbitmqctl list_connections name` (client property connection_name).
  std::string connection_name = "gx-hub";
};

struct QueueDepth {
  std::uint64_t messages = 0;  // ready messages (not counting delivered, unacked ones)
  std::uint64_t consumers = 0;
};

// Lifetime: owns the socket and the rabbitmq-c connection; the destructor closes the
// channel and the connection politely (bounded by rpc_timeout, at most 2 s) and frees
// everything. Not copyable or movable; hold it in the unique_ptr that open() returns.
// Thread-safety: none. An AMQP connection is used by one thread at a time; give each
// thread its own connection.
// Failure model: a channel error (404, 406...) is returned as an Error and the channel is
// reopened, so the connection stays usable. A connection-level failure (socket lost,
// timeout, connection.close from the broker) makes healthy() false for good: every later
// call returns MQ_UNAVAILABLE and the owner opens a new connection. rabbitmq-c answers
// heartbeats only inside calls, so a connection left idle for two heartbeat intervals is
// closed by the broker and its next call fails that way too.
class AmqpConnection {
  struct PrivateTag {
    explicit PrivateTag() = default;
  };

 public:
  // Connects (TCP, AMQP handshake, login) and opens channel 1.
  static Result<std::unique_ptr<AmqpConnection>> open(const AmqpSettings& settings);

  // Use open(); public only for std::make_unique.
  AmqpConnection(PrivateTag, std::unique_ptr<detail::AmqpSession> session);
  ~AmqpConnection();
  AmqpConnection(const AmqpConnection&) = delete;
  AmqpConnection& operator=(const AmqpConnection&) = delete;

  // From the broker's connection.start server properties, e.g. "3.10.8" and "RabbitMQ".
  const std::string& server_version() const;
  const std::string& server_product() const;
  // "host:port", for messages.
  const std::string& endpoint() const;
  bool healthy() const;

  // Passive queue.declare: MQ_NOT_FOUND if the queue does not exist.
  Result<QueueDepth> queue_depth(const std::string& queue);

  // Idempotent declarations (see declare_topology() for the whole topology).
  Status declare_exchange(const ExchangeSpec& exchange);
  Status declare_queue(const QueueSpec& queue);
  Status bind_queue(const std::string& queue, const std::string& exchange,
                    const std::string& routing_key);

  // Deleting what does not exist succeeds (RabbitMQ treats it as done).
  Status delete_queue(const std::string& queue);
  Status delete_exchange(const std::string& exchange);
  // Drops the queue's ready messages; returns how many.
  Result<std::uint64_t> purge_queue(const std::string& queue);

 private:
  friend class Publisher;
  friend class Consumer;

  std::unique_ptr<detail::AmqpSession> session_;
};

}  // namespace hub::queue
