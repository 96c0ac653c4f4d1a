// Each fault produces the bytes it is meant to, and the plan of a run is reproducible.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "gxm/account.hpp"
#include "gxm/factory.hpp"

namespace gxm {
namespace {

using nlohmann::json;
const std::vector<std::string> kAccounts = {"JP-GX-100-0000018", "JP-GX-100-0000026",
                                            "JP-GX-100-0000034"};
const std::vector<std::string> kSettlementMembers = {
    "message_id", "sent_at",    "trade_id", "trade_date", "settlement_date", "session",
    "seller_account", "buyer_account", "unit_type", "vintage", "quantity", "price_jpy"};

class FactoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = generate_p256_key();
    auto f = MessageFactory::make({key_, "gxm-2026-01", true});
    ASSERT_TRUE(f.ok());
    factory_.emplace(std::move(*f));
  }

  Plan plan(Fault fault, uint64_t variant = 0, bool batch = false) {
    Plan p;
    p.message_id = batch ? "GXM-B-T-000001" : "GXM-T-000001";
    p.fault = fault;
    p.batch = batch;
    p.variant = variant;
    for (int i = 0; i < (batch ? 3 : 1); ++i) {
      p.trades.push_back({"T-T-000001-" + std::to_string(i), "2026-11-21", "2026-11-21",
                          "continuous", kAccounts[0], kAccounts[1], "GXA", 2026, 7, 2450});
    }
    return p;
  }

  Request build(const Plan& p) {
    auto r = factory_->build(p, now_);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : Request{};
  }

  // The JWS parts; `verifies` tells whether the registered key verifies it.
  JwsParts parts(const Request& r, bool* verifies = nullptr) {
    auto p = jws_parse(r.body);
    EXPECT_TRUE(p.ok()) << r.body;
    if (verifies) *verifies = jws_verify_compact(r.body, key_.get(), "gx-market+jws").ok();
    return p.ok() ? *p : JwsParts{};
  }

  static json payload_json(const JwsParts& p) { return json::parse(p.payload); }

  Pkey key_;
  std::optional<MessageFactory> factory_;
  SysTime now_ = std::chrono::system_clock::now();
};

TEST_F(FactoryTest, CleanSettlementIsExactlyTheSpecsMessage) {
  auto r = build(plan(Fault::kNone));
  bool ok = false;
  auto p = parts(r, &ok);
  EXPECT_TRUE(ok);
  EXPECT_EQ(p.header_json,
            R"({"alg":"ES256","kid":"gxm-2026-01","typ":"gx-market+jws","cty":"settlement"})");
  auto j = nlohmann::ordered_json::parse(p.payload);
  std::vector<std::string> keys;
  for (auto& [k, v] : j.items()) keys.push_back(k);
  EXPECT_EQ(keys, kSettlementMembers);
  EXPECT_EQ(j["unit_type"], "GXA");
  EXPECT_EQ(j["sent_at"], rfc3339_jst(now_));
  EXPECT_EQ(r.target, "/connectors/gx-market/v1/settlements");
  EXPECT_EQ(r.content_type, "application/jose");
  EXPECT_EQ(r.idempotency_key, std::optional<std::string>("GXM-T-000001"));
  EXPECT_EQ(r.expect.http, 202);
  EXPECT_EQ(r.expect.final_status, "applied");
  ASSERT_EQ(r.trades.size(), 1u);
  EXPECT_EQ(r.trades[0].status, "applied");
}

TEST_F(FactoryTest, SentAtIsJapanTimeWithItsOffset) {
  auto t = parse_rfc3339("2026-11-21T06:30:02Z");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(rfc3339_jst(*t), "2026-11-21T15:30:02+09:00");
  EXPECT_EQ(jst_date(*parse_rfc3339("2026-11-21T15:30:02Z")), "2026-11-22");
  EXPECT_EQ(*parse_rfc3339("2026-11-21T15:30:02+09:00"), *t);
  EXPECT_FALSE(parse_rfc3339("2026-11-21T15:30:02").ok());
  EXPECT_FALSE(parse_rfc3339("2026-02-30T15:30:02Z").ok());
  EXPECT_EQ(add_days("2026-03-01", -1), "2026-02-28");
}

