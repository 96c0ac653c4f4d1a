#include "registry/domain/serials.hpp"

#include <algorithm>
#include <utility>

#include "registry/domain/checks.hpp"
#include "registry/domain/format.hpp"

namespace hub::registry {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_letter(char c) { return is_upper(c) || (c >= 'a' && c <= 'z'); }
bool is_prefix_char(char c) {
  return is_letter(c) || is_digit(c) || c == '-' || c == '_' || c == '.' || c == '/';
}

bool digits_at(std::string_view s, std::size_t pos, std::size_t count) {
  if (pos + count > s.size()) return false;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (!is_digit(s[i])) return false;
  }
  return true;
}

int to_int(std::string_view digits) {
  int v = 0;
  for (char c : digits) v = v * 10 + (c - '0');
  return v;
}

Error range_invalid(std::string sentence) {
  return refusal(Check::kSerialRangeInvalid, std::move(sentence));
}

// JCR-dddd-yyyy-  (14 characters)
bool is_jcr_prefix(std::string_view p) {
  return p.size() == 14 && p.substr(0, 4) == "JCR-" && digits_at(p, 4, 4) && p[8] == '-' &&
         digits_at(p, 9, 4) && p[13] == '-';
}

// JCM-AAddd-yyyy-  (15 characters)
bool is_jcm_prefix(std::string_view p) {
  return p.size() == 15 && p.substr(0, 4) == "JCM-" && is_upper(p[4]) && is_upper(p[5]) &&
         digits_at(p, 6, 3) && p[9] == '-' && digits_at(p, 10, 4) && p[14] == '-';
}

constexpr int kCreditSerialDigits = 9;

// parse_serial(), with `role` ("serial", "first serial", ...) as the subject of the
// sentences so that a block's refusal says which end is wrong.
Result<SerialNumber> parse_serial_as(std::string_view text, const std::string& role) {
  if (text.empty()) return range_invalid("the " + role + " is empty");
  std::size_t start = text.size();
  while (start > 0 && is_digit(text[start - 1])) --start;
  const std::size_t run = text.size() - start;
  if (run == 0) {
    return range_invalid(role + " " + quote_input(text) + " does not end in digits");
  }
  if (run > static_cast<std::size_t>(kMaxSerialDigits)) {
    return range_invalid(role + " " + quote_input(text) + " ends in " + std::to_string(run) +
                         " digits; at most " + std::to_string(kMaxSerialDigits) + " are allowed");
  }
  const std::string_view prefix = text.substr(0, start);
  if (prefix.empty()) {
    return range_invalid(role + " " + quote_input(text) +
                         " has no prefix before its digits (e.g. JCR-0312-2024-000000001)");
  }
  if (!is_letter(prefix.front()) || !std::all_of(prefix.begin(), prefix.end(), is_prefix_char)) {
    return range_invalid("the prefix of " + role + " " + quote_input(text) +
                         " must start with a letter and hold only letters, digits and - _ . /");
  }
  SerialNumber serial;
  serial.prefix = std::string(prefix);
  serial.digits = static_cast<int>(run);
  for (char c : text.substr(start)) serial.number = serial.number * 10 + (c - '0');
  return serial;
}

}  // namespace

std::string SerialNumber::str() const { return format_serial(prefix, number, digits); }

Result<SerialNumber> parse_serial(std::string_view text) { return parse_serial_as(text, "serial"); }

Status check_serial_format(UnitType unit, const SerialNumber& serial) {
  switch (unit) {
    case UnitType::kGXA:
      return {};
    case UnitType::kJCR:
      if (is_jcr_prefix(serial.prefix) && serial.digits == kCreditSerialDigits) return {};
      return range_invalid("serial " + quote_input(serial.str()) +
                           " is not a J-Credit serial JCR-{project 4 digits}-{monitoring "
                           "year}-{9 digits}, e.g. JCR-0312-2024-000000001");
    case UnitType::kJCM:
      if (is_jcm_prefix(serial.prefix) && serial.digits == kCreditSerialDigits) return {};
      return range_invalid("serial " + quote_input(serial.str()) +
                           " is not a JCM serial JCM-{partner code + 3 digits}-{vintage}-{9 "
                           "digits}, e.g. JCM-MN001-2023-000000001");
  }
  return range_invalid("unknown unit type");
}

std::optional<int> serial_year(UnitType unit, std::string_view prefix) {
  if (unit == UnitType::kJCR && is_jcr_prefix(prefix)) return to_int(prefix.substr(9, 4));
  if (unit == UnitType::kJCM && is_jcm_prefix(prefix)) return to_int(prefix.substr(10, 4));
  return std::nullopt;
}

std::string format_serial(std::string_view prefix, std::int64_t number, int width) {
  std::string digits = std::to_string(number);
  if (number >= 0 && width > 0 && digits.size() < static_cast<std::size_t>(width)) {
    digits.insert(0, static_cast<std::size_t>(width) - digits.size(), '0');
  }
  std::string out(prefix);
  out += digits;
  return out;
}

std::string SerialBlock::str() const {
  if (first == last) return first_serial();
  return first_serial() + ".." + last_serial();
}

Result<SerialBlock> make_serial_block(UnitType unit, std::string_view first_text,
                                      std::string_view last_text) {
  auto first = parse_serial_as(first_text, "first serial");
  if (!first) return first.error();
  auto last = parse_serial_as(last_text, "last serial");
  if (!last) return last.error();
  if (auto ok = check_serial_format(unit, *first); !ok) return ok.error();
  if (auto ok = check_serial_format(unit, *last); !ok) return ok.error();
  if (first->prefix != last->prefix) {
    return range_invalid("first serial " + first->str() + " and last serial " + last->str() +
                         " have different prefixes (" + first->prefix + " and " + last->prefix +
                         "); a block runs within one prefix");
  }
  if (first->digits != last->digits) {
    return range_invalid("first serial " + first->str() + " has " + std::to_string(first->digits) +
                         " digits but last serial " + last->str() + " has " +
                         std::to_string(last->digits) +
                         "; both ends of a block are written with the same width");
  }
  if (first->number > last->number) {
    return range_invalid("first serial " + first->str() + " comes after last serial " +
                         last->str());
  }
  SerialBlock block{unit, first->prefix, first->number, last->number, first->digits};
  if (auto ok = check_quantity(block.quantity()); !ok) return ok.error();
  return block;
}

Result<SerialBlock> make_serial_block(UnitType unit, std::string_view first_text,
                                      std::string_view last_text, std::int64_t declared_quantity) {
  auto block = make_serial_block(unit, first_text, last_text);
  if (!block) return block;
  if (declared_quantity != block->quantity()) {
    return range_invalid(
        "the block " + block->str() + " holds " + format_quantity(block->quantity()) +
        " serials but the declared quantity is " + format_quantity(declared_quantity));
  }
  return block;
}

bool overlaps(const SerialBlock& a, const SerialBlock& b) {
  return a.unit == b.unit && a.prefix == b.prefix && a.first <= b.last && b.first <= a.last;
}

std::optional<SerialBlock> common_serials(const SerialBlock& a, const SerialBlock& b) {
  if (!overlaps(a, b)) return std::nullopt;
  return SerialBlock{a.unit, a.prefix, std::max(a.first, b.first), std::min(a.last, b.last),
                     a.digits};
}

}  // namespace hub::registry
