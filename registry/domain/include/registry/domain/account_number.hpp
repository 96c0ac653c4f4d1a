#pragma once
// Registry account numbers: JP-GX-{type}-{7 digits}, where the 7th digit is the Luhn
// check digit of the first six (domain.md; e.g. JP-GX-100-0000018). A number with a wrong
// check digit is refused as malformed (check 1001) before any look-up, so a mistyped
// number never reaches the wrong account.
// AccountNumber is an immutable value type: copyable, thread-safe to share.

#include <compare>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "hub/core/result.hpp"

namespace hub::registry {

// The three digits after "JP-GX-" say what the account is for.
enum class AccountType : int {
  kHolding = 100,             // a company's holding account (保有口座)
  kIssuance = 200,            // government: allowances are created here, then allocated
  kSurrender = 300,           // government: surrendered units end here, never move again
  kCancellationIntake = 400,  // government: counter-side of J-Credit / JCM intake
  kAdjustment = 900,          // the Organization: counter-side of operator corrections
};

// "holding", "issuance", "surrender", "cancellation intake", "adjustment"; empty for a
// value outside the enum.
std::string_view account_type_name(AccountType type);
// The type whose code is `code` (100, 200, 300, 400, 900), if any.
std::optional<AccountType> account_type_from_code(int code);

// The Luhn (mod 10) check digit to append to `digits`: from the rightmost digit leftwards,
// every first, third, ... digit is doubled (9 subtracted when the double exceeds 9), the
// rest are taken as they are, and the check digit brings the total to a multiple of 10.
// "000001" -> 8 (so JP-GX-100-0000018), "000002" -> 6, "" -> 0. Returns -1 when `digits`
// holds anything but ASCII 0-9.
int luhn_check_digit(std::string_view digits);

class AccountNumber {
 public:
  // The expected shape, for refusal sentences and documentation.
  static constexpr std::string_view kPattern = "JP-GX-{type}-{7 digits}";
  static constexpr int kMaxSerial = 999'999;

  // Accepts exactly the canonical form (upper case, no spaces); everything else is
  // refused with check 1001 and a sentence saying what is wrong: the shape, the type, or
  // the check digit ("the check digit of JP-GX-100-000001 must be 8, got 9").
  static Result<AccountNumber> parse(std::string_view text);

  // The number of the given type and six-digit serial (0..999999), check digit computed.
  // Serials come from the registry's own sequence, so an out-of-range serial or a type
  // outside the enum is a broken invariant: throws std::out_of_range.
  static AccountNumber make(AccountType type, int six_digit_serial);

  AccountType type() const { return type_; }
  // The first six of the seven digits (without the check digit).
  int serial() const { return serial_; }
  int check_digit() const;
  // The canonical text, e.g. "JP-GX-100-0000018".
  std::string str() const;

  friend bool operator==(const AccountNumber&, const AccountNumber&) = default;
  // Orders by type, then serial: the same order as the canonical text.
  friend std::strong_ordering operator<=>(const AccountNumber&, const AccountNumber&) = default;

 private:
  AccountNumber(AccountType type, int serial) : type_(type), serial_(serial) {}

  AccountType type_;
  int serial_;
};

}  // namespace hub::registry

template <>
struct std::hash<hub::registry::AccountNumber> {
  std::size_t operator()(const hub::registry::AccountNumber& n) const noexcept {
    return std::hash<int>()(static_cast<int>(n.type()) * 1'000'000 + n.serial());
  }
};
