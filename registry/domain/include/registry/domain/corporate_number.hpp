#pragma once
// Japanese Corporate Numbers (法人番号), which identify companies in the registry: 13
// digits, the FIRST of which is a check digit over the other twelve (the base number):
//   check = 9 - (sum over the 12 base digits of digit x weight) mod 9,
//   weight 1 for odd and 2 for even positions counted from the rightmost digit (= 1).
// The check digit is therefore always 1..9, never 0. Invalid numbers are refused with
// check 1002 (INVALID_CORPORATE_NUMBER) before any look-up.
// CorporateNumber is an immutable value type: copyable, thread-safe to share.

#include <compare>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "hub/core/result.hpp"

namespace hub::registry {

// The check digit (1..9) of a 12-digit base number; -1 unless `base` is exactly 12 ASCII
// digits.
int corporate_check_digit(std::string_view base);

class CorporateNumber {
 public:
  // Exactly 13 ASCII digits with a correct check digit. Refuses (check 1002) anything
  // else, naming the expected check digit when only that is wrong. Full-width digits,
  // hyphens and spaces are refused, not normalised: forms normalise, the registry does not.
  static Result<CorporateNumber> parse(std::string_view text);
  // The corporate number of a 12-digit base number (e.g. a 会社法人等番号), check digit
  // prefixed. Refuses (check 1002) anything but 12 ASCII digits.
  static Result<CorporateNumber> make(std::string_view twelve_base_digits);

  // The 13 digits.
  const std::string& str() const { return digits_; }
  // The 12 digits after the check digit.
  std::string_view base() const { return std::string_view(digits_).substr(1); }
  int check_digit() const { return digits_[0] - '0'; }

  friend bool operator==(const CorporateNumber&, const CorporateNumber&) = default;
  friend std::strong_ordering operator<=>(const CorporateNumber&, const CorporateNumber&) = default;

 private:
  explicit CorporateNumber(std::string digits) : digits_(std::move(digits)) {}

  std::string digits_;
};

}  // namespace hub::registry

template <>
struct std::hash<hub::registry::CorporateNumber> {
  std::size_t operator()(const hub::registry::CorporateNumber& n) const noexcept {
    return std::hash<std::string>()(n.str());
  }
};