TEST_F(FactoryTest, BatchUsesItsEndpointCtyAndItems) {
  auto r = build(plan(Fault::kNone, 0, true));
  bool ok = false;
  auto p = parts(r, &ok);
  EXPECT_TRUE(ok);
  EXPECT_EQ(p.header["cty"], "settlement-batch");
  EXPECT_EQ(r.target, "/connectors/gx-market/v1/settlements:batch");
  auto j = nlohmann::ordered_json::parse(p.payload);
  std::vector<std::string> keys;
  for (auto& [k, v] : j.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"message_id", "sent_at", "settlements"}));
  ASSERT_EQ(j["settlements"].size(), 3u);
  EXPECT_FALSE(j["settlements"][0].contains("message_id"));
  EXPECT_FALSE(j["settlements"][0].contains("sent_at"));
  EXPECT_EQ(j["settlements"][0].size(), 10u);
  EXPECT_EQ(r.trades.size(), 3u);
}

TEST_F(FactoryTest, StaleSentAtIsElevenToThirtyMinutesOld) {
  for (uint64_t v = 0; v < 40; ++v) {
    auto r = build(plan(Fault::kStale, v));
    auto sent = parse_rfc3339(payload_json(parts(r))["sent_at"]);
    ASSERT_TRUE(sent.ok());
    auto age = std::chrono::duration_cast<std::chrono::seconds>(now_ - *sent).count();
    EXPECT_GE(age, 11 * 60);
    EXPECT_LE(age, 31 * 60);
    EXPECT_EQ(r.expect.http, 400);
    EXPECT_EQ(r.expect.codes, std::vector<std::string>{"STALE_MESSAGE"});
  }
}

TEST_F(FactoryTest, SignatureFaultsBreakOnlyTheSignature) {
  bool ok = true;
  auto bad = parts(build(plan(Fault::kBadSignature)), &ok);
  EXPECT_FALSE(ok);
  EXPECT_EQ(payload_json(bad)["quantity"], 8);  // 7 + 1 after signing
  EXPECT_EQ(bad.header["kid"], "gxm-2026-01");

  auto wrong = parts(build(plan(Fault::kWrongKey)), &ok);
  EXPECT_FALSE(ok);
  EXPECT_EQ(wrong.header["kid"], "gxm-2026-01");
  EXPECT_EQ(wrong.header["alg"], "ES256");
  EXPECT_EQ(wrong.signature.size(), 64u);

  auto kid = parts(build(plan(Fault::kUnknownKid)), &ok);
  EXPECT_NE(kid.header["kid"], "gxm-2026-01");
  // Signed with the registered key: only the kid is wrong.
  EXPECT_TRUE(jws_verify(kid.header["alg"].get<std::string>(), key_.get(), kid.signing_input(),
                         kid.signature)
                  .ok());

  auto none = parts(build(plan(Fault::kAlgNone)), &ok);
  EXPECT_EQ(none.header["alg"], "none");
  EXPECT_TRUE(none.signature.empty());

  auto hs = parts(build(plan(Fault::kAlgHs256)), &ok);
  EXPECT_EQ(hs.header["alg"], "HS256");
  EXPECT_EQ(hs.signature, hmac_sha256(public_key_pem(key_.get()), hs.signing_input()));

  for (auto f : {Fault::kBadSignature, Fault::kWrongKey, Fault::kUnknownKid, Fault::kAlgNone,
                 Fault::kAlgHs256}) {
    auto r = build(plan(f));
    EXPECT_EQ(r.expect.http, 401) << fault_name(f);
    EXPECT_EQ(r.expect.codes, std::vector<std::string>{"SIGNATURE_INVALID"});
    EXPECT_TRUE(r.trades.empty());
  }
}

