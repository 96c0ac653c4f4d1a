#pragma once
// Injected time. Production code asks a Clock; tests hand in a ManualClock.
// SystemClock is stateless; ManualClock is thread-safe.

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace hub {

using TimePoint = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::system_clock::now(); }
  static const SystemClock& instance();
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start) : micros_(to_micros(start)) {}
  TimePoint now() const override { return TimePoint(std::chrono::microseconds(micros_.load())); }
  void set(TimePoint t) { micros_ = to_micros(t); }
  void advance(std::chrono::microseconds d) { micros_ += d.count(); }

 private:
  static long long to_micros(TimePoint t) {
    return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  }
  std::atomic<long long> micros_;
};

// RFC 3339 in UTC with milliseconds, e.g. 2026-11-21T06:30:02.123Z.
std::string format_rfc3339_utc(TimePoint t);

// Parses an RFC 3339 date-time with an explicit offset ("Z" or "+09:00"), fractional
// seconds optional, e.g. 2026-11-21T15:30:02+09:00. nullopt when it is anything else
// (a date alone, no offset, out-of-range fields).
std::optional<TimePoint> parse_rfc3339(std::string_view text);

}  // namespace hub
