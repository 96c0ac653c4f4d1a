#include "amqp_session.hpp"

#include <amqp_tcp_socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <vector>

#include "hub/queue/errors.hpp"

namespace hub::queue::detail {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  if (ms.count() < 0) ms = std::chrono::milliseconds(0);
  timeval tv{};
  tv.tv_sec = static_cast<decltype(tv.tv_sec)>(ms.count() / 1000);
  tv.tv_usec = static_cast<decltype(tv.tv_usec)>((ms.count() % 1000) * 1000);
  return tv;
}

std::string millis(std::chrono::milliseconds ms) { return std::to_string(ms.count()) + " ms"; }

// AMQP reply codes (spec section 1.2): channel-level ones leave the connection usable.
const char* code_for_channel_close(std::uint16_t reply_code) {
  switch (reply_code) {
    case 403:
      return kMqAccessRefused;
    case 404:
      return kMqNotFound;
    case 405:
      return kMqResourceLocked;
    case 406:
      return kMqPreconditionFailed;
    default:
      return kMqProtocol;
  }
}

const char* code_for_connection_close(std::uint16_t reply_code) {
  switch (reply_code) {
    case 320:  // CONNECTION_FORCED: broker shutting down or an operator closed us
    case 541:  // INTERNAL_ERROR
      return kMqUnavailable;
    case 403:
    case 530:  // NOT_ALLOWED: e.g. the vhost does not exist or is not permitted
      return kMqAccessRefused;
    default:
      return kMqProtocol;
  }
}

const char* code_for_library_status(int status) {
  switch (status) {
    case AMQP_STATUS_TIMEOUT:
      return kMqTimeout;
    case AMQP_STATUS_HEARTBEAT_TIMEOUT:
    case AMQP_STATUS_CONNECTION_CLOSED:
    case AMQP_STATUS_SOCKET_ERROR:
    case AMQP_STATUS_SOCKET_CLOSED:
    case AMQP_STATUS_TCP_ERROR:
    case AMQP_STATUS_HOSTNAME_RESOLUTION_FAILED:
      return kMqUnavailable;
    default:
      return kMqProtocol;
  }
}

std::string library_text(int status) {
  std::string text = amqp_error_string2(status);
  if (status == AMQP_STATUS_HEARTBEAT_TIMEOUT)
    text += " (no frame from the broker for 2 heartbeats)";
  return text;
}

}  // namespace

void ConnectionStateDeleter::operator()(amqp_connection_state_t state) const noexcept {
  // Also closes and frees the socket created with amqp_tcp_socket_new.
  amqp_destroy_connection(state);
}

amqp_bytes_t as_bytes(std::string_view text) {
  amqp_bytes_t b;
  b.len = text.size();
  // rabbitmq-c only reads through this pointer when encoding.
  b.bytes = const_cast<char*>(text.data());
  return b;
}

std::string to_string(amqp_bytes_t bytes) {
  if (bytes.len == 0 || bytes.bytes == nullptr) return {};
  return std::string(static_cast<const char*>(bytes.bytes), bytes.len);
}

std::map<std::string, std::string> headers_from_table(const amqp_table_t& table) {
  std::map<std::string, std::string> out;
  for (int i = 0; i < table.num_entries; ++i) {
    const amqp_table_entry_t& e = table.entries[i];
    const amqp_field_value_t& v = e.value;
    std::string text;
    switch (v.kind) {
      case AMQP_FIELD_KIND_BOOLEAN:
        text = v.value.boolean ? "true" : "false";
        break;
      case AMQP_FIELD_KIND_I8:
        text = std::to_string(v.value.i8);
        break;
      case AMQP_FIELD_KIND_U8:
        text = std::to_string(v.value.u8);
        break;
      case AMQP_FIELD_KIND_I16:
        text = std::to_string(v.value.i16);
        break;
      case AMQP_FIELD_KIND_U16:
        text = std::to_string(v.value.u16);
        break;
      case AMQP_FIELD_KIND_I32:
        text = std::to_string(v.value.i32);
        break;
      case AMQP_FIELD_KIND_U32:
        text = std::to_string(v.value.u32);
        break;
      case AMQP_FIELD_KIND_I64:
        text = std::to_string(v.value.i64);
        break;
      case AMQP_FIELD_KIND_U64:
      case AMQP_FIELD_KIND_TIMESTAMP:
        text = std::to_string(v.value.u64);
        break;
      case AMQP_FIELD_KIND_UTF8:
      case AMQP_FIELD_KIND_BYTES:
        text = to_string(v.value.bytes);
        break;
      case AMQP_FIELD_KIND_VOID:
        break;
      default:
        continue;  // floats, decimals, arrays, tables: not representable as text here
    }
    out[to_string(e.key)] = std::move(text);
  }
  return out;
}

