#include "gxm/faults.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>

namespace gxm {
namespace {

struct FaultRow {
  Fault fault;
  std::string_view name;
};
constexpr FaultRow kFaults[] = {
    {Fault::kNone, "none"},
    {Fault::kDuplicate, "duplicate"},
    {Fault::kConflict, "conflict"},
    {Fault::kDuplicateTrade, "duplicate_trade"},
    {Fault::kStale, "stale"},
    {Fault::kBadSignature, "bad_signature"},
    {Fault::kWrongKey, "wrong_key"},
    {Fault::kUnknownKid, "unknown_kid"},
    {Fault::kAlgNone, "alg_none"},
    {Fault::kAlgHs256, "alg_hs256"},
    {Fault::kUnknownField, "unknown_field"},
    {Fault::kMissingField, "missing_field"},
    {Fault::kOutOfRange, "out_of_range"},
    {Fault::kBadCheckDigit, "bad_check_digit"},
    {Fault::kMalformedJson, "malformed_json"},
    {Fault::kIdempotencyMismatch, "idempotency_mismatch"},
    {Fault::kUnknownAccount, "unknown_account"},
    {Fault::kInsufficientBalance, "insufficient_balance"},
};

}  // namespace

std::string_view fault_name(Fault f) {
  for (const auto& row : kFaults) {
    if (row.fault == f) return row.name;
  }
  return "?";
}

std::optional<Fault> fault_from_name(std::string_view name) {
  for (const auto& row : kFaults) {
    if (row.name == name) return row.fault;
  }
  return std::nullopt;
}

const std::vector<Fault>& all_faults() {
  static const std::vector<Fault> all = [] {
    std::vector<Fault> v;
    for (const auto& row : kFaults) {
      if (row.fault != Fault::kNone) v.push_back(row.fault);
    }
    return v;
  }();
  return all;
}

bool is_followup(Fault f) {
  return f == Fault::kDuplicate || f == Fault::kConflict || f == Fault::kDuplicateTrade;
}

std::string Expectation::describe() const {
  std::string out = std::to_string(http);
  for (size_t i = 0; i < codes.size(); ++i) out += (i ? "|" : " ") + codes[i];
  if (!final_status.empty()) out += " -> " + final_status;
  if (!final_reason.empty()) out += " " + final_reason;
  return out;
}

Expectation expectation_for(Fault f) {
  Expectation e;
  switch (f) {
    case Fault::kNone:
      e.final_status = "applied";
      break;
    case Fault::kDuplicate:
      e.http = 200;  // the original receipt, same hub_ref (common.md, Identity and idempotency)
      break;
    case Fault::kConflict:
      e.http = 409;
      e.codes = {"IDEMPOTENCY_CONFLICT"};
      e.problem_names_message = true;
      break;
    case Fault::kDuplicateTrade:
      e.final_status = "exception";
      e.final_reason = "DUPLICATE_TRADE";
      break;
    case Fault::kStale:
      e.http = 400;
      e.codes = {"STALE_MESSAGE"};
      e.problem_names_message = true;
      break;
    case Fault::kBadSignature:
    case Fault::kWrongKey:
    case Fault::kUnknownKid:
    case Fault::kAlgNone:
    case Fault::kAlgHs256:
      e.http = 401;
      e.codes = {"SIGNATURE_INVALID"};
      break;
    case Fault::kUnknownField:
    case Fault::kMissingField:
    case Fault::kOutOfRange:
      e.http = 400;
      e.codes = {"SCHEMA_VIOLATION"};
      break;
    case Fault::kBadCheckDigit:
      // domain.md: "refused as malformed, not looked up"; common.md files bad field values
      // under the same 400 without naming the code, so either code is accepted.
      e.http = 400;
      e.codes = {"MALFORMED", "SCHEMA_VIOLATION"};
      break;
    case Fault::kMalformedJson:
    case Fault::kIdempotencyMismatch:
      e.http = 400;
      e.codes = {"MALFORMED"};
      break;
    case Fault::kUnknownAccount:
      e.final_status = "exception";
      e.final_reason = "UNKNOWN_ACCOUNT";
      break;
    case Fault::kInsufficientBalance:
      e.final_status = "exception";
      e.final_reason = "INSUFFICIENT_BALANCE";
      break;
  }
  return e;
}

Result<std::vector<FaultRate>> parse_fault_spec(std::string_view spec) {
  std::vector<FaultRate> out;
  double total_p = 0;
  size_t pos = 0;
  while (pos <= spec.size() && !spec.empty()) {
    auto comma = spec.find(',', pos);
    auto item = spec.substr(pos, comma == std::string_view::npos ? spec.npos : comma - pos);
    pos = comma == std::string_view::npos ? spec.size() + 1 : comma + 1;
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string_view::npos) {
      return make_error("BAD_FAULTS", "'" + std::string(item) + "': expected NAME=VALUE");
    }
    auto name = item.substr(0, eq);
    std::string value(item.substr(eq + 1));
    auto f = fault_from_name(name);
    if (!f || *f == Fault::kNone) {
      return make_error("BAD_FAULTS", "unknown fault '" + std::string(name) +
                                          "' (see gxm-sim --help for the list)");
    }
    if (std::any_of(out.begin(), out.end(), [&](const FaultRate& r) { return r.fault == *f; })) {
      return make_error("BAD_FAULTS", "fault '" + std::string(name) + "' is given twice");
    }
    FaultRate r;
    r.fault = *f;
    char* end = nullptr;
    if (value.find_first_of(".eE") != std::string::npos) {
      r.probability = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !(r.probability >= 0 && r.probability <= 1)) {
        return make_error("BAD_FAULTS", "'" + std::string(item) + "': a probability is 0..1");
      }
      total_p += r.probability;
    } else {
      unsigned long long n = std::strtoull(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || value[0] == '-') {
        return make_error("BAD_FAULTS", "'" + std::string(item) +
                                            "': an exact count is a whole number (write 1.0 "
                                            "for a probability of one)");
      }
      r.count = n;
    }
    out.push_back(r);
  }
  if (total_p > 1.0 + 1e-9) {
    return make_error("BAD_FAULTS", "the fault probabilities add up to more than 1");
  }
  return out;
}

