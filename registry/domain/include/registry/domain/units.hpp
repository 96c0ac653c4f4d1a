#pragma once
// Unit types, vintages and quantities (domain.md, "Units"). Pure functions: thread-safe.
//
// GXA is an allowance of 1 t-CO2 whose vintage is the fiscal year it was issued for; JCR
// and JCM are credits cancelled in their registries for GX-ETS use, whose vintage is the
// monitoring year (JCR) or the year of issuance (JCM). Only GXA moves between holding
// accounts; credits are usable only for surrender by the company they were credited to.

#include <cstdint>
#include <string_view>

#include "hub/core/result.hpp"

namespace hub::registry {

enum class UnitType { kGXA, kJCR, kJCM };

// "GXA", "JCR", "JCM" (exact, upper case); anything else is refused with check 1021
// (UNKNOWN_UNIT_TYPE) listing the three.
Result<UnitType> parse_unit_type(std::string_view text);
// "GXA", "JCR", "JCM"; empty for a value outside the enum.
std::string_view unit_type_str(UnitType unit);

// Only allowances move between holding accounts (check 1008 refuses the rest).
bool transferable_between_holdings(UnitType unit);

// Vintages: credits 2000..2100 (monitoring year / year of issuance); allowances
// 2026..2100 (GX-ETS is mandatory from fiscal year 2026).
inline constexpr int kMinCreditVintage = 2000;
inline constexpr int kMinAllowanceVintage = 2026;
inline constexpr int kMaxVintage = 2100;

// OK, or check 1007 (INVALID_VINTAGE) with the allowed range in the sentence.
Status check_vintage(UnitType unit, int vintage);

// Quantities are whole tonnes (1 unit = 1 t-CO2), 1..10^12 in one posting.
inline constexpr std::int64_t kMinQuantity = 1;
inline constexpr std::int64_t kMaxQuantity = 1'000'000'000'000;

// OK, or check 1006 (INVALID_QUANTITY) with the quantity and the range in the sentence.
Status check_quantity(std::int64_t quantity);

// A quantity written as text by a partner or a form: ASCII digits only (no sign, no
// decimal point, no separators, no exponent), then check_quantity(). "12.5" is refused as
// not a whole number of tonnes. Refusals are check 1006.
Result<std::int64_t> parse_quantity(std::string_view text);

}  // namespace hub::registry