AmqpSession::AmqpSession(const AmqpSettings& settings, ConnectionStateHandle state)
    : settings_(settings),
      state_(std::move(state)),
      endpoint_(settings.host + ":" + std::to_string(settings.port)) {}

Result<std::unique_ptr<AmqpSession>> AmqpSession::open(const AmqpSettings& settings) {
  const std::string endpoint = settings.host + ":" + std::to_string(settings.port);
  const std::string where = "RabbitMQ at " + endpoint;
  ConnectionStateHandle state(amqp_new_connection());
  if (!state) return make_error(kMqProtocol, "cannot allocate an AMQP connection for " + where);

  amqp_socket_t* socket = amqp_tcp_socket_new(state.get());
  if (socket == nullptr) return make_error(kMqProtocol, "cannot create a TCP socket for " + where);

  timeval connect_tv = to_timeval(settings.connect_timeout);
  int rc = amqp_socket_open_noblock(socket, settings.host.c_str(), settings.port, &connect_tv);
  if (rc != AMQP_STATUS_OK) {
    // rabbitmq-c does not keep the connect() errno, so the cause is described by kind.
    std::string reason;
    switch (rc) {
      case AMQP_STATUS_TIMEOUT:
        reason = "no TCP connection within " + millis(settings.connect_timeout);
        break;
      case AMQP_STATUS_SOCKET_ERROR:
        reason = "TCP connection refused or unreachable";
        break;
      default:
        reason = library_text(rc);
        break;
    }
    return make_error(kMqUnavailable, "cannot connect to " + where + ": " + reason);
  }

  // rabbitmq-c writes with no deadline; a broker that stops reading (resource alarm)
  // would block a publish for ever. The kernel gives up after this long instead.
  int fd = amqp_socket_get_sockfd(socket);
  auto user_timeout_ms =
      static_cast<unsigned int>(std::max<std::int64_t>(settings.rpc_timeout.count(), 1000));
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);

  timeval rpc_tv = to_timeval(settings.rpc_timeout);
  amqp_set_handshake_timeout(state.get(), &rpc_tv);
  amqp_set_rpc_timeout(state.get(), &rpc_tv);

  // Without consumer_cancel_notify the broker would not tell a consumer that its queue
  // was deleted; rabbitmq-c merges these capabilities with its own.
  amqp_table_entry_t capability{};
  capability.key = amqp_cstring_bytes("consumer_cancel_notify");
  capability.value.kind = AMQP_FIELD_KIND_BOOLEAN;
  capability.value.value.boolean = 1;
  amqp_table_entry_t properties[2]{};
  properties[0].key = amqp_cstring_bytes("connection_name");
  properties[0].value.kind = AMQP_FIELD_KIND_UTF8;
  properties[0].value.value.bytes = as_bytes(settings.connection_name);
  properties[1].key = amqp_cstring_bytes("capabilities");
  properties[1].value.kind = AMQP_FIELD_KIND_TABLE;
  properties[1].value.value.table = amqp_table_t{1, &capability};
  amqp_table_t client_properties{2, properties};

  amqp_rpc_reply_t login = amqp_login_with_properties(
      state.get(), settings.vhost.c_str(), 0, settings.frame_max, settings.heartbeat_seconds,
      &client_properties, AMQP_SASL_METHOD_PLAIN, settings.user.c_str(), settings.password.c_str());
  switch (login.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      break;
    case AMQP_RESPONSE_SERVER_EXCEPTION: {
      if (login.reply.id == AMQP_CONNECTION_CLOSE_METHOD && login.reply.decoded != nullptr) {
        const auto* close = static_cast<const amqp_connection_close_t*>(login.reply.decoded);
        return make_error(code_for_connection_close(close->reply_code),
                          where + " refused user '" + settings.user + "' on vhost '" +
                              settings.vhost + "': " + to_string(close->reply_text));
      }
      return make_error(kMqProtocol, where + " answered the login with an unexpected method");
    }
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      if (login.library_error == AMQP_STATUS_TIMEOUT) {
        return make_error(kMqTimeout, "no AMQP handshake from " + where + " within " +
                                          millis(settings.rpc_timeout) +
                                          " (is it a RabbitMQ node?)");
      }
      return make_error(code_for_library_status(login.library_error),
                        "AMQP handshake with " + where +
                            " failed: " + library_text(login.library_error) +
                            " (wrong port, or login refused by an older broker)");
    case AMQP_RESPONSE_NONE:
    default:
      return make_error(kMqUnavailable, where + " closed the connection during the handshake");
  }

  auto session = std::make_unique<AmqpSession>(settings, std::move(state));
  if (const amqp_table_t* props = amqp_get_server_properties(session->state())) {
    auto fields = headers_from_table(*props);
    session->server_version_ = fields["version"];
    session->server_product_ = fields["product"];
  }
  if (auto opened = session->open_channel(); !opened.ok()) return opened.error();
  session->log_.debug("connected", {{"endpoint", endpoint},
                                    {"vhost", settings.vhost},
                                    {"server_version", session->server_version_}});
  return session;
}

