// The HTTPS server on Boost.Beast, in the style of Beast's advanced_server_flex_awaitable:
// one C++20 coroutine per connection on its own strand does the I/O (handshake, head,
// limits, body, answer, keep-alive) with a timeout on every step; the Router's pure
// request -> response functions run on a worker pool. Expected network errors are values
// (redirect_error); anything unexpected is caught at the coroutine boundary.
//
// Compile time: Beast's parser is fed by hand from plain TLS reads and answers are
// serialized to one string and written with one asio::async_write, so that only four
// asynchronous operations are instantiated (handshake, read_some, write, shutdown) instead of
// Beast's composed read/write/serializer stacks. With GCC 12 this takes the unit from about
// 80 s to about 20 s of CPU.

#include "hub/http/server.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

// GCC 12 reports a false mismatched-new-delete on Asio's coroutine frames (GCC bug 109224).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "hub/core/log.hpp"
#include "tls.hpp"

namespace hub::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
// Concrete executor types throughout (not any_io_executor): in Asio 1.74 the type-erased
// executor multiplies the code instantiated per operation.
using Executor = asio::strand<asio::io_context::executor_type>;
template <class T>
using Awaitable = asio::awaitable<T, Executor>;
constexpr asio::use_awaitable_t<Executor> kUseAwaitable;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Acceptor = asio::basic_socket_acceptor<tcp, Executor>;
using TlsStream = asio::ssl::stream<Socket>;
using Timer = asio::basic_waitable_timer<std::chrono::steady_clock,
                                         asio::wait_traits<std::chrono::steady_clock>, Executor>;
using Parser = bhttp::request_parser<bhttp::string_body>;
using SteadyClock = std::chrono::steady_clock;

// After an answer given before the body was read, the rest of the body is read and thrown
// away for a short while before closing, so that the client sees the answer rather than a
// connection reset (a TCP close with unread data sends RST).
constexpr std::size_t kLingerBytes = 1 << 20;
constexpr std::chrono::milliseconds kLingerTime{1000};
constexpr std::chrono::milliseconds kShutdownTime{2000};
constexpr std::chrono::milliseconds kForcedCloseWait{2000};
constexpr std::size_t kReadChunk = 16 * 1024;
constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";

enum class Phase { kHandshake, kIdle, kBusy, kClosing };
// What a session does after a request: read the next one, close TLS in order, or just drop
// the TCP connection (when the TLS stream is in no state for an orderly close).
enum class Next { kKeepAlive, kClose, kAbort };

std::string_view to_std(beast::string_view s) { return {s.data(), s.size()}; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Response fields come from our own handlers, but a CR or LF in one would split the
// response: such fields are dropped.
bool safe_field(std::string_view name, std::string_view value) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c <= ' ' || c == ':' || c == 0x7f) return false;
  }
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

