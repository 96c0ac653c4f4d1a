#pragma once
// Registry account numbers as domain.md defines them: JP-GX-{type}-{7 digits}, the 7th digit
// being the Luhn check digit of the first six. Pure functions, thread-safe.

#include <string>
#include <string_view>

#include "gxm/result.hpp"

namespace gxm {

// The Luhn check digit (0-9) of a string of decimal digits; -1 if it holds anything else.
int luhn_check_digit(std::string_view digits);

// "JP-GX-{type}-{serial:06}{check}" for a type (100..999) and a serial 0..999,999.
std::string make_account_number(int type, int serial);

// Checks the shape, the account type (100, 200, 300, 400, 900) and the check digit.
Status validate_account_number(std::string_view number);

}  // namespace gxm
