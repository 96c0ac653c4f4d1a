#pragma once
// Turns the plan of a run into the exact requests the market would send: the planner decides
// (from the seed) what each message holds and which fault it carries; the factory builds and
// signs the bytes, applying the fault, and states what the hub must answer.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gxm/crypto.hpp"
#include "gxm/faults.hpp"
#include "gxm/messages.hpp"

namespace gxm {

inline constexpr std::string_view kSettlementsPath = "/connectors/gx-market/v1/settlements";
inline constexpr std::string_view kBatchPath = "/connectors/gx-market/v1/settlements:batch";
inline constexpr std::string_view kStatementsPath = "/connectors/gx-market/v1/statements";
inline constexpr std::string_view kMessagesPath = "/connectors/gx-market/v1/messages/";
inline constexpr int64_t kMaxBatch = 5000;

struct PlanConfig {
  std::string run_id;
  std::vector<std::string> accounts;  // at least two, valid numbers
  int64_t quantity_min = 1;
  int64_t quantity_max = 10;
  int64_t price_min = 1700;
  int64_t price_max = 4300;
  int64_t vintage = 2026;
  int64_t insufficient_quantity = 10'000'000;
  std::string trade_date;       // YYYY-MM-DD
  std::string settlement_date;  // YYYY-MM-DD
  int64_t batch_size = 0;       // 0: single settlements; else settlements per batch message
  std::optional<uint64_t> count;  // empty: no end (demo)
  uint64_t seed = 1;
  std::vector<FaultRate> faults;
};

// What one message of the run holds; trade-level faults are already applied to trades[0].
struct Plan {
  uint64_t index = 0;  // 0-based
  Fault fault = Fault::kNone;
  bool batch = false;
  std::string message_id;
  std::vector<Settlement> trades;
  uint64_t variant = 0;  // chooses among a fault's variants (which field, which bound, ...)
};

// Hands out the plans of a run in order. The sequence depends only on the configuration
// (seed included), not on which thread asks. Thread-safe.
class Planner {
 public:
  static Result<std::unique_ptr<Planner>> make(PlanConfig config);
  std::optional<Plan> next();
  const PlanConfig& config() const { return config_; }

 private:
  Planner(PlanConfig config, FaultPicker picker);
  PlanConfig config_;
  FaultPicker picker_;
  std::mutex mu_;
  Rng rng_;
  uint64_t next_index_ = 0;
};

struct TradeExpect {
  std::string trade_id;
  std::string status;  // applied | exception
  std::string reason;  // for exception
};

// One HTTP request with what the spec says the hub must answer.
struct Request {
  std::string role = "original";  // original | followup | statement
  Fault fault = Fault::kNone;
  std::string message_id;
  std::string original_message_id;  // follow-ups: the message they derive from
  std::string target;
  std::string content_type = "application/jose";
  std::optional<std::string> idempotency_key;
  std::string body;
  Expectation expect;
  std::vector<TradeExpect> trades;  // empty when the message is to be refused at intake
  std::string note;                 // how the fault was made, for the journal
};

struct SignerConfig {
  Pkey key;                        // the market's registered signing key
  std::string kid;                 // its registered kid
  bool idempotency_header = true;  // send Idempotency-Key = message_id
};

// Builds and signs requests. Immutable after construction; thread-safe.
class MessageFactory {
 public:
  static Result<MessageFactory> make(SignerConfig config);

  Result<Request> build(const Plan& plan, SysTime now) const;
  // The second request of a follow-up fault (duplicate, conflict, duplicate_trade).
  Result<Request> build_followup(const Plan& plan, const Request& original, SysTime now) const;
  // A daily statement of `lines` with the given breaks; `extra_ids` names trades for
  // extra_trade that the hub never saw.
  Result<Request> build_statement(const std::string& message_id,
                                  const std::string& business_date,
                                  std::vector<StatementLine> lines,
                                  const std::vector<StatementBreak>& breaks,
                                  const std::string& extra_trade_id, SysTime now,
                                  Rng& rng) const;

  // The compact JWS of `payload` with the spec's protected header, signed with the
  // registered key (exposed for tests).
  Result<std::string> sign(std::string_view payload, std::string_view cty) const;
  const std::string& alg() const { return alg_; }

 private:
  MessageFactory(SignerConfig config, std::string alg, Pkey wrong_key);
  Result<std::string> sign_for_fault(Fault fault, std::string_view payload, std::string_view cty,
                                     const OrderedJson& json, bool batch, std::string& note) const;

  SignerConfig config_;
  std::string alg_;
  Pkey wrong_key_;  // a key the hub cannot know, made fresh for each run
};

}  // namespace gxm
