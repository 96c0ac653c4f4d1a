#include "gxm/callback_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <mutex>
#include <set>
#include <thread>

namespace gxm {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
constexpr auto kIdle = std::chrono::seconds(30);
constexpr uint64_t kBodyLimit = 16ull << 20;
}  // namespace

struct CallbackServer::Impl : std::enable_shared_from_this<CallbackServer::Impl> {
  CallbackConfig config;
  ReceiptVerifier verifier;
  std::function<void(const CallbackEvent&)> on_event;
  TlsContext tls;
  asio::io_context ioc;
  std::optional<tcp::acceptor> acceptor;
  std::thread thread;

  mutable std::mutex mu;
  CallbackStats stats;
  std::set<std::string> seen_hub_refs;

  Impl(CallbackConfig c, ReceiptVerifier v, std::function<void(const CallbackEvent&)> f)
      : config(std::move(c)), verifier(std::move(v)), on_event(std::move(f)) {}

  // The answer to one delivery: a pure function of the request and what was seen before.
  http::response<http::string_body> handle(const http::request<http::string_body>& req) {
    CallbackEvent ev;
    ev.target = std::string(req.target());
    {
      std::lock_guard lock(mu);
      ev.delivery = ++stats.deliveries;
      if (ev.delivery <= static_cast<uint64_t>(config.fail_first)) {
        ev.failed_on_purpose = true;
        ++stats.failed_on_purpose;
      }
    }
    int status = 200;
    std::string body = R"({"ok":true})";
    if (ev.failed_on_purpose) {
      status = 500;
      body = R"x({"error":"failing the first deliveries on purpose (--callback-fail-first)"})x";
    } else if (req.method() != http::verb::post) {
      status = 405;
      ev.error = "method " + std::string(req.method_string()) + " (callbacks are POST)";
    } else {
      auto r = verifier.verify(req.body());
      if (!r) {
        status = 400;
        ev.error = r.error().code + ": " + r.error().message;
      } else {
        std::lock_guard lock(mu);
        ev.duplicate = !seen_hub_refs.insert(r->hub_ref).second;
        ev.receipt = std::move(*r);
        ++(ev.duplicate ? stats.duplicates : stats.verified);
      }
    }
    if (!ev.error.empty()) {
      std::lock_guard lock(mu);
      ++stats.refused;
      body = nlohmann::json{{"error", ev.error}}.dump();
    }
    ev.answered = status;
    if (on_event) on_event(ev);
    http::response<http::string_body> res{static_cast<http::status>(status), req.version()};
    res.set(http::field::content_type, "application/json");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
  }
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<CallbackServer::Impl> server)
      : stream_(std::move(socket), *server->tls), server_(std::move(server)) {}

  void start() {
    beast::get_lowest_layer(stream_).expires_after(kIdle);
    stream_.async_handshake(asio::ssl::stream_base::server,
                            [self = shared_from_this()](beast::error_code ec) {
                              if (!ec) self->read();
                            });
  }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(kBodyLimit);
    beast::get_lowest_layer(stream_).expires_after(kIdle);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->close();
                       self->respond();
                     });
  }

  void respond() {
    auto res = std::make_shared<http::response<http::string_body>>(
        server_->handle(parser_->get()));
    beast::get_lowest_layer(stream_).expires_after(kIdle);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
                        if (ec || !res->keep_alive()) return self->close();
                        self->read();
                      });
  }

  void close() {
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(stream_).socket().close(ec);
  }

  beast::ssl_stream<beast::tcp_stream> stream_;
  std::shared_ptr<CallbackServer::Impl> server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

void accept_loop(const std::shared_ptr<CallbackServer::Impl>& impl) {
  impl->acceptor->async_accept(asio::make_strand(impl->ioc),
                               [impl](beast::error_code ec, tcp::socket socket) {
                                 if (ec == asio::error::operation_aborted) return;
                                 if (!ec) std::make_shared<Session>(std::move(socket), impl)->start();
                                 if (impl->acceptor && impl->acceptor->is_open()) accept_loop(impl);
                               });
}

}  // namespace

CallbackServer::CallbackServer(CallbackConfig config, ReceiptVerifier verifier,
                               std::function<void(const CallbackEvent&)> on_event)
    : impl_(std::make_shared<Impl>(std::move(config), std::move(verifier), std::move(on_event))) {}

CallbackServer::~CallbackServer() { stop(); }

Result<uint16_t> CallbackServer::start() {
  auto tls = make_server_tls(impl_->config.cert_file, impl_->config.key_file,
                             impl_->config.client_ca_file);
  if (!tls) return tls.error();
  impl_->tls = *tls;
  beast::error_code ec;
  auto addr = asio::ip::make_address(impl_->config.listen.host, ec);
  if (ec) return make_error("BAD_ADDRESS", "callback listen address must be an IP address");
  tcp::endpoint ep(addr, impl_->config.listen.port);
  auto& acc = impl_->acceptor.emplace(impl_->ioc);
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    impl_->acceptor.reset();
    return make_error("LISTEN", "cannot listen on " + impl_->config.listen.host + ":" +
                                    std::to_string(impl_->config.listen.port) + ": " + ec.message());
  }
  uint16_t port = acc.local_endpoint().port();
  accept_loop(impl_);
  impl_->thread = std::thread([impl = impl_] { impl->ioc.run(); });
  return port;
}

void CallbackServer::stop() {
  if (!impl_->thread.joinable()) return;
  asio::post(impl_->ioc, [impl = impl_] {
    beast::error_code ec;
    if (impl->acceptor) impl->acceptor->close(ec);
  });
  impl_->ioc.stop();
  impl_->thread.join();
}

CallbackStats CallbackServer::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

}  // namespace gxm
