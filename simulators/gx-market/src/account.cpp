#include "gxm/account.hpp"

#include <cstdio>

namespace gxm {

int luhn_check_digit(std::string_view digits) {
  if (digits.empty()) return -1;
  int sum = 0;
  bool twice = true;  // the rightmost payload digit is doubled, as the check digit follows it
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (*it < '0' || *it > '9') return -1;
    int d = *it - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return (10 - sum % 10) % 10;
}

std::string make_account_number(int type, int serial) {
  char six[8];
  std::snprintf(six, sizeof six, "%06d", serial % 1000000);
  char out[32];
  std::snprintf(out, sizeof out, "JP-GX-%03d-%s%d", type % 1000, six, luhn_check_digit(six));
  return out;
}

Status validate_account_number(std::string_view n) {
  auto bad = [&](const std::string& why) {
    return make_error("BAD_ACCOUNT", "account number '" + std::string(n) + "': " + why);
  };
  if (n.size() != 17 || n.substr(0, 6) != "JP-GX-" || n[9] != '-') {
    return bad("expected JP-GX-{type}-{7 digits}");
  }
  auto type = n.substr(6, 3);
  auto digits = n.substr(10, 7);
  for (char c : std::string(type) + std::string(digits)) {
    if (c < '0' || c > '9') return bad("type and number must be digits");
  }
  if (type != "100" && type != "200" && type != "300" && type != "400" && type != "900") {
    return bad("unknown account type " + std::string(type));
  }
  if (luhn_check_digit(digits.substr(0, 6)) != digits[6] - '0') {
    return bad("wrong check digit (Luhn of the first six digits is " +
               std::to_string(luhn_check_digit(digits.substr(0, 6))) + ")");
  }
  return ok_status();
}

}  // namespace gxm
