// The blocking HTTPS client: each call runs one coroutine on a private io_context, so that
// every step (resolve, connect, handshake, write, read) shares one deadline, which Beast's
// synchronous calls could not give. Like the server, it serializes the request by hand and
// feeds Beast's parser from plain TLS reads, to keep the instantiated code (and the compile
// time) small.

#include "hub/http/client.hpp"

#include <cctype>
#include <memory>
#include <optional>

// GCC 12 reports a false mismatched-new-delete on Asio's coroutine frames (GCC bug 109224).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "tls.hpp"

namespace hub::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using Executor = asio::io_context::executor_type;
template <class T>
using Awaitable = asio::awaitable<T, Executor>;
constexpr asio::use_awaitable_t<Executor> kUseAwaitable;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Resolver = asio::ip::basic_resolver<tcp, Executor>;
using Timer = asio::basic_waitable_timer<std::chrono::steady_clock,
                                         asio::wait_traits<std::chrono::steady_clock>, Executor>;
using Parser = bhttp::response_parser<bhttp::string_body>;
using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t kReadChunk = 16 * 1024;

std::string_view to_std(beast::string_view s) { return {s.data(), s.size()}; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_tls_error(const error_code& ec) { return ec.category() == asio::error::get_ssl_category(); }

bool safe_text(std::string_view s) {
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

struct Exchange {
  Exchange(const ClientRequest& r, asio::io_context& ioc, asio::ssl::context& tls, std::string w)
      : request(r), stream(ioc, tls), resolver(ioc), deadline(ioc), where(std::move(w)) {}

  const ClientRequest& request;
  asio::ssl::stream<Socket> stream;
  Resolver resolver;
  // One deadline for the whole exchange: when it passes, whatever is pending is cancelled.
  Timer deadline;
  bool timed_out = false;
  beast::flat_buffer buffer;
  std::string where;  // host:port, for messages
  std::optional<Result<ClientResponse>> out;

  void fail(const char* code, std::string message) { out = make_error(code, std::move(message)); }
  std::string within() const { return std::to_string(request.timeout.count()) + " ms"; }
  error_code outcome(const error_code& ec) const {
    return ec == asio::error::operation_aborted && timed_out ? error_code(beast::error::timeout)
                                                             : ec;
  }
};

std::string serialize(const ClientRequest& r, const std::string& bare_host) {
  std::string out;
  out.reserve(256 + r.body.size());
  out.append(r.method).append(" ").append(r.target).append(" HTTP/1.1\r\n");
  bool has_host = false;
  for (const auto& [name, value] : r.headers) {
    auto key = lower(name);
    if (key == "content-length" || key == "transfer-encoding" || key == "connection") continue;
    if (key == "host") has_host = true;
    out.append(name).append(": ").append(value).append("\r\n");
  }
  if (!has_host) {
    bool v6 = bare_host.find(':') != std::string::npos;
    out.append("Host: ").append(v6 ? "[" + bare_host + "]" : bare_host).append(":");
    out.append(std::to_string(r.port)).append("\r\n");
  }
  bool body_expected =
      !r.body.empty() || r.method == "POST" || r.method == "PUT" || r.method == "PATCH";
  if (body_expected)
    out.append("Content-Length: ").append(std::to_string(r.body.size())).append("\r\n");
  out.append("Connection: close\r\n\r\n");
  out.append(r.body);
  return out;
}

error_code feed(Parser& parser, beast::flat_buffer& buffer) {
  error_code ec;
  while (buffer.size() > 0 && !parser.is_done()) {
    auto used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == bhttp::error::need_more) return {};
    if (ec) return ec;
    if (used == 0) break;
  }
  return {};
}

// Reads one response (interim 1xx answers are parsed like any other and skipped by the caller).
Awaitable<error_code> read_response(Exchange& x, Parser& parser) {
  for (;;) {
    if (auto ec = feed(parser, x.buffer)) co_return ec;
    if (parser.is_done()) co_return error_code{};
    error_code ec;
    std::size_t n = co_await x.stream.async_read_some(x.buffer.prepare(kReadChunk),
                                                      asio::redirect_error(kUseAwaitable, ec));
    x.buffer.commit(n);
    ec = x.outcome(ec);
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
      // A body delimited by the end of the connection ends here; anything else is cut short.
      if (!parser.got_some()) co_return bhttp::error::end_of_stream;
      parser.put_eof(ec);
      co_return ec;
    }
    if (ec) co_return ec;
  }
}

