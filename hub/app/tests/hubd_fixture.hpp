#pragma once
// A hubd of the test's own: its own database (ScratchDatabase), its own RabbitMQ
// exchanges and queues (mq.queue_suffix, deleted at the end), a free HTTPS port, the dev
// PKI of var/pki, and helpers to call it over real TLS. Used by the end-to-end tests.

#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "hub/db/pg.hpp"
#include "hub/http/client.hpp"
#include "hub/testing/test_env.hpp"
#include "mq_test_support.hpp"

namespace hub {

using namespace std::chrono_literals;
namespace ht = hub::testing;

class HubdFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<ht::ScratchDatabase>("hubd_e2e");
    auto pki = ht::var_dir() / "pki";
    auto secrets = ht::var_dir() / "secrets";
    config_ = dir_.path() / "hubd.conf";
    ht::write_file(config_, "[https]\nport = 0\ncert_file = " + (pki / "hub-tls.crt").string() +
                                "\nkey_file = " + (pki / "hub-tls.key").string() +
                                "\nclient_ca_file = " + (pki / "ca.crt").string() +
                                "\nshutdown_grace = 5s\n"
                                "[db]\nport = " + std::to_string(ht::services().db_port) +
                                "\nname = " + db_->name() +
                                "\npassword_file = " + (secrets / "pg_app.password").string() +
                                "\nowner_password_file = " + (secrets / "pg_owner.password").string() +
                                "\npool_size = 4\n[mq]\nport = " + std::to_string(ht::services().mq_port) +
                                "\nqueue_suffix = " + suffix_ +
                                "\npassword_file = " + (secrets / "mq.password").string() +
                                "\n[startup]\nwait_for_dependencies = 3s\n"
                                "[hubctl]\nca_file = " + (pki / "ca.crt").string() + "\n");
  }

  std::unique_ptr<ht::ChildProcess> start_hubd(const std::map<std::string, std::string>& env = {}) {
    auto port_file = dir_.path() / "port";
    std::filesystem::remove(port_file);
    auto p = std::make_unique<ht::ChildProcess>(
        std::vector<std::string>{HUB_HUBD_PATH, "--config", config_.string(), "--port-file",
                                 port_file.string()},
        env, log_file());
    bool up = ht::wait_until([&] { return std::filesystem::exists(port_file) || !p->running(); }, 30s);
    if (up && std::filesystem::exists(port_file)) port_ = std::stoi(ht::read_file(port_file));
    return p;
  }

  std::filesystem::path log_file() const { return dir_.path() / "hubd.log"; }

  // hubctl with this hubd's configuration.
  ht::CommandResult hubctl(std::vector<std::string> args) {
    args.insert(args.begin(), {HUB_HUBCTL_PATH, "--config", config_.string()});
    return ht::run_command(args);
  }

  // A request as an outside system makes it: with the TLS client certificate of
  // var/pki/<client>.crt (empty: none).
  Result<http::ClientResponse> call(const std::string& method, const std::string& target, const std::string& body,
                                    const std::string& client,
                                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::ClientRequest req;
    req.host = "127.0.0.1";
    req.port = port_;
    req.method = method;
    req.target = target;
    req.body = body;
    req.headers = std::move(headers);
    req.ca_file = (ht::var_dir() / "pki" / "ca.crt").string();
    if (!client.empty()) {
      req.client_cert_file = (ht::var_dir() / "pki" / (client + ".crt")).string();
      req.client_key_file = (ht::var_dir() / "pki" / (client + ".key")).string();
    }
    req.timeout = 10s;
    return http::HttpsClient::request(req);
  }

  Result<http::ClientResponse> get(const std::string& target) {
    http::ClientRequest req;
    req.host = "127.0.0.1";
    req.port = port_;
    req.method = "GET";
    req.target = target;
    req.ca_file = (ht::var_dir() / "pki" / "ca.crt").string();
    req.timeout = 10s;
    return http::HttpsClient::request(req);
  }

  ht::TempDir dir_;
  // This hubd's own exchanges and queues, deleted at the end: it never takes the work of
  // another hub on the same broker.
  std::string suffix_ = "." + queue::mqtest::unique_name("e2e");
  queue::mqtest::TopologyCleanup cleanup_{queue::hub_topology(suffix_)};
  std::unique_ptr<ht::ScratchDatabase> db_;
  std::filesystem::path config_;
  int port_ = 0;
};

}  // namespace hub
