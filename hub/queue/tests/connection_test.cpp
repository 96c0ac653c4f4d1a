#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "hub/queue/amqp_connection.hpp"
#include "hub/queue/errors.hpp"
#include "hub/testing/test_env.hpp"
#include "mq_test_support.hpp"

namespace hub::queue {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

// A TCP listener that accepts nothing and says nothing: the kernel completes the
// handshake from the backlog, so the client waits for an AMQP reply that never comes.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 4) != 0) {
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

// These two need no broker: they run with the unit tests.
TEST(AmqpConnectTest, ClosedPortFailsWithinTheTimeoutAsUnavailableNamingHostAndPort) {
  AmqpSettings s;
  s.port = hub::testing::free_tcp_port();
  s.user = "nobody";
  s.connect_timeout = std::chrono::seconds(2);
  auto start = Clock::now();
  auto c = AmqpConnection::open(s);
  auto elapsed = Clock::now() - start;
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, kMqUnavailable);
  EXPECT_THAT(c.error().message, HasSubstr("127.0.0.1:" + std::to_string(s.port)));
  EXPECT_LT(elapsed, s.connect_timeout);
  EXPECT_TRUE(is_retryable(c.error()));
}

TEST(AmqpConnectTest, SilentServerFailsAfterTheHandshakeTimeout) {
  SilentListener silent;
  AmqpSettings s;
  s.port = silent.port();
  s.user = "nobody";
  s.rpc_timeout = std::chrono::milliseconds(700);
  auto start = Clock::now();
  auto c = AmqpConnection::open(s);
  auto elapsed = Clock::now() - start;
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, kMqTimeout);
  EXPECT_THAT(c.error().message, HasSubstr("127.0.0.1:" + std::to_string(s.port)));
  EXPECT_GE(elapsed, std::chrono::milliseconds(600));
  EXPECT_LT(elapsed, std::chrono::seconds(3));
}

TEST(ConnectionMqTest, ReportsTheServerFromItsProperties) {
  auto c = AmqpConnection::open(mqtest::broker_settings());
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ((*c)->server_product(), "RabbitMQ");
  EXPECT_THAT((*c)->server_version(), ::testing::StartsWith("3."));
  EXPECT_TRUE((*c)->healthy());
}

TEST(ConnectionMqTest, WrongPasswordIsAccessRefused) {
  auto s = mqtest::broker_settings();
  s.password = "not-the-password";
  auto c = AmqpConnection::open(s);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, kMqAccessRefused);
  EXPECT_THAT(c.error().message, HasSubstr(s.user));
  EXPECT_FALSE(is_retryable(c.error()));
}

TEST(ConnectionMqTest, MissingQueueIsNotFoundAndTheConnectionStaysUsable) {
  auto c = AmqpConnection::open(mqtest::broker_settings());
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  const std::string missing = mqtest::unique_name("t.missing");
  auto depth = (*c)->queue_depth(missing);
  ASSERT_FALSE(depth.ok());
  EXPECT_EQ(depth.error().code, kMqNotFound);
  EXPECT_THAT(depth.error().message, HasSubstr(missing));

  // The 404 closed the channel; the next call works on the reopened one.
  QueueSpec q;
  q.name = missing;
  Topology t;
  t.queues.push_back(q);
  mqtest::TopologyCleanup cleanup(t);
  ASSERT_TRUE((*c)->declare_queue(q).ok());
  auto again = (*c)->queue_depth(missing);
  ASSERT_TRUE(again.ok()) << again.error().to_string();
  EXPECT_EQ(again->messages, 0U);
  EXPECT_EQ(again->consumers, 0U);
  ASSERT_TRUE((*c)->delete_queue(missing).ok());
  EXPECT_EQ((*c)->queue_depth(missing).error().code, kMqNotFound);
  EXPECT_TRUE((*c)->delete_queue(missing).ok()) << "deleting a missing queue is not an error";
}

}  // namespace
}  // namespace hub::queue
