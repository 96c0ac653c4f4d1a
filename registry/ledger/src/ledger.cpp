#include "registry/ledger/ledger.hpp"

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "hub/core/digest.hpp"
#include "registry/domain/account_number.hpp"
#include "registry/domain/checks.hpp"
#include "registry/domain/corporate_number.hpp"
#include "registry/domain/format.hpp"

namespace hub::registry {

using nlohmann::json;

std::string_view posting_kind_str(PostingKind kind) {
  switch (kind) {
    case PostingKind::kIssuance: return "issuance";
    case PostingKind::kAllocation: return "allocation";
    case PostingKind::kTransfer: return "transfer";
    case PostingKind::kCreditIntake: return "credit_intake";
    case PostingKind::kIntakeReversal: return "intake_reversal";
    case PostingKind::kSurrender: return "surrender";
    case PostingKind::kCorrection: return "correction";
  }
  return "transfer";
}

std::string_view cause_type_str(CauseType type) {
  switch (type) {
    case CauseType::kUser: return "user";
    case CauseType::kConnectorMessage: return "connector_message";
    case CauseType::kWorkflowStep: return "workflow_step";
    case CauseType::kSystem: return "system";
  }
  return "system";
}

namespace {

json lines_json(const std::vector<PostingLine>& lines) {
  json out = json::array();
  for (const auto& l : lines) {
    out.push_back({{"account", l.account}, {"unit", std::string(unit_type_str(l.unit))},
                   {"vintage", l.vintage}, {"delta", l.delta}});
  }
  return out;
}

json serials_json(const std::vector<CreditedBlock>& blocks) {
  json out = json::array();
  for (const auto& b : blocks) {
    out.push_back({{"account", b.account}, {"unit", std::string(unit_type_str(b.block.unit))},
                   {"vintage", b.vintage}, {"prefix", b.block.prefix}, {"first", b.block.first},
                   {"last", b.block.last}, {"digits", b.block.digits}});
  }
  return out;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::strict); }

std::string str(const json& d, const char* key) {
  if (!d.contains(key)) return "?";
  const auto& v = d[key];
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::int64_t num(const json& d, const char* key) {
  return d.contains(key) && d[key].is_number_integer() ? d[key].get<std::int64_t>() : 0;
}

std::string kind_noun(const std::string& kind) {
  if (kind == "credit_intake") return "credit intake";
  if (kind == "intake_reversal") return "intake reversal";
  return kind;
}

// A PostgreSQL array literal of text values, each quoted, so that any key (commas,
// braces, quotes, backslashes, spaces, the word NULL) arrives as written.
std::string text_array(const std::vector<std::string>& values) {
  std::string out = "{";
  for (const auto& v : values) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char c : v) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

template <class Number>
std::string number_array(const std::vector<Number>& values) {
  std::string out = "{";
  for (auto v : values) {
    if (out.size() > 1) out += ',';
    out += std::to_string(v);
  }
  out += '}';
  return out;
}

// A transfer that gx_post_transfers can take: two lines, the first the debit of the
// second's credit, one unit type and vintage, nothing else (Ledger::transfer's shape).
std::optional<TransferItem> as_transfer(const PostingRequest& r) {
  if (r.kind != PostingKind::kTransfer || r.lines.size() != 2 || !r.serials.empty() || !r.reason.empty() ||
      !r.approved_by.empty() || r.reverses) {
    return std::nullopt;
  }
  const auto& d = r.lines[0];
  const auto& c = r.lines[1];
  if (d.delta >= 0 || c.delta != -d.delta || d.unit != c.unit || d.vintage != c.vintage) return std::nullopt;
  return TransferItem{r.idempotency_key, r.cause, d.account, c.account, d.unit, d.vintage, c.delta};
}

}  // namespace

PostingRequest TransferItem::request() const {
  return PostingRequest{PostingKind::kTransfer, idempotency_key, cause, "", "", std::nullopt,
                        {{from, unit, vintage, -quantity}, {to, unit, vintage, quantity}}, {}};
}

std::string PostingRequest::canonical_json() const {
  json j = {{"kind", std::string(posting_kind_str(kind))},
            {"idempotency_key", idempotency_key},
            {"cause", {{"type", std::string(cause_type_str(cause.type))}, {"ref", cause.ref}}},
            {"reason", reason},
            {"approved_by", approved_by},
            {"reverses", reverses ? json(*reverses) : json(nullptr)},
            {"lines", lines_json(lines)},
            {"serials", serials_json(serials)}};
  return dump(j);
}

std::string PostingRequest::sha256() const { return sha256_hex(canonical_json()); }

Error refusal_from_db(const std::string& code, const std::string& detail_json) {
  json d = json::object();
  try {
    if (!detail_json.empty()) d = json::parse(detail_json);
  } catch (const json::exception&) {
  }
  auto check = check_from_code(code);
  if (!check) return make_error(code, code + ": " + detail_json);
  std::string s;
  switch (*check) {
    case Check::kUnknownAccount: {
      std::string list;
      for (const auto& a : d.value("accounts", json::array())) list += (list.empty() ? "" : ", ") + a.get<std::string>();
      s = "no account " + list + " in the registry";
      break;
    }
    case Check::kAccountNotOpen:
      s = str(d, "account") + " is " + str(d, "state") +
          (str(d, "side") == "debit" ? ": nothing can be debited from it" : ": nothing can be credited to it");
      break;
    case Check::kInsufficientBalance:
      s = str(d, "account") + " holds " + format_quantity(num(d, "holds")) + " " + str(d, "unit") + " of " +
          str(d, "vintage") + "; the " + kind_noun(str(d, "kind")) + " needs " + format_quantity(num(d, "needs"));
      break;
    case Check::kReversalNotPossible:
      if (d.contains("holds")) {
        s = str(d, "account") + " holds " + format_quantity(num(d, "holds")) + " " + str(d, "unit") + " of " +
            str(d, "vintage") + " but the reversal must take back " + format_quantity(num(d, "needs")) +
            ": the credits were used (surrendered) after the intake";
      } else {
        s = "entry " + str(d, "reverses") + ": " + str(d, "detail");
      }
      break;
    case Check::kUnitNotTransferable:
      s = str(d, "unit") + " cannot be moved by a " + kind_noun(str(d, "kind")) +
          ": credits cancelled for GX-ETS use serve only for surrender by the company named";
      break;
    case Check::kAccountTypeNotAllowed:
      if (d.contains("account")) {
        s = "a " + kind_noun(str(d, "kind")) + " cannot " + (str(d, "side") == "debit" ? "debit " : "credit ") +
            str(d, "account") + " (an account of type " + str(d, "account_type") + ")";
      } else {
        s = str(d, "detail");
      }
      break;
    case Check::kSameAccount:
      s = "the transfer debits and credits the same account " + str(d, "account");
      break;
    case Check::kSerialAlreadyUsed:
      if (d.contains("credited_entry")) {
        s = "serials " + str(d, "prefix") + "[" + str(d, "first") + ".." + str(d, "last") + "] overlap " +
            str(d, "prefix") + "[" + str(d, "credited_first") + ".." + str(d, "credited_last") +
            "], credited to " + str(d, "credited_account") + " by journal entry " + str(d, "credited_entry");
      } else {
        s = str(d, "detail");
      }
      break;
    case Check::kSerialRangeInvalid:
      s = str(d, "detail");
      break;
    case Check::kIdempotencyConflict:
      s = "idempotency key " + str(d, "idempotency_key") + " was used by journal entry " + str(d, "entry_id") +
          " for a different request; nothing was changed";
      break;
    case Check::kSurrenderedUnitsFinal:
      s = str(d, "account") + " is a surrender account: surrendered units never move again";
      break;
    case Check::kFourEyesViolation:
      if (d.contains("correction_id")) {
        s = "correction " + str(d, "correction_id") + " was proposed by " + str(d, "proposed_by") +
            "; another person must approve it";
      } else {
        s = "a " + kind_noun(str(d, "kind")) + " needs a second person: proposed by '" + str(d, "proposed_by") +
            "', approved by '" + str(d, "approved_by") + "'";
      }
      break;
    case Check::kCorrectionNotPending:
      s = "correction " + str(d, "correction_id") + " is " + str(d, "state") + ", not pending";
      break;
    case Check::kAccountHasBalance: {
      std::string list;
      for (const auto& b : d.value("balances", json::array())) {
        list += (list.empty() ? "" : ", ") + format_quantity(b.value("quantity", std::int64_t{0})) + " " +
                b.value("unit", std::string()) + " of " + std::to_string(b.value("vintage", 0));
      }
      s = str(d, "account") + " still holds " + list + ": move the units before closing it";
      break;
    }
    case Check::kAccountStateChangeNotAllowed:
      s = str(d, "account") + " is " + str(d, "from") + " and cannot become " + str(d, "to") +
          " (a closed account stays closed)";
      break;
    case Check::kInvalidReason:
      s = "a " + kind_noun(str(d, "kind")) + " needs a reason a person can read";
      break;
    case Check::kUnknownUnitType:
      s = "unknown unit type " + str(d, "unit") + " (GXA, JCR or JCM)";
      break;
    default:
      s = detail_json;
  }
  return refusal(*check, s);
}

// ---- validation before the database ------------------------------------------------------
Status Ledger::validate(const PostingRequest& r) const {
  if (r.idempotency_key.empty() || r.idempotency_key.size() > 200) {
    return make_error("INVALID_REQUEST", "an idempotency key of 1 to 200 characters is required");
  }
  if (r.cause.ref.empty()) return make_error("INVALID_REQUEST", "every posting names its cause (who or what)");
  if (r.lines.empty()) return make_error("INVALID_REQUEST", "a posting needs at least one line");
  for (const auto& l : r.lines) {
    auto acc = AccountNumber::parse(l.account);
    if (!acc.ok()) return acc.error();
    auto q = check_quantity(l.delta < 0 ? -l.delta : l.delta);
    if (!q.ok()) return q.error();
    auto v = check_vintage(l.unit, l.vintage);
    if (!v.ok()) return v.error();
  }
  for (const auto& b : r.serials) {
    auto acc = AccountNumber::parse(b.account);
    if (!acc.ok()) return acc.error();
    if (b.block.first > b.block.last || b.block.prefix.empty()) {
      return refusal(Check::kSerialRangeInvalid, "serial block " + b.block.str() + " is not a range");
    }
  }
  return {};
}

Result<Posting> Ledger::call_post(const PostingRequest& r) {
  std::vector<db::Param> params = {r.idempotency_key,
                                   r.sha256(),
                                   std::string(posting_kind_str(r.kind)),
                                   std::string(cause_type_str(r.cause.type)),
                                   r.cause.ref,
                                   r.reason,
                                   r.approved_by,
                                   r.reverses ? db::Param(std::to_string(*r.reverses)) : db::Param(),
                                   dump(lines_json(r.lines)),
                                   dump(serials_json(r.serials))};
  auto res = conn_.exec(
      "SELECT outcome, entry_id, check_code, detail::text "
      "FROM gx_post($1, $2, $3, $4, $5, $6, $7, $8::bigint, $9::jsonb, $10::jsonb)",
      params);
  std::string outcome = res.get(0, 0);
  if (outcome == "posted") return Posting{res.get_int(0, 1), false};
  if (outcome == "duplicate") return Posting{res.get_int(0, 1), true};
  return refusal_from_db(res.get(0, 2), res.get_opt(0, 3).value_or(""));
}

Result<Posting> Ledger::post(const PostingRequest& request) {
  auto valid = validate(request);
  if (!valid.ok()) return valid.error();
  for (int attempt = 0;; ++attempt) {
    try {
      return call_post(request);
    } catch (const db::ExclusionViolation&) {
      // Another posting credited an overlapping serial range between our check and our
      // insert; the next attempt finds it and names it.
      if (attempt >= 2) return refusal(Check::kSerialAlreadyUsed, "a serial of this request was credited concurrently");
    } catch (const db::UniqueViolation&) {
      // The same key was posted concurrently; the next attempt answers duplicate or conflict.
      if (attempt >= 2) throw;
    } catch (const db::TransactionConflict&) {
      if (attempt >= 5) throw;
    }
  }
}

std::vector<Result<Posting>> Ledger::post_batch(const std::vector<PostingRequest>& requests) {
  std::vector<TransferItem> transfers;
  for (const auto& r : requests) {
    auto t = as_transfer(r);
    if (!t) break;
    transfers.push_back(std::move(*t));
  }
  if (!requests.empty() && transfers.size() == requests.size()) {
    try {
      db::Transaction tx(conn_);
      auto out = transfer_batch(transfers);
      tx.commit();
      return out;
    } catch (const db::IntegrityViolation&) {
    } catch (const db::TransactionConflict&) {
    }
    // A rare race aborted the batch: apply its postings one by one instead (below).
  }
  std::vector<Result<Posting>> out;
  out.reserve(requests.size());
  std::vector<std::size_t> valid_idx;
  std::set<std::string> accounts;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    auto v = validate(requests[i]);
    out.push_back(v.ok() ? Result<Posting>(Posting{}) : Result<Posting>(v.error()));
    if (!v.ok()) continue;
    valid_idx.push_back(i);
    for (const auto& l : requests[i].lines) accounts.insert(l.account);
    for (const auto& b : requests[i].serials) accounts.insert(b.account);
  }
  if (valid_idx.empty()) return out;
  try {
    db::Transaction tx(conn_);
    tx.exec("SELECT gx_lock_accounts($1::text[])", {text_array({accounts.begin(), accounts.end()})});
    for (auto i : valid_idx) out[i] = call_post(requests[i]);
    tx.commit();
    return out;
  } catch (const db::IntegrityViolation&) {
  } catch (const db::TransactionConflict&) {
  }
  // A rare race aborted the batch: apply its postings one by one instead.
  for (auto i : valid_idx) out[i] = post(requests[i]);
  return out;
}