Awaitable<void> run_exchange(Exchange& x) {
  const ClientRequest& r = x.request;
  if (!tls::expect_server_identity(x.stream.native_handle(), r.host)) {
    x.fail("HTTP_TLS_FAILED",
           "cannot set the expected server name " + r.host + ": " + tls::drain_errors());
    co_return;
  }
  // Every way out of this coroutine disarms the deadline, so that run() returns at once.
  struct Disarm {
    Timer& timer;
    ~Disarm() { timer.cancel(); }
  } disarm{x.deadline};
  x.deadline.expires_after(r.timeout);
  x.deadline.async_wait([&x](const error_code& ec) {
    if (ec) return;
    x.timed_out = true;
    error_code ignored;
    x.resolver.cancel();
    x.stream.next_layer().cancel(ignored);
  });

  error_code ec;
  std::vector<tcp::endpoint> endpoints;
  std::string bare = r.host;
  if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']')
    bare = bare.substr(1, bare.size() - 2);
  auto ip = asio::ip::make_address(bare, ec);
  if (!ec) {
    endpoints.emplace_back(ip, static_cast<unsigned short>(r.port));
  } else {
    const std::string service = std::to_string(r.port);
    auto results =
        co_await x.resolver.async_resolve(bare, service, asio::redirect_error(kUseAwaitable, ec));
    ec = x.outcome(ec);
    if (ec == beast::error::timeout) {
      x.fail("HTTP_TIMEOUT", "resolving " + x.where + " took longer than " + x.within());
      co_return;
    }
    if (ec) {
      x.fail("HTTP_CONNECT_FAILED", "cannot resolve " + x.where + ": " + ec.message());
      co_return;
    }
    for (const auto& e : results) endpoints.push_back(e.endpoint());
  }

  auto& socket = x.stream.next_layer();
  ec = asio::error::host_not_found;
  for (const auto& endpoint : endpoints) {
    error_code ignored;
    socket.close(ignored);
    co_await socket.async_connect(endpoint, asio::redirect_error(kUseAwaitable, ec));
    ec = x.outcome(ec);
    if (!ec || ec == beast::error::timeout) break;
  }
  if (ec == beast::error::timeout) {
    x.fail("HTTP_TIMEOUT", "connecting to " + x.where + " took longer than " + x.within());
    co_return;
  }
  if (ec) {
    x.fail("HTTP_CONNECT_FAILED", "cannot connect to " + x.where + ": " + ec.message());
    co_return;
  }

  co_await x.stream.async_handshake(asio::ssl::stream_base::client,
                                    asio::redirect_error(kUseAwaitable, ec));
  ec = x.outcome(ec);
  if (ec == beast::error::timeout) {
    x.fail("HTTP_TIMEOUT",
           "the TLS handshake with " + x.where + " did not finish within " + x.within());
    co_return;
  }
  if (ec) {
    std::string why = ec.message();
    if (auto v = tls::verify_failure(x.stream.native_handle()); !v.empty())
      why += " (server certificate: " + v + ")";
    x.fail("HTTP_TLS_FAILED", "the TLS handshake with " + x.where + " failed: " + why);
    co_return;
  }

  const std::string wire = serialize(r, bare);
  co_await asio::async_write(x.stream, asio::buffer(wire), asio::redirect_error(kUseAwaitable, ec));
  // A server may answer before the whole body is sent (413) and stop reading: try to read
  // its answer before reporting the write error.
  const error_code write_ec = x.outcome(ec);
  if (write_ec == beast::error::timeout) {
    x.fail("HTTP_TIMEOUT",
           "sending the request to " + x.where + " did not finish within " + x.within());
    co_return;
  }

  for (;;) {
    Parser parser;
    parser.body_limit(r.response_body_limit);
    if (r.method == "HEAD") parser.skip(true);
    ec = co_await read_response(x, parser);
    if (ec == beast::error::timeout) {
      x.fail("HTTP_TIMEOUT", "no answer from " + x.where + " within " + x.within());
      co_return;
    }
    if (ec == bhttp::error::body_limit) {
      x.fail("HTTP_IO_FAILED", "the answer from " + x.where + " is larger than " +
                                   std::to_string(r.response_body_limit) + " bytes");
      co_return;
    }
    if (ec) {
      if (is_tls_error(ec) || is_tls_error(write_ec)) {
        // With TLS 1.3 a refused client certificate shows here, after the handshake.
        x.fail("HTTP_TLS_FAILED",
               x.where + " ended the TLS session: " + (is_tls_error(ec) ? ec : write_ec).message());
      } else if (write_ec) {
        x.fail("HTTP_IO_FAILED",
               "sending the request to " + x.where + " failed: " + write_ec.message());
      } else {
        x.fail("HTTP_IO_FAILED", "reading the answer from " + x.where + " failed: " + ec.message());
      }
      co_return;
    }
    auto& res = parser.get();
    int status = static_cast<int>(res.result_int());
    if (status >= 100 && status < 200) continue;  // interim answers (100 Continue)
    ClientResponse out;
    out.status = status;
    for (const auto& field : res) {
      auto [it, inserted] = out.headers.emplace(lower(to_std(field.name_string())),
                                                std::string(to_std(field.value())));
      if (!inserted) it->second.append(", ").append(to_std(field.value()));
    }
    out.body = std::move(res.body());
    x.out = std::move(out);
    break;
  }
  // One request per connection (Connection: close): no TLS close_notify round trip.
  error_code ignored;
  socket.close(ignored);
}

}  // namespace

