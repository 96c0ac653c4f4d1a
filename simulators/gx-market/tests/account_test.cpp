#include <gtest/gtest.h>

#include "gxm/account.hpp"

namespace gxm {
namespace {

TEST(AccountNumberTest, CheckDigitsMatchTheSpecExamples) {
  // domain.md and gx-market.md use these three; all are valid.
  EXPECT_EQ(luhn_check_digit("000001"), 8);
  EXPECT_EQ(luhn_check_digit("000002"), 6);
  EXPECT_EQ(luhn_check_digit("000003"), 4);
  EXPECT_EQ(make_account_number(100, 1), "JP-GX-100-0000018");
  EXPECT_EQ(make_account_number(100, 2), "JP-GX-100-0000026");
  EXPECT_EQ(make_account_number(100, 3), "JP-GX-100-0000034");
  for (const char* ok : {"JP-GX-100-0000018", "JP-GX-100-0000026", "JP-GX-100-0000034"}) {
    EXPECT_TRUE(validate_account_number(ok).ok()) << ok;
  }
}

TEST(AccountNumberTest, LuhnAgreesWithTheTextbookAlgorithm) {
  // 7992739871 -> 3 is the standard worked example of the Luhn algorithm.
  EXPECT_EQ(luhn_check_digit("7992739871"), 3);
  EXPECT_EQ(luhn_check_digit("12a"), -1);
  EXPECT_EQ(luhn_check_digit(""), -1);
}

TEST(AccountNumberTest, RefusesWrongCheckDigitsTypesAndShapes) {
  for (const char* bad : {"JP-GX-100-0000019", "JP-GX-100-0000010", "JP-GX-150-0000018",
                          "JP-GX-100-000001", "JP-GX-100-00000188", "JP-GX-1000000018",
                          "jp-gx-100-0000018", "JP-GX-100-00000a8", ""}) {
    EXPECT_FALSE(validate_account_number(bad).ok()) << bad;
  }
  EXPECT_TRUE(validate_account_number(make_account_number(900, 123456)).ok());
}

TEST(AccountNumberTest, EveryGeneratedNumberValidates) {
  for (int serial = 0; serial < 1000000; serial += 7919) {
    auto n = make_account_number(100, serial);
    ASSERT_TRUE(validate_account_number(n).ok()) << n;
  }
}

}  // namespace
}  // namespace gxm
