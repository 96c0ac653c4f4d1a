// The callback receiver with real TLS (the dev PKI made by certs/make-dev-pki.sh).
#include <gtest/gtest.h>

#include <mutex>

#include "gxm/callback_server.hpp"
#include "test_support.hpp"

namespace gxm {
namespace {

class CallbackServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = gxm::testing::dev_pki().string();
    receipt_key_ = load_private_key(pki_ + "/hub-receipt-ec.key").value();
  }

  std::string receipt(const std::string& hub_ref, const std::string& status = "applied",
                      EVP_PKEY* key = nullptr) {
    nlohmann::json p{{"message_id", "GXM-CB-" + hub_ref}, {"hub_ref", hub_ref},
                     {"status", status}, {"received_at", "2026-11-21T15:30:02+09:00"},
                     {"body_sha256", std::string(64, 'a')}};
    OrderedJson h{{"alg", "ES256"}, {"typ", "gx-hub-receipt+jws"}};
    return jws_make(h, p.dump(), key ? key : receipt_key_.get()).value();
  }

  std::string pki_;
  Pkey receipt_key_;
};

TEST_F(CallbackServerTest, FailsFirstDeliveriesThenVerifiesAndDeduplicates) {
  std::mutex mu;
  std::vector<CallbackEvent> events;
  CallbackConfig cc{{"127.0.0.1", 0}, pki_ + "/hub-tls.crt", pki_ + "/hub-tls.key",
                    pki_ + "/ca.crt", 2};
  CallbackServer server(cc, ReceiptVerifier::from_file(pki_ + "/hub-receipt-ec.crt").value(),
                        [&](const CallbackEvent& ev) {
                          std::lock_guard lock(mu);
                          events.push_back(ev);
                        });
  auto port = server.start();
  ASSERT_TRUE(port.ok()) << port.error().message;

  auto tls = make_client_tls(pki_ + "/ca.crt", pki_ + "/gx-market-tls-client.crt",
                             pki_ + "/gx-market-tls-client.key");
  ASSERT_TRUE(tls.ok());
  HttpsConnection conn(*tls, {"127.0.0.1", *port}, std::chrono::seconds(10));
  auto post = [&](const std::string& body) {
    auto r = conn.send("POST", "/callbacks/gx-market", {{"Content-Type", "application/jose"}}, body);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? r->status : 0;
  };
  EXPECT_EQ(post(receipt("H1")), 500);
  EXPECT_EQ(post(receipt("H1")), 500);
  EXPECT_EQ(post(receipt("H1")), 200);
  EXPECT_EQ(post(receipt("H1")), 200);  // at-least-once: a duplicate is acknowledged
  EXPECT_EQ(post(receipt("H2", "rejected_without_reason")), 400);
  auto stranger = generate_p256_key();
  EXPECT_EQ(post(receipt("H3", "applied", stranger.get())), 400);
  EXPECT_EQ(post(receipt("H4", "applied")), 200);
  server.stop();

  auto s = server.stats();
  EXPECT_EQ(s.deliveries, 7u);
  EXPECT_EQ(s.failed_on_purpose, 2u);
  EXPECT_EQ(s.verified, 2u);
  EXPECT_EQ(s.duplicates, 1u);
  EXPECT_EQ(s.refused, 2u);
  std::lock_guard lock(mu);
  ASSERT_EQ(events.size(), 7u);
  EXPECT_TRUE(events[0].failed_on_purpose);
  EXPECT_FALSE(events[2].duplicate);
  EXPECT_TRUE(events[3].duplicate);
  ASSERT_TRUE(events[2].receipt);
  EXPECT_EQ(events[2].receipt->hub_ref, "H1");
  EXPECT_EQ(events[2].target, "/callbacks/gx-market");
  EXPECT_NE(events[5].error.find("RECEIPT_SIGNATURE"), std::string::npos);
}

TEST_F(CallbackServerTest, RequiresAClientCertificateWhenAClientCaIsGiven) {
  CallbackConfig cc{{"127.0.0.1", 0}, pki_ + "/hub-tls.crt", pki_ + "/hub-tls.key",
                    pki_ + "/ca.crt", 0};
  CallbackServer server(cc, ReceiptVerifier::from_file(pki_ + "/hub-receipt-ec.crt").value(), {});
  auto port = server.start();
  ASSERT_TRUE(port.ok());
  // A client whose certificate the CA did not issue: a self-signed one made here.
  gxm::testing::TempDir dir;
  auto r = gxm::testing::run_command(
      {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
       "-nodes", "-subj", "/CN=stranger", "-days", "1", "-keyout",
       (dir.path() / "k.pem").string(), "-out", (dir.path() / "c.pem").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto tls = make_client_tls(pki_ + "/ca.crt", (dir.path() / "c.pem").string(),
                             (dir.path() / "k.pem").string());
  ASSERT_TRUE(tls.ok());
  HttpsConnection conn(*tls, {"127.0.0.1", *port}, std::chrono::seconds(5));
  auto res = conn.send("POST", "/", {}, receipt("H1"));
  EXPECT_FALSE(res.ok());
  EXPECT_EQ(server.stats().deliveries, 0u);
}

TEST_F(CallbackServerTest, TheClientRefusesAServerItsCaDidNotIssue) {
  gxm::testing::TempDir dir;
  auto r = gxm::testing::run_command(
      {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
       "-nodes", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-days",
       "1", "-keyout", (dir.path() / "k.pem").string(), "-out", (dir.path() / "c.pem").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  CallbackConfig cc{{"127.0.0.1", 0}, (dir.path() / "c.pem").string(),
                    (dir.path() / "k.pem").string(), "", 0};
  CallbackServer server(cc, ReceiptVerifier::from_file(pki_ + "/hub-receipt-ec.crt").value(), {});
  auto port = server.start();
  ASSERT_TRUE(port.ok());
  auto tls = make_client_tls(pki_ + "/ca.crt", pki_ + "/gx-market-tls-client.crt",
                             pki_ + "/gx-market-tls-client.key");
  HttpsConnection conn(*tls, {"127.0.0.1", *port}, std::chrono::seconds(5));
  auto res = conn.send("POST", "/", {}, receipt("H1"));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, "TLS_VERIFY") << res.error().message;
}

}  // namespace
}  // namespace gxm