std::string label_value(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

bool is_quiet_close(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::ssl::error::stream_truncated || ec == asio::error::connection_reset ||
         ec == asio::error::operation_aborted;
}

bool is_parse_error(const error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

// Feeds buffered bytes to the parser until it wants more input or has what was asked for.
error_code feed(Parser& parser, beast::flat_buffer& buffer, bool head_only) {
  error_code ec;
  while (buffer.size() > 0 && !(head_only ? parser.is_header_done() : parser.is_done())) {
    auto used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == bhttp::error::need_more) return {};
    if (ec) return ec;
    if (used == 0) break;
  }
  return {};
}

// The whole answer in one buffer: one TLS write, one instantiation. An answer to HEAD
// carries the length of the body it omits; 1xx, 204 and 304 carry neither (RFC 9110).
std::string serialize(const Response& r, unsigned version, bool keep_alive, bool head_request,
                      const Logger& log) {
  int status = (r.status >= 200 && r.status <= 599) ? r.status : 500;
  const bool bodiless = status == 204 || status == 304;
  std::string out;
  out.reserve(256 + r.body.size());
  out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason_phrase(status);
  out += "\r\n";
  bool problem = false;
  bool cache_control = false;
  auto field = [&out](std::string_view name, std::string_view value) {
    out.append(name).append(": ").append(value).append("\r\n");
  };
  for (const auto& [name, value] : r.headers) {
    if (!safe_field(name, value)) {
      log.error("dropped an unsafe response header", {{"header", name}});
      continue;
    }
    // Framing and security headers are the server's business.
    if (iequals(name, "content-length") || iequals(name, "transfer-encoding") ||
        iequals(name, "connection") || iequals(name, "strict-transport-security") ||
        iequals(name, "x-content-type-options")) {
      continue;
    }
    if (iequals(name, "content-type") && lower(value).starts_with("application/problem+json"))
      problem = true;
    if (iequals(name, "cache-control")) cache_control = true;
    field(name, value);
  }
  field("Strict-Transport-Security", "max-age=31536000");
  field("X-Content-Type-Options", "nosniff");
  if (problem && !cache_control) field("Cache-Control", "no-store");
  if (!keep_alive)
    field("Connection", "close");
  else if (version == 10)
    field("Connection", "keep-alive");
  if (!bodiless) field("Content-Length", std::to_string(r.body.size()));
  out += "\r\n";
  if (!bodiless && !head_request) out += r.body;
  return out;
}

struct WorkerCall;

// One connection. Touched only on its strand (the socket's executor).
struct Session : std::enable_shared_from_this<Session> {
  Session(Socket socket, asio::ssl::context& tls)
      : stream(std::move(socket), tls), deadline(stream.get_executor()) {}
  Socket& socket() { return stream.next_layer(); }

  // Bounds the next I/O step: when `timeout` passes first, the pending operation is
  // cancelled and timed_out says why. Each arming supersedes the previous one.
  void arm(std::chrono::milliseconds timeout) {
    timed_out = false;
    std::uint64_t id = ++arm_id;
    deadline.expires_after(timeout);
    deadline.async_wait([weak = weak_from_this(), id](const error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || self->arm_id != id) return;
      self->timed_out = true;
      error_code ignored;
      self->socket().cancel(ignored);
    });
  }
  // The error of an I/O step, with a cancellation by the deadline reported as a timeout.
  error_code outcome(const error_code& ec) const {
    return ec == asio::error::operation_aborted && timed_out ? error_code(beast::error::timeout)
                                                             : ec;
  }

  TlsStream stream;
  Timer deadline;
  std::uint64_t arm_id = 0;
  bool timed_out = false;
  beast::flat_buffer buffer;
  std::string remote;
  Phase phase = Phase::kHandshake;
  bool forced = false;
  std::shared_ptr<WorkerCall> call;
};

// A request handed to the worker pool. The session waits on `timer` (expiring after
// handler_timeout); the worker's completion is posted to the session's strand, where it
// stores the result and cancels the timer. The session may be gone by then: the call is
// shared.
struct WorkerCall {
  explicit WorkerCall(const Executor& strand) : timer(strand) {}
  Timer timer;
  bool done = false;
  std::optional<Response> result;
};

enum class WorkerOutcome { kDone, kTimedOut, kAborted };

}  // namespace

struct Server::Impl {
  enum class State { kNew, kRunning, kStopped };

  // A request counts as in flight from its head being read until both its answer is
  // written and its handler (if one was started) has returned.
  struct InFlight {
    explicit InFlight(Impl& i) : impl(i) {}
    ~InFlight() { impl.release_slot(); }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;
    Impl& impl;
  };

  struct Registration {
    Registration(Impl& i, const std::shared_ptr<Session>& s) : impl(i) {
      std::lock_guard lock(impl.sessions_mu);
      id = impl.next_session_id++;
      impl.sessions[id] = s;
    }
    ~Registration() {
      std::lock_guard lock(impl.sessions_mu);
      impl.sessions.erase(id);
      impl.sessions_cv.notify_all();
    }
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
    Impl& impl;
    std::uint64_t id = 0;
  };

