#include "test_pki.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <stdexcept>

#include "hub/testing/test_env.hpp"

namespace hub::http::testing {
namespace {

using hub::testing::run_command;

void must(const std::vector<std::string>& argv) {
  auto r = run_command(argv);
  if (r.exit_code != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += a + " ";
    throw std::runtime_error("command failed: " + cmd + "\n" + r.output);
  }
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

constexpr const char* kConfig = R"([req]
distinguished_name = dn
[dn]
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
[wrong_name]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:elsewhere.example
[client]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
)";

struct PkiHolder {
  hub::testing::TempDir dir;
  TestPki pki;

  PkiHolder() {
    const auto d = dir.path();
    auto p = [&](const std::string& name) { return (d / name).string(); };
    hub::testing::write_file(d / "openssl.cnf", kConfig);
    const std::string cnf = p("openssl.cnf");
    auto make_ca = [&](const std::string& name, const std::string& cn) {
      must({"openssl",
            "req",
            "-x509",
            "-new",
            "-nodes",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-keyout",
            p(name + ".key"),
            "-out",
            p(name + ".crt"),
            "-days",
            "2",
            "-subj",
            "/CN=" + cn,
            "-config",
            cnf,
            "-extensions",
            "v3_ca"});
    };
    int serial = 0x1000;
    auto make_leaf = [&](const std::string& name, const std::string& ca, const std::string& subject,
                         const std::string& section) {
      // One command per certificate: OpenSSL 3's req signs with -CA directly.
      must({"openssl",     "req",
            "-x509",       "-new",
            "-nodes",      "-utf8",
            "-newkey",     "ec",
            "-pkeyopt",    "ec_paramgen_curve:P-256",
            "-keyout",     p(name + ".key"),
            "-out",        p(name + ".crt"),
            "-subj",       subject,
            "-days",       "2",
            "-config",     cnf,
            "-extensions", section,
            "-CA",         p(ca + ".crt"),
            "-CAkey",      p(ca + ".key"),
            "-set_serial", std::to_string(++serial)});
    };
    make_ca("ca", "Test Hub CA");
    make_ca("other-ca", "Unrelated CA");
    make_leaf("server", "ca", "/CN=hub.test", "server");
    make_leaf("wrong-name", "ca", "/CN=elsewhere.example", "wrong_name");
    make_leaf("client", "ca", "/C=JP/O=GXマーケット株式会社/CN=gx-market-client", "client");
    make_leaf("other-client", "other-ca", "/CN=gx-market-client", "client");

    pki.dir = d;
    pki.ca_cert = p("ca.crt");
    pki.server_cert = p("server.crt");
    pki.server_key = p("server.key");
    pki.wrong_name_cert = p("wrong-name.crt");
    pki.wrong_name_key = p("wrong-name.key");
    pki.client_cert = p("client.crt");
    pki.client_key = p("client.key");
    pki.other_ca_cert = p("other-ca.crt");
    pki.other_client_cert = p("other-client.crt");
    pki.other_client_key = p("other-client.key");

    auto fp = run_command(
        {"openssl", "x509", "-in", pki.client_cert, "-noout", "-fingerprint", "-sha256"});
    // "sha256 Fingerprint=AB:CD:..."
    std::string hex = trim(fp.output.substr(fp.output.find('=') + 1));
    std::erase(hex, ':');
    std::transform(hex.begin(), hex.end(), hex.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    pki.client_fingerprint = hex;
    auto subj = run_command({"openssl", "x509", "-in", pki.client_cert, "-noout", "-subject",
                             "-nameopt", "RFC2253,-esc_msb"});
    // "subject=CN=...,O=...,C=JP"
    pki.client_subject = trim(subj.output.substr(subj.output.find('=') + 1));
  }
};

}  // namespace

const TestPki& pki() {
  static PkiHolder holder;
  return holder.pki;
}

std::unique_ptr<RawTlsClient> RawTlsClient::connect(int port, const Options& o,
                                                    std::string* error) {
  std::unique_ptr<RawTlsClient> c(new RawTlsClient());
  auto fail = [&](const std::string& what) {
    std::string detail;
    while (unsigned long e = ERR_get_error()) {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof buf);
      detail += std::string(" ") + buf;
    }
    if (error) *error = what + detail;
    return nullptr;
  };
  c->ctx_ = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(c->ctx_, o.min_version);
  SSL_CTX_set_max_proto_version(c->ctx_, o.max_version);
  if (o.min_version < TLS1_2_VERSION) SSL_CTX_set_security_level(c->ctx_, 0);
  if (!o.cipher_list.empty() && SSL_CTX_set_cipher_list(c->ctx_, o.cipher_list.c_str()) != 1) {
    return fail("cipher list");
  }
  if (!o.ca_file.empty()) {
    SSL_CTX_load_verify_locations(c->ctx_, o.ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(c->ctx_, SSL_VERIFY_PEER, nullptr);
  }
  if (!o.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(c->ctx_, o.cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(c->ctx_, o.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      return fail("client certificate");
    }
  }
  c->fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{10, 0};
  ::setsockopt(c->fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(c->fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(c->fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return fail("connect");
  c->ssl_ = SSL_new(c->ctx_);
  SSL_set_fd(c->ssl_, c->fd_);
  if (SSL_connect(c->ssl_) != 1) return fail("handshake");
  return c;
}

RawTlsClient::~RawTlsClient() {
  if (ssl_) SSL_free(ssl_);
  if (ctx_) SSL_CTX_free(ctx_);
  if (fd_ >= 0) ::close(fd_);
}

bool RawTlsClient::send(std::string_view data) {
  while (!data.empty()) {
    int n = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool RawTlsClient::fill() {
  char buf[16384];
  int n = SSL_read(ssl_, buf, sizeof buf);
  if (n <= 0) return false;
  pending_.append(buf, static_cast<std::size_t>(n));
  return true;
}

std::optional<RawResponse> RawTlsClient::read_response() {
  auto r = read_head_only();
  if (!r) return r;
  std::size_t length =
      r->headers.count("content-length") ? std::stoul(r->headers["content-length"]) : 0;
  while (pending_.size() < length) {
    if (!fill()) return std::nullopt;
  }
  r->body = pending_.substr(0, length);
  pending_.erase(0, length);
  return r;
}

std::optional<RawResponse> RawTlsClient::read_head_only() {
  std::size_t end;
  while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) return std::nullopt;
  }
  std::string head = pending_.substr(0, end);
  pending_.erase(0, end + 4);
  RawResponse r;
  auto line_end = head.find("\r\n");
  std::string status_line = head.substr(0, line_end);
  r.status = std::stoi(status_line.substr(9, 3));
  std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    auto next = head.find("\r\n", pos);
    if (next == std::string::npos) next = head.size();
    std::string line = head.substr(pos, next - pos);
    auto colon = line.find(':');
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    r.headers[name] = value;
    pos = next + 2;
  }
  return r;
}

bool RawTlsClient::wait_closed() {
  char buf[4096];
  for (;;) {
    int n = SSL_read(ssl_, buf, sizeof buf);
    if (n > 0) continue;
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_ZERO_RETURN) return true;
    if (err == SSL_ERROR_WANT_READ) return false;  // the receive timeout passed
    if (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    return true;
  }
}

}  // namespace hub::http::testing
