#include "registry/domain/account_number.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

namespace hub::registry {
namespace {

// Luhn validation written the other way round from the production code: over all seven
// digits, doubling every second digit from the right starting with the second-to-last;
// valid when the total is a multiple of 10.
bool luhn_valid(const std::string& digits) {
  int sum = 0;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    int d = digits[digits.size() - 1 - i] - '0';
    if (i % 2 == 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 == 0;
}

std::string message_of(std::string_view text) {
  auto r = AccountNumber::parse(text);
  return r.ok() ? std::string("<accepted>") : r.error().message;
}

TEST(LuhnTest, MatchesPublishedExamples) {
  // domain.md: JP-GX-100-0000018, so the check digit of 000001 is 8 (the rightmost
  // payload digit is the one doubled: 1 x 2 = 2, 10 - 2 = 8).
  EXPECT_EQ(luhn_check_digit("000001"), 8);
  // The textbook Luhn example (ISO/IEC 7812-1 Annex B, Wikipedia): 7992739871 -> 3.
  EXPECT_EQ(luhn_check_digit("7992739871"), 3);
  // The other account numbers of the partner specs (gx-market.md, exchange-market.md).
  EXPECT_EQ(luhn_check_digit("000002"), 6);
  EXPECT_EQ(luhn_check_digit("000003"), 4);
  EXPECT_EQ(luhn_check_digit("000000"), 0);
  EXPECT_EQ(luhn_check_digit(""), 0);
}

TEST(LuhnTest, RefusesNonDigits) {
  for (const char* bad : {"00000a", " 00001", "-1", "12.3", "\xEF\xBC\x91"}) {
    EXPECT_EQ(luhn_check_digit(bad), -1) << bad;
  }
}

TEST(LuhnTest, AgreesWithIndependentValidationForManySerials) {
  for (int serial = 0; serial <= 999'999; serial += 7) {
    std::string payload = std::to_string(serial);
    payload.insert(0, 6 - payload.size(), '0');
    const int check = luhn_check_digit(payload);
    ASSERT_TRUE(luhn_valid(payload + std::to_string(check))) << payload;
    for (int other = 0; other <= 9; ++other) {
      if (other == check) continue;
      ASSERT_FALSE(luhn_valid(payload + std::to_string(other))) << payload << other;
    }
  }
}

TEST(AccountNumberTest, ParsesValidNumbers) {
  const struct {
    const char* text;
    AccountType type;
    int serial;
    int check;
  } rows[] = {
      {"JP-GX-100-0000018", AccountType::kHolding, 1, 8},
      {"JP-GX-100-0000026", AccountType::kHolding, 2, 6},
      {"JP-GX-100-0000034", AccountType::kHolding, 3, 4},
      {"JP-GX-200-0000000", AccountType::kIssuance, 0, 0},
      {"JP-GX-300-0000109", AccountType::kSurrender, 10, 9},
      {"JP-GX-400-1234566", AccountType::kCancellationIntake, 123456, 6},
      {"JP-GX-900-9999996", AccountType::kAdjustment, 999999, 6},
      {"JP-GX-100-3141595", AccountType::kHolding, 314159, 5},
      {"JP-GX-100-0000083", AccountType::kHolding, 8, 3},
      {"JP-GX-100-0000505", AccountType::kHolding, 50, 5},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.text);
    auto parsed = AccountNumber::parse(row.text);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(parsed->type(), row.type);
    EXPECT_EQ(parsed->serial(), row.serial);
    EXPECT_EQ(parsed->check_digit(), row.check);
    EXPECT_EQ(parsed->str(), row.text);
    EXPECT_EQ(*parsed, AccountNumber::make(row.type, row.serial));
  }
}

TEST(AccountNumberTest, RefusesEveryWrongCheckDigitOfOneBase) {
  for (int got = 0; got <= 9; ++got) {
    if (got == 8) continue;
    const std::string text = "JP-GX-100-000001" + std::to_string(got);
    SCOPED_TRACE(text);
    auto parsed = AccountNumber::parse(text);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.error().code, "MALFORMED_ACCOUNT_NUMBER");
    EXPECT_EQ(parsed.error().message,
              "MALFORMED_ACCOUNT_NUMBER (check 1001): the check digit of JP-GX-100-000001 must "
              "be 8, got " +
                  std::to_string(got));
  }
  EXPECT_TRUE(AccountNumber::parse("JP-GX-100-0000018").ok());
}

TEST(AccountNumberTest, CatchesTypingErrorsInTheSerial) {
  const struct {
    const char* text;
    const char* expected_sentence;
  } rows[] = {
      // one digit changed
      {"JP-GX-100-0000028", "the check digit of JP-GX-100-000002 must be 6, got 8"},
      {"JP-GX-100-1000018", "the check digit of JP-GX-100-100001 must be 7, got 8"},
      // adjacent digits swapped (18 -> 81 and 0000018 -> 0000108)
      {"JP-GX-100-0000081", "the check digit of JP-GX-100-000008 must be 3, got 1"},
      {"JP-GX-100-0000108", "the check digit of JP-GX-100-000010 must be 9, got 8"},
      // the same rule for every type (the type digits are not part of the sum)
      {"JP-GX-200-0000019", "the check digit of JP-GX-200-000001 must be 8, got 9"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.text);
    const std::string message = message_of(row.text);
    EXPECT_NE(message.find(row.expected_sentence), std::string::npos) << message;
  }
}

TEST(AccountNumberTest, RefusesUnknownTypesListingTheFive) {
  for (const char* text : {"JP-GX-000-0000018", "JP-GX-101-0000018", "JP-GX-500-0000018",
                           "JP-GX-999-0000018", "JP-GX-010-0000018"}) {
    SCOPED_TRACE(text);
    auto parsed = AccountNumber::parse(text);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.error().code, "MALFORMED_ACCOUNT_NUMBER");
    const std::string& m = parsed.error().message;
    EXPECT_NE(
        m.find("account type " + std::string(text).substr(6, 3) + " in " + text + " is unknown"),
        std::string::npos)
        << m;
    EXPECT_NE(m.find("100 (holding), 200 (issuance), 300 (surrender), 400 (cancellation "
                     "intake), 900 (adjustment)"),
              std::string::npos)
        << m;
  }
}

