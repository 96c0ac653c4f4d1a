#pragma once
// The gx-market message payloads of /work/shared/specs/gx-market.md, with their members in
// the spec's order, and the Japan-time clock formats they use. Pure functions, thread-safe.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "gxm/jws.hpp"
#include "gxm/result.hpp"

namespace gxm {

using SysTime = std::chrono::system_clock::time_point;

struct Settlement {
  std::string trade_id;
  std::string trade_date;       // YYYY-MM-DD (Japan)
  std::string settlement_date;  // YYYY-MM-DD, >= trade_date
  std::string session;          // auction | continuous | block
  std::string seller_account;
  std::string buyer_account;
  std::string unit_type = "GXA";
  int64_t vintage = 2026;
  int64_t quantity = 1;
  int64_t price_jpy = 1;
};

// A settlement's members without message_id and sent_at (a batch item).
OrderedJson settlement_fields(const Settlement& s);
// The payload of POST .../settlements.
OrderedJson settlement_payload(const std::string& message_id, const std::string& sent_at,
                               const Settlement& s);
// The payload of POST .../settlements:batch.
OrderedJson batch_payload(const std::string& message_id, const std::string& sent_at,
                          const std::vector<Settlement>& trades);

struct StatementLine {
  std::string trade_id;
  std::string seller_account;
  std::string buyer_account;
  int64_t vintage = 0;
  int64_t quantity = 0;
};
// The payload of POST .../statements; trade_count and total_quantity are given, not computed,
// so that a statement can disagree with its own lines on purpose.
OrderedJson statement_payload(const std::string& message_id, const std::string& sent_at,
                              const std::string& business_date, int64_t trade_count,
                              int64_t total_quantity, const std::vector<StatementLine>& lines);

// RFC 3339 in Japan time with an explicit offset: 2026-11-21T15:30:02+09:00.
std::string rfc3339_jst(SysTime t);
// The business date (YYYY-MM-DD) in Japan time.
std::string jst_date(SysTime t);
// The date `days` after a YYYY-MM-DD date (negative: before).
std::string add_days(const std::string& date, int days);
// Parses an RFC 3339 timestamp with an explicit offset (Z or +hh:mm), optional fraction.
Result<SysTime> parse_rfc3339(const std::string& text);
bool is_iso_date(const std::string& text);

}  // namespace gxm
