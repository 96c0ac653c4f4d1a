#include "gxm/https_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <optional>

namespace gxm {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr uint64_t kAnswerLimit = 64ull << 20;  // a receipt for 5,000 trades fits easily

Status use_files(asio::ssl::context& ctx, const std::string& cert, const std::string& key) {
  boost::system::error_code ec;
  ctx.use_certificate_chain_file(cert, ec);
  if (ec) return make_error("TLS_CONFIG", "cannot use certificate " + cert + ": " + ec.message());
  ctx.use_private_key_file(key, asio::ssl::context::pem, ec);
  if (ec) return make_error("TLS_CONFIG", "cannot use private key " + key + ": " + ec.message());
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    return make_error("TLS_CONFIG", "the key " + key + " does not match the certificate " + cert);
  }
  return ok_status();
}

}  // namespace

Result<Endpoint> parse_host_port(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 >= text.size()) {
    return make_error("BAD_ADDRESS", "'" + std::string(text) + "': expected HOST:PORT");
  }
  Endpoint e;
  e.host = std::string(text.substr(0, colon));
  if (e.host.size() > 2 && e.host.front() == '[' && e.host.back() == ']') {
    e.host = e.host.substr(1, e.host.size() - 2);
  }
  unsigned long port = 0;
  for (char c : text.substr(colon + 1)) {
    if (c < '0' || c > '9') return make_error("BAD_ADDRESS", "port must be a number");
    port = port * 10 + static_cast<unsigned long>(c - '0');
    if (port > 65535) return make_error("BAD_ADDRESS", "port must be 0..65535");
  }
  e.port = static_cast<uint16_t>(port);
  return e;
}

Result<Endpoint> parse_https_url(std::string_view url) {
  constexpr std::string_view kScheme = "https://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return make_error("BAD_URL", "'" + std::string(url) + "': the hub URL must be https://HOST:PORT");
  }
  auto rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) {
    return make_error("BAD_URL", "the hub URL takes no path (paths are the spec's)");
  }
  if (rest.find(':') == std::string_view::npos) return Endpoint{std::string(rest), 443};
  return parse_host_port(rest);
}

Result<TlsContext> make_client_tls(const std::string& ca_file, const std::string& cert_file,
                                   const std::string& key_file) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  ctx->load_verify_file(ca_file, ec);
  if (ec) return make_error("TLS_CONFIG", "cannot load CA " + ca_file + ": " + ec.message());
  ctx->set_verify_mode(asio::ssl::verify_peer);
  if (auto st = use_files(*ctx, cert_file, key_file); !st) return st.error();
  return ctx;
}

Result<TlsContext> make_server_tls(const std::string& cert_file, const std::string& key_file,
                                   const std::string& client_ca_file) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  if (auto st = use_files(*ctx, cert_file, key_file); !st) return st.error();
  if (!client_ca_file.empty()) {
    boost::system::error_code ec;
    ctx->load_verify_file(client_ca_file, ec);
    if (ec) return make_error("TLS_CONFIG", "cannot load CA " + client_ca_file + ": " + ec.message());
    ctx->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  }
  return ctx;
}

struct HttpsConnection::Impl {
  TlsContext tls;
  Endpoint endpoint;
  std::chrono::milliseconds timeout;
  asio::io_context ioc;
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream;
  beast::flat_buffer buffer;

  // Runs one asynchronous step to completion on this thread, so that tcp_stream's
  // deadline applies (Beast's synchronous calls have no timeout).
  template <class Start>
  boost::system::error_code run(Start&& start) {
    boost::system::error_code result = asio::error::would_block;
    start([&result](boost::system::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  Error transport(const char* step, const boost::system::error_code& ec) {
    stream.reset();
    std::string what = std::string(step) + " " + endpoint.host + ":" +
                       std::to_string(endpoint.port) + ": " + ec.message();
    if (ec.category() == asio::error::get_ssl_category() &&
        ERR_GET_REASON(static_cast<unsigned long>(ec.value())) ==
            SSL_R_CERTIFICATE_VERIFY_FAILED) {
      return make_error("TLS_VERIFY", what + " (the hub's certificate is not trusted by --ca "
                                             "or does not name " + endpoint.host + ")");
    }
    return make_error("TRANSPORT", what);
  }

  Status connect() {
    stream.emplace(ioc, *tls);
    SSL* ssl = stream->native_handle();
    boost::system::error_code ec;
    (void)asio::ip::make_address(endpoint.host, ec);  // only: is the host an IP address?
    if (ec) {
      SSL_set_tlsext_host_name(ssl, endpoint.host.c_str());
      SSL_set1_host(ssl, endpoint.host.c_str());
    } else {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), endpoint.host.c_str());
    }
    tcp::resolver resolver(ioc);
    auto addrs = resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
    if (ec) return transport("resolve", ec);
    auto& lowest = beast::get_lowest_layer(*stream);
    lowest.expires_after(timeout);
    ec = run([&](auto h) { lowest.async_connect(addrs, [h](auto e, auto&&) mutable { h(e); }); });
    if (ec) return transport("connect", ec);
    lowest.socket().set_option(tcp::no_delay(true));
    lowest.expires_after(timeout);
    ec = run([&](auto h) { stream->async_handshake(asio::ssl::stream_base::client, h); });
    if (ec) return transport("TLS handshake with", ec);
    buffer.clear();
    return ok_status();
  }
};

HttpsConnection::HttpsConnection(TlsContext tls, Endpoint endpoint,
                                 std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->tls = std::move(tls);
  impl_->endpoint = std::move(endpoint);
  impl_->timeout = timeout;
}

HttpsConnection::~HttpsConnection() { close(); }

bool HttpsConnection::is_open() const { return impl_->stream.has_value(); }

void HttpsConnection::close() {
  if (impl_->stream) {
    boost::system::error_code ec;
    beast::get_lowest_layer(*impl_->stream).socket().close(ec);
    impl_->stream.reset();
  }
}

Result<HttpAnswer> HttpsConnection::send(const std::string& method, const std::string& target,
                                         const HeaderList& headers, const std::string& body) {
  auto& d = *impl_;
  if (!d.stream) {
    if (auto st = d.connect(); !st) return st.error();
  }
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, d.endpoint.host + ":" + std::to_string(d.endpoint.port));
  req.set(http::field::user_agent, "gxm-sim/1");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.keep_alive(true);
  if (!body.empty() || method == "POST") req.body() = body;
  req.prepare_payload();

  auto& lowest = beast::get_lowest_layer(*d.stream);
  lowest.expires_after(d.timeout);
  auto ec = d.run([&](auto h) { http::async_write(*d.stream, req, h); });
  if (ec) return d.transport("send to", ec);

  http::response_parser<http::string_body> parser;
  parser.body_limit(kAnswerLimit);
  lowest.expires_after(d.timeout);
  ec = d.run([&](auto h) { http::async_read(*d.stream, d.buffer, parser, h); });
  if (ec) return d.transport("read from", ec);

  auto res = parser.release();
  HttpAnswer out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(f.value());
  }
  out.body = std::move(res.body());
  if (!res.keep_alive()) close();
  return out;
}

}  // namespace gxm
