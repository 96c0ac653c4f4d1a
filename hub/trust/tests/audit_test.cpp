// The audit chain's verification finds what the append-only triggers cannot stop: the
// database superuser changing or removing rows with the triggers switched off.

#include "hub/trust/audit.hpp"
#include "trust_fixture.hpp"

namespace hub::trust {
namespace {

class AuditDbTest : public testing::TrustDbFixture {
 protected:
  void SetUp() override {
    TrustDbFixture::SetUp();
    conn_ = app();
    for (int i = 0; i < 5; ++i) {
      append_audit_event(*conn_, "os:tester", "test.appended", "thing", std::to_string(i), {{"n", i}});
    }
    ASSERT_TRUE(verify_audit_chain(*conn_).ok());
    super_ = superuser();
    super_->exec("SET session_replication_role = replica");  // the triggers do not fire
  }
  std::unique_ptr<db::Connection> conn_;
  std::unique_ptr<db::Connection> super_;
};

TEST_F(AuditDbTest, VerifyNamesTheEventWhoseContentWasChanged) {
  super_->exec("UPDATE audit_events SET actor = 'os:someone-else' WHERE id = 3");
  auto report = verify_audit_chain(*conn_);
  ASSERT_FALSE(report.ok());
  ASSERT_EQ(report.breaks.size(), 1u);
  EXPECT_EQ(report.breaks[0].id, 3);
  EXPECT_EQ(report.breaks[0].kind, "HASH_MISMATCH");
  EXPECT_NE(report.breaks[0].detail.find("audit event 3"), std::string::npos) << report.breaks[0].detail;
}

TEST_F(AuditDbTest, VerifyFindsARewrittenHashAndARemovedEvent) {
  // Rewriting the hash to match the new content breaks the next link.
  auto row = conn_->exec(
      "SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), prev_hash FROM "
      "audit_events WHERE id = 2");
  AuditEvent forged{2, row.get(0, 0), "os:tester", "test.appended", "thing", "1", "{\"n\": 100}", row.get(0, 1), ""};
  super_->exec("UPDATE audit_events SET detail = $1::jsonb, hash = $2 WHERE id = 2",
               {forged.detail_json, audit_event_hash(forged)});
  super_->exec("DELETE FROM audit_events WHERE id = 4");
  auto report = verify_audit_chain(*conn_);
  ASSERT_EQ(report.breaks.size(), 3u);
  EXPECT_EQ(report.events, 4);
  EXPECT_EQ(report.breaks[0].id, 3);
  EXPECT_EQ(report.breaks[0].kind, "PREV_HASH_MISMATCH");
  EXPECT_EQ(report.breaks[1].id, 5);
  EXPECT_EQ(report.breaks[1].kind, "MISSING_EVENT");
  EXPECT_EQ(report.breaks[1].detail, "audit event 4 is missing");
  EXPECT_EQ(report.breaks[2].kind, "PREV_HASH_MISMATCH");
}

}  // namespace
}  // namespace hub::trust
