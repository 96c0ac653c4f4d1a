#include "registry/domain/account_number.hpp"

#include <array>
#include <stdexcept>
#include <utility>

#include "registry/domain/checks.hpp"
#include "registry/domain/format.hpp"

namespace hub::registry {
namespace {

constexpr std::string_view kPrefix = "JP-GX-";
constexpr std::string_view kExample = "JP-GX-100-0000018";
constexpr std::string_view kTypeList =
    "100 (holding), 200 (issuance), 300 (surrender), 400 (cancellation intake), "
    "900 (adjustment)";
// "JP-GX-" + 3 + "-" + 7
constexpr std::size_t kLength = 6 + 3 + 1 + 7;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool all_digits(std::string_view s) {
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return true;
}

// JP-GX-ddd-ddddddd, nothing else.
bool has_shape(std::string_view s) {
  return s.size() == kLength && s.substr(0, kPrefix.size()) == kPrefix && s[9] == '-' &&
         all_digits(s.substr(6, 3)) && all_digits(s.substr(10, 7));
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

int to_int(std::string_view digits) {
  int v = 0;
  for (char c : digits) v = v * 10 + (c - '0');
  return v;
}

std::string pad(int value, std::size_t width) {
  std::string s = std::to_string(value);
  if (s.size() < width) s.insert(0, width - s.size(), '0');
  return s;
}

Error malformed(std::string sentence) {
  return refusal(Check::kMalformedAccountNumber, std::move(sentence));
}

std::string shape_hint() {
  return "expected " + std::string(AccountNumber::kPattern) + ", e.g. " + std::string(kExample);
}

}  // namespace

std::string_view account_type_name(AccountType type) {
  switch (type) {
    case AccountType::kHolding:
      return "holding";
    case AccountType::kIssuance:
      return "issuance";
    case AccountType::kSurrender:
      return "surrender";
    case AccountType::kCancellationIntake:
      return "cancellation intake";
    case AccountType::kAdjustment:
      return "adjustment";
  }
  return {};
}

std::optional<AccountType> account_type_from_code(int code) {
  switch (code) {
    case 100:
      return AccountType::kHolding;
    case 200:
      return AccountType::kIssuance;
    case 300:
      return AccountType::kSurrender;
    case 400:
      return AccountType::kCancellationIntake;
    case 900:
      return AccountType::kAdjustment;
    default:
      return std::nullopt;
  }
}

int luhn_check_digit(std::string_view digits) {
  if (!all_digits(digits)) return -1;
  int sum = 0;
  bool doubled = true;  // the rightmost payload digit is doubled
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    int d = *it - '0';
    if (doubled) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    doubled = !doubled;
  }
  return (10 - sum % 10) % 10;
}

Result<AccountNumber> AccountNumber::parse(std::string_view text) {
  if (text.empty()) return malformed("the account number is empty; " + shape_hint());
  if (!has_shape(text)) {
    // Say what would fix it when one simple change would.
    std::string_view trimmed = text;
    while (!trimmed.empty() && is_space(trimmed.front())) trimmed.remove_prefix(1);
    while (!trimmed.empty() && is_space(trimmed.back())) trimmed.remove_suffix(1);
    if (trimmed.size() != text.size() && has_shape(upper(trimmed))) {
      return malformed("account number " + quote_input(text) + " has leading or trailing spaces; " +
                       shape_hint());
    }
    if (has_shape(upper(text))) {
      // Refused rather than upper-cased: the canonical text is what is stored, signed and
      // compared, so only one spelling of a number may exist.
      return malformed("account number " + quote_input(text) + " must be written in upper case (" +
                       upper(text) + ")");
    }
    return malformed("account number " + quote_input(text) + " does not have the shape " +
                     std::string(kPattern) + " (\"JP-GX-\", 3 digits, \"-\", 7 digits), e.g. " +
                     std::string(kExample));
  }
  const std::string_view type_digits = text.substr(6, 3);
  const auto type = account_type_from_code(to_int(type_digits));
  if (!type) {
    return malformed("account type " + std::string(type_digits) + " in " + std::string(text) +
                     " is unknown; the types are " + std::string(kTypeList));
  }
  const std::string_view payload = text.substr(10, 6);
  const int expected = luhn_check_digit(payload);
  const int got = text[16] - '0';
  if (expected != got) {
    return malformed("the check digit of " + std::string(text.substr(0, 16)) + " must be " +
                     std::to_string(expected) + ", got " + std::to_string(got));
  }
  return AccountNumber(*type, to_int(payload));
}

AccountNumber AccountNumber::make(AccountType type, int six_digit_serial) {
  if (!account_type_from_code(static_cast<int>(type))) {
    throw std::out_of_range("AccountNumber::make: unknown account type " +
                            std::to_string(static_cast<int>(type)));
  }
  if (six_digit_serial < 0 || six_digit_serial > kMaxSerial) {
    throw std::out_of_range("AccountNumber::make: serial " + std::to_string(six_digit_serial) +
                            " is outside 0..999999");
  }
  return AccountNumber(type, six_digit_serial);
}

int AccountNumber::check_digit() const { return luhn_check_digit(pad(serial_, 6)); }

std::string AccountNumber::str() const {
  const std::string payload = pad(serial_, 6);
  std::string out(kPrefix);
  out += std::to_string(static_cast<int>(type_));
  out.push_back('-');
  out += payload;
  out.push_back(static_cast<char>('0' + luhn_check_digit(payload)));
  return out;
}

}  // namespace hub::registry
