// The hot-path read side: answers from the in-memory snapshot with an injected time,
// validity windows, revocation, CA-issued client certificates, and the refresh after a
// change (explicit and by the poller).

#include <thread>

#include "hub/trust/time_text.hpp"
#include "hub/trust/trust_cache.hpp"
#include "trust_fixture.hpp"

namespace hub::trust {
namespace {

using namespace std::chrono_literals;
using testing::day;
using testing::TrustDbFixture;

class TrustCacheDbTest : public TrustDbFixture {
 protected:
  std::unique_ptr<TrustCache> cache(std::chrono::milliseconds poll = 0ms) {
    return std::make_unique<TrustCache>(TrustCacheSettings{db_->app_conninfo(), poll});
  }
};

std::string message_of(const Status& s) { return s.ok() ? "OK" : s.error().to_string(); }
template <class T>
std::string message_of(const Result<T>& r) {
  return r.ok() ? "OK" : r.error().to_string();
}

TEST_F(TrustCacheDbTest, SigningKeyFollowsItsValidityWindowAndRevocation) {
  auto key = testing::make_ec_key();
  auto reg = add_kid_key("gxm-2026-01", key.public_pem, day(10), day(20));
  ASSERT_TRUE(reg.ok()) << reg.error().to_string();
  auto c = cache();

  auto early = c->signing_key("gx-market", "gxm-2026-01", day(9));
  EXPECT_EQ(message_of(early),
            "SIGNATURE_INVALID: the signing key with kid 'gxm-2026-01' of gx-market is not valid before "
            "2026-01-11T00:00:00Z");
  auto during = c->signing_key("gx-market", "gxm-2026-01", day(15));
  ASSERT_TRUE(during.ok()) << during.error().to_string();
  EXPECT_EQ(during->spki_pem(), key.public_pem);
  EXPECT_TRUE(c->signing_key("gx-market", "gxm-2026-01", day(20)).ok());  // the last instant is included
  EXPECT_EQ(message_of(c->signing_key("gx-market", "gxm-2026-01", day(20) + 1s)),
            "SIGNATURE_INVALID: the signing key with kid 'gxm-2026-01' of gx-market expired at 2026-01-21T00:00:00Z");
  EXPECT_EQ(message_of(c->signing_key("gx-market", "gxm-2099-01", day(15))),
            "SIGNATURE_INVALID: no signing key with kid 'gxm-2099-01' is registered for gx-market");
  EXPECT_EQ(c->signing_key("jcm", "gxm-2026-01", day(15)).error().code, "SIGNATURE_INVALID");
  EXPECT_EQ(c->signing_key("nowhere", "gxm-2026-01", day(15)).error().code, "SIGNATURE_INVALID");

  ASSERT_TRUE(store_->revoke(reg->id, std::nullopt, "os:tester", "leaked").ok());
  EXPECT_TRUE(c->signing_key("gx-market", "gxm-2026-01", day(15)).ok()) << "the snapshot is not refreshed yet";
  ASSERT_TRUE(c->refresh());
  auto revoked = c->signing_key("gx-market", "gxm-2026-01", day(15));
  ASSERT_FALSE(revoked.ok());
  EXPECT_EQ(revoked.error().code, "SIGNATURE_INVALID");
  EXPECT_NE(revoked.error().message.find("kid 'gxm-2026-01' of gx-market was revoked at "), std::string::npos)
      << revoked.error().message;
}

TEST_F(TrustCacheDbTest, SigningCertificatesAreValidOnlyWithinBothWindows) {
  auto ca = testing::make_ca({"jcredit CA", day(0), day(1000)});
  auto a = testing::issue(ca, {"jcredit signing A", day(0), day(100)});
  auto b = testing::issue(ca, {"jcredit signing B", day(50), day(500)});
  auto ra = store_->add_signing_key({"jcredit", std::nullopt, a.pem, std::nullopt, day(80)}, "os:t");
  auto rb = store_->add_signing_key({"jcredit", std::nullopt, b.pem, std::nullopt, std::nullopt}, "os:t");
  ASSERT_TRUE(ra.ok() && rb.ok());
  auto c = cache();
  auto subjects = [&](TimePoint now) {
    std::vector<std::string> out;
    for (const auto& k : c->signing_certificates("jcredit", now)) out.push_back(k.info().subject);
    return out;
  };
  EXPECT_EQ(subjects(day(10)), std::vector<std::string>{a.subject});
  EXPECT_EQ(subjects(day(60)), (std::vector<std::string>{a.subject, b.subject}));
  EXPECT_EQ(subjects(day(90)), std::vector<std::string>{b.subject});  // A's registered window ended
  EXPECT_TRUE(subjects(day(600)).empty());                            // B's certificate expired
  EXPECT_TRUE(c->signing_certificates("gx-market", day(60)).empty());

  EXPECT_TRUE(c->signing_certificate("jcredit", b.fingerprint_sha256, day(60)).ok());
  auto lapsed = c->signing_certificate("jcredit", a.fingerprint_sha256, day(90));
  ASSERT_FALSE(lapsed.ok());
  EXPECT_EQ(lapsed.error().code, "SIGNATURE_INVALID");
  EXPECT_NE(lapsed.error().message.find("expired at 2026-03-22T00:00:00Z"), std::string::npos)
      << lapsed.error().message;
  auto stranger = testing::issue(ca, {"someone else", day(0), day(100)});
  EXPECT_NE(message_of(c->signing_certificate("jcredit", stranger.fingerprint_sha256, day(60)))
                .find("is not registered for jcredit"),
            std::string::npos);
}

TEST_F(TrustCacheDbTest, AcceptsRegisteredClientCertificatesOnlyForTheirConnector) {
  auto ca = testing::make_ca({"Dev CA", day(0), day(1000)});
  auto market = testing::issue(ca, {"gx-market client", day(0), day(100)});
  auto jcm = testing::issue(ca, {"jcm client", day(0), day(100)});
  auto reg = store_->add_tls_credential("gx-market", market.pem, false, "os:t");
  ASSERT_TRUE(reg.ok());
  ASSERT_TRUE(store_->add_tls_credential("jcm", jcm.pem, false, "os:t").ok());
  auto c = cache();
  EXPECT_TRUE(c->tls_client_allowed("gx-market", testing::peer_of(market), day(50)).ok());
  auto crossed = c->tls_client_allowed("gx-market", testing::peer_of(jcm), day(50));
  ASSERT_FALSE(crossed.ok());
  EXPECT_EQ(crossed.error().code, "TLS_CLIENT_REFUSED");
  EXPECT_NE(crossed.error().message.find("is not registered for gx-market"), std::string::npos)
      << crossed.error().message;
  EXPECT_NE(message_of(c->tls_client_allowed("gx-market", testing::peer_of(market), day(101)))
                .find("expired at 2026-04-11T00:00:00Z"),
            std::string::npos);
  EXPECT_NE(message_of(c->tls_client_allowed("gx-market", http::PeerCertificate{}, day(50)))
                .find("no client certificate was presented"),
            std::string::npos);
  EXPECT_FALSE(c->admin_client_allowed(testing::peer_of(market), day(50)).ok());

  ASSERT_TRUE(store_->revoke(reg->id, std::nullopt, "os:t", "decommissioned").ok());
  ASSERT_TRUE(c->refresh());
  EXPECT_NE(message_of(c->tls_client_allowed("gx-market", testing::peer_of(market), day(50))).find("was revoked at"),
            std::string::npos);
}

TEST_F(TrustCacheDbTest, AcceptsCertificatesIssuedByARegisteredCaAndRefusesAnotherCas) {
  auto ca = testing::make_ca({"Exchange Issuing CA", day(0), day(1000)});
  // Same name, different key: only the signature tells them apart.
  auto impostor_ca = testing::make_ca({"Exchange Issuing CA", day(0), day(1000)});
  auto other_ca = testing::make_ca({"Other CA", day(0), day(1000)});
  auto ca_reg = store_->add_tls_credential("exchange", ca.pem, true, "os:t");
  ASSERT_TRUE(ca_reg.ok()) << ca_reg.error().to_string();
  auto good = testing::issue(ca, {"exchange client 1", day(0), day(100)});
  auto forged = testing::issue(impostor_ca, {"exchange client 1", day(0), day(100)});
  auto foreign = testing::issue(other_ca, {"exchange client 2", day(0), day(100)});
  auto c = cache();

  EXPECT_TRUE(c->tls_client_allowed("exchange", testing::peer_of(good), day(10)).ok());
  EXPECT_TRUE(c->tls_client_allowed("exchange", testing::peer_of(good), day(11)).ok()) << "cached verdict";
  for (const auto* cert : {&forged, &foreign}) {
    auto r = c->tls_client_allowed("exchange", testing::peer_of(*cert), day(10));
    ASSERT_FALSE(r.ok()) << cert->subject;
    EXPECT_NE(r.error().message.find("neither the certificate nor a CA that issued it"), std::string::npos)
        << r.error().message;
  }
  // The CA is per connector.
  EXPECT_FALSE(c->tls_client_allowed("jcm", testing::peer_of(good), day(10)).ok());
  // The issued certificate's own validity counts.
  EXPECT_NE(message_of(c->tls_client_allowed("exchange", testing::peer_of(good), day(150))).find("expired at"),
            std::string::npos);

  // A certificate registered and revoked is refused although the CA issued it.
  auto bad_apple = testing::issue(ca, {"exchange client 3", day(0), day(100)});
  auto apple = store_->add_tls_credential("exchange", bad_apple.pem, false, "os:t");
  ASSERT_TRUE(apple.ok());
  ASSERT_TRUE(store_->revoke(apple->id, std::nullopt, "os:t", "stolen laptop").ok());
  ASSERT_TRUE(c->refresh());
  EXPECT_NE(message_of(c->tls_client_allowed("exchange", testing::peer_of(bad_apple), day(10))).find("was revoked"),
            std::string::npos);
  EXPECT_TRUE(c->tls_client_allowed("exchange", testing::peer_of(good), day(10)).ok());

  // Revoking the CA refuses everything it issued.
  ASSERT_TRUE(store_->revoke(ca_reg->id, std::nullopt, "os:t", "CA retired").ok());
  ASSERT_TRUE(c->refresh());
  auto after = c->tls_client_allowed("exchange", testing::peer_of(good), day(10));
  ASSERT_FALSE(after.ok());
  EXPECT_NE(after.error().message.find("its issuing CA"), std::string::npos) << after.error().message;
  EXPECT_NE(after.error().message.find("was revoked at"), std::string::npos) << after.error().message;
}

TEST_F(TrustCacheDbTest, CertificatesWithoutExpiryStayValid) {
  testing::CertSpec forever{"Forever CA", day(0), day(0), true, true};
  auto ca = testing::make_ca(forever);
  auto reg = store_->add_tls_credential("jcm", ca.pem, true, "os:t");
  ASSERT_TRUE(reg.ok()) << reg.error().to_string();
  EXPECT_EQ(format_rfc3339_seconds(store_->tls_credential(reg->id)->not_after), "2199-12-31T23:59:59Z");
  forever.cn = "jcm client";
  forever.ca = false;
  auto client = testing::issue(ca, forever);
  auto c = cache();
  EXPECT_TRUE(c->tls_client_allowed("jcm", testing::peer_of(client), day(365 * 100)).ok());
  EXPECT_FALSE(c->tls_client_allowed("jcm", testing::peer_of(client), day(-1)).ok());
}

TEST_F(TrustCacheDbTest, PollerPicksUpChangesMadeElsewhere) {
  auto c = cache(100ms);
  auto v0 = c->version();
  auto key = testing::make_ec_key();
  EXPECT_FALSE(c->signing_key("gx-market", "k-new", day(1)).ok());
  // Another process (here: another pool) registers a key.
  auto reg = add_kid_key("k-new", key.public_pem);
  ASSERT_TRUE(reg.ok());
  EXPECT_TRUE(hub::testing::wait_until([&] { return c->signing_key("gx-market", "k-new", day(1)).ok(); }, 5s));
  EXPECT_GT(c->version(), v0);
  ASSERT_TRUE(store_->revoke(reg->id, std::nullopt, "os:t", "rotated").ok());
  EXPECT_TRUE(hub::testing::wait_until([&] { return !c->signing_key("gx-market", "k-new", day(1)).ok(); }, 5s));
  // Unchanged data: a refresh keeps the snapshot.
  auto v1 = c->version();
  EXPECT_TRUE(c->refresh());
  EXPECT_EQ(c->version(), v1);
  auto info = c->connector("gx-market");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->selector, KeySelector::kKid);
  EXPECT_FALSE(c->connector("nowhere"));
}

TEST_F(TrustCacheDbTest, ManyThreadsReadWhileTheSnapshotIsReplaced) {
  auto key = testing::make_ec_key();
  ASSERT_TRUE(add_kid_key("k1", key.public_pem).ok());
  auto ca = testing::make_ca({"Exchange CA", day(0), day(1000)});
  ASSERT_TRUE(store_->add_tls_credential("exchange", ca.pem, true, "os:t").ok());
  auto client = testing::issue(ca, {"exchange client", day(0), day(1000)});
  auto peer = testing::peer_of(client);
  auto c = cache();
  std::atomic<bool> stop{false};
  std::atomic<long> wrong{0};
  std::atomic<long> calls{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      while (!stop) {
        if (!c->signing_key("gx-market", "k1", day(5)).ok()) ++wrong;
        if (!c->tls_client_allowed("exchange", peer, day(5)).ok()) ++wrong;
        calls += 2;
      }
    });
  }
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(add_kid_key("extra-" + std::to_string(i), testing::make_ec_key().public_pem).ok());
    ASSERT_TRUE(c->refresh());
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(calls.load(), 0);
}

}  // namespace
}  // namespace hub::trust
