// The database side of trust: the SECURITY DEFINER functions of migration 0004, their
// rules (kid never reused, revocation final, per-connector forms), the audit events they
// append, and the rights: the working role and even the owner cannot bypass them.

#include <nlohmann/json.hpp>

#include "hub/trust/audit.hpp"
#include "trust_fixture.hpp"

namespace hub::trust {
namespace {

using namespace std::chrono_literals;
using testing::day;
using testing::TrustDbFixture;

class TrustSqlDbTest : public TrustDbFixture {};

template <class T>
std::string code_of(const Result<T>& r) {
  return r.ok() ? "OK" : r.error().code;
}

TEST_F(TrustSqlDbTest, EveryChangeAppendsAHashChainedAuditEvent) {
  auto ca = testing::make_ca({"Test CA", day(0), day(400)});
  auto client = testing::issue(ca, {"jcm client", day(0), day(300)});
  auto tls = store_->add_tls_credential("jcm", client.pem, false, "os:alice");
  ASSERT_TRUE(tls.ok()) << tls.error().to_string();
  auto key = add_kid_key("k1", testing::make_ec_key().public_pem);
  ASSERT_TRUE(key.ok()) << key.error().to_string();
  ASSERT_TRUE(store_->revoke(key->id, std::nullopt, "os:bob", "key lost").ok());

  auto conn = app();
  auto events = list_audit_events(*conn, {});
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].action, "tls_credential.registered");
  EXPECT_EQ(events[0].actor, "os:alice");
  EXPECT_EQ(events[0].object_id, std::to_string(tls->id));
  EXPECT_EQ(nlohmann::json::parse(events[0].detail_json)["fingerprint_sha256"], client.fingerprint_sha256);
  EXPECT_EQ(events[1].action, "signing_key.registered");
  EXPECT_EQ(events[2].action, "signing_key.revoked");
  EXPECT_EQ(events[2].actor, "os:bob");
  EXPECT_EQ(nlohmann::json::parse(events[2].detail_json)["reason"], "key lost");
  EXPECT_EQ(events[0].prev_hash, std::string(64, '0'));
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].id, static_cast<std::int64_t>(i + 1));
    EXPECT_EQ(audit_event_hash(events[i]), events[i].hash) << "event " << events[i].id;
    if (i > 0) {
      EXPECT_EQ(events[i].prev_hash, events[i - 1].hash);
    }
  }
  auto report = verify_audit_chain(*conn);
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.events, 3);
  EXPECT_EQ(report.head_hash, events.back().hash);

  // A refusal changes nothing and is not an event.
  EXPECT_EQ(code_of(store_->revoke(key->id, std::nullopt, "os:bob", "again")), "ALREADY_REVOKED");
  EXPECT_EQ(list_audit_events(*conn, {}).size(), 3u);
  // Filters: by action prefix of whole parts, and by time.
  EXPECT_EQ(list_audit_events(*conn, {std::nullopt, "signing_key", 100}).size(), 2u);
  EXPECT_EQ(list_audit_events(*conn, {std::nullopt, "signing_key.revoked", 100}).size(), 1u);
  EXPECT_EQ(list_audit_events(*conn, {std::nullopt, "signing", 100}).size(), 0u);
  EXPECT_EQ(list_audit_events(*conn, {std::chrono::system_clock::now() + 1h, std::nullopt, 100}).size(), 0u);
}

TEST_F(TrustSqlDbTest, AuditTrailIsAppendOnlyEvenForTheOwner) {
  ASSERT_TRUE(add_kid_key("k1", testing::make_ec_key().public_pem).ok());
  for (const char* sql : {"UPDATE audit_events SET actor = 'os:mallory'", "DELETE FROM audit_events",
                          "TRUNCATE audit_events"}) {
    try {
      owner_->exec(sql);
      ADD_FAILURE() << "the owner could run: " << sql;
    } catch (const db::RaisedException& e) {
      EXPECT_EQ(e.sqlstate(), "GX900") << sql;
      EXPECT_NE(std::string(e.what()).find("append-only"), std::string::npos) << e.what();
    }
  }
  auto conn = app();
  for (const char* sql : {"UPDATE audit_events SET actor = 'os:mallory'", "DELETE FROM audit_events",
                          "INSERT INTO audit_events VALUES (99, now(), 'os:x', 'a.b', 'x', '1', '{}', "
                          "repeat('0', 64), repeat('0', 64))"}) {
    EXPECT_THROW(conn->exec(sql), db::InsufficientPrivilege) << sql;
  }
  EXPECT_EQ(conn->exec("SELECT count(*) FROM audit_events").get_int(0, 0), 1);
  // The working role may append through the function (the identity layer will).
  EXPECT_EQ(append_audit_event(*conn, "os:tester", "login.succeeded", "user", "alice", {{"method", "password"}}), 2);
  EXPECT_TRUE(verify_audit_chain(*conn).ok());
}