TEST_F(FactoryTest, SchemaFaultsAreSignedCorrectlyButBreakTheSchema) {
  std::set<std::string> dropped;
  for (uint64_t v = 0; v < 48; ++v) {
    bool ok = false;
    auto j = payload_json(parts(build(plan(Fault::kMissingField, v)), &ok));
    EXPECT_TRUE(ok);
    EXPECT_EQ(j.size(), kSettlementMembers.size() - 1);
    for (const auto& m : kSettlementMembers) {
      if (!j.contains(m)) dropped.insert(m);
    }
  }
  EXPECT_EQ(dropped.size(), kSettlementMembers.size());  // every member gets its turn

  bool ok = false;
  auto extra = payload_json(parts(build(plan(Fault::kUnknownField)), &ok));
  EXPECT_TRUE(ok);
  EXPECT_TRUE(extra.contains("remarks"));

  for (uint64_t v = 0; v < 10; ++v) {
    auto r = build(plan(Fault::kOutOfRange, v));
    auto j = payload_json(parts(r, &ok));
    EXPECT_TRUE(ok);
    int64_t q = j["quantity"], price = j["price_jpy"], vintage = j["vintage"];
    bool out = q < 1 || q > 10'000'000 || price < 1 || price > 1'000'000 || vintage < 2026 ||
               vintage > 2100 || j["settlement_date"] < j["trade_date"] ||
               j["unit_type"] != "GXA" ||
               (j["session"] != "auction" && j["session"] != "continuous" && j["session"] != "block");
    EXPECT_TRUE(out) << "variant " << v << ": " << j.dump();
    EXPECT_EQ(r.expect.codes, std::vector<std::string>{"SCHEMA_VIOLATION"});
  }

  for (uint64_t v = 0; v < 2; ++v) {
    auto j = payload_json(parts(build(plan(Fault::kBadCheckDigit, v)), &ok));
    EXPECT_TRUE(ok);
    // Exactly one of the two accounts has a wrong check digit.
    EXPECT_NE(validate_account_number(j["seller_account"].get<std::string>()).ok(),
              validate_account_number(j["buyer_account"].get<std::string>()).ok());
  }

  auto mal = build(plan(Fault::kMalformedJson));
  auto mp = parts(mal, &ok);
  EXPECT_TRUE(ok);
  EXPECT_TRUE(json::parse(mp.payload, nullptr, false).is_discarded());
  EXPECT_EQ(mal.expect.codes, std::vector<std::string>{"MALFORMED"});
}

TEST_F(FactoryTest, BatchSchemaFaultsCanHitAnItem) {
  bool ok = false;
  auto j = payload_json(parts(build(plan(Fault::kUnknownField, 1, true)), &ok));
  EXPECT_TRUE(ok);
  EXPECT_TRUE(j["settlements"][0].contains("remarks"));
  auto m = payload_json(parts(build(plan(Fault::kMissingField, 1, true)), &ok));
  EXPECT_EQ(m["settlements"][0].size(), 9u);
}

TEST_F(FactoryTest, IdempotencyKeyMismatchKeepsAValidMessage) {
  auto r = build(plan(Fault::kIdempotencyMismatch));
  bool ok = false;
  parts(r, &ok);
  EXPECT_TRUE(ok);
  ASSERT_TRUE(r.idempotency_key);
  EXPECT_NE(*r.idempotency_key, r.message_id);
  EXPECT_EQ(r.expect.http, 400);
  EXPECT_EQ(r.expect.codes, std::vector<std::string>{"MALFORMED"});
}

TEST_F(FactoryTest, FollowUpsReuseOrChangeWhatTheirFaultSays) {
  auto dup_plan = plan(Fault::kDuplicate);
  auto original = build(dup_plan);
  EXPECT_EQ(original.expect.http, 202);  // the original of a follow-up is clean
  auto dup = factory_->build_followup(dup_plan, original, now_);
  ASSERT_TRUE(dup.ok());
  EXPECT_EQ(dup->body, original.body);
  EXPECT_EQ(dup->message_id, original.message_id);
  EXPECT_EQ(dup->expect.http, 200);

  auto conflict_plan = plan(Fault::kConflict);
  auto corig = build(conflict_plan);
  auto conflict = factory_->build_followup(conflict_plan, corig, now_);
  ASSERT_TRUE(conflict.ok());
  bool ok = false;
  auto cp = parts(*conflict, &ok);
  EXPECT_TRUE(ok);
  EXPECT_NE(conflict->body, corig.body);
  EXPECT_EQ(payload_json(cp)["message_id"], corig.message_id);
  EXPECT_EQ(payload_json(cp)["quantity"], 8);
  EXPECT_EQ(conflict->expect.http, 409);
  EXPECT_EQ(conflict->expect.codes, std::vector<std::string>{"IDEMPOTENCY_CONFLICT"});

  auto dt_plan = plan(Fault::kDuplicateTrade);
  auto dorig = build(dt_plan);
  auto dt = factory_->build_followup(dt_plan, dorig, now_);
  ASSERT_TRUE(dt.ok());
  auto dp = payload_json(parts(*dt, &ok));
  EXPECT_TRUE(ok);
  EXPECT_NE(dt->message_id, dorig.message_id);
  EXPECT_EQ(dp["message_id"], dt->message_id);
  EXPECT_EQ(dt->idempotency_key, std::optional<std::string>(dt->message_id));
  EXPECT_EQ(dp["trade_id"], dt_plan.trades[0].trade_id);
  EXPECT_EQ(dt->expect.http, 202);
  EXPECT_EQ(dt->expect.final_status, "exception");
  EXPECT_EQ(dt->expect.final_reason, "DUPLICATE_TRADE");

  EXPECT_FALSE(factory_->build_followup(plan(Fault::kStale), original, now_).ok());
}

