#include "registry/domain/units.hpp"

#include <string>

#include "registry/domain/checks.hpp"
#include "registry/domain/format.hpp"

namespace hub::registry {

Result<UnitType> parse_unit_type(std::string_view text) {
  if (text == "GXA") return UnitType::kGXA;
  if (text == "JCR") return UnitType::kJCR;
  if (text == "JCM") return UnitType::kJCM;
  return refusal(Check::kUnknownUnitType, "unit type " + quote_input(text) +
                                              " is unknown; the unit types are GXA "
                                              "(allowance), JCR (J-Credit) and JCM (JCM credit)");
}

std::string_view unit_type_str(UnitType unit) {
  switch (unit) {
    case UnitType::kGXA:
      return "GXA";
    case UnitType::kJCR:
      return "JCR";
    case UnitType::kJCM:
      return "JCM";
  }
  return {};
}

bool transferable_between_holdings(UnitType unit) { return unit == UnitType::kGXA; }

Status check_vintage(UnitType unit, int vintage) {
  const bool allowance = unit == UnitType::kGXA;
  const int min = allowance ? kMinAllowanceVintage : kMinCreditVintage;
  if (vintage >= min && vintage <= kMaxVintage) return {};
  std::string meaning;
  switch (unit) {
    case UnitType::kGXA:
      meaning = "the fiscal year of issuance";
      break;
    case UnitType::kJCR:
      meaning = "the monitoring year";
      break;
    case UnitType::kJCM:
      meaning = "the year of issuance";
      break;
  }
  return refusal(Check::kInvalidVintage, "vintage " + std::to_string(vintage) + " of " +
                                             std::string(unit_type_str(unit)) + " is outside " +
                                             std::to_string(min) + ".." +
                                             std::to_string(kMaxVintage) + " (" + meaning + ")");
}

Status check_quantity(std::int64_t quantity) {
  if (quantity >= kMinQuantity && quantity <= kMaxQuantity) return {};
  return refusal(Check::kInvalidQuantity, "quantity " + format_quantity(quantity) + " is outside " +
                                              format_quantity(kMinQuantity) + ".." +
                                              format_quantity(kMaxQuantity) + " whole tonnes");
}

Result<std::int64_t> parse_quantity(std::string_view text) {
  if (text.empty()) return refusal(Check::kInvalidQuantity, "the quantity is empty");
  bool digits_only = true;
  bool decimal = false;
  for (char c : text) {
    if (c == '.') decimal = true;
    if (c < '0' || c > '9') digits_only = false;
  }
  if (!digits_only) {
    return refusal(Check::kInvalidQuantity,
                   "quantity " + quote_input(text) +
                       (decimal ? " is not a whole number of tonnes"
                                : " must be written as digits 0-9 only (whole tonnes, no sign "
                                  "or separators)"));
  }
  // Stop as soon as the value passes the maximum, long before it could overflow.
  std::int64_t value = 0;
  for (char c : text) {
    value = value * 10 + (c - '0');
    if (value > kMaxQuantity) {
      return refusal(Check::kInvalidQuantity, "quantity " + quote_input(text) +
                                                  " is above the maximum of " +
                                                  format_quantity(kMaxQuantity) + " tonnes");
    }
  }
  if (auto ok = check_quantity(value); !ok) return ok.error();
  return value;
}

}  // namespace hub::registry
