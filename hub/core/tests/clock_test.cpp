#include "hub/core/clock.hpp"

#include <gtest/gtest.h>

namespace {

TEST(ClockTest, ParsesRfc3339WithOffsets) {
  auto jst = hub::parse_rfc3339("2026-11-21T15:30:02+09:00");
  ASSERT_TRUE(jst.has_value());
  EXPECT_EQ(hub::format_rfc3339_utc(*jst), "2026-11-21T06:30:02.000Z");
  auto z = hub::parse_rfc3339("2026-11-21T06:30:02.25Z");
  ASSERT_TRUE(z.has_value());
  EXPECT_EQ(hub::format_rfc3339_utc(*z), "2026-11-21T06:30:02.250Z");
  auto neg = hub::parse_rfc3339("2026-11-20T21:30:02-09:00");
  ASSERT_TRUE(neg.has_value());
  EXPECT_EQ(hub::format_rfc3339_utc(*neg), "2026-11-21T06:30:02.000Z");
}

TEST(ClockTest, RefusesWhatIsNotRfc3339WithAnOffset) {
  for (const char* bad : {"2026-11-21", "2026-11-21T15:30:02", "2026-11-21 15:30:02+09:00", "2026-13-01T00:00:00Z",
                          "2026-02-29T00:00:00Z", "2026-11-21T24:00:00Z", "2026-11-21T15:30:02+0900",
                          "2026-11-21T15:30:02.Z", "2026-11-21T15:30:02Zjunk", ""}) {
    EXPECT_FALSE(hub::parse_rfc3339(bad).has_value()) << bad;
  }
  EXPECT_TRUE(hub::parse_rfc3339("2028-02-29T00:00:00Z").has_value());
}

}  // namespace