TEST_F(FactoryTest, StatementBreaksChangeTheLinesOrTotals) {
  std::vector<StatementLine> lines = {{"T-1", kAccounts[0], kAccounts[1], 2026, 5},
                                      {"T-2", kAccounts[1], kAccounts[2], 2026, 7}};
  auto stmt = [&](std::vector<StatementBreak> breaks) {
    Rng rng(3);
    auto r = factory_->build_statement("GXM-S-T-1", "2026-11-21", lines, breaks, "T-EXTRA",
                                       now_, rng);
    EXPECT_TRUE(r.ok());
    bool ok = false;
    auto p = parts(*r, &ok);
    EXPECT_TRUE(ok);
    EXPECT_EQ(p.header["cty"], "statement");
    EXPECT_EQ(r->target, "/connectors/gx-market/v1/statements");
    return nlohmann::ordered_json::parse(p.payload);
  };
  auto sum = [](const nlohmann::ordered_json& j) {
    int64_t s = 0;
    for (const auto& t : j["trades"]) s += t["quantity"].get<int64_t>();
    return s;
  };
  auto clean = stmt({});
  std::vector<std::string> keys;
  for (auto& [k, v] : clean.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"message_id", "sent_at", "business_date",
                                            "trade_count", "total_quantity", "trades"}));
  EXPECT_EQ(clean["trade_count"], 2);
  EXPECT_EQ(clean["total_quantity"], 12);
  EXPECT_EQ(clean["trades"][0].size(), 5u);

  auto missing = stmt({StatementBreak::kMissingTrade});
  EXPECT_EQ(missing["trades"].size(), 1u);
  EXPECT_EQ(missing["trade_count"], 1);
  EXPECT_EQ(missing["total_quantity"], sum(missing));

  auto extra = stmt({StatementBreak::kExtraTrade});
  EXPECT_EQ(extra["trades"].size(), 3u);
  EXPECT_EQ(extra["trades"][2]["trade_id"], "T-EXTRA");
  EXPECT_EQ(extra["total_quantity"], sum(extra));

  auto qty = stmt({StatementBreak::kWrongQuantity});
  EXPECT_EQ(qty["total_quantity"], 13);
  EXPECT_EQ(qty["total_quantity"], sum(qty));

  auto totals = stmt({StatementBreak::kWrongTotals});
  EXPECT_EQ(totals["trade_count"], 2);
  EXPECT_EQ(totals["total_quantity"], sum(totals) + 1);
}

PlanConfig config(uint64_t seed, std::string faults) {
  PlanConfig pc;
  pc.run_id = "RUN";
  pc.accounts = kAccounts;
  pc.trade_date = pc.settlement_date = "2026-11-21";
  pc.count = 1000;
  pc.seed = seed;
  pc.faults = parse_fault_spec(faults).value();
  return pc;
}

