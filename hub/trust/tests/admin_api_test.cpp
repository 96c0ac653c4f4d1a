// The admin API over real TLS, with the development PKI: an operator's certificate
// registered for `admin` may administer trust; a connector's certificate (issued by the
// same CA, so the handshake succeeds) is refused 403, no certificate 401.

#include <nlohmann/json.hpp>

#include "hub/http/client.hpp"
#include "hub/http/server.hpp"
#include "hub/trust/admin_api.hpp"
#include "hub/trust/audit.hpp"
#include "hub/trust/dev_pki.hpp"
#include "hub/trust/trust_cache.hpp"
#include "trust_fixture.hpp"

namespace hub::trust {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace ht = hub::testing;

class AdminApiDbTest : public testing::TrustDbFixture {
 protected:
  void SetUp() override {
    TrustDbFixture::SetUp();
    pki_ = ht::var_dir() / "pki";
    auto imported = import_dev_pki(*store_, pki_, "os:tester");
    ASSERT_TRUE(imported.ok()) << imported.failed.front();
    ASSERT_EQ(imported.registered.size(), 9u);
    cache_ = std::make_unique<TrustCache>(TrustCacheSettings{db_->app_conninfo(), 0ms});
    http::Router router;
    register_trust_admin_routes(router, *store_, *cache_);
    http::ServerSettings s;
    s.cert_file = (pki_ / "hub-tls.crt").string();
    s.key_file = (pki_ / "hub-tls.key").string();
    s.client_ca_file = (pki_ / "ca.crt").string();
    server_ = std::make_unique<http::Server>(s, std::move(router), metrics_);
    auto port = server_->start();
    ASSERT_TRUE(port.ok()) << port.error().to_string();
    port_ = *port;
  }
  void TearDown() override {
    if (server_) server_->stop(1s);
  }

  // as: the dev PKI name of the client certificate ("" for none).
  http::ClientResponse call(const std::string& as, const std::string& method, const std::string& target,
                            const std::string& body = "") {
    http::ClientRequest req;
    req.host = "127.0.0.1";
    req.port = port_;
    req.method = method;
    req.target = target;
    req.body = body;
    if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
    req.ca_file = (pki_ / "ca.crt").string();
    if (!as.empty()) {
      req.client_cert_file = (pki_ / (as + ".crt")).string();
      req.client_key_file = (pki_ / (as + ".key")).string();
    }
    auto r = http::HttpsClient::request(req);
    EXPECT_TRUE(r.ok()) << r.error().to_string();
    return r.ok() ? *r : http::ClientResponse{};
  }

  std::filesystem::path pki_;
  MetricsRegistry metrics_;
  std::unique_ptr<TrustCache> cache_;
  std::unique_ptr<http::Server> server_;
  int port_ = 0;
};

const char* kAdmin = "operator-admin-tls-client";

TEST_F(AdminApiDbTest, OperatorCertificateAdministersTrust) {
  auto list = call(kAdmin, "GET", "/admin/v1/connectors/gx-market/signing-keys");
  ASSERT_EQ(list.status, 200) << list.body;
  auto keys = json::parse(list.body)["signing_keys"];
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0]["kid"], "gxm-2026-01");
  EXPECT_EQ(keys[0]["state"], "valid");

  auto tls = json::parse(call(kAdmin, "GET", "/admin/v1/connectors/jcm/tls-credentials").body)["tls_credentials"];
  ASSERT_EQ(tls.size(), 1u);
  EXPECT_EQ(tls[0]["kind"], "certificate");
  EXPECT_NE(tls[0]["subject"].get<std::string>().find("CN=jcm client"), std::string::npos) << tls[0];

  auto key = testing::make_ec_key();
  json add = {{"kid", "gxm-2026-02"}, {"pem", key.public_pem}, {"not_after", "2027-04-01T00:00:00+09:00"}};
  auto added = call(kAdmin, "POST", "/admin/v1/connectors/gx-market/signing-keys", add.dump());
  ASSERT_EQ(added.status, 201) << added.body;
  auto record = json::parse(added.body);
  EXPECT_EQ(record["kid"], "gxm-2026-02");
  EXPECT_EQ(record["valid_to"], "2027-03-31T15:00:00Z");
  EXPECT_FALSE(record["already_registered"].get<bool>());
  // In force at once in this process (the handler refreshed the cache).
  auto now = std::chrono::system_clock::now();
  EXPECT_TRUE(cache_->signing_key("gx-market", "gxm-2026-02", now).ok());

  auto reused = call(kAdmin, "POST", "/admin/v1/connectors/gx-market/signing-keys",
                     json{{"kid", "gxm-2026-02"}, {"pem", testing::make_ec_key().public_pem}}.dump());
  EXPECT_EQ(reused.status, 409) << reused.body;
  EXPECT_EQ(json::parse(reused.body)["code"], "KID_ALREADY_USED");
  EXPECT_EQ(reused.header("content-type") ? *reused.header("content-type") : "", "application/problem+json");

  auto id = std::to_string(record["id"].get<std::int64_t>());
  auto no_reason = call(kAdmin, "POST", "/admin/v1/signing-keys/" + id + "/revoke", "{}");
  EXPECT_EQ(no_reason.status, 400) << no_reason.body;
  EXPECT_EQ(json::parse(no_reason.body)["code"], "REASON_REQUIRED");
  auto wrong_kind = call(kAdmin, "POST", "/admin/v1/tls-credentials/" + id + "/revoke", R"({"reason":"x"})");
  EXPECT_EQ(wrong_kind.status, 404) << wrong_kind.body;
  auto revoked = call(kAdmin, "POST", "/admin/v1/signing-keys/" + id + "/revoke", R"({"reason":"test rotation"})");
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_EQ(json::parse(revoked.body)["state"], "revoked");
  auto refused = cache_->signing_key("gx-market", "gxm-2026-02", now);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("was revoked"), std::string::npos);

  // Rotation through the API.
  auto rotated = call(kAdmin, "POST", "/admin/v1/connectors/gx-market/signing-keys",
                      json{{"kid", "gxm-2026-03"},
                           {"pem", testing::make_ec_key().public_pem},
                           {"rotate", {{"old_kid", "gxm-2026-01"}, {"overlap", "7d"}}}}
                          .dump());
  ASSERT_EQ(rotated.status, 201) << rotated.body;
  EXPECT_TRUE(json::parse(rotated.body)["replaces"].is_number());

  // The audit trail names the operator's certificate.
  auto admin_fp = store_->tls_credentials(std::string("admin")).front().fingerprint_sha256;
  auto conn = app();
  auto events = list_audit_events(*conn, {std::nullopt, "signing_key", 100});
  ASSERT_GE(events.size(), 3u);
  for (std::size_t i = events.size() - 3; i < events.size(); ++i) {
    EXPECT_EQ(events[i].actor, "admin-cert:" + admin_fp) << events[i].action;
  }
  EXPECT_TRUE(verify_audit_chain(*conn).ok());
}