AmqpSession::~AmqpSession() {
  if (!state_ || broken_) return;
  // A polite close lets the broker requeue deliveries at once and keeps its log quiet;
  // bounded so that a dead broker cannot hang a destructor.
  timeval tv = to_timeval(
      std::min<std::chrono::milliseconds>(settings_.rpc_timeout, std::chrono::seconds(2)));
  amqp_set_rpc_timeout(state(), &tv);
  amqp_rpc_reply_t r = amqp_channel_close(state(), kChannel, AMQP_REPLY_SUCCESS);
  if (r.reply_type == AMQP_RESPONSE_NORMAL)
    (void)amqp_connection_close(state(), AMQP_REPLY_SUCCESS);
}

Status AmqpSession::usable() const {
  if (!broken_) return {};
  return make_error(kMqUnavailable, "the connection to RabbitMQ at " + endpoint_ + " is closed (" +
                                        broken_reason_ + "); open a new one");
}

void AmqpSession::mark_broken(const std::string& reason) {
  if (broken_) return;
  broken_ = true;
  broken_reason_ = reason;
  log_.warn("AMQP connection lost", {{"endpoint", endpoint_}, {"reason", reason}});
}

Error AmqpSession::library_failure(int status, const std::string& what) {
  std::string message = what + " on RabbitMQ at " + endpoint_ + " failed: " + library_text(status);
  if (status == AMQP_STATUS_TIMEOUT) {
    message = what + ": RabbitMQ at " + endpoint_ + " did not answer within " +
              millis(settings_.rpc_timeout);
  }
  mark_broken(message);
  return make_error(code_for_library_status(status), message + "; the connection is closed");
}

Error AmqpSession::protocol_failure(const std::string& what) {
  std::string message = what + " (RabbitMQ at " + endpoint_ + ")";
  mark_broken(message);
  return make_error(kMqProtocol, message + "; the connection is closed");
}

Status AmqpSession::open_channel() {
  auto failed = [&](const amqp_rpc_reply_t& r, const std::string& what) -> Error {
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
      return library_failure(r.library_error, what);
    return protocol_failure(what + " was refused");
  };
  amqp_channel_open_t open{};
  open.out_of_band = amqp_empty_bytes;
  amqp_method_number_t open_ok[] = {AMQP_CHANNEL_OPEN_OK_METHOD, 0};
  amqp_rpc_reply_t r = amqp_simple_rpc(state(), kChannel, AMQP_CHANNEL_OPEN_METHOD, open_ok, &open);
  if (r.reply_type != AMQP_RESPONSE_NORMAL) return failed(r, "opening channel 1");
  ++channel_generation_;
  next_publish_tag_ = 1;
  if (confirm_mode_) {
    amqp_confirm_select_t select{};
    amqp_method_number_t select_ok[] = {AMQP_CONFIRM_SELECT_OK_METHOD, 0};
    r = amqp_simple_rpc(state(), kChannel, AMQP_CONFIRM_SELECT_METHOD, select_ok, &select);
    if (r.reply_type != AMQP_RESPONSE_NORMAL)
      return failed(r, "confirm.select on a reopened channel");
  }
  release();
  return {};
}