  Impl(ServerSettings s, Router r, MetricsRegistry& m)
      : settings(std::move(s)),
        router(std::move(r)),
        metrics(m),
        in_flight_gauge(m.gauge("hub_http_in_flight", "HTTP requests being read or handled")),
        duration(m.histogram("hub_http_request_duration_seconds",
                             "Time from a request's head being read to its answer being written",
                             latency_buckets())),
        handshake_failures(
            m.counter("hub_tls_handshake_failures_total",
                      "TLS handshakes that failed (protocol, cipher, certificate, timeout)")),
        ioc(std::max(1, settings.io_threads)),
        acceptor(asio::make_strand(ioc)),
        workers(static_cast<std::size_t>(std::max(1, settings.worker_threads))) {}

  // Declaration order is destruction order reversed: the worker pool is joined before the
  // io_context goes (workers post to it), and the io_context before the registries that
  // coroutine frames touch when they are destroyed.
  ServerSettings settings;
  Router router;
  MetricsRegistry& metrics;
  Logger log{"http"};
  Gauge& in_flight_gauge;
  Histogram& duration;
  Counter& handshake_failures;

  std::mutex slot_mu;
  int in_flight = 0;

  std::mutex sessions_mu;
  std::condition_variable sessions_cv;
  std::map<std::uint64_t, std::weak_ptr<Session>> sessions;
  std::uint64_t next_session_id = 1;

  std::atomic<bool> draining{false};
  State state = State::kNew;
  int port = 0;

  asio::io_context ioc;
  std::optional<asio::ssl::context> tls;
  Acceptor acceptor;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_guard;
  std::vector<std::thread> io_threads;
  asio::thread_pool workers;

  std::shared_ptr<InFlight> acquire_slot() {
    std::lock_guard lock(slot_mu);
    if (in_flight >= settings.max_in_flight) return nullptr;
    ++in_flight;
    in_flight_gauge.set(in_flight);
    return std::make_shared<InFlight>(*this);
  }
  void release_slot() {
    std::lock_guard lock(slot_mu);
    --in_flight;
    in_flight_gauge.set(in_flight);
  }
  int in_flight_now() {
    std::lock_guard lock(slot_mu);
    return in_flight;
  }

  void run_io() {
    for (;;) {
      try {
        ioc.run();
        return;
      } catch (const std::exception& e) {
        log.error("I/O thread caught an exception", {{"error", e.what()}});
      }
    }
  }

  // Runs fn on each live session's strand.
  void for_each_session(const std::function<void(Session&)>& fn) {
    std::vector<std::shared_ptr<Session>> live;
    {
      std::lock_guard lock(sessions_mu);
      for (auto& [id, weak] : sessions) {
        if (auto s = weak.lock()) live.push_back(std::move(s));
      }
    }
    for (auto& s : live) {
      auto ex = s->stream.get_executor();
      asio::post(ex, [s, fn] { fn(*s); });
    }
  }

  bool wait_sessions_until(SteadyClock::time_point deadline) {
    std::unique_lock lock(sessions_mu);
    return sessions_cv.wait_until(lock, deadline, [&] { return sessions.empty(); });
  }

  std::size_t session_count() {
    std::lock_guard lock(sessions_mu);
    return sessions.size();
  }

  Awaitable<void> accept_loop();
  Awaitable<void> run_session(Socket socket);
  Awaitable<Next> serve_one(Session& s, Parser& parser, const PeerCertificate& peer);
  Awaitable<error_code> read_more(Session& s, Parser& parser, bool head_only);
  Awaitable<error_code> write_all(Session& s, const std::string& data);
  // Arguments by reference: GCC 12 may destroy temporaries of a co_await expression twice,
  // so callers pass named objects only.
  Awaitable<std::pair<WorkerOutcome, std::optional<Response>>> on_worker(
      Session& s, const std::shared_ptr<InFlight>& slot,
      const std::function<std::optional<Response>()>& work);
  Awaitable<void> linger(Session& s);
  void record(const Request& request, const std::string& route, int status,
              SteadyClock::time_point started, const RouteParams* params);
};

