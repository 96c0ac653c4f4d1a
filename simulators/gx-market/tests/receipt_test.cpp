// Receipt verification and the checks of each answer, with receipts made by a test signer.
#include <gtest/gtest.h>

#include "gxm/receipt.hpp"

namespace gxm {
namespace {

using nlohmann::json;

class ReceiptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hub_key_ = generate_p256_key();
    other_key_ = generate_p256_key();
    auto pub = public_key_from_pem(public_key_pem(hub_key_.get()));
    ASSERT_TRUE(pub.ok());
    verifier_.emplace(*pub);
    req_.message_id = "GXM-R-000001";
    req_.target = std::string(kSettlementsPath);
    req_.body = "header.payload.signature";
    req_.expect = expectation_for(Fault::kNone);
    req_.trades = {{"T-R-000001", "applied", ""}};
  }

  json payload(const std::string& status = "accepted") {
    return {{"message_id", req_.message_id},
            {"hub_ref", "HUB-1"},
            {"status", status},
            {"received_at", "2026-11-21T15:30:02.123+09:00"},
            {"body_sha256", sha256_hex(req_.body)},
            {"trades", json::array({{{"trade_id", "T-R-000001"}, {"status", status},
                                     {"reason_code", nullptr}}})}};
  }

  std::string sign(const json& p, EVP_PKEY* key = nullptr,
                   const std::string& typ = "gx-hub-receipt+jws") {
    OrderedJson h{{"alg", "ES256"}, {"typ", typ}};
    return jws_make(h, p.dump(), key ? key : hub_key_.get()).value();
  }

  HttpAnswer answer(int status, std::string body, std::string ct = "application/jose") {
    return HttpAnswer{status, {{"content-type", ct}}, std::move(body)};
  }

  static bool failed(const Checks& c, const std::string& name) {
    for (const auto& f : c.failed) {
      if (f.check == name) return true;
    }
    return false;
  }

  Pkey hub_key_, other_key_;
  std::optional<ReceiptVerifier> verifier_;
  Request req_;
};

TEST_F(ReceiptTest, AGoodReceiptPassesEveryCheck) {
  auto review = review_answer(req_, answer(202, sign(payload())), *verifier_, false);
  EXPECT_TRUE(review.checks.failed.empty()) << review.checks.failed[0].check;
  EXPECT_GE(review.checks.passed, 5);
  ASSERT_TRUE(review.receipt);
  EXPECT_EQ(review.receipt->hub_ref, "HUB-1");
  EXPECT_TRUE(review.accepted);
}

TEST_F(ReceiptTest, ATamperedReceiptFailsTheSignatureCheck) {
  auto jws = sign(payload());
  auto parts = jws_parse(jws).value();
  auto altered = payload();
  altered["hub_ref"] = "HUB-2";
  auto forged = jws_join(parts.header_b64, base64url_encode(altered.dump()), parts.signature_b64);
  EXPECT_EQ(verifier_->verify(forged).error().code, "RECEIPT_SIGNATURE");
  auto review = review_answer(req_, answer(202, forged), *verifier_, false);
  EXPECT_TRUE(failed(review.checks, "receipt_signature"));
  EXPECT_FALSE(review.receipt);
}

TEST_F(ReceiptTest, AReceiptByAnotherKeyOrOfAnotherTypFails) {
  EXPECT_EQ(verifier_->verify(sign(payload(), other_key_.get())).error().code, "RECEIPT_SIGNATURE");
  EXPECT_EQ(verifier_->verify(sign(payload(), nullptr, "gx-market+jws")).error().code,
            "RECEIPT_SIGNATURE");
  OrderedJson none{{"alg", "none"}, {"typ", "gx-hub-receipt+jws"}};
  auto unsigned_jws = base64url_encode(none.dump()) + "." + base64url_encode(payload().dump()) + ".";
  EXPECT_EQ(verifier_->verify(unsigned_jws).error().code, "RECEIPT_SIGNATURE");
}

TEST_F(ReceiptTest, AWrongBodyDigestIsCaught) {
  auto p = payload();
  p["body_sha256"] = sha256_hex(req_.body + " ");
  auto review = review_answer(req_, answer(202, sign(p)), *verifier_, false);
  EXPECT_TRUE(failed(review.checks, "receipt_body_sha256"));
  EXPECT_FALSE(failed(review.checks, "receipt_signature"));
  // Upper-case hex of the right digest is the same digest.
  p["body_sha256"] = sha256_hex(req_.body);
  for (auto& ch : p["body_sha256"].get_ref<std::string&>()) ch = static_cast<char>(std::toupper(ch));
  EXPECT_TRUE(review_answer(req_, answer(202, sign(p)), *verifier_, false).checks.failed.empty());
}

