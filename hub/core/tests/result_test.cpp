#include "hub/core/result.hpp"

#include <gtest/gtest.h>

#include "hub/core/clock.hpp"
#include "hub/core/ids.hpp"

namespace hub {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return make_error("NOT_POSITIVE", "expected a quantity > 0, got " + std::to_string(v));
  return v;
}

TEST(ResultTest, CarriesValueOrError) {
  auto good = parse_positive(5);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 5);
  auto bad = parse_positive(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "NOT_POSITIVE");
  EXPECT_EQ(bad.error().to_string(), "NOT_POSITIVE: expected a quantity > 0, got -1");
  EXPECT_THROW((void)bad.value(), std::logic_error);
  EXPECT_EQ(bad.value_or(9), 9);
}

TEST(ResultTest, VoidResult) {
  Status ok;
  EXPECT_TRUE(ok.ok());
  Status bad = make_error("X", "y");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "X");
}

TEST(ClockTest, ManualClockAndRfc3339) {
  ManualClock clock(TimePoint(std::chrono::seconds(1795242602)));  // 2026-11-21T06:30:02Z
  EXPECT_EQ(format_rfc3339_utc(clock.now()), "2026-11-21T06:30:02.000Z");
  clock.advance(std::chrono::milliseconds(1500));
  EXPECT_EQ(format_rfc3339_utc(clock.now()), "2026-11-21T06:30:03.500Z");
}

TEST(IdsTest, RandomIdsAreHexAndDistinct) {
  auto a = random_hex_id();
  auto b = random_hex_id();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  EXPECT_EQ(make_hub_ref("20261121").rfind("HUB-20261121-", 0), 0u);
}

}  // namespace
}  // namespace hub
