#include "registry/domain/format.hpp"

#include <cstddef>

namespace hub::registry {

std::string format_quantity(std::int64_t quantity) {
  // Unsigned magnitude so that INT64_MIN does not overflow on negation.
  std::uint64_t magnitude = quantity < 0 ? 0 - static_cast<std::uint64_t>(quantity)
                                         : static_cast<std::uint64_t>(quantity);
  const std::string digits = std::to_string(magnitude);
  std::string out;
  if (quantity < 0) out.push_back('-');
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string quote_input(std::string_view text) {
  constexpr std::size_t kMaxShown = 40;
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "\"";
  const std::size_t shown = text.size() < kMaxShown ? text.size() : kMaxShown;
  for (std::size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c >= 0x7F || c == '"' || c == '\\') {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0F]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
  if (text.size() > kMaxShown) out += "...";
  return out;
}

}  // namespace hub::registry