TEST_F(ReceiptTest, MissingOrMistypedMembersAreCaught) {
  for (const char* m : {"message_id", "hub_ref", "status", "received_at", "body_sha256"}) {
    auto p = payload();
    p.erase(m);
    EXPECT_EQ(verifier_->verify(sign(p)).error().code, "RECEIPT_FIELDS") << m;
  }
  auto p = payload();
  p["received_at"] = "yesterday";
  EXPECT_EQ(verifier_->verify(sign(p)).error().code, "RECEIPT_FIELDS");
  p = payload("exception");  // an exception must say why
  EXPECT_EQ(verifier_->verify(sign(p)).error().code, "RECEIPT_FIELDS");
  p = payload("done");
  EXPECT_EQ(verifier_->verify(sign(p)).error().code, "RECEIPT_FIELDS");
}

TEST_F(ReceiptTest, AnotherMessageIdOrStatusIn202IsCaught) {
  auto p = payload();
  p["message_id"] = "GXM-R-000002";
  EXPECT_TRUE(failed(review_answer(req_, answer(202, sign(p)), *verifier_, false).checks,
                     "receipt_message_id"));
  auto applied = review_answer(req_, answer(202, sign(payload("applied"))), *verifier_, false);
  EXPECT_TRUE(failed(applied.checks, "receipt_status"));
}

TEST_F(ReceiptTest, TwoHundredIsAcceptedForANewMessageOnlyAfterALostAttempt) {
  auto first_try = review_answer(req_, answer(200, sign(payload())), *verifier_, false);
  EXPECT_TRUE(failed(first_try.checks, "http_status"));
  auto after_loss = review_answer(req_, answer(200, sign(payload())), *verifier_, true);
  EXPECT_TRUE(after_loss.checks.failed.empty());
  EXPECT_TRUE(after_loss.accepted);
}

TEST_F(ReceiptTest, ProblemAnswersNeedTheRightCodeTypeAndMessageId) {
  req_.expect = expectation_for(Fault::kStale);
  json problem{{"type", "about:blank"}, {"title", "stale"}, {"status", 400},
               {"code", "STALE_MESSAGE"}, {"message_id", req_.message_id}};
  auto good = review_answer(req_, answer(400, problem.dump(), "application/problem+json"),
                            *verifier_, false);
  EXPECT_TRUE(good.checks.failed.empty());
  EXPECT_EQ(good.code, "STALE_MESSAGE");
  EXPECT_FALSE(good.accepted);

  auto wrong_ct = review_answer(req_, answer(400, problem.dump(), "application/json"), *verifier_, false);
  EXPECT_TRUE(failed(wrong_ct.checks, "problem_content_type"));

  json other = problem;
  other["code"] = "SCHEMA_VIOLATION";
  EXPECT_TRUE(failed(review_answer(req_, answer(400, other.dump(), "application/problem+json"),
                                   *verifier_, false).checks,
                     "problem_code"));
  json anonymous = problem;
  anonymous.erase("message_id");
  EXPECT_TRUE(failed(review_answer(req_, answer(400, anonymous.dump(), "application/problem+json"),
                                   *verifier_, false).checks,
                     "problem_message_id"));
  auto accepted = review_answer(req_, answer(202, sign(payload())), *verifier_, false);
  EXPECT_TRUE(failed(accepted.checks, "http_status"));
}

TEST_F(ReceiptTest, FinalReceiptsAreComparedWithTheExpectedOutcome) {
  Checks ok;
  auto applied = verifier_->verify(sign(payload("applied"))).value();
  review_current_receipt(req_, sha256_hex(req_.body), "HUB-1", applied, ok);
  EXPECT_TRUE(ok.failed.empty());

  Checks other_ref;
  review_current_receipt(req_, sha256_hex(req_.body), "HUB-9", applied, other_ref);
  EXPECT_TRUE(failed(other_ref, "final_hub_ref"));

  auto p = payload("exception");
  p["reason_code"] = "INSUFFICIENT_BALANCE";
  p["trades"][0]["reason_code"] = "INSUFFICIENT_BALANCE";
  auto exc = verifier_->verify(sign(p)).value();
  Checks wrong;
  review_current_receipt(req_, sha256_hex(req_.body), "HUB-1", exc, wrong);
  EXPECT_TRUE(failed(wrong, "final_status"));
  EXPECT_TRUE(failed(wrong, "final_trades"));

  req_.expect = expectation_for(Fault::kInsufficientBalance);
  req_.trades = {{"T-R-000001", "exception", "INSUFFICIENT_BALANCE"}};
  Checks right;
  review_current_receipt(req_, sha256_hex(req_.body), "HUB-1", exc, right);
  EXPECT_TRUE(right.failed.empty()) << right.failed[0].detail;
}

}  // namespace
}  // namespace gxm