Awaitable<void> Server::Impl::accept_loop() {
  for (;;) {
    error_code ec;
    const Executor strand = asio::make_strand(ioc);  // named: see on_worker
    auto socket = co_await acceptor.async_accept(strand, asio::redirect_error(kUseAwaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      // E.g. out of file descriptors: pause rather than spin.
      log.warn("accept failed", {{"error", ec.message()}});
      Timer pause(acceptor.get_executor(), std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::redirect_error(kUseAwaitable, ec));
      continue;
    }
    auto ex = socket.get_executor();
    asio::co_spawn(ex, run_session(std::move(socket)), asio::detached);
  }
}

Awaitable<error_code> Server::Impl::read_more(Session& s, Parser& parser, bool head_only) {
  for (;;) {
    if (auto ec = feed(parser, s.buffer, head_only)) co_return ec;
    if (head_only ? parser.is_header_done() : parser.is_done()) co_return error_code{};
    error_code ec;
    std::size_t n = co_await s.stream.async_read_some(s.buffer.prepare(kReadChunk),
                                                      asio::redirect_error(kUseAwaitable, ec));
    s.buffer.commit(n);
    ec = s.outcome(ec);
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
      co_return parser.got_some() ? bhttp::error::partial_message : bhttp::error::end_of_stream;
    }
    if (ec) co_return ec;
  }
}

Awaitable<error_code> Server::Impl::write_all(Session& s, const std::string& data) {
  error_code ec;
  s.arm(settings.read_timeout);
  co_await asio::async_write(s.stream, asio::buffer(data), asio::redirect_error(kUseAwaitable, ec));
  co_return s.outcome(ec);
}

Awaitable<void> Server::Impl::run_session(Socket socket) {
  auto session = std::make_shared<Session>(std::move(socket), *tls);
  Registration registration(*this, session);
  Session& s = *session;
  error_code ec;
  auto ep = s.socket().remote_endpoint(ec);
  s.remote =
      ec ? std::string("unknown") : ep.address().to_string() + ":" + std::to_string(ep.port());
  try {
    s.arm(settings.read_timeout);
    co_await s.stream.async_handshake(asio::ssl::stream_base::server,
                                      asio::redirect_error(kUseAwaitable, ec));
    ec = s.outcome(ec);
    if (ec) {
      if (draining && ec == asio::error::operation_aborted) co_return;
      handshake_failures.inc();
      nlohmann::json fields = {{"remote", s.remote}, {"error", ec.message()}};
      if (auto why = tls::verify_failure(s.stream.native_handle()); !why.empty()) {
        fields["certificate"] = why;
      }
      log.info("TLS handshake failed", fields);
      co_return;
    }
    const PeerCertificate peer = tls::peer_certificate(s.stream.native_handle());
    bool first = true;
    Next next = Next::kClose;
    for (;;) {
      if (draining || s.forced) break;
      s.phase = Phase::kIdle;
      Parser parser;
      parser.header_limit(static_cast<std::uint32_t>(settings.header_limit));
      // No limit while reading the head: the route's limit is known only from the path.
      // (Not boost::none: Beast 1.74 compares a Content-Length with an empty optional as
      // "over the limit".)
      parser.body_limit(std::numeric_limits<std::uint64_t>::max());
      s.arm(first ? settings.read_timeout : settings.idle_timeout);
      ec = co_await read_more(s, parser, true);
      first = false;
      if (ec) {
        if (is_parse_error(ec)) {
          s.phase = Phase::kBusy;
          auto started = SteadyClock::now();
          Response r =
              ec == bhttp::error::header_limit
                  ? Response::problem(431, "MALFORMED", "",
                                      "The request head is larger than " +
                                          std::to_string(settings.header_limit) + " bytes.")
                  : Response::problem(400, "MALFORMED", "",
                                      "The request is not valid HTTP/1.1: " + ec.message() + ".");
          const std::string wire = serialize(r, 11, false, false, log);
          co_await write_all(s, wire);
          Request unparsed;
          unparsed.remote_address = s.remote;
          record(unparsed, "unmatched", r.status, started, nullptr);
        } else if (ec == beast::error::timeout) {
          log.debug("connection closed after a read timeout", {{"remote", s.remote}});
        } else if (!is_quiet_close(ec)) {
          log.info("reading a request failed", {{"remote", s.remote}, {"error", ec.message()}});
        }
        co_return;
      }
      s.phase = Phase::kBusy;
      next = co_await serve_one(s, parser, peer);
      if (next != Next::kKeepAlive) break;
    }
    if (next == Next::kClose && !s.forced) {
      s.phase = Phase::kClosing;
      s.arm(std::min<std::chrono::milliseconds>(settings.read_timeout, kShutdownTime));
      co_await s.stream.async_shutdown(asio::redirect_error(kUseAwaitable, ec));
    }
  } catch (const std::exception& e) {
    log.error("session failed", {{"remote", s.remote}, {"error", e.what()}});
  }
  s.socket().shutdown(asio::socket_base::shutdown_both, ec);
  s.socket().close(ec);
  s.deadline.cancel();
}