std::vector<Result<Posting>> Ledger::transfer_batch(const std::vector<TransferItem>& items) {
  std::vector<Result<Posting>> out;
  out.reserve(items.size());
  std::vector<std::size_t> valid;
  std::vector<std::string> shas;
  for (std::size_t i = 0; i < items.size(); ++i) {
    auto request = items[i].request();
    auto q = check_quantity(items[i].quantity);
    auto v = q.ok() ? validate(request) : q;
    out.push_back(v.ok() ? Result<Posting>(Posting{}) : Result<Posting>(v.error()));
    if (!v.ok()) continue;
    valid.push_back(i);
    shas.push_back(request.sha256());
  }
  if (!valid.empty()) call_post_transfers(items, valid, shas, out);
  return out;
}

void Ledger::call_post_transfers(const std::vector<TransferItem>& items, const std::vector<std::size_t>& valid,
                                 const std::vector<std::string>& shas, std::vector<Result<Posting>>& out) {
  std::vector<std::string> keys, cause_types, cause_refs, from, to, units;
  std::vector<int> vintages;
  std::vector<std::int64_t> quantities;
  for (auto i : valid) {
    const auto& t = items[i];
    keys.push_back(t.idempotency_key);
    cause_types.emplace_back(cause_type_str(t.cause.type));
    cause_refs.push_back(t.cause.ref);
    from.push_back(t.from);
    to.push_back(t.to);
    units.emplace_back(unit_type_str(t.unit));
    vintages.push_back(t.vintage);
    quantities.push_back(t.quantity);
  }
  auto res = conn_.exec(
      "SELECT ord, outcome, entry_id, check_code, detail::text FROM gx_post_transfers($1::text[], $2::text[], "
      "$3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::smallint[], $9::bigint[])",
      {text_array(keys), text_array(shas), text_array(cause_types), text_array(cause_refs), text_array(from),
       text_array(to), text_array(units), number_array(vintages), number_array(quantities)});
  if (res.rows() != static_cast<int>(valid.size())) {
    throw std::logic_error("gx_post_transfers answered " + std::to_string(res.rows()) + " rows for " +
                           std::to_string(valid.size()) + " transfers");
  }
  for (int row = 0; row < res.rows(); ++row) {
    auto ord = res.get_int(row, 0);
    if (ord < 1 || ord > static_cast<std::int64_t>(valid.size())) {
      throw std::logic_error("gx_post_transfers answered for transfer " + std::to_string(ord));
    }
    auto& slot = out[valid[static_cast<std::size_t>(ord - 1)]];
    std::string outcome = res.get(row, 1);
    if (outcome == "posted" || outcome == "duplicate") {
      slot = Posting{res.get_int(row, 2), outcome == "duplicate"};
    } else {
      slot = refusal_from_db(res.get(row, 3), res.get_opt(row, 4).value_or(""));
    }
  }
}