TEST_F(TrustSqlDbTest, CredentialsCannotBeChangedOutsideTheFunctions) {
  auto key = add_kid_key("k1", testing::make_ec_key().public_pem);
  ASSERT_TRUE(key.ok());
  auto conn = app();
  auto id = std::to_string(key->id);
  for (const std::string& sql : std::vector<std::string>{"UPDATE signing_keys SET revoked_at = NULL WHERE id = " + id,
                                "DELETE FROM signing_keys", "DELETE FROM tls_credentials",
                                "UPDATE trust_state SET version = 0", "UPDATE connectors SET callback_url = NULL",
                                std::string("INSERT INTO signing_keys (connector, key_pem, is_certificate, key_type, "
                                            "key_bits, spki_sha256, registered_by) VALUES ('gx-market', 'x', false, "
                                            "'x', 1, repeat('0', 64), 'x')")}) {
    EXPECT_THROW(conn->exec(sql), db::InsufficientPrivilege) << sql;
  }
  // The owner is held by the triggers: kept forever, a kid never changes, a revocation is final.
  ASSERT_TRUE(store_->revoke(key->id, std::nullopt, "os:tester", "compromised").ok());
  for (const std::string& sql : std::vector<std::string>{"DELETE FROM signing_keys WHERE id = " + id,
                                "UPDATE signing_keys SET kid = 'k2' WHERE id = " + id,
                                "UPDATE signing_keys SET revoked_at = NULL, revoked_by = NULL, revoked_reason = NULL "
                                "WHERE id = " + id,
                                "UPDATE signing_keys SET registered_by = 'os:mallory' WHERE id = " + id,
                                std::string("TRUNCATE signing_keys")}) {
    try {
      owner_->exec(sql);
      ADD_FAILURE() << "the owner could run: " << sql;
    } catch (const db::DbError& e) {
      EXPECT_EQ(e.sqlstate(), "GX900") << sql << ": " << e.what();
    }
  }
}

TEST_F(TrustSqlDbTest, AKidIsNeverReusedAndARevokedKeyNeverReturns) {
  auto first = testing::make_ec_key();
  auto r1 = add_kid_key("gxm-2026-01", first.public_pem);
  ASSERT_TRUE(r1.ok());
  EXPECT_FALSE(r1->already_registered);
  // The same key under the same kid again: nothing changes.
  auto again = add_kid_key("gxm-2026-01", first.public_pem);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->already_registered);
  EXPECT_EQ(again->id, r1->id);

  auto other = add_kid_key("gxm-2026-01", testing::make_ec_key().public_pem);
  ASSERT_EQ(code_of(other), "KID_ALREADY_USED");
  EXPECT_NE(other.error().message.find("'gxm-2026-01'"), std::string::npos) << other.error().message;
  EXPECT_EQ(code_of(add_kid_key("gxm-2026-02", first.public_pem)), "ALREADY_REGISTERED");

  ASSERT_TRUE(store_->revoke(r1->id, CredentialKind::kSigningKey, "os:tester", "leaked").ok());
  // Revoked: its kid stays taken, and the key is not welcome under any kid.
  EXPECT_EQ(code_of(add_kid_key("gxm-2026-01", testing::make_ec_key().public_pem)), "KID_ALREADY_USED");
  auto back = add_kid_key("gxm-2026-01", first.public_pem);
  EXPECT_EQ(code_of(back), "KEY_REVOKED");
  EXPECT_EQ(code_of(add_kid_key("gxm-2026-09", first.public_pem)), "KEY_REVOKED");
  // The constraint holds without the functions too.
  EXPECT_THROW(owner_->exec("INSERT INTO signing_keys (connector, kid, key_pem, is_certificate, key_type, key_bits, "
                            "spki_sha256, registered_by) SELECT connector, kid, key_pem, is_certificate, key_type, "
                            "key_bits, spki_sha256, 'x' FROM signing_keys WHERE id = " + std::to_string(r1->id)),
               db::UniqueViolation);
  // Kids are per connector.
  auto ca = testing::make_ca({"Signing CA", day(0), day(4000)});
  auto cert = testing::issue(ca, {"jcredit signing", day(0), day(4000)});
  auto jc = store_->add_signing_key({"jcredit", std::string("gxm-2026-01"), cert.pem, {}, {}}, "os:tester");
  EXPECT_TRUE(jc.ok()) << jc.error().to_string();
}

