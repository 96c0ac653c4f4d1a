#pragma once
// The faults the simulator injects, how a --faults specification is read, and which answer
// the spec (common.md, gx-market.md) demands for each. Pure data and functions, thread-safe.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gxm/result.hpp"

namespace gxm {

enum class Fault {
  kNone,
  // Follow-ups: a clean message is sent first, then a second request derived from it.
  kDuplicate,       // the same bytes again
  kConflict,        // the same message_id, another payload
  kDuplicateTrade,  // the same trade under a new message_id
  // Refused at intake.
  kStale,
  kBadSignature,
  kWrongKey,
  kUnknownKid,
  kAlgNone,
  kAlgHs256,
  kUnknownField,
  kMissingField,
  kOutOfRange,
  kBadCheckDigit,
  kMalformedJson,
  kIdempotencyMismatch,
  // Accepted, then a business exception.
  kUnknownAccount,
  kInsufficientBalance,
};

std::string_view fault_name(Fault f);
std::optional<Fault> fault_from_name(std::string_view name);
const std::vector<Fault>& all_faults();  // every fault but kNone, in declaration order
bool is_followup(Fault f);

// What the spec demands of the hub's answer to one request.
struct Expectation {
  int http = 202;                  // 202, 200, 400, 401, 409
  std::vector<std::string> codes;  // problem+json codes accepted (any of), for 4xx
  bool problem_names_message = false;  // the problem must carry the message_id
  std::string final_status;        // after --await-final: "applied", "exception" or "" (any)
  std::string final_reason;        // reason_code expected with final_status "exception"
  std::string describe() const;    // "202 -> applied", "400 STALE_MESSAGE", ...
};

// Expectation of the request that carries `f` (for follow-ups: of the follow-up request).
Expectation expectation_for(Fault f);

// One fault's share of the messages: a probability per message or an exact count.
struct FaultRate {
  Fault fault = Fault::kNone;
  double probability = 0;      // used when count is empty
  std::optional<uint64_t> count;
};

// Reads "duplicate=0.05,conflict=0.01,stale=3": a value with a decimal point (or an
// exponent) is a probability per message, an integer is an exact count.
Result<std::vector<FaultRate>> parse_fault_spec(std::string_view spec);

// Statement breaks (common.md, Daily statements).
enum class StatementBreak { kMissingTrade, kExtraTrade, kWrongQuantity, kWrongTotals };
std::string_view break_name(StatementBreak b);
// The reconciliation break the hub should raise for it.
std::string_view break_expected_exception(StatementBreak b);
Result<std::vector<StatementBreak>> parse_break_list(std::string_view list);

// Deterministic random numbers (splitmix64): the same seed gives the same run on every
// platform, unlike the standard distributions. Not thread-safe.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next();
  int64_t uniform(int64_t lo, int64_t hi);  // inclusive
  double unit();                            // [0, 1)

 private:
  uint64_t state_;
};

// Chooses the fault of each message. Exact counts are placed at distinct random positions
// among the first `total` messages (total must be finite for them); probabilities are drawn
// for the remaining messages, in the order given. Not thread-safe.
class FaultPicker {
 public:
  static Result<FaultPicker> make(std::vector<FaultRate> rates, std::optional<uint64_t> total,
                                  uint64_t seed);
  Fault pick(uint64_t index, Rng& rng) const;  // index is 0-based

 private:
  std::vector<FaultRate> rates_;
  std::map<uint64_t, Fault> fixed_;
};

}  // namespace gxm