Awaitable<Next> Server::Impl::serve_one(Session& s, Parser& parser, const PeerCertificate& peer) {
  const auto started = SteadyClock::now();
  auto& head = parser.get();
  auto request = std::make_shared<Request>();
  Request& req = *request;
  req.method = std::string(to_std(head.method_string()));
  req.target = std::string(to_std(head.target()));
  auto q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos) req.query = req.target.substr(q + 1);
  for (const auto& field : head) {
    auto [it, inserted] =
        req.headers.emplace(lower(to_std(field.name_string())), std::string(to_std(field.value())));
    if (!inserted) it->second.append(", ").append(to_std(field.value()));
  }
  req.peer = peer;
  req.remote_address = s.remote;

  const RouteMatch match = router.match(req.method, req.path);
  const std::size_t limit = router.body_limit(req.path).value_or(settings.default_body_limit);
  bool body_unread = !parser.is_done();
  std::optional<Response> answer;
  std::shared_ptr<InFlight> slot;

  if (match.outcome != RouteMatch::Outcome::kMatched) {
    answer = router.dispatch(match, req);
  } else if (parser.content_length() && *parser.content_length() > limit) {
    answer = Response::problem(413, "TOO_LARGE", "",
                               "The body (" + std::to_string(*parser.content_length()) +
                                   " bytes) is larger than the " + std::to_string(limit) +
                                   " bytes accepted at " + req.path + ".");
  } else if (!(slot = acquire_slot())) {
    answer = Response::problem(
        503, "OVERLOADED", "",
        "The hub is handling as many requests as it can; retry with the same message_id.",
        std::nullopt, 1);
  } else if (match.route->head_check) {
    auto head_only = std::make_shared<Request>(req);
    const std::function<std::optional<Response>()> check = [this, match, head_only]() {
      return router.check_headers(match, *head_only);
    };
    auto checked = co_await on_worker(s, slot, check);
    if (checked.first == WorkerOutcome::kAborted) co_return Next::kAbort;
    if (checked.first == WorkerOutcome::kTimedOut) {
      answer =
          Response::problem(503, "UNAVAILABLE", "",
                            "Checking the request took too long; retry later.", std::nullopt, 1);
    } else if (checked.second) {
      answer = std::move(checked.second);
    }
  }

  if (!answer && body_unread) {
    if (const auto* expect = req.header("expect"); expect && iequals(*expect, "100-continue")) {
      const std::string interim = kContinue;
      if (co_await write_all(s, interim)) co_return Next::kAbort;
    }
    parser.body_limit(limit);
    s.arm(settings.read_timeout);
    error_code ec = co_await read_more(s, parser, false);
    if (ec == bhttp::error::body_limit) {
      answer = Response::problem(413, "TOO_LARGE", "",
                                 "The body is larger than the " + std::to_string(limit) +
                                     " bytes accepted at " + req.path + ".");
    } else if (ec) {
      log.info("reading a request body failed",
               {{"remote", s.remote}, {"route", match.label()}, {"error", ec.message()}});
      co_return Next::kAbort;
    } else {
      body_unread = false;
      req.body = std::move(parser.get().body());
    }
  }

  if (!answer) {
    const std::function<std::optional<Response>()> handle = [this, match,
                                                             request]() -> std::optional<Response> {
      return router.dispatch(match, *request);
    };
    auto handled = co_await on_worker(s, slot, handle);
    if (handled.first == WorkerOutcome::kAborted) co_return Next::kAbort;
    if (handled.first == WorkerOutcome::kTimedOut || !handled.second) {
      log.warn("handler timed out", {{"remote", s.remote},
                                     {"route", match.label()},
                                     {"timeout_ms", settings.handler_timeout.count()}});
      answer = Response::problem(
          503, "UNAVAILABLE", "",
          "The request took too long to handle; retry with the same message_id.", std::nullopt, 1);
    } else {
      answer = std::move(handled.second);
    }
  }

  const bool keep_alive = head.keep_alive() && !body_unread && !draining;
  const std::string wire =
      serialize(*answer, head.version(), keep_alive, req.method == "HEAD", log);
  error_code ec = co_await write_all(s, wire);
  slot.reset();
  record(req, match.label(), answer->status, started, &match.params);
  if (ec) co_return Next::kAbort;
  if (body_unread) {
    co_await linger(s);
    co_return Next::kAbort;
  }
  co_return keep_alive ? Next::kKeepAlive : Next::kClose;
}