Result<Posting> Ledger::issue(const std::string& key, const Cause& cause, const std::string& approved_by,
                              const std::string& issuance_account, int vintage, std::int64_t quantity) {
  PostingRequest r{PostingKind::kIssuance, key, cause, "", approved_by, std::nullopt,
                   {{issuance_account, UnitType::kGXA, vintage, quantity}}, {}};
  return post(r);
}

Result<Posting> Ledger::allocate(const std::string& key, const Cause& cause, const std::string& from,
                                 const std::string& to, int vintage, std::int64_t quantity) {
  // A negative quantity would swap the two accounts' roles: refuse it (check 1006).
  if (auto q = check_quantity(quantity); !q.ok()) return q.error();
  PostingRequest r{PostingKind::kAllocation, key, cause, "", "", std::nullopt,
                   {{from, UnitType::kGXA, vintage, -quantity}, {to, UnitType::kGXA, vintage, quantity}}, {}};
  return post(r);
}

Result<Posting> Ledger::transfer(const std::string& key, const Cause& cause, const std::string& from,
                                 const std::string& to, UnitType unit, int vintage, std::int64_t quantity) {
  if (auto q = check_quantity(quantity); !q.ok()) return q.error();
  return post(TransferItem{key, cause, from, to, unit, vintage, quantity}.request());
}

