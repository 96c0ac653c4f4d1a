#include "registry/domain/corporate_number.hpp"

#include <utility>

#include "registry/domain/checks.hpp"
#include "registry/domain/format.hpp"

namespace hub::registry {
namespace {

bool all_ascii_digits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool has_non_ascii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

Error invalid(std::string sentence) {
  return refusal(Check::kInvalidCorporateNumber, std::move(sentence));
}

}  // namespace

int corporate_check_digit(std::string_view base) {
  if (base.size() != 12 || !all_ascii_digits(base)) return -1;
  int sum = 0;
  int position = 1;  // counted from the rightmost digit
  for (auto it = base.rbegin(); it != base.rend(); ++it, ++position) {
    const int weight = position % 2 == 1 ? 1 : 2;
    sum += (*it - '0') * weight;
  }
  return 9 - sum % 9;
}

Result<CorporateNumber> CorporateNumber::parse(std::string_view text) {
  if (text.empty()) return invalid("the corporate number is empty; expected 13 digits");
  if (!all_ascii_digits(text)) {
    std::string sentence = "corporate number " + quote_input(text) +
                           " must be 13 digits 0-9 without spaces or hyphens";
    if (has_non_ascii(text)) sentence += " (half-width digits only)";
    return invalid(std::move(sentence));
  }
  if (text.size() != 13) {
    return invalid("corporate number " + quote_input(text) + " has " + std::to_string(text.size()) +
                   " digits; a corporate number has 13");
  }
  const int expected = corporate_check_digit(text.substr(1));
  const int got = text[0] - '0';
  if (expected != got) {
    return invalid("the check digit (first digit) of corporate number " + std::string(text) +
                   " must be " + std::to_string(expected) + " for the base number " +
                   std::string(text.substr(1)) + ", got " + std::to_string(got));
  }
  return CorporateNumber(std::string(text));
}

Result<CorporateNumber> CorporateNumber::make(std::string_view twelve_base_digits) {
  const int check = corporate_check_digit(twelve_base_digits);
  if (check < 0) {
    return invalid("base number " + quote_input(twelve_base_digits) +
                   " must be exactly 12 digits 0-9");
  }
  std::string digits(1, static_cast<char>('0' + check));
  digits += twelve_base_digits;
  return CorporateNumber(std::move(digits));
}

}  // namespace hub::registry