std::string_view break_name(StatementBreak b) {
  switch (b) {
    case StatementBreak::kMissingTrade: return "missing_trade";
    case StatementBreak::kExtraTrade: return "extra_trade";
    case StatementBreak::kWrongQuantity: return "wrong_quantity";
    case StatementBreak::kWrongTotals: return "wrong_totals";
  }
  return "?";
}

std::string_view break_expected_exception(StatementBreak b) {
  switch (b) {
    case StatementBreak::kMissingTrade: return "MISSING_IN_SOURCE";
    case StatementBreak::kExtraTrade: return "MISSING_IN_HUB";
    case StatementBreak::kWrongQuantity: return "MISMATCH";
    case StatementBreak::kWrongTotals: return "TOTALS_MISMATCH";
  }
  return "?";
}

Result<std::vector<StatementBreak>> parse_break_list(std::string_view list) {
  std::vector<StatementBreak> out;
  size_t pos = 0;
  while (pos < list.size()) {
    auto comma = list.find(',', pos);
    auto item = list.substr(pos, comma == std::string_view::npos ? list.npos : comma - pos);
    pos = comma == std::string_view::npos ? list.size() : comma + 1;
    if (item.empty()) continue;
    bool found = false;
    for (auto b : {StatementBreak::kMissingTrade, StatementBreak::kExtraTrade,
                   StatementBreak::kWrongQuantity, StatementBreak::kWrongTotals}) {
      if (break_name(b) == item) {
        if (std::find(out.begin(), out.end(), b) == out.end()) out.push_back(b);
        found = true;
      }
    }
    if (!found) {
      return make_error("BAD_BREAKS", "unknown statement break '" + std::string(item) +
                                          "' (missing_trade, extra_trade, wrong_quantity, "
                                          "wrong_totals)");
    }
  }
  return out;
}

uint64_t Rng::next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

int64_t Rng::uniform(int64_t lo, int64_t hi) {
  if (hi <= lo) return lo;
  uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
  // Rejection sampling keeps the distribution exact for any span.
  uint64_t limit = span == 0 ? 0 : (UINT64_MAX - UINT64_MAX % span);
  uint64_t v = next();
  while (span != 0 && v >= limit) v = next();
  return lo + static_cast<int64_t>(span == 0 ? v : v % span);
}

double Rng::unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

Result<FaultPicker> FaultPicker::make(std::vector<FaultRate> rates, std::optional<uint64_t> total,
                                      uint64_t seed) {
  FaultPicker p;
  uint64_t fixed_count = 0;
  for (const auto& r : rates) fixed_count += r.count.value_or(0);
  if (fixed_count > 0) {
    if (!total) {
      return make_error("BAD_FAULTS", "exact fault counts need a finite --count (use "
                                      "probabilities in --demo mode)");
    }
    if (fixed_count > *total) {
      return make_error("BAD_FAULTS", "the exact fault counts (" + std::to_string(fixed_count) +
                                          ") exceed --count (" + std::to_string(*total) + ")");
    }
    // A partial Fisher-Yates shuffle of the positions, seeded apart from the message data.
    Rng rng(seed ^ 0xFA017ULL);
    std::vector<uint64_t> pos(*total);
    std::iota(pos.begin(), pos.end(), 0);
    size_t next = 0;
    for (const auto& r : rates) {
      for (uint64_t k = 0; k < r.count.value_or(0); ++k, ++next) {
        auto j = static_cast<size_t>(rng.uniform(static_cast<int64_t>(next),
                                                 static_cast<int64_t>(pos.size() - 1)));
        std::swap(pos[next], pos[j]);
        p.fixed_[pos[next]] = r.fault;
      }
    }
  }
  for (auto& r : rates) {
    if (!r.count && r.probability > 0) p.rates_.push_back(r);
  }
  return p;
}

Fault FaultPicker::pick(uint64_t index, Rng& rng) const {
  // Always draw, so that the data of later messages does not depend on the fixed positions.
  double u = rng.unit();
  if (auto it = fixed_.find(index); it != fixed_.end()) return it->second;
  double acc = 0;
  for (const auto& r : rates_) {
    acc += r.probability;
    if (u < acc) return r.fault;
  }
  return Fault::kNone;
}

}  // namespace gxm