Result<Posting> Ledger::credit_intake(const std::string& key, const Cause& cause,
                                      const std::string& intake_account, const std::string& to, int vintage,
                                      const std::vector<SerialBlock>& blocks) {
  if (blocks.empty()) return refusal(Check::kSerialRangeInvalid, "a credit intake needs at least one serial block");
  std::int64_t total = 0;
  PostingRequest r{PostingKind::kCreditIntake, key, cause, "", "", std::nullopt, {}, {}};
  for (const auto& b : blocks) {
    if (b.unit != blocks.front().unit) {
      return refusal(Check::kSerialRangeInvalid, "one intake carries one unit type");
    }
    total += b.quantity();
    r.serials.push_back({to, vintage, b});
  }
  r.lines = {{intake_account, blocks.front().unit, vintage, -total}, {to, blocks.front().unit, vintage, total}};
  return post(r);
}

Result<Posting> Ledger::reverse_intake(const std::string& key, const Cause& cause, std::int64_t intake_entry,
                                       const std::string& reason) {
  auto res = conn_.exec(
      "SELECT a.account_number, l.unit_type, l.vintage, l.delta FROM journal_lines l "
      "JOIN journal_entries e USING (entry_id) JOIN accounts a USING (account_id) "
      "WHERE l.entry_id = $1 AND e.kind = 'credit_intake' ORDER BY l.line_no",
      {std::to_string(intake_entry)});
  if (res.rows() == 0) {
    return refusal(Check::kReversalNotPossible,
                   "entry " + std::to_string(intake_entry) + " is not a credit intake");
  }
  PostingRequest r{PostingKind::kIntakeReversal, key, cause, reason, "", intake_entry, {}, {}};
  for (int i = 0; i < res.rows(); ++i) {
    auto unit = parse_unit_type(res.get(i, 1));
    if (!unit.ok()) return unit.error();
    r.lines.push_back({res.get(i, 0), *unit, static_cast<int>(res.get_int(i, 2)), -res.get_int(i, 3)});
  }
  return post(r);
}