TEST(AccountNumberTest, RefusesWrongShapesShowingThePattern) {
  const struct {
    const char* text;
    const char* expected;  // part of the sentence
  } rows[] = {
      {"", "the account number is empty; expected JP-GX-{type}-{7 digits}"},
      {"jp-gx-100-0000018", "must be written in upper case (JP-GX-100-0000018)"},
      {"Jp-Gx-100-0000018", "must be written in upper case (JP-GX-100-0000018)"},
      {" JP-GX-100-0000018", "has leading or trailing spaces"},
      {"JP-GX-100-0000018 ", "has leading or trailing spaces"},
      {"JP-GX-100-0000018\n", "has leading or trailing spaces"},
      {"  jp-gx-100-0000018  ", "has leading or trailing spaces"},
      {"JP-GX-100 -0000018", "does not have the shape JP-GX-{type}-{7 digits}"},
      {"JP-GX-100-000 0018", "does not have the shape JP-GX-{type}-{7 digits}"},
      {"JP-GX-100-000018", "does not have the shape JP-GX-{type}-{7 digits}"},
      {"JP-GX-100-00000180", "does not have the shape JP-GX-{type}-{7 digits}"},
      {"JP-GX-1000-000018", "does not have the shape JP-GX-{type}-{7 digits}"},
      {"JP-GX-10-00000018", "does not have the shape JP-GX-{type}-{7 digits}"},
      {"JPGX1000000018", "does not have the shape JP-GX-{type}-{7 digits}"},
      {"JP-GX-10A-0000018", "does not have the shape JP-GX-{type}-{7 digits}"},
      {"JP-GX-100-00000I8", "does not have the shape JP-GX-{type}-{7 digits}"},
      {"JP_GX_100_0000018", "does not have the shape JP-GX-{type}-{7 digits}"},
      {"JP-GB-100-0000018", "does not have the shape JP-GX-{type}-{7 digits}"},
      {"UK-GX-100-0000018", "does not have the shape JP-GX-{type}-{7 digits}"},
      {"JP-GX-+10-0000018", "does not have the shape JP-GX-{type}-{7 digits}"},
      {"0000018", "does not have the shape JP-GX-{type}-{7 digits}"},
      // U+2212 MINUS SIGN instead of '-', as pasted from a document
      {"JP-GX-100\xE2\x88\x92"
       "0000018",
       "\"JP-GX-100\\xE2\\x88\\x920000018\" does not have"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.text);
    auto parsed = AccountNumber::parse(row.text);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.error().code, "MALFORMED_ACCOUNT_NUMBER");
    EXPECT_EQ(parsed.error().message.rfind("MALFORMED_ACCOUNT_NUMBER (check 1001): ", 0), 0u);
    EXPECT_NE(parsed.error().message.find(row.expected), std::string::npos)
        << parsed.error().message;
  }
}