Error AmqpSession::channel_closed_by_broker(const amqp_channel_close_t& close,
                                            const std::string& what) {
  const std::uint16_t reply_code = close.reply_code;
  const std::string reply_text = to_string(close.reply_text);
  Error error = make_error(code_for_channel_close(reply_code), what + ": " + reply_text);
  log_.warn("channel closed by the broker",
            {{"endpoint", endpoint_}, {"reply_code", reply_code}, {"reply", reply_text}});

  // Frames queued before the close belong to the dead channel (stale delivery tags,
  // confirms): drop them so that nobody acts on them after the reopen.
  while (amqp_frames_enqueued(state())) {
    amqp_frame_t stale{};
    timeval zero{};
    int rc = amqp_simple_wait_frame_noblock(state(), &stale, &zero);
    if (rc != AMQP_STATUS_OK) {
      (void)library_failure(rc, "dropping frames of a closed channel");
      return error;
    }
    if (stale.frame_type == AMQP_FRAME_METHOD && stale.channel == 0 &&
        stale.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
      (void)connection_closed_by_broker(
          *static_cast<const amqp_connection_close_t*>(stale.payload.method.decoded), what);
      return error;
    }
  }
  amqp_channel_close_ok_t ok{};
  int rc = amqp_send_method(state(), kChannel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
  if (rc != AMQP_STATUS_OK) {
    (void)library_failure(rc, "answering channel.close");
    return error;
  }
  (void)open_channel();  // on failure the session is broken and says so on the next call
  return error;
}

Error AmqpSession::connection_closed_by_broker(const amqp_connection_close_t& close,
                                               const std::string& what) {
  const std::uint16_t reply_code = close.reply_code;
  std::string message = what + ": RabbitMQ at " + endpoint_ +
                        " closed the connection: " + to_string(close.reply_text);
  amqp_connection_close_ok_t ok{};
  (void)amqp_send_method(state(), 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
  mark_broken(message);
  return make_error(code_for_connection_close(reply_code), message);
}

Result<void*> AmqpSession::rpc(amqp_method_number_t method, void* request,
                               std::initializer_list<amqp_method_number_t> replies,
                               const std::string& what) {
  if (auto s = usable(); !s.ok()) return s.error();
  std::vector<amqp_method_number_t> expected(replies);
  expected.push_back(0);
  amqp_rpc_reply_t r = amqp_simple_rpc(state(), kChannel, method, expected.data(), request);
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return r.reply.decoded;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (r.reply.decoded == nullptr) break;
      if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        return channel_closed_by_broker(*static_cast<const amqp_channel_close_t*>(r.reply.decoded),
                                        what);
      }
      if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        return connection_closed_by_broker(
            *static_cast<const amqp_connection_close_t*>(r.reply.decoded), what);
      }
      break;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return library_failure(r.library_error, what);
    case AMQP_RESPONSE_NONE:
      return library_failure(AMQP_STATUS_CONNECTION_CLOSED, what);
  }
  return protocol_failure(what + ": unexpected reply " + std::to_string(r.reply.id));
}

Status AmqpSession::send(amqp_method_number_t method, void* request, const std::string& what) {
  if (auto s = usable(); !s.ok()) return s;
  int rc = amqp_send_method(state(), kChannel, method, request);
  if (rc != AMQP_STATUS_OK) return library_failure(rc, what);
  return {};
}