Result<Posting> Ledger::surrender(const std::string& key, const Cause& cause, const std::string& from,
                                  const std::string& to, UnitType unit, int vintage, std::int64_t quantity) {
  if (auto q = check_quantity(quantity); !q.ok()) return q.error();
  PostingRequest r{PostingKind::kSurrender, key, cause, "", "", std::nullopt,
                   {{from, unit, vintage, -quantity}, {to, unit, vintage, quantity}}, {}};
  return post(r);
}

Result<std::int64_t> Ledger::propose_correction(const std::string& actor, const std::string& reason,
                                                const std::vector<PostingLine>& lines) {
  if (reason.find_first_not_of(" \t\r\n") == std::string::npos) {
    return refusal(Check::kInvalidReason, "a correction needs a reason a person can read");
  }
  PostingRequest probe{PostingKind::kCorrection, "correction:proposal", {CauseType::kUser, actor}, reason, "",
                       std::nullopt, lines, {}};
  auto valid = validate(probe);
  if (!valid.ok()) return valid.error();
  auto res = conn_.exec("SELECT gx_propose_correction($1, $2, $3::jsonb)", {actor, reason, dump(lines_json(lines))});
  return res.get_int(0, 0);
}

Result<std::optional<Posting>> Ledger::decide_correction(std::int64_t id, const std::string& actor, bool approve,
                                                         const std::string& note) {
  // The request hash of a correction covers what is posted: read the proposal back.
  auto c = conn_.exec("SELECT proposed_by, reason, lines::text FROM corrections WHERE correction_id = $1",
                      {std::to_string(id)});
  std::string sha = "unknown";
  if (c.rows() == 1) {
    PostingRequest r{PostingKind::kCorrection, "correction:" + std::to_string(id), {CauseType::kUser, c.get(0, 0)},
                     c.get(0, 1), actor, std::nullopt, {}, {}};
    for (const auto& l : json::parse(c.get(0, 2))) {
      auto unit = parse_unit_type(l.value("unit", std::string()));
      if (!unit.ok()) return unit.error();
      r.lines.push_back({l.value("account", std::string()), *unit, l.value("vintage", 0),
                         l.value("delta", std::int64_t{0})});
    }
    sha = r.sha256();
  }
  auto res = conn_.exec(
      "SELECT outcome, entry_id, check_code, detail::text FROM gx_decide_correction($1, $2, $3, $4, $5)",
      {std::to_string(id), actor, std::string(approve ? "true" : "false"), note, sha});
  std::string outcome = res.get(0, 0);
  if (outcome == "rejected") return std::optional<Posting>();
  if (outcome == "posted" || outcome == "duplicate") {
    return std::optional<Posting>(Posting{res.get_int(0, 1), outcome == "duplicate"});
  }
  return refusal_from_db(res.get(0, 2), res.get_opt(0, 3).value_or(""));
}

// ---- parties and accounts ------------------------------------------------------------------
Result<std::string> Ledger::create_company(const std::string& corporate_number, const std::string& name,
                                           const std::string& kind, const std::string& actor) {
  auto cn = CorporateNumber::parse(corporate_number);
  if (!cn.ok()) return cn.error();
  if (name.find_first_not_of(" \t") == std::string::npos) {
    return make_error("INVALID_REQUEST", "a company needs a name");
  }
  if (kind != "covered" && kind != "participant" && kind != "government" && kind != "organization") {
    return make_error("INVALID_REQUEST", "company kind must be covered, participant, government or organization; got '" +
                                             kind + "'");
  }
  try {
    return conn_.exec("SELECT gx_create_company($1, $2, $3, $4)", {corporate_number, name, kind, actor}).get(0, 0);
  } catch (const db::UniqueViolation&) {
    return make_error("ALREADY_EXISTS", "company " + corporate_number + " is registered already");
  }
}

Result<std::string> Ledger::open_account(int type, const std::string& holder, const std::string& name,
                                         const std::string& actor, const std::optional<std::string>& number) {
  if (!account_type_from_code(type)) {
    return refusal(Check::kMalformedAccountNumber,
                   "account type " + std::to_string(type) + " does not exist (100, 200, 300, 400 or 900)");
  }
  if (number) {
    auto parsed = AccountNumber::parse(*number);
    if (!parsed.ok()) return parsed.error();
    if (static_cast<int>(parsed->type()) != type) {
      return refusal(Check::kMalformedAccountNumber,
                     *number + " is not an account number of type " + std::to_string(type));
    }
  }
  try {
    return conn_
        .exec("SELECT gx_open_account($1::smallint, $2, $3, $4, $5)",
              {std::to_string(type), holder, name, actor, number ? db::Param(*number) : db::Param()})
        .get(0, 0);
  } catch (const db::ForeignKeyViolation&) {
    return refusal(Check::kUnknownCompany, "no company with corporate number " + holder + " is registered");
  } catch (const db::UniqueViolation&) {
    return make_error("ALREADY_EXISTS", "account " + number.value_or("?") + " exists already");
  }
}