Awaitable<std::pair<WorkerOutcome, std::optional<Response>>> Server::Impl::on_worker(
    Session& s, const std::shared_ptr<InFlight>& slot,
    const std::function<std::optional<Response>()>& work) {
  auto call = std::make_shared<WorkerCall>(s.stream.get_executor());
  call->timer.expires_after(settings.handler_timeout);
  s.call = call;
  asio::post(workers, [this, call, slot = slot, work = work]() mutable {
    std::optional<Response> result;
    try {
      result = work();
    } catch (const std::exception& e) {
      log.error("worker failed", {{"error", e.what()}});
      result =
          Response::problem(500, "INTERNAL", "", "The request could not be handled; retry later.");
    }
    slot.reset();
    asio::post(call->timer.get_executor(), [call, result = std::move(result)]() mutable {
      call->done = true;
      call->result = std::move(result);
      call->timer.cancel();
    });
  });
  error_code ec;
  co_await call->timer.async_wait(asio::redirect_error(kUseAwaitable, ec));
  s.call.reset();
  if (call->done) co_return std::make_pair(WorkerOutcome::kDone, std::move(call->result));
  co_return std::make_pair(s.forced ? WorkerOutcome::kAborted : WorkerOutcome::kTimedOut,
                           std::optional<Response>());
}

Awaitable<void> Server::Impl::linger(Session& s) {
  s.phase = Phase::kClosing;
  s.arm(std::min<std::chrono::milliseconds>(settings.read_timeout, kLingerTime));
  std::size_t total = 0;
  error_code ec;
  while (total < kLingerBytes && !s.forced) {
    s.buffer.clear();
    total += co_await s.stream.async_read_some(s.buffer.prepare(kReadChunk),
                                               asio::redirect_error(kUseAwaitable, ec));
    if (ec) break;
  }
}

void Server::Impl::record(const Request& request, const std::string& route, int status,
                          SteadyClock::time_point started, const RouteParams* params) {
  double seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
  metrics
      .counter("hub_http_requests_total", "HTTP requests answered, by route pattern and status",
               "route=\"" + label_value(route) + "\",code=\"" + std::to_string(status) + "\"")
      .inc();
  duration.observe(seconds);
  nlohmann::json fields = {{"method", request.method},
                           {"route", route},
                           {"status", status},
                           {"duration_ms", static_cast<std::int64_t>(seconds * 1000.0)},
                           {"remote", request.remote_address},
                           {"bytes_in", request.body.size()}};
  if (params) {
    if (auto it = params->find("message_id"); it != params->end())
      fields["message_id"] = it->second.substr(0, 200);
  }
  if (const auto* id = request.header("x-correlation-id"))
    fields["correlation_id"] = id->substr(0, 200);
  if (request.peer.present) fields["peer_subject"] = request.peer.subject;
  if (status >= 500) {
    log.warn("request", fields);
  } else {
    log.info("request", fields);
  }
}

