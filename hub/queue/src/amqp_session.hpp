#pragma once
// Private to hub_queue: the rabbitmq-c connection behind AmqpConnection, Publisher and
// Consumer. Everything that touches rabbitmq-c's state machine is here, so the rules it
// imposes are kept in one place:
//  - decoded frames live in the library's pools until release(): copy what you need first;
//  - amqp_simple_rpc queues frames that arrive while it waits (deliveries, confirms), and
//    next_frame() returns those first;
//  - a channel.close from the broker must be answered with close-ok before the channel
//    number can be opened again;
//  - after a library error the state machine cannot be trusted: the session is broken.
// Lifetime and threading: as AmqpConnection (one thread at a time).

#include <amqp.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "hub/core/log.hpp"
#include "hub/core/result.hpp"
#include "hub/queue/amqp_connection.hpp"

namespace hub::queue::detail {

struct ConnectionStateDeleter {
  void operator()(amqp_connection_state_t state) const noexcept;
};
using ConnectionStateHandle = std::unique_ptr<amqp_connection_state_t_, ConnectionStateDeleter>;

amqp_bytes_t as_bytes(std::string_view text);
std::string to_string(amqp_bytes_t bytes);
// Scalar entries as text; arrays and tables are skipped.
std::map<std::string, std::string> headers_from_table(const amqp_table_t& table);

// The header and body of a message that followed basic.deliver or basic.return.
struct Content {
  std::string body;  // empty when too_large
  std::uint64_t body_size = 0;
  bool too_large = false;
  std::string message_id;
  std::string correlation_id;
  std::string content_type;
  std::map<std::string, std::string> headers;
};

class AmqpSession {
 public:
  static constexpr amqp_channel_t kChannel = 1;

  static Result<std::unique_ptr<AmqpSession>> open(const AmqpSettings& settings);
  // Use open(); public only for std::make_unique.
  AmqpSession(const AmqpSettings& settings, ConnectionStateHandle state);
  ~AmqpSession();
  AmqpSession(const AmqpSession&) = delete;
  AmqpSession& operator=(const AmqpSession&) = delete;

  amqp_connection_state_t state() const { return state_.get(); }
  const AmqpSettings& settings() const { return settings_; }
  const std::string& endpoint() const { return endpoint_; }
  const std::string& server_version() const { return server_version_; }
  const std::string& server_product() const { return server_product_; }
  const Logger& log() const { return log_; }
  bool healthy() const { return !broken_; }
  // Counts channel reopenings: a consumer or delivery tag belongs to one generation.
  std::uint64_t channel_generation() const { return channel_generation_; }

  // MQ_UNAVAILABLE once the connection is broken.
  Status usable() const;

  // Sends a synchronous method on the channel and waits (rpc_timeout) for one of
  // `replies`; returns the decoded reply, valid until release(). A channel.close from
  // the broker becomes an Error (the channel is reopened); `what` prefixes messages.
  Result<void*> rpc(amqp_method_number_t method, void* request,
                    std::initializer_list<amqp_method_number_t> replies, const std::string& what);

  // The next frame on any channel, or nullopt after `timeout`. channel.close and
  // connection.close from the broker are handled here and returned as Errors.
  Result<std::optional<amqp_frame_t>> next_frame(std::chrono::milliseconds timeout,
                                                 const std::string& what);

  // Reads the header and body frames that follow a content-bearing method, each within
  // rpc_timeout. Bodies over max_message_bytes are read and dropped (too_large).
  Result<Content> read_content(const std::string& what);

  // Reads whatever the broker sent while nobody was waiting, without blocking: answers
  // due heartbeats and notices a connection closed in the meantime. Frames found are
  // dropped, so call it only when nothing is outstanding. Returns healthy().
  bool drain_idle();

  // Sends a method that has no reply (basic.ack, basic.nack, basic.reject).
  Status send(amqp_method_number_t method, void* request, const std::string& what);

  // confirm.select; afterwards every basic.publish takes the next delivery tag (from 1).
  Status enable_confirms();
  std::uint64_t take_publish_tag() { return next_publish_tag_++; }

  // Marks the connection broken and describes a rabbitmq-c failure.
  Error library_failure(int status, const std::string& what);
  // Marks the connection broken (we lost track of the byte stream).
  Error protocol_failure(const std::string& what);

  // While corked, the kernel packs consecutive publishes into full TCP segments instead
  // of one segment per message; uncorking sends what is pending at once.
  void cork(bool on);

  // Returns the library's per-channel memory once decoded frames are no longer needed.
  void release();

 private:
  Status open_channel();
  Error channel_closed_by_broker(const amqp_channel_close_t& close, const std::string& what);
  Error connection_closed_by_broker(const amqp_connection_close_t& close, const std::string& what);
  void mark_broken(const std::string& reason);

  AmqpSettings settings_;
  ConnectionStateHandle state_;
  std::string endpoint_;
  std::string server_version_;
  std::string server_product_;
  Logger log_{"queue"};
  bool broken_ = false;
  std::string broken_reason_;
  bool confirm_mode_ = false;
  std::uint64_t next_publish_tag_ = 1;
  std::uint64_t channel_generation_ = 0;
};

}  // namespace hub::queue::detail