TEST(AccountNumberTest, ShapeRefusalGivesAnExample) {
  EXPECT_EQ(message_of("JP-GX-100-000018"),
            "MALFORMED_ACCOUNT_NUMBER (check 1001): account number \"JP-GX-100-000018\" does "
            "not have the shape JP-GX-{type}-{7 digits} (\"JP-GX-\", 3 digits, \"-\", 7 "
            "digits), e.g. JP-GX-100-0000018");
}

TEST(AccountNumberTest, MakeComputesTheCheckDigit) {
  EXPECT_EQ(AccountNumber::make(AccountType::kHolding, 1).str(), "JP-GX-100-0000018");
  EXPECT_EQ(AccountNumber::make(AccountType::kHolding, 2).str(), "JP-GX-100-0000026");
  EXPECT_EQ(AccountNumber::make(AccountType::kAdjustment, 999999).str(), "JP-GX-900-9999996");
  EXPECT_EQ(AccountNumber::make(AccountType::kIssuance, 0).str(), "JP-GX-200-0000000");
}

TEST(AccountNumberTest, MakeAndParseRoundTripForEveryType) {
  for (AccountType type : {AccountType::kHolding, AccountType::kIssuance, AccountType::kSurrender,
                           AccountType::kCancellationIntake, AccountType::kAdjustment}) {
    for (int serial = 0; serial <= 999'999; serial += 9'973) {
      const AccountNumber made = AccountNumber::make(type, serial);
      auto parsed = AccountNumber::parse(made.str());
      ASSERT_TRUE(parsed.ok()) << made.str();
      EXPECT_EQ(*parsed, made);
    }
  }
}

TEST(AccountNumberTest, MakeThrowsOnBrokenInvariants) {
  EXPECT_THROW((void)AccountNumber::make(AccountType::kHolding, -1), std::out_of_range);
  EXPECT_THROW((void)AccountNumber::make(AccountType::kHolding, 1'000'000), std::out_of_range);
  EXPECT_THROW((void)AccountNumber::make(static_cast<AccountType>(500), 1), std::out_of_range);
}

TEST(AccountNumberTest, OrdersLikeItsText) {
  std::vector<AccountNumber> numbers = {
      AccountNumber::make(AccountType::kAdjustment, 1),
      AccountNumber::make(AccountType::kHolding, 10),
      AccountNumber::make(AccountType::kIssuance, 0),
      AccountNumber::make(AccountType::kHolding, 2),
      AccountNumber::make(AccountType::kHolding, 999999),
  };
  std::vector<std::string> texts;
  texts.reserve(numbers.size());
  for (const auto& n : numbers) texts.push_back(n.str());
  std::sort(numbers.begin(), numbers.end());
  std::sort(texts.begin(), texts.end());
  for (std::size_t i = 0; i < numbers.size(); ++i) EXPECT_EQ(numbers[i].str(), texts[i]);
  EXPECT_LT(AccountNumber::make(AccountType::kHolding, 999999),
            AccountNumber::make(AccountType::kIssuance, 0));
  EXPECT_NE(AccountNumber::make(AccountType::kHolding, 1),
            AccountNumber::make(AccountType::kIssuance, 1));
}

TEST(AccountNumberTest, HashesEqualNumbersEqually) {
  std::unordered_set<AccountNumber> set;
  set.insert(AccountNumber::make(AccountType::kHolding, 1));
  set.insert(*AccountNumber::parse("JP-GX-100-0000018"));
  set.insert(AccountNumber::make(AccountType::kIssuance, 1));
  EXPECT_EQ(set.size(), 2u);
}

TEST(AccountTypeTest, NamesAndCodes) {
  EXPECT_EQ(account_type_name(AccountType::kHolding), "holding");
  EXPECT_EQ(account_type_name(AccountType::kCancellationIntake), "cancellation intake");
  EXPECT_EQ(account_type_name(static_cast<AccountType>(500)), "");
  EXPECT_EQ(account_type_from_code(900), AccountType::kAdjustment);
  EXPECT_EQ(account_type_from_code(300), AccountType::kSurrender);
  EXPECT_FALSE(account_type_from_code(0).has_value());
  EXPECT_FALSE(account_type_from_code(500).has_value());
}

}  // namespace
}  // namespace hub::registry
