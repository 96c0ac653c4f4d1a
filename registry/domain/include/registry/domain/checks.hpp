#pragma once
// The registry's numbered business checks. Every refusal of the registry names exactly one
// check, so a person reading a refusal (or a reconciliation exception) can look it up in
// docs/registry-checks.md, and a program can branch on the stable code string.
// Pure functions over constant tables: thread-safe, no state.

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "hub/core/result.hpp"

namespace hub::registry {

// The numbers are part of the interface (operators quote them, documents cite them):
// never renumber or reuse one; add new checks at the end.
enum class Check : int {
  kMalformedAccountNumber = 1001,
  kInvalidCorporateNumber = 1002,
  kUnknownAccount = 1003,
  kAccountNotOpen = 1004,
  kInsufficientBalance = 1005,
  kInvalidQuantity = 1006,
  kInvalidVintage = 1007,
  kUnitNotTransferable = 1008,
  kAccountTypeNotAllowed = 1009,
  kSameAccount = 1010,
  kSerialAlreadyUsed = 1011,
  kSerialRangeInvalid = 1012,
  kIdempotencyConflict = 1013,
  kSurrenderedUnitsFinal = 1014,
  kFourEyesViolation = 1015,
  kCorrectionNotPending = 1016,
  kReversalNotPossible = 1017,
  kHolderMismatch = 1018,
  kUnknownCompany = 1019,
  kAccountHasBalance = 1020,
  kUnknownUnitType = 1021,
  kAccountStateChangeNotAllowed = 1022,
  kInvalidReason = 1023,
};

// The stable machine code, e.g. "INSUFFICIENT_BALANCE". Empty for a value outside the enum.
std::string_view check_code(Check check);
// The number, e.g. 1005.
int check_number(Check check);
// The check whose code is exactly `code` (case-sensitive), if any.
std::optional<Check> check_from_code(std::string_view code);
// Every check, in number order.
std::span<const Check> all_checks();

// The refusal of `check`: Error{code, "<code> (check <number>): <sentence>"}. The sentence
// says what is wrong with which account, unit or serial, with the numbers involved.
Error refusal(Check check, std::string sentence);

}  // namespace hub::registry
