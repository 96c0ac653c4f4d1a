#include "hub/trust/time_text.hpp"

#include <gtest/gtest.h>

#include "hub/trust/credentials.hpp"

namespace hub::trust {
namespace {

using namespace std::chrono_literals;

TEST(TimeTextTest, ParsesRfc3339WithOffsetsAndFractions) {
  auto utc = parse_rfc3339("2026-04-01T00:00:00Z");
  ASSERT_TRUE(utc.ok()) << utc.error().to_string();
  auto tokyo = parse_rfc3339("2026-04-01T09:00:00+09:00");
  ASSERT_TRUE(tokyo.ok());
  EXPECT_EQ(*utc, *tokyo);
  EXPECT_EQ(format_rfc3339_seconds(*utc), "2026-04-01T00:00:00Z");
  auto frac = parse_rfc3339("2026-03-31T14:59:59.25-00:30");
  ASSERT_TRUE(frac.ok());
  EXPECT_EQ(format_rfc3339_micros(*frac), "2026-03-31T15:29:59.250000Z");
}

TEST(TimeTextTest, RefusesTimesWithoutOffsetOrImpossibleDates) {
  for (const char* bad : {"2026-04-01T00:00:00", "2026-04-01", "2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z",
                          "2026-04-01T24:00:00Z", "2026-04-01T00:00:00+0900", "2026-04-01T00:00:00Zjunk", "",
                          "2999-01-01T00:00:00Z"}) {
    auto r = parse_rfc3339(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, "INVALID_TIME");
    EXPECT_NE(r.error().message.find("offset"), std::string::npos) << r.error().message;
  }
}

TEST(TimeTextTest, ParsesDurationsWithUnits) {
  EXPECT_EQ(*parse_duration("7d"), std::chrono::seconds(7 * 86400));
  EXPECT_EQ(*parse_duration("1d12h"), std::chrono::seconds(36 * 3600));
  EXPECT_EQ(*parse_duration("90s"), 90s);
  EXPECT_EQ(*parse_duration("0s"), 0s);
  for (const char* bad : {"", "7", "d", "7w", "-1h", "1h30"}) {
    auto r = parse_duration(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, "INVALID_DURATION");
  }
}

TEST(CredentialStateTest, RevocationWinsAndWindowEndsAreInclusive) {
  auto from = TimePoint(1000s);
  auto to = TimePoint(2000s);
  EXPECT_EQ(window_state(std::nullopt, from, to, TimePoint(999s)), CredentialState::kNotYetValid);
  EXPECT_EQ(window_state(std::nullopt, from, to, from), CredentialState::kValid);
  EXPECT_EQ(window_state(std::nullopt, from, to, to), CredentialState::kValid);
  EXPECT_EQ(window_state(std::nullopt, from, to, to + 1us), CredentialState::kExpired);
  EXPECT_EQ(window_state(std::nullopt, std::nullopt, std::nullopt, TimePoint(0s)), CredentialState::kValid);
  EXPECT_EQ(window_state(Revocation{TimePoint(1500s), "os:root", "lost"}, from, to, TimePoint(1200s)),
            CredentialState::kRevoked);

  SigningKeyRecord k;
  k.valid_from = TimePoint(1500s);
  k.cert_not_before = from;
  k.cert_not_after = to;
  EXPECT_EQ(*k.effective_from(), TimePoint(1500s));
  EXPECT_EQ(*k.effective_to(), to);
  EXPECT_EQ(k.state(TimePoint(1200s)), CredentialState::kNotYetValid);
}

}  // namespace
}  // namespace hub::trust
