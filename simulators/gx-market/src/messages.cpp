#include "gxm/messages.hpp"

#include <cstdio>
#include <ctime>

namespace gxm {
namespace {

constexpr auto kJst = std::chrono::hours(9);

std::tm utc_tm(SysTime t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return tm;
}

}  // namespace

namespace {
void put_settlement(OrderedJson& j, const Settlement& s) {
  j["trade_id"] = s.trade_id;
  j["trade_date"] = s.trade_date;
  j["settlement_date"] = s.settlement_date;
  j["session"] = s.session;
  j["seller_account"] = s.seller_account;
  j["buyer_account"] = s.buyer_account;
  j["unit_type"] = s.unit_type;
  j["vintage"] = s.vintage;
  j["quantity"] = s.quantity;
  j["price_jpy"] = s.price_jpy;
}
}  // namespace

OrderedJson settlement_fields(const Settlement& s) {
  OrderedJson j = OrderedJson::object();
  put_settlement(j, s);
  return j;
}

OrderedJson settlement_payload(const std::string& message_id, const std::string& sent_at,
                               const Settlement& s) {
  OrderedJson j;
  j["message_id"] = message_id;
  j["sent_at"] = sent_at;
  put_settlement(j, s);
  return j;
}

OrderedJson batch_payload(const std::string& message_id, const std::string& sent_at,
                          const std::vector<Settlement>& trades) {
  OrderedJson j;
  j["message_id"] = message_id;
  j["sent_at"] = sent_at;
  auto arr = OrderedJson::array();
  for (const auto& s : trades) arr.push_back(settlement_fields(s));
  j["settlements"] = std::move(arr);
  return j;
}

OrderedJson statement_payload(const std::string& message_id, const std::string& sent_at,
                              const std::string& business_date, int64_t trade_count,
                              int64_t total_quantity, const std::vector<StatementLine>& lines) {
  OrderedJson j;
  j["message_id"] = message_id;
  j["sent_at"] = sent_at;
  j["business_date"] = business_date;
  j["trade_count"] = trade_count;
  j["total_quantity"] = total_quantity;
  auto arr = OrderedJson::array();
  for (const auto& l : lines) {
    OrderedJson t;
    t["trade_id"] = l.trade_id;
    t["seller_account"] = l.seller_account;
    t["buyer_account"] = l.buyer_account;
    t["vintage"] = l.vintage;
    t["quantity"] = l.quantity;
    arr.push_back(std::move(t));
  }
  j["trades"] = std::move(arr);
  return j;
}

std::string rfc3339_jst(SysTime t) {
  std::tm tm = utc_tm(std::chrono::time_point_cast<std::chrono::seconds>(t) + kJst);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d+09:00", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string jst_date(SysTime t) { return rfc3339_jst(t).substr(0, 10); }

bool is_iso_date(const std::string& s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  using namespace std::chrono;
  year_month_day ymd{year{std::stoi(s.substr(0, 4))}, month{unsigned(std::stoi(s.substr(5, 2)))},
                     day{unsigned(std::stoi(s.substr(8, 2)))}};
  return ymd.ok();
}

std::string add_days(const std::string& date, int days) {
  using namespace std::chrono;
  year_month_day ymd{year{std::stoi(date.substr(0, 4))},
                     month{unsigned(std::stoi(date.substr(5, 2)))},
                     day{unsigned(std::stoi(date.substr(8, 2)))}};
  year_month_day out{sys_days{ymd} + std::chrono::days{days}};
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", int(out.year()), unsigned(out.month()),
                unsigned(out.day()));
  return buf;
}

Result<SysTime> parse_rfc3339(const std::string& s) {
  auto bad = [&] { return make_error("BAD_TIME", "'" + s + "' is not RFC 3339 with an offset"); };
  if (s.size() < 20 || !is_iso_date(s.substr(0, 10)) || (s[10] != 'T' && s[10] != 't') ||
      s[13] != ':' || s[16] != ':') {
    return bad();
  }
  auto num = [&](size_t pos, size_t len, int& out) {
    out = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int hh = 0, mm = 0, ss = 0;
  if (!num(11, 2, hh) || !num(14, 2, mm) || !num(17, 2, ss) || hh > 23 || mm > 59 || ss > 60) {
    return bad();
  }
  size_t i = 19;
  std::chrono::nanoseconds frac{0};
  if (i < s.size() && s[i] == '.') {
    size_t start = ++i;
    int64_t ns = 0;
    int digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (digits < 9) {
        ns = ns * 10 + (s[i] - '0');
        ++digits;
      }
      ++i;
    }
    if (i == start) return bad();
    for (; digits < 9; ++digits) ns *= 10;
    frac = std::chrono::nanoseconds(ns);
  }
  std::chrono::minutes offset{0};
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z') && i + 1 == s.size()) {
    offset = std::chrono::minutes(0);
  } else if (i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    int oh = 0, om = 0;
    if (!num(i + 1, 2, oh) || !num(i + 4, 2, om) || oh > 23 || om > 59) return bad();
    offset = std::chrono::minutes(oh * 60 + om) * (s[i] == '-' ? -1 : 1);
  } else {
    return bad();
  }
  using namespace std::chrono;
  year_month_day ymd{year{std::stoi(s.substr(0, 4))}, month{unsigned(std::stoi(s.substr(5, 2)))},
                     day{unsigned(std::stoi(s.substr(8, 2)))}};
  auto t = sys_days{ymd} + hours(hh) + minutes(mm) + seconds(ss) - offset;
  return time_point_cast<SysTime::duration>(t + frac);
}

}  // namespace gxm
