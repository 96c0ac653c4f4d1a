#include "registry/domain/serials.hpp"

#include <gtest/gtest.h>

#include <string>

namespace hub::registry {
namespace {

TEST(SerialNumberTest, SplitsOffTheTrailingDigits) {
  const struct {
    const char* text;
    const char* prefix;
    std::int64_t number;
    int digits;
  } rows[] = {
      {"JCR-0312-2024-000000001", "JCR-0312-2024-", 1, 9},
      {"JCR-0312-2024-000000500", "JCR-0312-2024-", 500, 9},
      {"JCM-MN001-2023-000000250", "JCM-MN001-2023-", 250, 9},
      {"A1", "A", 1, 1},
      {"GXA/2026.x_0042", "GXA/2026.x_", 42, 4},
      {"X-000000000000000000", "X-", 0, 18},
      {"X-999999999999999999", "X-", 999'999'999'999'999'999, 18},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.text);
    auto parsed = parse_serial(row.text);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(parsed->prefix, row.prefix);
    EXPECT_EQ(parsed->number, row.number);
    EXPECT_EQ(parsed->digits, row.digits);
    EXPECT_EQ(parsed->str(), row.text) << "zero padding must be restored";
  }
}

TEST(SerialNumberTest, RefusesMalformedSerials) {
  const struct {
    const char* text;
    const char* expected;
  } rows[] = {
      {"", "the serial is empty"},
      {"JCR-0312-2024-", "serial \"JCR-0312-2024-\" does not end in digits"},
      {"JCR-0312-2024-00000000X", "does not end in digits"},
      // full-width digit one at the end
      {"JCR-0312-2024-00000000\xEF\xBC\x91", "does not end in digits"},
      {"X-1234567890123456789", "ends in 19 digits; at most 18 are allowed"},
      {"000000001", "has no prefix before its digits"},
      {"-000000001", "must start with a letter"},
      {"+000000001", "must start with a letter"},
      {" JCR-0312-2024-000000001", "must start with a letter"},
      {"JCR 0312-2024-000000001", "must start with a letter and hold only letters, digits"},
      {"JCR-0312-2024-\n000000001", "hold only letters, digits and - _ . /"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.text);
    auto parsed = parse_serial(row.text);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.error().code, "SERIAL_RANGE_INVALID");
    EXPECT_NE(parsed.error().message.find(row.expected), std::string::npos)
        << parsed.error().message;
  }
}

TEST(SerialNumberTest, ChecksTheRegistryFormats) {
  const struct {
    UnitType unit;
    const char* text;
    bool ok;
  } rows[] = {
      {UnitType::kJCR, "JCR-0312-2024-000000001", true},
      {UnitType::kJCR, "JCR-9999-2000-999999999", true},
      {UnitType::kJCR, "JCR-312-2024-000000001", false},
      {UnitType::kJCR, "JCR-0312-24-000000001", false},
      {UnitType::kJCR, "JCR-0312-2024-00000001", false},
      {UnitType::kJCR, "JCR-0312-2024-0000000001", false},
      {UnitType::kJCR, "jcr-0312-2024-000000001", false},
      {UnitType::kJCR, "JCR-0312-2024000000001", false},
      {UnitType::kJCR, "JCM-MN001-2023-000000001", false},
      {UnitType::kJCM, "JCM-MN001-2023-000000001", true},
      {UnitType::kJCM, "JCM-VN123-2030-000000250", true},
      {UnitType::kJCM, "JCM-mn001-2023-000000001", false},
      {UnitType::kJCM, "JCM-MNG01-2023-000000001", false},
      {UnitType::kJCM, "JCM-MN01-2023-000000001", false},
      {UnitType::kJCM, "JCM-MN001-2023-00000001", false},
      {UnitType::kJCM, "JCR-0312-2024-000000001", false},
      {UnitType::kGXA, "GXA-2026-0000000001", true},
      {UnitType::kGXA, "A1", true},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.text);
    auto parsed = parse_serial(row.text);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    const Status s = check_serial_format(row.unit, *parsed);
    EXPECT_EQ(s.ok(), row.ok);
    if (!s.ok()) {
      EXPECT_EQ(s.error().code, "SERIAL_RANGE_INVALID");
    }
  }
  auto jcm_as_jcr = check_serial_format(UnitType::kJCR, *parse_serial("JCM-MN001-2023-000000001"));
  EXPECT_NE(jcm_as_jcr.error().message.find("is not a J-Credit serial JCR-{project 4 "
                                            "digits}-{monitoring year}-{9 digits}"),
            std::string::npos);
}

TEST(SerialNumberTest, YearInsideCreditPrefixes) {
  EXPECT_EQ(serial_year(UnitType::kJCR, "JCR-0312-2024-"), 2024);
  EXPECT_EQ(serial_year(UnitType::kJCM, "JCM-MN001-2023-"), 2023);
  EXPECT_EQ(serial_year(UnitType::kJCR, "JCM-MN001-2023-"), std::nullopt);
  EXPECT_EQ(serial_year(UnitType::kJCM, "JCR-0312-2024-"), std::nullopt);
  EXPECT_EQ(serial_year(UnitType::kGXA, "JCR-0312-2024-"), std::nullopt);
  EXPECT_EQ(serial_year(UnitType::kJCR, "JCR-0312-20x4-"), std::nullopt);
}

TEST(FormatSerialTest, RestoresZeroPadding) {
  EXPECT_EQ(format_serial("JCR-0312-2024-", 1, 9), "JCR-0312-2024-000000001");
  EXPECT_EQ(format_serial("JCR-0312-2024-", 500, 9), "JCR-0312-2024-000000500");
  EXPECT_EQ(format_serial("JCR-0312-2024-", 999'999'999, 9), "JCR-0312-2024-999999999");
  EXPECT_EQ(format_serial("X-", 1'234'567'890, 9), "X-1234567890");
  EXPECT_EQ(format_serial("X-", 0, 3), "X-000");
  EXPECT_EQ(format_serial("X-", 7, 0), "X-7");
}

TEST(SerialBlockTest, MakesTheSpecBlocks) {
  auto jcr =
      make_serial_block(UnitType::kJCR, "JCR-0312-2024-000000001", "JCR-0312-2024-000000500", 500);
  ASSERT_TRUE(jcr.ok()) << jcr.error().message;
  EXPECT_EQ(jcr->unit, UnitType::kJCR);
  EXPECT_EQ(jcr->prefix, "JCR-0312-2024-");
  EXPECT_EQ(jcr->first, 1);
  EXPECT_EQ(jcr->last, 500);
  EXPECT_EQ(jcr->digits, 9);
  EXPECT_EQ(jcr->quantity(), 500);
  EXPECT_EQ(jcr->first_serial(), "JCR-0312-2024-000000001");
  EXPECT_EQ(jcr->last_serial(), "JCR-0312-2024-000000500");
  EXPECT_EQ(jcr->str(), "JCR-0312-2024-000000001..JCR-0312-2024-000000500");

  auto jcm = make_serial_block(UnitType::kJCM, "JCM-MN001-2023-000000001",
                               "JCM-MN001-2023-000000250", 250);
  ASSERT_TRUE(jcm.ok()) << jcm.error().message;
  EXPECT_EQ(jcm->quantity(), 250);
  EXPECT_EQ(serial_year(jcm->unit, jcm->prefix), 2023);
}

TEST(SerialBlockTest, OneSerialIsABlockOfOne) {
  auto one =
      make_serial_block(UnitType::kJCR, "JCR-0312-2024-000000042", "JCR-0312-2024-000000042", 1);
  ASSERT_TRUE(one.ok()) << one.error().message;
  EXPECT_EQ(one->quantity(), 1);
  EXPECT_EQ(one->str(), "JCR-0312-2024-000000042");
  auto zero =
      make_serial_block(UnitType::kJCR, "JCR-0312-2024-000000042", "JCR-0312-2024-000000042", 0);
  ASSERT_FALSE(zero.ok());
  EXPECT_NE(zero.error().message.find("holds 1 serials but the declared quantity is 0"),
            std::string::npos)
      << zero.error().message;
}

TEST(SerialBlockTest, RefusesInvalidBlocksSayingWhy) {
  const struct {
    UnitType unit;
    const char* first;
    const char* last;
    std::int64_t quantity;
    const char* code;
    const char* expected;
  } rows[] = {
      {UnitType::kJCR, "JCR-0312-2024-000000001", "JCR-0312-2024-000000500", 499,
       "SERIAL_RANGE_INVALID",
       "the block JCR-0312-2024-000000001..JCR-0312-2024-000000500 holds 500 serials but the "
       "declared quantity is 499"},
      {UnitType::kJCR, "JCR-0312-2024-000000001", "JCR-0312-2024-000000500", 501,
       "SERIAL_RANGE_INVALID", "holds 500 serials but the declared quantity is 501"},
      {UnitType::kJCR, "JCR-0312-2024-000000001", "JCR-0312-2024-000001000", 999,
       "SERIAL_RANGE_INVALID", "holds 1,000 serials but the declared quantity is 999"},
      {UnitType::kJCR, "JCR-0312-2024-000000001", "JCR-0312-2024-000000500", -500,
       "SERIAL_RANGE_INVALID", "holds 500 serials but the declared quantity is -500"},
      {UnitType::kJCR, "JCR-0312-2024-000000001", "JCR-0312-2025-000000500", 500,
       "SERIAL_RANGE_INVALID",
       "first serial JCR-0312-2024-000000001 and last serial JCR-0312-2025-000000500 have "
       "different prefixes (JCR-0312-2024- and JCR-0312-2025-)"},
      {UnitType::kJCR, "JCR-0312-2024-000000500", "JCR-0312-2024-000000001", 500,
       "SERIAL_RANGE_INVALID",
       "first serial JCR-0312-2024-000000500 comes after last serial JCR-0312-2024-000000001"},
      {UnitType::kGXA, "G-01", "G-100", 100, "SERIAL_RANGE_INVALID",
       "first serial G-01 has 2 digits but last serial G-100 has 3"},
      {UnitType::kJCR, "", "JCR-0312-2024-000000500", 500, "SERIAL_RANGE_INVALID",
       "the first serial is empty"},
      {UnitType::kJCR, "JCR-0312-2024-000000001", "JCR-0312-2024-", 500, "SERIAL_RANGE_INVALID",
       "last serial \"JCR-0312-2024-\" does not end in digits"},
      {UnitType::kJCM, "JCR-0312-2024-000000001", "JCR-0312-2024-000000500", 500,
       "SERIAL_RANGE_INVALID", "is not a JCM serial"},
      {UnitType::kJCR, "JCR-0312-2024-000000001", "JCR-0312-2024-0000000500", 500,
       "SERIAL_RANGE_INVALID", "is not a J-Credit serial"},
      {UnitType::kGXA, "G-0000000000001", "G-1000000000001", 1'000'000'000'001, "INVALID_QUANTITY",
       "quantity 1,000,000,000,001 is outside 1..1,000,000,000,000"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(std::string(row.first) + " .. " + row.last);
    auto block = make_serial_block(row.unit, row.first, row.last, row.quantity);
    ASSERT_FALSE(block.ok());
    EXPECT_EQ(block.error().code, row.code);
    EXPECT_NE(block.error().message.find(row.expected), std::string::npos) << block.error().message;
  }
}

TEST(SerialBlockTest, WithoutDeclaredQuantityLeavesTheComparisonToTheCaller) {
  auto block =
      make_serial_block(UnitType::kJCR, "JCR-0312-2024-000000001", "JCR-0312-2024-000000500");
  ASSERT_TRUE(block.ok()) << block.error().message;
  EXPECT_EQ(block->quantity(), 500);
  EXPECT_FALSE(
      make_serial_block(UnitType::kJCR, "JCR-0312-2024-000000500", "JCR-0312-2024-000000001").ok());
}

TEST(SerialBlockTest, HandlesTheLargestSerials) {
  auto block =
      make_serial_block(UnitType::kGXA, "G-999999999999999990", "G-999999999999999999", 10);
  ASSERT_TRUE(block.ok()) << block.error().message;
  EXPECT_EQ(block->quantity(), 10);
  EXPECT_EQ(block->last_serial(), "G-999999999999999999");
}

SerialBlock jcr(std::int64_t first, std::int64_t last) {
  return SerialBlock{UnitType::kJCR, "JCR-0312-2024-", first, last, 9};
}

TEST(SerialOverlapTest, RangeEdgeCases) {
  const SerialBlock a = jcr(1, 500);
  const struct {
    SerialBlock b;
    bool overlap;
    const char* what;
  } rows[] = {
      {jcr(501, 600), false, "touching after"},
      {jcr(0, 0), false, "touching before"},
      {jcr(500, 600), true, "sharing the last serial"},
      {jcr(0, 1), true, "sharing the first serial"},
      {jcr(1, 1), true, "one serial at the start"},
      {jcr(500, 500), true, "one serial at the end"},
      {jcr(250, 250), true, "one serial inside"},
      {jcr(501, 501), false, "one serial just after"},
      {jcr(200, 300), true, "inside"},
      {jcr(0, 1000), true, "containing"},
      {jcr(1, 500), true, "identical"},
      {jcr(600, 700), false, "apart"},
      {SerialBlock{UnitType::kJCR, "JCR-0313-2024-", 1, 500, 9}, false, "other project"},
      {SerialBlock{UnitType::kJCR, "JCR-0312-2025-", 1, 500, 9}, false, "other year"},
      {SerialBlock{UnitType::kGXA, "JCR-0312-2024-", 1, 500, 9}, false, "other unit"},
      {SerialBlock{UnitType::kJCR, "JCR-0312-2024-", 500, 500, 3}, true,
       "other width, same serial"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.what);
    EXPECT_EQ(overlaps(a, row.b), row.overlap);
    EXPECT_EQ(overlaps(row.b, a), row.overlap) << "overlap must be symmetric";
    EXPECT_EQ(common_serials(a, row.b).has_value(), row.overlap);
  }
}

TEST(SerialOverlapTest, OneSerialBlocks) {
  EXPECT_TRUE(overlaps(jcr(5, 5), jcr(5, 5)));
  EXPECT_FALSE(overlaps(jcr(5, 5), jcr(6, 6)));
  EXPECT_FALSE(overlaps(jcr(5, 5), jcr(4, 4)));
}

TEST(SerialOverlapTest, CommonSerialsAreTheIntersection) {
  auto common = common_serials(jcr(1, 500), jcr(400, 800));
  ASSERT_TRUE(common.has_value());
  EXPECT_EQ(common->first, 400);
  EXPECT_EQ(common->last, 500);
  EXPECT_EQ(common->quantity(), 101);
  EXPECT_EQ(common->str(), "JCR-0312-2024-000000400..JCR-0312-2024-000000500");
  auto single = common_serials(jcr(1, 500), jcr(500, 900));
  ASSERT_TRUE(single.has_value());
  EXPECT_EQ(single->str(), "JCR-0312-2024-000000500");
  EXPECT_FALSE(common_serials(jcr(1, 500), jcr(501, 900)).has_value());
}

}  // namespace
}  // namespace hub::registry