Result<ClientResponse> HttpsClient::request(const ClientRequest& request) {
  const std::string where = request.host + ":" + std::to_string(request.port);
  if (request.host.empty() || request.port <= 0 || request.port > 65535) {
    return make_error("HTTP_CONNECT_FAILED", "invalid address " + where);
  }
  if (request.target.empty() || request.target.front() != '/' || !safe_text(request.target) ||
      request.method.empty() || !safe_text(request.method) ||
      request.method.find(' ') != std::string::npos) {
    return make_error("HTTP_IO_FAILED", "invalid method or target for a request to " + where);
  }
  for (const auto& [name, value] : request.headers) {
    if (name.empty() || !safe_text(name) || !safe_text(value) ||
        name.find(':') != std::string::npos) {
      return make_error("HTTP_IO_FAILED",
                        "invalid header field '" + name + "' for a request to " + where);
    }
  }
  auto ctx =
      tls::make_client_context(request.ca_file, request.client_cert_file, request.client_key_file);
  if (!ctx)
    return make_error("HTTP_TLS_FAILED",
                      "cannot prepare TLS for " + where + ": " + ctx.error().message);

  asio::io_context ioc(1);
  asio::ssl::context tls(ctx->release());
  Exchange x(request, ioc, tls, where);
  asio::co_spawn(ioc, run_exchange(x), [&x](std::exception_ptr e) {
    if (!e || x.out) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      x.fail("HTTP_IO_FAILED", "the exchange with " + x.where + " failed: " + ex.what());
    }
  });
  ioc.run();
  if (!x.out)
    return make_error("HTTP_IO_FAILED", "the exchange with " + where + " ended without an answer");
  return std::move(*x.out);
}

}  // namespace hub::http
