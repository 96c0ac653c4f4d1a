#include "registry/domain/checks.hpp"

#include <array>
#include <utility>

namespace hub::registry {
namespace {

struct CheckEntry {
  Check check;
  std::string_view code;
};

constexpr std::array<CheckEntry, 23> kChecks{{
    {Check::kMalformedAccountNumber, "MALFORMED_ACCOUNT_NUMBER"},
    {Check::kInvalidCorporateNumber, "INVALID_CORPORATE_NUMBER"},
    {Check::kUnknownAccount, "UNKNOWN_ACCOUNT"},
    {Check::kAccountNotOpen, "ACCOUNT_NOT_OPEN"},
    {Check::kInsufficientBalance, "INSUFFICIENT_BALANCE"},
    {Check::kInvalidQuantity, "INVALID_QUANTITY"},
    {Check::kInvalidVintage, "INVALID_VINTAGE"},
    {Check::kUnitNotTransferable, "UNIT_NOT_TRANSFERABLE"},
    {Check::kAccountTypeNotAllowed, "ACCOUNT_TYPE_NOT_ALLOWED"},
    {Check::kSameAccount, "SAME_ACCOUNT"},
    {Check::kSerialAlreadyUsed, "SERIAL_ALREADY_USED"},
    {Check::kSerialRangeInvalid, "SERIAL_RANGE_INVALID"},
    {Check::kIdempotencyConflict, "IDEMPOTENCY_CONFLICT"},
    {Check::kSurrenderedUnitsFinal, "SURRENDERED_UNITS_FINAL"},
    {Check::kFourEyesViolation, "FOUR_EYES_VIOLATION"},
    {Check::kCorrectionNotPending, "CORRECTION_NOT_PENDING"},
    {Check::kReversalNotPossible, "REVERSAL_NOT_POSSIBLE"},
    {Check::kHolderMismatch, "HOLDER_MISMATCH"},
    {Check::kUnknownCompany, "UNKNOWN_COMPANY"},
    {Check::kAccountHasBalance, "ACCOUNT_HAS_BALANCE"},
    {Check::kUnknownUnitType, "UNKNOWN_UNIT_TYPE"},
    {Check::kAccountStateChangeNotAllowed, "ACCOUNT_STATE_CHANGE_NOT_ALLOWED"},
    {Check::kInvalidReason, "INVALID_REASON"},
}};

constexpr std::array<Check, kChecks.size()> make_check_list() {
  std::array<Check, kChecks.size()> list{};
  for (std::size_t i = 0; i < kChecks.size(); ++i) list[i] = kChecks[i].check;
  return list;
}

constexpr std::array<Check, kChecks.size()> kCheckList = make_check_list();

// The table is dense and ordered: entry i is check 1001 + i. Checked at compile time so
// check_code() can index instead of search.
constexpr bool table_is_dense() {
  for (std::size_t i = 0; i < kChecks.size(); ++i) {
    if (static_cast<int>(kChecks[i].check) != 1001 + static_cast<int>(i)) return false;
  }
  return true;
}
static_assert(table_is_dense(), "kChecks must list checks 1001.. in order without gaps");

}  // namespace

std::string_view check_code(Check check) {
  const int index = static_cast<int>(check) - 1001;
  if (index < 0 || index >= static_cast<int>(kChecks.size())) return {};
  return kChecks[static_cast<std::size_t>(index)].code;
}

int check_number(Check check) { return static_cast<int>(check); }

std::optional<Check> check_from_code(std::string_view code) {
  for (const auto& entry : kChecks) {
    if (entry.code == code) return entry.check;
  }
  return std::nullopt;
}

std::span<const Check> all_checks() { return kCheckList; }

Error refusal(Check check, std::string sentence) {
  std::string code(check_code(check));
  // Only a cast from an unlisted int gets here; keep the refusal readable all the same.
  if (code.empty()) code = "CHECK_" + std::to_string(check_number(check));
  sentence.insert(0, code + " (check " + std::to_string(check_number(check)) + "): ");
  return make_error(std::move(code), std::move(sentence));
}

}  // namespace hub::registry