Result<bool> Ledger::set_account_state(const std::string& account, const std::string& state,
                                       const std::string& actor, const std::string& reason) {
  auto parsed = AccountNumber::parse(account);
  if (!parsed.ok()) return parsed.error();
  if (state != "open" && state != "blocked" && state != "closed") {
    return make_error("INVALID_REQUEST", "account state must be open, blocked or closed; got '" + state + "'");
  }
  auto res = conn_.exec("SELECT outcome, check_code, detail::text FROM gx_set_account_state($1, $2, $3, $4)",
                        {account, state, actor, reason});
  auto outcome = res.get(0, 0);
  if (outcome == "changed") return true;
  if (outcome == "unchanged") return false;
  return refusal_from_db(res.get(0, 1), res.get_opt(0, 2).value_or(""));
}

// ---- reading -------------------------------------------------------------------------------
std::vector<BalanceRow> Ledger::balances(const std::optional<std::string>& account) {
  auto res = conn_.exec(
      "SELECT a.account_number, b.unit_type, b.vintage, b.quantity FROM balances b "
      "JOIN accounts a USING (account_id) WHERE ($1::text IS NULL OR a.account_number = $1) AND b.quantity <> 0 "
      "ORDER BY a.account_number, b.unit_type, b.vintage",
      {account ? db::Param(*account) : db::Param()});
  std::vector<BalanceRow> out;
  for (int i = 0; i < res.rows(); ++i) {
    out.push_back({res.get(i, 0), res.get(i, 1), static_cast<int>(res.get_int(i, 2)), res.get_int(i, 3)});
  }
  return out;
}

std::vector<HistoryRow> Ledger::history(const std::string& account, int limit) {
  auto res = conn_.exec(
      "SELECT e.entry_id, to_char(e.posted_at AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+09:00\"'), "
      "       e.kind, l.unit_type, l.vintage, l.delta, "
      "       coalesce((SELECT string_agg(DISTINCT a2.account_number, ',') FROM journal_lines l2 "
      "                  JOIN accounts a2 ON a2.account_id = l2.account_id "
      "                 WHERE l2.entry_id = e.entry_id AND l2.account_id <> l.account_id), ''), "
      "       e.cause_type || ':' || e.cause_ref, "
      "       coalesce((SELECT string_agg(sb.serial_prefix || lpad(sb.serial_first::text, sb.digits, '0') || '..' || "
      "                   sb.serial_prefix || lpad(sb.serial_last::text, sb.digits, '0'), ', ' ORDER BY sb.serial_first) "
      "                  FROM serial_blocks sb WHERE sb.entry_id = e.entry_id AND sb.account_id = l.account_id), '') "
      "  FROM journal_lines l JOIN journal_entries e USING (entry_id) JOIN accounts a ON a.account_id = l.account_id "
      " WHERE a.account_number = $1 ORDER BY e.entry_id DESC, l.line_no LIMIT $2",
      {account, std::to_string(limit)});
  std::vector<HistoryRow> out;
  for (int i = 0; i < res.rows(); ++i) {
    out.push_back({res.get_int(i, 0), res.get(i, 1), res.get(i, 2), res.get(i, 3), static_cast<int>(res.get_int(i, 4)),
                   res.get_int(i, 5), res.get(i, 6), res.get(i, 7), res.get(i, 8)});
  }
  return out;
}

std::vector<AccountRow> Ledger::accounts(const std::optional<std::string>& holder) {
  auto res = conn_.exec(
      "SELECT a.account_number, a.account_type, a.holder, c.name, a.name, a.state FROM accounts a "
      "JOIN companies c ON c.corporate_number = a.holder WHERE ($1::text IS NULL OR a.holder = $1) "
      "ORDER BY a.account_number",
      {holder ? db::Param(*holder) : db::Param()});
  std::vector<AccountRow> out;
  for (int i = 0; i < res.rows(); ++i) {
    out.push_back({res.get(i, 0), static_cast<int>(res.get_int(i, 1)), res.get(i, 2), res.get(i, 3), res.get(i, 4),
                   res.get(i, 5)});
  }
  return out;
}

int Ledger::seal(int max) {
  return static_cast<int>(conn_.exec("SELECT gx_seal_journal($1)", {std::to_string(max)}).get_int(0, 0));
}

SealBacklog Ledger::seal_backlog() {
  auto r = conn_.exec(
      "SELECT unsealed, coalesce(extract(epoch FROM clock_timestamp() - oldest_posted_at), 0)::float8 "
      "FROM gx_journal_backlog()");
  return {r.get_int(0, 0), std::stod(r.get(0, 1))};
}

