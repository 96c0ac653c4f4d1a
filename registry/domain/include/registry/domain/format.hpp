#pragma once
// Formatting for refusal sentences. Pure functions: thread-safe.

#include <cstdint>
#include <string>
#include <string_view>

namespace hub::registry {

// Whole tonnes with thousands separators: 1000 -> "1,000", -1234567 -> "-1,234,567".
std::string format_quantity(std::int64_t quantity);

// Text from outside (a partner message, a form) quoted for a refusal sentence: in double
// quotes, at most 40 characters of it (then "..."), control characters, quotes,
// backslashes and non-ASCII bytes written as \xNN so that a sentence is always one
// printable line and never carries a whole payload.
std::string quote_input(std::string_view text);

}  // namespace hub::registry