TEST(PlannerTest, TheSameSeedGivesTheSameRun) {
  auto a = std::move(Planner::make(config(42, "stale=0.1,unknown_account=5")).value());
  auto b = std::move(Planner::make(config(42, "stale=0.1,unknown_account=5")).value());
  auto c = std::move(Planner::make(config(43, "stale=0.1,unknown_account=5")).value());
  bool differs = false;
  std::set<std::string> ids, trade_ids;
  while (auto pa = a->next()) {
    auto pb = b->next();
    auto pc = c->next();
    ASSERT_TRUE(pb && pc);
    EXPECT_EQ(pa->fault, pb->fault);
    EXPECT_EQ(pa->trades[0].seller_account, pb->trades[0].seller_account);
    EXPECT_EQ(pa->trades[0].quantity, pb->trades[0].quantity);
    EXPECT_NE(pa->trades[0].seller_account, pa->trades[0].buyer_account);
    EXPECT_GE(pa->trades[0].quantity, 1);
    EXPECT_LE(pa->trades[0].quantity, 10);
    differs |= pa->trades[0].quantity != pc->trades[0].quantity;
    ids.insert(pa->message_id);
    trade_ids.insert(pa->trades[0].trade_id);
  }
  EXPECT_TRUE(differs);
  EXPECT_EQ(ids.size(), 1000u);
  EXPECT_EQ(trade_ids.size(), 1000u);
  EXPECT_FALSE(a->next());
}

TEST(PlannerTest, ExactCountsAreExactAndProbabilitiesAreClose) {
  auto p = std::move(Planner::make(config(9, "stale=7,conflict=3,duplicate=0.2")).value());
  std::map<Fault, int> n;
  while (auto plan = p->next()) {
    ++n[plan->fault];
    if (plan->fault == Fault::kUnknownAccount) {
      EXPECT_TRUE(validate_account_number(plan->trades[0].buyer_account).ok());
    }
  }
  EXPECT_EQ(n[Fault::kStale], 7);
  EXPECT_EQ(n[Fault::kConflict], 3);
  EXPECT_GT(n[Fault::kDuplicate], 150);  // 0.2 of 990, binomial sd ~ 12.6
  EXPECT_LT(n[Fault::kDuplicate], 250);
}

TEST(PlannerTest, UnknownAccountsAreValidNumbersOutsideTheList) {
  auto p = std::move(Planner::make(config(5, "unknown_account=1.0")).value());
  for (int i = 0; i < 50; ++i) {
    auto plan = p->next();
    ASSERT_TRUE(plan);
    const auto& t = plan->trades[0];
    const std::string& unknown =
        std::find(kAccounts.begin(), kAccounts.end(), t.buyer_account) == kAccounts.end()
            ? t.buyer_account
            : t.seller_account;
    EXPECT_TRUE(std::find(kAccounts.begin(), kAccounts.end(), unknown) == kAccounts.end());
    EXPECT_TRUE(validate_account_number(unknown).ok()) << unknown;
  }
}

TEST(PlannerTest, RefusesBadConfigurations) {
  auto pc = config(1, "");
  pc.accounts = {kAccounts[0]};
  EXPECT_FALSE(Planner::make(pc).ok());
  pc = config(1, "");
  pc.accounts = {kAccounts[0], "JP-GX-100-0000019"};
  EXPECT_FALSE(Planner::make(pc).ok());
  pc = config(1, "stale=1001");
  EXPECT_FALSE(Planner::make(pc).ok());
  pc = config(1, "stale=2");
  pc.count.reset();
  EXPECT_FALSE(Planner::make(pc).ok());  // exact counts need a finite run
}

TEST(FaultSpecTest, ReadsProbabilitiesAndCounts) {
  auto r = parse_fault_spec("duplicate=0.05,conflict=0.01,stale=3");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].fault, Fault::kDuplicate);
  EXPECT_DOUBLE_EQ((*r)[0].probability, 0.05);
  EXPECT_FALSE((*r)[0].count);
  EXPECT_EQ((*r)[2].count, std::optional<uint64_t>(3));
  for (const char* bad : {"nosuch=0.1", "stale", "stale=-1", "stale=1.5", "stale=0.6,conflict=0.6",
                          "stale=1,stale=2", "stale=abc"}) {
    EXPECT_FALSE(parse_fault_spec(bad).ok()) << bad;
  }
  EXPECT_TRUE(parse_fault_spec("").ok());
  for (auto f : all_faults()) {
    EXPECT_EQ(fault_from_name(fault_name(f)), f);
  }
}

}  // namespace
}  // namespace gxm