TEST_F(TrustSqlDbTest, RevocationIsFinalNeedsAReasonAndIsScopedByKind) {
  auto ca = testing::make_ca({"Test CA", day(0), day(4000)});
  auto client = testing::issue(ca, {"gx-market client", day(0), day(4000)});
  auto tls = store_->add_tls_credential("gx-market", client.pem, false, "os:tester");
  ASSERT_TRUE(tls.ok());
  EXPECT_EQ(code_of(store_->revoke(tls->id, std::nullopt, "os:tester", "  ")), "REASON_REQUIRED");
  EXPECT_EQ(code_of(store_->revoke(tls->id, CredentialKind::kSigningKey, "os:tester", "x")), "UNKNOWN_CREDENTIAL");
  EXPECT_EQ(code_of(store_->revoke(999999, std::nullopt, "os:tester", "x")), "UNKNOWN_CREDENTIAL");
  auto revoked = store_->revoke(tls->id, CredentialKind::kTlsCredential, "os:carol", "contract ended");
  ASSERT_TRUE(revoked.ok());
  EXPECT_EQ(*revoked, CredentialKind::kTlsCredential);
  auto record = store_->tls_credential(tls->id);
  ASSERT_TRUE(record && record->revoked);
  EXPECT_EQ(record->revoked->by, "os:carol");
  EXPECT_EQ(record->revoked->reason, "contract ended");
  EXPECT_EQ(record->state(std::chrono::system_clock::now()), CredentialState::kRevoked);
  auto twice = store_->revoke(tls->id, std::nullopt, "os:tester", "again");
  EXPECT_EQ(code_of(twice), "ALREADY_REVOKED");
  // The same certificate cannot come back.
  EXPECT_EQ(code_of(store_->add_tls_credential("gx-market", client.pem, false, "os:tester")), "KEY_REVOKED");
}

TEST_F(TrustSqlDbTest, EachConnectorTakesTheFormsItUses) {
  auto ca = testing::make_ca({"Test CA", day(0), day(4000)});
  auto cert = testing::issue(ca, {"some client", day(0), day(4000)});
  auto bare = testing::make_ec_key().public_pem;
  EXPECT_EQ(code_of(store_->add_signing_key({"gx-market", std::nullopt, bare, {}, {}}, "os:t")), "KID_REQUIRED");
  EXPECT_EQ(code_of(store_->add_signing_key({"jcredit", std::string("k"), bare, {}, {}}, "os:t")),
            "CERTIFICATE_REQUIRED");
  EXPECT_EQ(code_of(store_->add_signing_key({"admin", std::string("k"), cert.pem, {}, {}}, "os:t")), "NO_SIGNING_KEYS");
  EXPECT_EQ(code_of(store_->add_signing_key({"nowhere", std::string("k"), bare, {}, {}}, "os:t")), "UNKNOWN_CONNECTOR");
  EXPECT_EQ(code_of(store_->add_signing_key({"gx-market", std::string("k"), "not a pem", {}, {}}, "os:t")),
            "KEY_INVALID");
  EXPECT_EQ(code_of(store_->add_signing_key({"gx-market", std::string("k"), bare, day(5), day(5)}, "os:t")),
            "INVALID_WINDOW");
  EXPECT_EQ(code_of(store_->add_tls_credential("admin", ca.pem, true, "os:t")), "CA_NOT_ALLOWED");
  EXPECT_EQ(code_of(store_->add_tls_credential("jcm", cert.pem, true, "os:t")), "NOT_A_CA");
  EXPECT_EQ(code_of(store_->add_tls_credential("jcm", bare, false, "os:t")), "CERTIFICATE_REQUIRED");
  EXPECT_TRUE(store_->add_tls_credential("jcm", ca.pem, true, "os:t").ok());
  EXPECT_TRUE(store_->add_tls_credential("admin", cert.pem, false, "os:t").ok());

  // The database checks the fingerprint against the PEM, whoever calls it.
  auto conn = app();
  nlohmann::json forged = {{"pem", cert.pem}, {"subject", "CN=x"}, {"issuer", "CN=y"}, {"serial_hex", "01"},
                           {"fingerprint_sha256", std::string(64, 'a')}, {"spki_sha256", std::string(64, 'b')},
                           {"key_type", "EC P-256"}, {"key_bits", 256}, {"not_before", "2026-01-01T00:00:00Z"},
                           {"not_after", "2027-01-01T00:00:00Z"}};
  EXPECT_THROW(conn->exec("SELECT * FROM gx_trust_register_tls('exchange', 'certificate', $1, 'os:t')", {forged.dump()}),
               db::CheckViolation);
}

