#include "hub/http/client.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "hub/testing/test_env.hpp"
#include "test_pki.hpp"

namespace hub::http {
namespace {

using namespace std::chrono_literals;

// A TCP socket that listens and never accepts: connects succeed (the kernel completes them),
// nothing is ever answered.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 8) != 0) {
      throw std::runtime_error("cannot listen");
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

ClientRequest to_local(int port) {
  ClientRequest r;
  r.host = "127.0.0.1";
  r.port = port;
  r.ca_file = testing::pki().ca_cert;
  return r;
}

TEST(HttpsClientTest, TimesOutAgainstAServerThatNeverAnswers) {
  SilentListener silent;
  auto req = to_local(silent.port());
  req.timeout = 300ms;
  auto started = std::chrono::steady_clock::now();
  auto r = HttpsClient::request(req);
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "HTTP_TIMEOUT");
  EXPECT_NE(r.error().message.find("127.0.0.1:" + std::to_string(silent.port())), std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("handshake"), std::string::npos) << r.error().message;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 3s);
}

TEST(HttpsClientTest, ReportsARefusedConnectionWithHostAndPort) {
  int port = hub::testing::free_tcp_port();
  auto r = HttpsClient::request(to_local(port));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "HTTP_CONNECT_FAILED");
  EXPECT_NE(r.error().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << r.error().message;
}

TEST(HttpsClientTest, ReportsAnUnreadableCaFile) {
  auto req = to_local(443);
  req.ca_file = "/nonexistent/ca.pem";
  auto r = HttpsClient::request(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "HTTP_TLS_FAILED");
  EXPECT_NE(r.error().message.find("/nonexistent/ca.pem"), std::string::npos) << r.error().message;
}

TEST(HttpsClientTest, RefusesHeaderInjection) {
  auto req = to_local(443);
  req.headers.emplace_back("X-Test", "a\r\nInjected: yes");
  auto r = HttpsClient::request(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "HTTP_IO_FAILED");
}

}  // namespace
}  // namespace hub::http