TEST_F(AdminApiDbTest, RefusesConnectorCertificatesAndAnonymousClients) {
  auto as_connector = call("gx-market-tls-client", "GET", "/admin/v1/connectors");
  EXPECT_EQ(as_connector.status, 403) << as_connector.body;
  auto problem = json::parse(as_connector.body);
  EXPECT_EQ(problem["code"], "FORBIDDEN");
  EXPECT_NE(problem["detail"].get<std::string>().find("is not registered for admin"), std::string::npos) << problem;
  // Refused before the body is read, for writes too; nothing changes.
  auto write = call("jcm-tls-client", "POST", "/admin/v1/connectors/jcm/tls-credentials",
                    json{{"certificate_pem", testing::make_ca({"x", testing::day(0), testing::day(9)}).pem}}.dump());
  EXPECT_EQ(write.status, 403) << write.body;
  EXPECT_EQ(store_->tls_credentials(std::string("jcm")).size(), 1u);

  auto anonymous = call("", "GET", "/admin/v1/connectors");
  EXPECT_EQ(anonymous.status, 401) << anonymous.body;
  EXPECT_EQ(json::parse(anonymous.body)["code"], "CLIENT_CERTIFICATE_REQUIRED");

  // Once the operator's certificate is revoked, it is refused too.
  auto admin_id = store_->tls_credentials(std::string("admin")).front().id;
  ASSERT_TRUE(store_->revoke(admin_id, std::nullopt, "os:tester", "operator left").ok());
  ASSERT_TRUE(cache_->refresh());
  EXPECT_EQ(call(kAdmin, "GET", "/admin/v1/connectors").status, 403);
}

TEST_F(AdminApiDbTest, AnswersBadRequestsWithProblems) {
  auto bad_json = call(kAdmin, "POST", "/admin/v1/connectors/gx-market/signing-keys", "{not json");
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_EQ(json::parse(bad_json.body)["code"], "MALFORMED");
  auto bad_time = call(kAdmin, "POST", "/admin/v1/connectors/gx-market/signing-keys",
                       json{{"kid", "x"}, {"pem", testing::make_ec_key().public_pem}, {"not_before", "tomorrow"}}.dump());
  EXPECT_EQ(bad_time.status, 400);
  EXPECT_EQ(json::parse(bad_time.body)["code"], "INVALID_TIME");
  auto unknown = call(kAdmin, "GET", "/admin/v1/connectors/nowhere/signing-keys");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(json::parse(unknown.body)["code"], "UNKNOWN_CONNECTOR");
  auto dup = call(kAdmin, "POST", "/admin/v1/connectors/jcm/tls-credentials",
                  json{{"certificate_pem", ht::read_file(pki_ / "jcm-tls-client.crt")}}.dump());
  EXPECT_EQ(dup.status, 200) << dup.body;
  EXPECT_TRUE(json::parse(dup.body)["already_registered"].get<bool>());
}

}  // namespace
}  // namespace hub::trust
