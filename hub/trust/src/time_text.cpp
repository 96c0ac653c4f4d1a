#include "hub/trust/time_text.hpp"

#include <cctype>
#include <cstdio>
#include <ctime>

namespace hub::trust {
namespace {

// Reads exactly `n` digits at text[pos], advancing pos; -1 when they are not there.
int digits(std::string_view text, std::size_t& pos, int n) {
  int v = 0;
  for (int i = 0; i < n; ++i, ++pos) {
    if (pos >= text.size() || !std::isdigit(static_cast<unsigned char>(text[pos]))) return -1;
    v = v * 10 + (text[pos] - '0');
  }
  return v;
}

bool expect(std::string_view text, std::size_t& pos, std::string_view chars) {
  if (pos >= text.size() || chars.find(text[pos]) == std::string_view::npos) return false;
  ++pos;
  return true;
}

std::string format_utc(TimePoint t, bool micros) {
  using namespace std::chrono;
  auto us = duration_cast<microseconds>(t.time_since_epoch()).count();
  auto secs = us / 1000000;
  auto frac = us % 1000000;
  if (frac < 0) {
    frac += 1000000;
    --secs;
  }
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  if (micros) {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(frac));
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec);
  }
  return buf;
}

}  // namespace

Result<TimePoint> parse_rfc3339(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return make_error("INVALID_TIME", "'" + std::string(text) + "' is not an RFC 3339 time with an offset (" + why +
                                          "), e.g. 2026-04-01T00:00:00+09:00");
  };
  std::size_t pos = 0;
  std::tm tm{};
  int year = digits(text, pos, 4);
  if (year < 0 || !expect(text, pos, "-")) return bad("date");
  // TimePoint counts nanoseconds in 64 bits: years 1678 to 2262 only.
  if (year < 1900 || year > 2199) return bad("the year must be between 1900 and 2199");
  int month = digits(text, pos, 2);
  if (month < 1 || month > 12 || !expect(text, pos, "-")) return bad("month");
  int day = digits(text, pos, 2);
  if (day < 1 || day > 31 || !expect(text, pos, "Tt ")) return bad("day");
  int hour = digits(text, pos, 2);
  if (hour < 0 || hour > 23 || !expect(text, pos, ":")) return bad("hour");
  int minute = digits(text, pos, 2);
  if (minute < 0 || minute > 59 || !expect(text, pos, ":")) return bad("minute");
  int second = digits(text, pos, 2);
  if (second < 0 || second > 60) return bad("second");
  long long micros = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int n = 0;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      if (n < 6) micros = micros * 10 + (text[pos] - '0');
      ++n;
      ++pos;
    }
    if (n == 0) return bad("fraction");
    for (; n < 6; ++n) micros *= 10;
  }
  long offset_seconds = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int oh = digits(text, pos, 2);
    if (oh < 0 || oh > 23 || !expect(text, pos, ":")) return bad("offset");
    int om = digits(text, pos, 2);
    if (om < 0 || om > 59) return bad("offset");
    offset_seconds = sign * (oh * 3600L + om * 60L);
  } else {
    return bad("the offset is missing");
  }
  if (pos != text.size()) return bad("trailing characters");
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  std::time_t t = timegm(&tm);
  // timegm normalises 31 April into 1 May: refuse dates that do not exist.
  std::tm check{};
  gmtime_r(&t, &check);
  if (check.tm_mday != day && second != 60) return bad("no such date");
  return TimePoint(std::chrono::seconds(t - offset_seconds)) + std::chrono::microseconds(micros);
}

std::string format_rfc3339_micros(TimePoint t) { return format_utc(t, true); }
std::string format_rfc3339_seconds(TimePoint t) { return format_utc(t, false); }

Result<std::chrono::seconds> parse_duration(std::string_view text) {
  auto bad = [&] {
    return make_error("INVALID_DURATION", "'" + std::string(text) +
                                              "' is not a duration: use whole numbers with units d, h, m, s, e.g. "
                                              "7d, 36h, 1d12h");
  };
  if (text.empty()) return bad();
  long long total = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    long long n = 0;
    std::size_t start = pos;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      n = n * 10 + (text[pos] - '0');
      if (n > 100LL * 365 * 86400) return bad();
      ++pos;
    }
    if (pos == start || pos >= text.size()) return bad();
    switch (text[pos++]) {
      case 'd': total += n * 86400; break;
      case 'h': total += n * 3600; break;
      case 'm': total += n * 60; break;
      case 's': total += n; break;
      default: return bad();
    }
  }
  return std::chrono::seconds(total);
}

}  // namespace hub::trust
