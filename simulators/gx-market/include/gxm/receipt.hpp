#pragma once
// The hub's signed receipts (common.md "Receipts", gx-market.md "Receipt") and the checks of
// each answer against what the spec demands. ReceiptVerifier is immutable after construction
// and thread-safe.

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gxm/crypto.hpp"
#include "gxm/factory.hpp"

namespace gxm {

inline constexpr std::string_view kReceiptTyp = "gx-hub-receipt+jws";

struct ReceiptTrade {
  std::string trade_id;
  std::string status;
  std::optional<std::string> reason_code;
  std::optional<std::string> hub_ref;
};

struct Receipt {
  std::string jws;
  nlohmann::json payload;
  std::string message_id;
  std::string hub_ref;
  std::string status;  // accepted | applied | exception | rejected
  std::optional<std::string> reason_code;
  std::string received_at;
  std::string body_sha256;
  std::vector<ReceiptTrade> trades;
};

bool is_final_status(const std::string& status);

class ReceiptVerifier {
 public:
  explicit ReceiptVerifier(Pkey key) : key_(std::move(key)) {}
  // The hub's receipt-signing certificate (or bare public key), PEM.
  static Result<ReceiptVerifier> from_file(const std::string& path);

  // Error code RECEIPT_SIGNATURE when the JWS does not verify with the hub's key (or has
  // another typ, a refused alg or header); RECEIPT_FIELDS when the payload lacks a member
  // the spec requires or holds a wrong value type.
  Result<Receipt> verify(std::string_view jws) const;

 private:
  Pkey key_;
};

struct CheckFailure {
  std::string check;
  std::string detail;
};

// The checks made on one request; counts what passed and keeps what failed.
struct Checks {
  int passed = 0;
  std::vector<CheckFailure> failed;
  void expect(bool ok, const std::string& check, const std::string& detail = {});
  void fail(const std::string& check, const std::string& detail) { expect(false, check, detail); }
};

struct HttpAnswer {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

struct AnswerReview {
  Checks checks;
  std::optional<Receipt> receipt;  // when the answer held a receipt that verified
  std::string code;                // problem+json code, if any
  bool accepted = false;           // 202, or 200 for a message the hub already holds
};

// Checks an answer to `req` (status, problem code, receipt signature, message_id,
// body_sha256). `retried`: an earlier attempt of the same bytes went unanswered, so 200
// (the hub stored it) is as good as 202.
AnswerReview review_answer(const Request& req, const HttpAnswer& answer,
                           const ReceiptVerifier& verifier, bool retried);

// Checks the hub's current receipt (GET .../messages/{id} or a callback) of an accepted
// message (its signature already verified): message_id, same hub_ref, body_sha256 of the
// accepted body; when it is final, the final status and reasons the spec demands for `req`.
void review_current_receipt(const Request& req, const std::string& body_sha256,
                            const std::string& hub_ref, const Receipt& receipt, Checks& checks);

}  // namespace gxm