Server::Server(ServerSettings settings, Router router, MetricsRegistry& metrics)
    : impl_(std::make_unique<Impl>(std::move(settings), std::move(router), metrics)) {}

Server::~Server() { stop(std::chrono::milliseconds(0)); }

int Server::port() const { return impl_->state == Impl::State::kRunning ? impl_->port : 0; }

Result<int> Server::start() {
  auto& d = *impl_;
  if (d.state != Impl::State::kNew)
    return make_error("HTTP_STATE", "the server was started before");
  const auto& st = d.settings;
  if (st.port < 0 || st.port > 65535) {
    return make_error("HTTP_LISTEN_FAILED", "port " + std::to_string(st.port) + " is out of range");
  }
  auto ctx = tls::make_server_context(st.cert_file, st.key_file, st.client_ca_file);
  if (!ctx) return ctx.error();
  d.tls.emplace(ctx->release());

  const std::string where = st.address + ":" + std::to_string(st.port);
  error_code ec;
  auto address = asio::ip::make_address(st.address, ec);
  if (ec)
    return make_error("HTTP_LISTEN_FAILED",
                      "invalid listen address " + st.address + ": " + ec.message());
  tcp::endpoint endpoint(address, static_cast<unsigned short>(st.port));
  d.acceptor.open(endpoint.protocol(), ec);
  if (!ec) d.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) d.acceptor.bind(endpoint, ec);
  if (!ec) d.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error_code ignored;
    d.acceptor.close(ignored);
    return make_error("HTTP_LISTEN_FAILED", "cannot listen on " + where + ": " + ec.message());
  }
  d.port = d.acceptor.local_endpoint(ec).port();

  asio::co_spawn(d.acceptor.get_executor(), d.accept_loop(), asio::detached);
  d.work_guard.emplace(d.ioc.get_executor());
  for (int i = 0; i < std::max(1, st.io_threads); ++i)
    d.io_threads.emplace_back([&d] { d.run_io(); });
  d.state = Impl::State::kRunning;
  d.log.info("listening", {{"address", st.address},
                           {"port", d.port},
                           {"client_certificates", !st.client_ca_file.empty()},
                           {"io_threads", st.io_threads},
                           {"worker_threads", st.worker_threads}});
  return d.port;
}

void Server::stop(std::chrono::milliseconds grace) {
  auto& d = *impl_;
  if (d.state != Impl::State::kRunning) return;
  const auto deadline = SteadyClock::now() + grace;
  d.draining = true;

  // Stop accepting first: from here on, new connections are refused by the kernel.
  std::promise<void> closed;
  asio::post(d.acceptor.get_executor(), [&d, &closed] {
    error_code ignored;
    d.acceptor.close(ignored);
    closed.set_value();
  });
  closed.get_future().wait();
  d.log.info("stopping", {{"grace_ms", grace.count()},
                          {"connections", d.session_count()},
                          {"in_flight", d.in_flight_now()}});

  // Idle keep-alive connections and handshakes end now; busy ones finish their request.
  d.for_each_session([](Session& s) {
    if (s.phase != Phase::kBusy) {
      error_code ignored;
      s.socket().cancel(ignored);
    }
  });
  if (!d.wait_sessions_until(deadline)) {
    d.log.warn("grace period over: closing the remaining connections",
               {{"connections", d.session_count()}});
    d.for_each_session([](Session& s) {
      s.forced = true;
      error_code ignored;
      s.socket().cancel(ignored);
      if (s.call) s.call->timer.cancel();
    });
    d.wait_sessions_until(SteadyClock::now() + kForcedCloseWait);
  }
  d.work_guard.reset();
  d.ioc.stop();
  for (auto& t : d.io_threads) t.join();
  d.io_threads.clear();
  // Handlers still running cannot be interrupted: wait for them; queued ones are dropped.
  d.workers.stop();
  d.workers.join();
  d.state = Impl::State::kStopped;
  d.log.info("stopped", {{"port", d.port}});
}

}  // namespace hub::http
