#pragma once
// The time texts an operator types (hubctl, the admin API): RFC 3339 instants with an
// explicit offset, and durations such as "7d" or "36h". Pure functions, thread-safe.

#include <chrono>
#include <string>
#include <string_view>

#include "hub/core/clock.hpp"
#include "hub/core/result.hpp"

namespace hub::trust {

// "2026-04-01T00:00:00+09:00", "2026-04-01T00:00:00.5Z". The offset is required (a time
// without one means different instants to different people). Error code INVALID_TIME.
Result<TimePoint> parse_rfc3339(std::string_view text);

// RFC 3339 in UTC with microseconds ("2026-03-31T15:00:00.000000Z"), exact for the
// database, whose timestamps have microsecond precision.
std::string format_rfc3339_micros(TimePoint t);
// RFC 3339 in UTC to the second, for people ("2026-03-31T15:00:00Z").
std::string format_rfc3339_seconds(TimePoint t);

// One or more <number><unit> parts, units d, h, m, s: "7d", "36h", "1d12h", "90s", "0s".
// Error code INVALID_DURATION.
Result<std::chrono::seconds> parse_duration(std::string_view text);

}  // namespace hub::trust
