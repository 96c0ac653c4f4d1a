// hubctl's trust and audit commands against a real database: import the dev PKI, list,
// register, rotate and revoke, read the audit trail; `audit verify` names the event a
// superuser altered.

#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "hub/db/migrations.hpp"
#include "hub/db/pg.hpp"
#include "hub/testing/test_env.hpp"

namespace hub {
namespace {

namespace ht = hub::testing;
using nlohmann::json;

class HubctlTrustE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<ht::ScratchDatabase>("hubctl_trust");
    auto secrets = ht::var_dir() / "secrets";
    env_ = {{"HUB_DB_NAME", db_->name()},
            {"HUB_DB_PORT", std::to_string(ht::services().db_port)},
            {"HUB_DB_PASSWORD_FILE", (secrets / "pg_app.password").string()},
            {"HUB_DB_OWNER_PASSWORD_FILE", (secrets / "pg_owner.password").string()},
            {"HUB_MQ_PASSWORD_FILE", (secrets / "mq.password").string()}};
    pki_ = ht::var_dir() / "pki";
    auto migrated = hubctl({"migrate"});
    ASSERT_EQ(migrated.exit_code, 0) << migrated.output;
  }
  ht::CommandResult hubctl(std::vector<std::string> args) {
    args.insert(args.begin(), {HUB_HUBCTL_PATH, "--config", (ht::source_root() / "hub/app/hubd.conf").string()});
    return ht::run_command(args, env_);
  }
  std::string ok(std::vector<std::string> args) {
    auto r = hubctl(args);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.output;
  }
  static std::string os_user() {
    const passwd* pw = ::getpwuid(::geteuid());
    return std::string("os:") + (pw ? pw->pw_name : "?");
  }
  // A fresh EC public key written to a file, made with the openssl tool.
  std::string new_public_key(const std::string& name) {
    auto key = (dir_.path() / (name + ".key")).string();
    auto pub = (dir_.path() / (name + ".pub.pem")).string();
    EXPECT_EQ(ht::run_command({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                               "-out", key}).exit_code, 0);
    EXPECT_EQ(ht::run_command({"openssl", "pkey", "-in", key, "-pubout", "-out", pub}).exit_code, 0);
    return pub;
  }

  ht::TempDir dir_;
  std::unique_ptr<ht::ScratchDatabase> db_;
  std::map<std::string, std::string> env_;
  std::filesystem::path pki_;
};

