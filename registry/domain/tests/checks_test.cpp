#include "registry/domain/checks.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "hub/testing/test_env.hpp"

namespace hub::registry {
namespace {

struct CheckRow {
  Check check;
  int number;
  const char* code;
};

// The published numbering: a change here is a change of the registry's interface.
const CheckRow kRows[] = {
    {Check::kMalformedAccountNumber, 1001, "MALFORMED_ACCOUNT_NUMBER"},
    {Check::kInvalidCorporateNumber, 1002, "INVALID_CORPORATE_NUMBER"},
    {Check::kUnknownAccount, 1003, "UNKNOWN_ACCOUNT"},
    {Check::kAccountNotOpen, 1004, "ACCOUNT_NOT_OPEN"},
    {Check::kInsufficientBalance, 1005, "INSUFFICIENT_BALANCE"},
    {Check::kInvalidQuantity, 1006, "INVALID_QUANTITY"},
    {Check::kInvalidVintage, 1007, "INVALID_VINTAGE"},
    {Check::kUnitNotTransferable, 1008, "UNIT_NOT_TRANSFERABLE"},
    {Check::kAccountTypeNotAllowed, 1009, "ACCOUNT_TYPE_NOT_ALLOWED"},
    {Check::kSameAccount, 1010, "SAME_ACCOUNT"},
    {Check::kSerialAlreadyUsed, 1011, "SERIAL_ALREADY_USED"},
    {Check::kSerialRangeInvalid, 1012, "SERIAL_RANGE_INVALID"},
    {Check::kIdempotencyConflict, 1013, "IDEMPOTENCY_CONFLICT"},
    {Check::kSurrenderedUnitsFinal, 1014, "SURRENDERED_UNITS_FINAL"},
    {Check::kFourEyesViolation, 1015, "FOUR_EYES_VIOLATION"},
    {Check::kCorrectionNotPending, 1016, "CORRECTION_NOT_PENDING"},
    {Check::kReversalNotPossible, 1017, "REVERSAL_NOT_POSSIBLE"},
    {Check::kHolderMismatch, 1018, "HOLDER_MISMATCH"},
    {Check::kUnknownCompany, 1019, "UNKNOWN_COMPANY"},
    {Check::kAccountHasBalance, 1020, "ACCOUNT_HAS_BALANCE"},
    {Check::kUnknownUnitType, 1021, "UNKNOWN_UNIT_TYPE"},
    {Check::kAccountStateChangeNotAllowed, 1022, "ACCOUNT_STATE_CHANGE_NOT_ALLOWED"},
    {Check::kInvalidReason, 1023, "INVALID_REASON"},
};

TEST(CheckTest, NumbersAndCodesAreThePublishedOnes) {
  for (const auto& row : kRows) {
    SCOPED_TRACE(row.code);
    EXPECT_EQ(check_number(row.check), row.number);
    EXPECT_EQ(check_code(row.check), row.code);
    ASSERT_TRUE(check_from_code(row.code).has_value());
    EXPECT_EQ(*check_from_code(row.code), row.check);
  }
}

TEST(CheckTest, AllChecksListsEveryCheckOnceInOrder) {
  const auto all = all_checks();
  ASSERT_EQ(all.size(), std::size(kRows));
  std::set<std::string> codes;
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i], kRows[i].check);
    codes.insert(std::string(check_code(all[i])));
  }
  EXPECT_EQ(codes.size(), all.size()) << "codes must be unique";
}

TEST(CheckTest, UnknownCodesAreNotChecks) {
  for (const char* code : {"", "insufficient_balance", "INSUFFICIENT_BALANCE ", "1005",
                           "ACCOUNT_HOLDER_MISMATCH", "QUANTITY_MISMATCH", "UNKNOWN"}) {
    SCOPED_TRACE(code);
    EXPECT_FALSE(check_from_code(code).has_value());
  }
}

TEST(CheckTest, RefusalNamesCodeAndNumber) {
  const Error e = refusal(Check::kInsufficientBalance,
                          "JP-GX-100-0000018 holds 400 GXA of 2026; the transfer needs 1,000");
  EXPECT_EQ(e.code, "INSUFFICIENT_BALANCE");
  EXPECT_EQ(e.message,
            "INSUFFICIENT_BALANCE (check 1005): JP-GX-100-0000018 holds 400 GXA of 2026; the "
            "transfer needs 1,000");
}

TEST(CheckTest, RefusalOfAnUnlistedValueStillHasACode) {
  const Error e = refusal(static_cast<Check>(4242), "x");
  EXPECT_EQ(check_code(static_cast<Check>(4242)), "");
  EXPECT_EQ(e.code, "CHECK_4242");
  EXPECT_EQ(e.message, "CHECK_4242 (check 4242): x");
}

// docs/registry-checks.md is the page operators read: it must describe every check.
TEST(CheckTest, DocumentationListsEveryCheck) {
  const auto doc = testing::read_file(testing::source_root() / "docs" / "registry-checks.md");
  for (const auto& row : kRows) {
    SCOPED_TRACE(row.code);
    const std::string line_start = "| " + std::to_string(row.number) + " | `" + row.code + "` |";
    EXPECT_NE(doc.find(line_start), std::string::npos) << "missing table row " << line_start;
  }
}

}  // namespace
}  // namespace hub::registry