// ---- verify --------------------------------------------------------------------------------
VerifyReport Ledger::verify() {
  auto t0 = std::chrono::steady_clock::now();
  VerifyReport rep;
  while (seal(50000) > 0) {
  }
  auto add = [&](const std::string& kind, const db::ResultSet& rs, const std::function<std::string(int)>& detail,
                 int entry_col) {
    for (int i = 0; i < rs.rows(); ++i) {
      std::optional<std::int64_t> entry;
      if (entry_col >= 0 && !rs.is_null(i, entry_col)) entry = rs.get_int(i, entry_col);
      rep.breaks.push_back({kind, entry, detail(i)});
    }
  };
  // The checks read one consistent snapshot of the whole ledger.
  db::Transaction tx(conn_, db::Transaction::Isolation::kRepeatableRead);
  auto counts = tx.exec(
      "SELECT (SELECT count(*) FROM journal_entries), (SELECT count(*) FROM journal_lines), "
      "(SELECT count(*) FROM journal_chain), (SELECT count(*) FROM balances), (SELECT count(*) FROM serial_blocks)");
  rep.entries = counts.get_int(0, 0);
  rep.lines = counts.get_int(0, 1);
  rep.sealed = counts.get_int(0, 2);
  rep.balances = counts.get_int(0, 3);
  rep.serial_blocks = counts.get_int(0, 4);

  // 1. Every entry's content still hashes to its entry_hash.
  auto hashes = tx.exec(
      "WITH l AS (SELECT l.entry_id, string_agg(concat_ws(',', l.line_no, a.account_number, l.unit_type, l.vintage, "
      "                  l.delta), ';' ORDER BY l.line_no) AS t "
      "             FROM journal_lines l JOIN accounts a USING (account_id) GROUP BY l.entry_id), "
      "     s AS (SELECT s.entry_id, string_agg(concat_ws(',', s.serial_prefix, s.serial_first, s.serial_last, "
      "                  s.digits, a.account_number, s.unit_type, s.vintage), ';' "
      "                  ORDER BY s.serial_prefix, s.serial_first) AS t "
      "             FROM serial_blocks s JOIN accounts a USING (account_id) GROUP BY s.entry_id) "
      "SELECT e.entry_id, e.kind FROM journal_entries e LEFT JOIN l USING (entry_id) LEFT JOIN s USING (entry_id) "
      " WHERE e.entry_hash <> gx_entry_digest(e.entry_id, e.kind, e.idempotency_key, e.request_sha256, e.cause_type, "
      "       e.cause_ref, e.reason, e.approved_by, e.reverses_entry, e.posted_at, l.t, s.t) "
      " ORDER BY e.entry_id LIMIT 1000");
  add("ENTRY_HASH_MISMATCH", hashes,
      [&](int i) {
        return "the content of journal entry " + hashes.get(i, 0) + " (" + hashes.get(i, 1) +
               ") no longer matches its hash: it was altered after posting";
      },
      0);

  // 1b. Every line belongs to an entry and names an account and a unit type that exist
  //     (the journal's rows carry no foreign keys since migration 0003, ADR 0008).
  auto orphans = tx.exec(
      "SELECT l.entry_id, l.line_no, CASE WHEN e.entry_id IS NULL THEN 'its journal entry does not exist' "
      "       WHEN a.account_id IS NULL THEN 'its account does not exist' ELSE 'its unit type does not exist' END "
      "  FROM journal_lines l LEFT JOIN journal_entries e ON e.entry_id = l.entry_id "
      "  LEFT JOIN accounts a ON a.account_id = l.account_id LEFT JOIN unit_types u ON u.code = l.unit_type "
      " WHERE e.entry_id IS NULL OR a.account_id IS NULL OR u.code IS NULL ORDER BY 1, 2 LIMIT 1000");
  add("ORPHAN_LINE", orphans,
      [&](int i) {
        return "line " + orphans.get(i, 1) + " of journal entry " + orphans.get(i, 0) + ": " + orphans.get(i, 2);
      },
      0);

  // 2. The chain: contiguous, each link over the previous one and the entry's hash.
  auto chain = tx.exec(
      "SELECT seq, entry_id, problem FROM ("
      "  SELECT c.seq, c.entry_id, CASE "
      "    WHEN e.entry_id IS NULL THEN 'links an entry that does not exist' "
      "    WHEN c.seq <> row_number() OVER w THEN 'a link is missing before it' "
      "    WHEN c.prev_hash <> coalesce(lag(c.chain_hash) OVER w, repeat('0', 64)) THEN 'its previous hash does not "
      "match the link before it' "
      "    WHEN c.chain_hash <> encode(sha256(convert_to(c.prev_hash || e.entry_hash, 'UTF8')), 'hex') THEN "
      "'its chain hash does not match the entry hash' "
      "    END AS problem "
      "  FROM journal_chain c LEFT JOIN journal_entries e USING (entry_id) WINDOW w AS (ORDER BY c.seq)) x "
      "WHERE problem IS NOT NULL ORDER BY seq LIMIT 1000");
  add("CHAIN_BROKEN", chain,
      [&](int i) { return "chain link " + chain.get(i, 0) + " (journal entry " + chain.get(i, 1) + "): " + chain.get(i, 2); },
      1);
  auto unchained = tx.exec(
      "SELECT e.entry_id FROM journal_entries e WHERE NOT EXISTS (SELECT 1 FROM journal_chain c WHERE c.entry_id = "
      "e.entry_id) AND NOT EXISTS (SELECT 1 FROM journal_unsealed u WHERE u.entry_id = e.entry_id) ORDER BY 1 LIMIT "
      "1000");
  add("ENTRY_NOT_IN_CHAIN", unchained,
      [&](int i) { return "journal entry " + unchained.get(i, 0) + " is neither in the hash chain nor waiting for it"; },
      0);

  // 3. Every balance equals the sum of its journal lines.
  auto bal = tx.exec(
      "WITH j AS (SELECT account_id, unit_type, vintage, sum(delta) AS q FROM journal_lines GROUP BY 1, 2, 3) "
      "SELECT a.account_number, unit_type, vintage, coalesce(j.q, 0), coalesce(b.quantity, 0) "
      "  FROM j FULL JOIN balances b USING (account_id, unit_type, vintage) "
      "  JOIN accounts a ON a.account_id = coalesce(j.account_id, b.account_id) "
      " WHERE coalesce(j.q, 0) <> coalesce(b.quantity, 0) ORDER BY 1, 2, 3 LIMIT 1000");
  add("BALANCE_MISMATCH", bal,
      [&](int i) {
        return bal.get(i, 0) + " " + bal.get(i, 1) + " of " + bal.get(i, 2) + ": the balance says " +
               format_quantity(bal.get_int(i, 4)) + ", the journal adds up to " + format_quantity(bal.get_int(i, 3));
      },
      -1);

  // 4. Double entry: but for issuance, each entry nets to zero per unit type and vintage.
  auto unbalanced = tx.exec(
      "SELECT l.entry_id, l.unit_type, l.vintage, sum(l.delta) FROM journal_lines l JOIN journal_entries e USING "
      "(entry_id) WHERE e.kind <> 'issuance' GROUP BY 1, 2, 3 HAVING sum(l.delta) <> 0 ORDER BY 1 LIMIT 1000");
  add("ENTRY_NOT_BALANCED", unbalanced,
      [&](int i) {
        return "journal entry " + unbalanced.get(i, 0) + " creates or destroys " +
               format_quantity(unbalanced.get_int(i, 3)) + " " + unbalanced.get(i, 1) + " of " + unbalanced.get(i, 2);
      },
      0);

  // 5. No holding (or issuance, surrender) balance below zero.
  auto negative = tx.exec(
      "SELECT a.account_number, b.unit_type, b.vintage, b.quantity FROM balances b JOIN accounts a USING (account_id) "
      "WHERE b.quantity < 0 AND b.account_type NOT IN (400, 900) ORDER BY 1 LIMIT 1000");
  add("NEGATIVE_BALANCE", negative,
      [&](int i) {
        return negative.get(i, 0) + " holds " + format_quantity(negative.get_int(i, 3)) + " " + negative.get(i, 1) +
               " of " + negative.get(i, 2);
      },
      -1);

  // 6. Serial blocks add up to each intake's quantity.
  auto serials = tx.exec(
      "SELECT e.entry_id, coalesce(s.q, 0), coalesce(l.q, 0) FROM journal_entries e "
      "LEFT JOIN (SELECT entry_id, sum(serial_last - serial_first + 1) AS q FROM serial_blocks GROUP BY 1) s USING "
      "(entry_id) LEFT JOIN (SELECT entry_id, sum(delta) AS q FROM journal_lines WHERE delta > 0 GROUP BY 1) l USING "
      "(entry_id) WHERE e.kind = 'credit_intake' AND s.q IS DISTINCT FROM l.q ORDER BY 1 LIMIT 1000");
  add("SERIALS_MISMATCH", serials,
      [&](int i) {
        return "credit intake " + serials.get(i, 0) + " credited " + format_quantity(serials.get_int(i, 2)) +
               " units but its serial blocks hold " + format_quantity(serials.get_int(i, 1));
      },
      0);

  // 7. Conservation per unit type and vintage: what all accounts hold = what was issued
  //    (allowances); credits net to zero against the intake account.
  auto totals = tx.exec(
      "WITH held AS (SELECT unit_type, vintage, sum(quantity) AS q, "
      "                     sum(quantity) FILTER (WHERE account_type NOT IN (400, 900)) AS holders "
      "                FROM balances GROUP BY 1, 2), "
      "     issued AS (SELECT l.unit_type, l.vintage, sum(l.delta) AS q FROM journal_lines l "
      "                  JOIN journal_entries e USING (entry_id) WHERE e.kind = 'issuance' GROUP BY 1, 2) "
      "SELECT unit_type, vintage, coalesce(h.q, 0), coalesce(i.q, 0), coalesce(h.holders, 0) "
      "  FROM held h FULL JOIN issued i USING (unit_type, vintage) ORDER BY 1, 2");
  for (int i = 0; i < totals.rows(); ++i) {
    auto unit = totals.get(i, 0);
    auto vintage = totals.get(i, 1);
    auto all = totals.get_int(i, 2);
    auto issued = totals.get_int(i, 3);
    auto holders = totals.get_int(i, 4);
    if (unit == "GXA") {
      rep.totals.push_back(unit + " " + vintage + ": issued " + format_quantity(issued) + ", held " + format_quantity(holders));
    } else {
      rep.totals.push_back(unit + " " + vintage + ": taken in " + format_quantity(holders) + ", held " +
                           format_quantity(holders));
    }
    if (all != issued) {
      rep.breaks.push_back({"NOT_CONSERVED", std::nullopt,
                            unit + " of " + vintage + ": accounts hold " + format_quantity(all) + " in all, but " +
                                format_quantity(issued) + " were issued (nothing may be created or destroyed)"});
    }
  }
  tx.commit();
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

}  // namespace hub::registry