Result<std::optional<amqp_frame_t>> AmqpSession::next_frame(std::chrono::milliseconds timeout,
                                                            const std::string& what) {
  if (auto s = usable(); !s.ok()) return s.error();
  timeval tv = to_timeval(timeout);
  amqp_frame_t frame{};
  int rc = amqp_simple_wait_frame_noblock(state(), &frame, &tv);
  if (rc == AMQP_STATUS_TIMEOUT) return std::optional<amqp_frame_t>();
  if (rc != AMQP_STATUS_OK) return library_failure(rc, what);
  if (frame.frame_type == AMQP_FRAME_METHOD && frame.payload.method.decoded != nullptr) {
    if (frame.channel == 0 && frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
      return connection_closed_by_broker(
          *static_cast<const amqp_connection_close_t*>(frame.payload.method.decoded), what);
    }
    if (frame.channel == kChannel && frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD) {
      return channel_closed_by_broker(
          *static_cast<const amqp_channel_close_t*>(frame.payload.method.decoded), what);
    }
  }
  return std::optional<amqp_frame_t>(frame);
}

bool AmqpSession::drain_idle() {
  while (!broken_) {
    auto frame = next_frame(std::chrono::milliseconds(0), "checking an idle connection");
    release();
    if (!frame.ok() || !frame->has_value()) break;
  }
  return !broken_;
}

Result<Content> AmqpSession::read_content(const std::string& what) {
  const auto deadline = std::chrono::steady_clock::now() + settings_.rpc_timeout;
  auto next_on_channel = [&]() -> Result<amqp_frame_t> {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return library_failure(AMQP_STATUS_TIMEOUT, what + " (message content)");
      auto frame = next_frame(left, what);
      if (!frame.ok()) return frame.error();
      if (!frame->has_value()) continue;
      if ((*frame)->channel != kChannel) continue;  // channel 0 housekeeping
      return **frame;
    }
  };

  auto header = next_on_channel();
  if (!header.ok()) return header.error();
  if (header->frame_type != AMQP_FRAME_HEADER ||
      header->payload.properties.class_id != AMQP_BASIC_CLASS ||
      header->payload.properties.decoded == nullptr) {
    return protocol_failure(what + ": expected a content header frame, got frame type " +
                            std::to_string(header->frame_type));
  }
  Content content;
  const auto* props =
      static_cast<const amqp_basic_properties_t*>(header->payload.properties.decoded);
  if (props->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) content.message_id = to_string(props->message_id);
  if (props->_flags & AMQP_BASIC_CORRELATION_ID_FLAG) {
    content.correlation_id = to_string(props->correlation_id);
  }
  if (props->_flags & AMQP_BASIC_CONTENT_TYPE_FLAG)
    content.content_type = to_string(props->content_type);
  if (props->_flags & AMQP_BASIC_HEADERS_FLAG) content.headers = headers_from_table(props->headers);
  content.body_size = header->payload.properties.body_size;
  content.too_large = content.body_size > settings_.max_message_bytes;
  if (!content.too_large) content.body.reserve(content.body_size);

  std::uint64_t received = 0;
  while (received < content.body_size) {
    auto body = next_on_channel();
    if (!body.ok()) return body.error();
    if (body->frame_type != AMQP_FRAME_BODY) {
      return protocol_failure(what + ": expected a body frame, got frame type " +
                              std::to_string(body->frame_type));
    }
    const amqp_bytes_t& fragment = body->payload.body_fragment;
    received += fragment.len;
    if (received > content.body_size) {
      return protocol_failure(what + ": message body longer than its header announced");
    }
    if (!content.too_large && fragment.len > 0) {
      content.body.append(static_cast<const char*>(fragment.bytes), fragment.len);
    }
  }
  return content;
}

Status AmqpSession::enable_confirms() {
  amqp_confirm_select_t select{};
  auto r =
      rpc(AMQP_CONFIRM_SELECT_METHOD, &select, {AMQP_CONFIRM_SELECT_OK_METHOD}, "confirm.select");
  if (!r.ok()) return r.error();
  confirm_mode_ = true;
  next_publish_tag_ = 1;
  release();
  return {};
}

void AmqpSession::cork(bool on) {
  if (!state_ || broken_) return;
  int value = on ? 1 : 0;
  (void)::setsockopt(amqp_get_sockfd(state()), IPPROTO_TCP, TCP_CORK, &value, sizeof value);
}

void AmqpSession::release() {
  if (state_) amqp_maybe_release_buffers(state());
}

}  // namespace hub::queue::detail