TEST_F(HubctlTrustE2eTest, ImportsTheDevPkiListsRotatesAndRevokesWithAnAuditTrail) {
  auto first = ok({"trust", "import-dev-pki", pki_.string()});
  EXPECT_NE(first.find("dev PKI: 9 registered, 0 already registered, 0 failed"), std::string::npos) << first;
  auto second = ok({"trust", "import-dev-pki", pki_.string()});
  EXPECT_NE(second.find("dev PKI: 0 registered, 9 already registered, 0 failed"), std::string::npos) << second;

  auto table = ok({"trust", "list", "--connector", "gx-market"});
  EXPECT_NE(table.find("gxm-2026-01"), std::string::npos) << table;
  EXPECT_NE(table.find("valid"), std::string::npos) << table;
  EXPECT_EQ(table.find("jcredit"), std::string::npos) << table;
  auto all = json::parse(ok({"trust", "list", "--json"}));
  ASSERT_EQ(all.size(), 5u);
  for (const auto& c : all) {
    EXPECT_EQ(c["tls_credentials"].size(), 1u) << c["connector"];
    EXPECT_EQ(c["signing_keys"].size(), c["connector"] == "admin" ? 0u : 1u) << c["connector"];
  }

  // A key valid from a future date shows as not yet valid.
  auto future = new_public_key("future");
  ok({"trust", "add-key", "--connector", "gx-market", "--kid", "gxm-2030-01", "--pem", future, "--not-before",
      "2030-01-01T00:00:00+09:00"});
  auto keys = json::parse(ok({"trust", "list", "--connector", "gx-market", "--json"}))[0]["signing_keys"];
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[1]["state"], "not-yet-valid");
  EXPECT_EQ(keys[1]["valid_from"], "2029-12-31T15:00:00Z");

  auto bad_time = hubctl({"trust", "add-key", "--connector", "gx-market", "--kid", "x", "--pem", future,
                          "--not-after", "2030-01-01"});
  EXPECT_EQ(bad_time.exit_code, 2) << bad_time.output;
  EXPECT_NE(bad_time.output.find("offset"), std::string::npos) << bad_time.output;

  // Rotation: the new key, and the old one accepted for the overlap.
  auto next = new_public_key("next");
  auto rotated = ok({"trust", "rotate", "--connector", "gx-market", "--old-kid", "gxm-2026-01", "--new-kid",
                     "gxm-2026-02", "--pem", next, "--overlap", "2d"});
  EXPECT_NE(rotated.find("is accepted until"), std::string::npos) << rotated;
  keys = json::parse(ok({"trust", "list", "--connector", "gx-market", "--json"}))[0]["signing_keys"];
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_FALSE(keys[0]["valid_to"].is_null());
  EXPECT_EQ(keys[0]["state"], "valid");
  EXPECT_EQ(keys[2]["replaces"], keys[0]["id"]);

  // Revocation needs a reason; a kid is never reused.
  auto no_reason = hubctl({"trust", "revoke", "--connector", "gx-market", "--kid", "gxm-2026-01"});
  EXPECT_EQ(no_reason.exit_code, 2) << no_reason.output;
  EXPECT_NE(no_reason.output.find("--reason is required"), std::string::npos);
  ok({"trust", "revoke", "--connector", "gx-market", "--kid", "gxm-2026-01", "--reason", "rotation finished early"});
  auto reuse = hubctl({"trust", "add-key", "--connector", "gx-market", "--kid", "gxm-2026-01", "--pem",
                       new_public_key("again")});
  EXPECT_EQ(reuse.exit_code, 1) << reuse.output;
  EXPECT_NE(reuse.output.find("KID_ALREADY_USED"), std::string::npos) << reuse.output;
  auto revoked_list = ok({"trust", "list", "--connector", "gx-market"});
  EXPECT_NE(revoked_list.find("revoked"), std::string::npos) << revoked_list;
  EXPECT_NE(revoked_list.find("rotation finished early"), std::string::npos) << revoked_list;

  auto tls_id = json::parse(ok({"trust", "list", "--connector", "jcm", "--json"}))[0]["tls_credentials"][0]["id"];
  ok({"trust", "revoke", "--id", std::to_string(tls_id.get<long long>()), "--reason", "new certificate"});
  auto ca_refused = hubctl({"trust", "add-tls", "--connector", "jcm", "--cert", (pki_ / "jcm-tls-client.crt").string(),
                            "--ca"});
  EXPECT_EQ(ca_refused.exit_code, 1);
  EXPECT_NE(ca_refused.output.find("NOT_A_CA"), std::string::npos) << ca_refused.output;
  ok({"trust", "add-tls", "--connector", "jcm", "--cert", (pki_ / "ca.crt").string(), "--ca"});

  // The audit trail: every change, by the OS user.
  auto events = json::parse(ok({"audit", "list", "--json"}));
  ASSERT_EQ(events.size(), 9u + 1 + 2 + 1 + 1 + 1);
  for (const auto& e : events) EXPECT_EQ(e["actor"], os_user()) << e;
  auto revocations = json::parse(ok({"audit", "list", "--action", "signing_key.revoked", "--json"}));
  ASSERT_EQ(revocations.size(), 1u);
  EXPECT_EQ(revocations[0]["detail"]["reason"], "rotation finished early");
  EXPECT_EQ(json::parse(ok({"audit", "list", "--action", "tls_credential", "--json"})).size(), 5u + 1 + 1);
  EXPECT_EQ(json::parse(ok({"audit", "list", "--since", "2199-01-01T00:00:00Z", "--json"})).size(), 0u);
  auto text = ok({"audit", "list", "--action", "signing_key.rotated_out"});
  EXPECT_NE(text.find("signing_key.rotated_out"), std::string::npos) << text;
  auto verify = ok({"audit", "verify"});
  EXPECT_NE(verify.find("OK: 15 audit events"), std::string::npos) << verify;
}

TEST_F(HubctlTrustE2eTest, AuditVerifyNamesTheEventASuperuserAltered) {
  ok({"trust", "import-dev-pki", pki_.string()});
  ok({"trust", "revoke", "--connector", "gx-market", "--kid", "gxm-2026-01", "--reason", "test"});
  ASSERT_EQ(hubctl({"audit", "verify"}).exit_code, 0);
  const auto& s = ht::services();
  auto super = db::Connection::connect(s.conninfo("gx_super", s.super_password, db_->name()));
  super->exec("SET session_replication_role = replica");
  super->exec("UPDATE audit_events SET detail = jsonb_set(detail, '{reason}', '\"nothing to see\"') "
              "WHERE action = 'signing_key.revoked'");
  auto altered = super->exec("SELECT id FROM audit_events WHERE action = 'signing_key.revoked'").get(0, 0);
  auto r = hubctl({"audit", "verify"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("HASH_MISMATCH [audit event " + altered + "]"), std::string::npos) << r.output;
  auto j = hubctl({"audit", "verify", "--json"});
  EXPECT_EQ(j.exit_code, 2);
  auto report = json::parse(j.output);
  EXPECT_FALSE(report["ok"].get<bool>());
  EXPECT_EQ(report["breaks"][0]["id"], std::stoll(altered));
}

}  // namespace
}  // namespace hub