TEST_F(TrustSqlDbTest, RotationRegistersTheNewKeyAndEndsTheOldAfterTheOverlap) {
  auto old_key = add_kid_key("gxm-1", testing::make_ec_key().public_pem);
  ASSERT_TRUE(old_key.ok());
  auto before = std::chrono::system_clock::now();
  auto rotated = store_->rotate_signing_key(old_key->id, std::chrono::hours(48),
                                            {"gx-market", std::string("gxm-2"), testing::make_ec_key().public_pem,
                                             std::nullopt, std::nullopt},
                                            "os:tester");
  ASSERT_TRUE(rotated.ok()) << rotated.error().to_string();
  auto after = std::chrono::system_clock::now();
  auto old_rec = store_->signing_key(old_key->id);
  auto new_rec = store_->signing_key(rotated->id);
  ASSERT_TRUE(old_rec && new_rec);
  ASSERT_TRUE(old_rec->valid_to);
  EXPECT_GE(*old_rec->valid_to, before + std::chrono::hours(48) - 1s);
  EXPECT_LE(*old_rec->valid_to, after + std::chrono::hours(48) + 1s);
  EXPECT_EQ(new_rec->replaces, old_key->id);
  EXPECT_EQ(new_rec->kid, "gxm-2");
  auto conn = app();
  auto events = list_audit_events(*conn, {});
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].action, "signing_key.registered");
  EXPECT_EQ(events[2].action, "signing_key.rotated_out");
  EXPECT_EQ(nlohmann::json::parse(events[2].detail_json)["replaced_by"], rotated->id);

  // Not even the owner can lengthen the window again.
  try {
    owner_->exec("UPDATE signing_keys SET valid_to = NULL WHERE id = " + std::to_string(old_key->id));
    ADD_FAILURE() << "the owner lengthened a validity window";
  } catch (const db::RaisedException& e) {
    EXPECT_NE(std::string(e.what()).find("only be shortened"), std::string::npos) << e.what();
  }
  // A second rotation with a longer overlap keeps the earlier end.
  auto again = store_->rotate_signing_key(old_key->id, std::chrono::hours(24 * 30),
                                          {"gx-market", std::string("gxm-3"), testing::make_ec_key().public_pem,
                                           std::nullopt, std::nullopt},
                                          "os:tester");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(store_->signing_key(old_key->id)->valid_to, old_rec->valid_to);
  // A refused rotation changes nothing: the new kid is taken.
  auto refused = store_->rotate_signing_key(rotated->id, std::chrono::hours(1),
                                            {"gx-market", std::string("gxm-1"), testing::make_ec_key().public_pem,
                                             std::nullopt, std::nullopt},
                                            "os:tester");
  EXPECT_EQ(code_of(refused), "KID_ALREADY_USED");
  EXPECT_FALSE(store_->signing_key(rotated->id)->valid_to.has_value());
  // Only a key of the same connector can be rotated out.
  auto wrong = store_->rotate_signing_key(old_key->id, std::chrono::hours(1),
                                          {"jcm", std::nullopt, testing::make_ec_key().public_pem, {}, {}}, "os:t");
  EXPECT_EQ(code_of(wrong), "UNKNOWN_CREDENTIAL");
}

}  // namespace
}  // namespace hub::trust
