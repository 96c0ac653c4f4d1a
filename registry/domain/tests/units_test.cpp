#include "registry/domain/units.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace hub::registry {
namespace {

TEST(UnitTypeTest, ParsesAndPrintsTheThree) {
  for (UnitType unit : {UnitType::kGXA, UnitType::kJCR, UnitType::kJCM}) {
    const auto text = unit_type_str(unit);
    auto parsed = parse_unit_type(text);
    ASSERT_TRUE(parsed.ok()) << text;
    EXPECT_EQ(*parsed, unit);
  }
  EXPECT_EQ(unit_type_str(UnitType::kGXA), "GXA");
  EXPECT_EQ(unit_type_str(UnitType::kJCR), "JCR");
  EXPECT_EQ(unit_type_str(UnitType::kJCM), "JCM");
}

TEST(UnitTypeTest, RefusesUnknownUnitTypes) {
  for (const char* text : {"", "gxa", "Gxa", "GXA ", " JCR", "JCX", "EUA", "GX", "GXAA"}) {
    SCOPED_TRACE(text);
    auto parsed = parse_unit_type(text);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.error().code, "UNKNOWN_UNIT_TYPE");
    EXPECT_NE(parsed.error().message.find("UNKNOWN_UNIT_TYPE (check 1021): unit type \"" +
                                          std::string(text) + "\" is unknown"),
              std::string::npos)
        << parsed.error().message;
    EXPECT_NE(parsed.error().message.find("GXA (allowance), JCR (J-Credit) and JCM"),
              std::string::npos);
  }
}

TEST(UnitTypeTest, OnlyAllowancesMoveBetweenHoldings) {
  EXPECT_TRUE(transferable_between_holdings(UnitType::kGXA));
  EXPECT_FALSE(transferable_between_holdings(UnitType::kJCR));
  EXPECT_FALSE(transferable_between_holdings(UnitType::kJCM));
}

TEST(VintageTest, AcceptsAndRefusesAtTheBounds) {
  const struct {
    UnitType unit;
    int vintage;
    bool ok;
  } rows[] = {
      {UnitType::kGXA, 2025, false},  {UnitType::kGXA, 2026, true},  {UnitType::kGXA, 2030, true},
      {UnitType::kGXA, 2100, true},   {UnitType::kGXA, 2101, false}, {UnitType::kGXA, 0, false},
      {UnitType::kGXA, -2026, false}, {UnitType::kJCR, 1999, false}, {UnitType::kJCR, 2000, true},
      {UnitType::kJCR, 2024, true},   {UnitType::kJCR, 2100, true},  {UnitType::kJCR, 2101, false},
      {UnitType::kJCM, 1999, false},  {UnitType::kJCM, 2000, true},  {UnitType::kJCM, 2023, true},
      {UnitType::kJCM, 2100, true},   {UnitType::kJCM, 2101, false},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(std::string(unit_type_str(row.unit)) + " " + std::to_string(row.vintage));
    const Status s = check_vintage(row.unit, row.vintage);
    EXPECT_EQ(s.ok(), row.ok);
    if (!s.ok()) {
      EXPECT_EQ(s.error().code, "INVALID_VINTAGE");
    }
  }
}

TEST(VintageTest, RefusalGivesTheRangeAndMeaning) {
  EXPECT_EQ(check_vintage(UnitType::kGXA, 2025).error().message,
            "INVALID_VINTAGE (check 1007): vintage 2025 of GXA is outside 2026..2100 (the fiscal "
            "year of issuance)");
  EXPECT_EQ(check_vintage(UnitType::kJCR, 1999).error().message,
            "INVALID_VINTAGE (check 1007): vintage 1999 of JCR is outside 2000..2100 (the "
            "monitoring year)");
  EXPECT_EQ(check_vintage(UnitType::kJCM, 2101).error().message,
            "INVALID_VINTAGE (check 1007): vintage 2101 of JCM is outside 2000..2100 (the year "
            "of issuance)");
}

TEST(QuantityTest, AcceptsWholeTonnesInRange) {
  for (std::int64_t q : {std::int64_t{1}, std::int64_t{500}, std::int64_t{1'000'000'000'000}}) {
    EXPECT_TRUE(check_quantity(q).ok()) << q;
  }
  for (std::int64_t q : {std::int64_t{0}, std::int64_t{-1}, std::int64_t{1'000'000'000'001},
                         std::numeric_limits<std::int64_t>::min()}) {
    const Status s = check_quantity(q);
    ASSERT_FALSE(s.ok()) << q;
    EXPECT_EQ(s.error().code, "INVALID_QUANTITY");
  }
  EXPECT_EQ(check_quantity(-1000).error().message,
            "INVALID_QUANTITY (check 1006): quantity -1,000 is outside 1..1,000,000,000,000 whole "
            "tonnes");
}

TEST(QuantityTest, ParsesDigitsOnly) {
  const struct {
    const char* text;
    std::int64_t value;  // 0: refused
    const char* expected;
  } rows[] = {
      {"1", 1, ""},
      {"500", 500, ""},
      {"0500", 500, ""},
      {"1000000000000", 1'000'000'000'000, ""},
      {"", 0, "the quantity is empty"},
      {"0", 0, "quantity 0 is outside 1..1,000,000,000,000"},
      {"000", 0, "quantity 0 is outside"},
      {"1000000000001", 0, "is above the maximum of 1,000,000,000,000 tonnes"},
      {"99999999999999999999999999", 0, "is above the maximum"},
      {"12.5", 0, "\"12.5\" is not a whole number of tonnes"},
      {"12.0", 0, "is not a whole number of tonnes"},
      {"-5", 0, "must be written as digits 0-9 only"},
      {"+5", 0, "must be written as digits 0-9 only"},
      {"1,000", 0, "must be written as digits 0-9 only"},
      {"1e3", 0, "must be written as digits 0-9 only"},
      {" 5", 0, "must be written as digits 0-9 only"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.text);
    auto parsed = parse_quantity(row.text);
    if (row.value != 0) {
      ASSERT_TRUE(parsed.ok()) << parsed.error().message;
      EXPECT_EQ(*parsed, row.value);
    } else {
      ASSERT_FALSE(parsed.ok());
      EXPECT_EQ(parsed.error().code, "INVALID_QUANTITY");
      EXPECT_NE(parsed.error().message.find(row.expected), std::string::npos)
          << parsed.error().message;
    }
  }
}

}  // namespace
}  // namespace hub::registry
