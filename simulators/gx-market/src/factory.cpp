#include "gxm/factory.hpp"

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "gxm/account.hpp"

namespace gxm {
namespace {

constexpr std::string_view kSessions[] = {"auction", "continuous", "block"};

std::string seq(uint64_t n, int width) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*llu", width, static_cast<unsigned long long>(n));
  return buf;
}

// The object a settlement-level fault edits: the message itself, or the first batch item.
OrderedJson& first_trade(OrderedJson& payload, bool batch) {
  return batch ? payload["settlements"][0] : payload;
}

std::string with_wrong_check_digit(const std::string& account) {
  std::string out = account;
  char& last = out.back();
  last = static_cast<char>('0' + ((last - '0') + 1) % 10);
  return out;
}

}  // namespace

// ---- Planner ------------------------------------------------------------------------------

Planner::Planner(PlanConfig config, FaultPicker picker)
    : config_(std::move(config)), picker_(std::move(picker)), rng_(config_.seed) {}

Result<std::unique_ptr<Planner>> Planner::make(PlanConfig c) {
  if (c.accounts.size() < 2) {
    return make_error("BAD_ACCOUNTS", "at least two accounts are needed to trade between "
                                      "(--accounts a,b or --accounts-file)");
  }
  for (const auto& a : c.accounts) {
    if (auto st = validate_account_number(a); !st) return st.error();
  }
  if (c.quantity_min < 1 || c.quantity_max > 10'000'000 || c.quantity_min > c.quantity_max) {
    return make_error("BAD_RANGE", "quantities must satisfy 1 <= min <= max <= 10,000,000");
  }
  if (c.price_min < 1 || c.price_max > 1'000'000 || c.price_min > c.price_max) {
    return make_error("BAD_RANGE", "prices must satisfy 1 <= min <= max <= 1,000,000");
  }
  if (c.vintage < 2026 || c.vintage > 2100) {
    return make_error("BAD_RANGE", "the vintage must be within 2026..2100");
  }
  if (c.batch_size < 0 || c.batch_size > kMaxBatch) {
    return make_error("BAD_RANGE", "--batch-size is 0 (single settlements) to 5,000");
  }
  if (!is_iso_date(c.trade_date) || !is_iso_date(c.settlement_date) ||
      c.settlement_date < c.trade_date) {
    return make_error("BAD_RANGE", "trade and settlement dates must be YYYY-MM-DD with "
                                   "settlement_date >= trade_date");
  }
  auto picker = FaultPicker::make(c.faults, c.count, c.seed);
  if (!picker) return picker.error();
  return std::unique_ptr<Planner>(new Planner(std::move(c), std::move(*picker)));
}

std::optional<Plan> Planner::next() {
  std::lock_guard lock(mu_);
  if (config_.count && next_index_ >= *config_.count) return std::nullopt;
  Plan p;
  p.index = next_index_++;
  p.fault = picker_.pick(p.index, rng_);
  p.batch = config_.batch_size > 0;
  p.variant = rng_.next();
  const std::string n = seq(p.index + 1, 6);
  p.message_id = (p.batch ? "GXM-B-" : "GXM-") + config_.run_id + "-" + n;
  int64_t trades = p.batch ? config_.batch_size : 1;
  const auto& acc = config_.accounts;
  for (int64_t j = 0; j < trades; ++j) {
    Settlement s;
    s.trade_id = "T-" + config_.run_id + "-" + n + (p.batch ? "-" + seq(j + 1, 4) : "");
    s.trade_date = config_.trade_date;
    s.settlement_date = config_.settlement_date;
    s.session = std::string(kSessions[rng_.uniform(0, 2)]);
    auto seller = static_cast<size_t>(rng_.uniform(0, static_cast<int64_t>(acc.size()) - 1));
    auto buyer = static_cast<size_t>(rng_.uniform(0, static_cast<int64_t>(acc.size()) - 2));
    if (buyer >= seller) ++buyer;
    s.seller_account = acc[seller];
    s.buyer_account = acc[buyer];
    s.vintage = config_.vintage;
    s.quantity = rng_.uniform(config_.quantity_min, config_.quantity_max);
    s.price_jpy = rng_.uniform(config_.price_min, config_.price_max);
    p.trades.push_back(std::move(s));
  }
  if (p.fault == Fault::kUnknownAccount) {
    // A well-formed number (valid check digit) in a range the simulator never trades in.
    std::string unknown;
    do {
      unknown = make_account_number(100, static_cast<int>(900000 + rng_.uniform(0, 99999)));
    } while (std::find(acc.begin(), acc.end(), unknown) != acc.end());
    (p.variant % 2 ? p.trades[0].seller_account : p.trades[0].buyer_account) = unknown;
  } else if (p.fault == Fault::kInsufficientBalance) {
    p.trades[0].quantity = config_.insufficient_quantity;
  }
  return p;
}

// ---- MessageFactory -----------------------------------------------------------------------

MessageFactory::MessageFactory(SignerConfig config, std::string alg, Pkey wrong_key)
    : config_(std::move(config)), alg_(std::move(alg)), wrong_key_(std::move(wrong_key)) {}

Result<MessageFactory> MessageFactory::make(SignerConfig config) {
  if (!config.key) return make_error("NO_KEY", "no signing key");
  if (config.kid.empty()) return make_error("NO_KID", "no kid for the signing key");
  auto alg = jws_alg_for_key(config.key.get());
  if (!alg) return alg.error();
  return MessageFactory(std::move(config), std::move(*alg), generate_p256_key());
}

Result<std::string> MessageFactory::sign(std::string_view payload, std::string_view cty) const {
  OrderedJson h;
  h["alg"] = alg_;
  h["kid"] = config_.kid;
  h["typ"] = "gx-market+jws";
  h["cty"] = cty;
  return jws_make(h, payload, config_.key.get());
}

Result<std::string> MessageFactory::sign_for_fault(Fault fault, std::string_view payload,
                                                   std::string_view cty,
                                                   const OrderedJson& json, bool batch,
                                                   std::string& note) const {
  OrderedJson h;
  h["alg"] = alg_;
  h["kid"] = config_.kid;
  h["typ"] = "gx-market+jws";
  h["cty"] = cty;
  switch (fault) {
    case Fault::kWrongKey: {
      h["alg"] = "ES256";
      note = "signed with a fresh P-256 key under the registered kid";
      return jws_make(h, payload, wrong_key_.get());
    }
    case Fault::kUnknownKid:
      h["kid"] = "gxm-unknown-kid";
      note = "kid gxm-unknown-kid, signed with the registered key";
      return jws_make(h, payload, config_.key.get());
    case Fault::kAlgNone:
      h["alg"] = "none";
      note = "alg none, empty signature";
      return jws_join(base64url_encode(h.dump()), base64url_encode(payload), "");
    case Fault::kAlgHs256: {
      // The classic key-confusion attack: HMAC keyed with the signer's public key.
      h["alg"] = "HS256";
      std::string input = base64url_encode(h.dump()) + "." + base64url_encode(payload);
      note = "alg HS256 keyed with the registered public key (PEM)";
      return input + "." +
             base64url_encode(hmac_sha256(public_key_pem(config_.key.get()), input));
    }
    case Fault::kBadSignature: {
      auto signed_jws = jws_make(h, payload, config_.key.get());
      if (!signed_jws) return signed_jws;
      auto parts = jws_parse(*signed_jws);
      if (!parts) return parts.error();
      OrderedJson altered = json;
      auto& t = first_trade(altered, batch);
      t["quantity"] = t["quantity"].get<int64_t>() + 1;
      note = "quantity changed to " + t["quantity"].dump() + " after signing";
      return jws_join(parts->header_b64, base64url_encode(altered.dump()),
                      parts->signature_b64);
    }
    default:
      return jws_make(h, payload, config_.key.get());
  }
}

Result<Request> MessageFactory::build(const Plan& plan, SysTime now) const {
  Request r;
  r.fault = plan.fault;
  r.message_id = plan.message_id;
  r.target = std::string(plan.batch ? kBatchPath : kSettlementsPath);
  r.expect = expectation_for(is_followup(plan.fault) ? Fault::kNone : plan.fault);
  if (config_.idempotency_header) r.idempotency_key = plan.message_id;

  std::string sent_at = rfc3339_jst(now);
  if (plan.fault == Fault::kStale) {
    auto minutes = 11 + static_cast<int>(plan.variant % 20);
    sent_at = rfc3339_jst(now - std::chrono::minutes(minutes));
    r.note = "sent_at " + std::to_string(minutes) + " minutes old";
  }
  OrderedJson p = plan.batch ? batch_payload(plan.message_id, sent_at, plan.trades)
                             : settlement_payload(plan.message_id, sent_at, plan.trades[0]);
  std::string payload_text;
  const uint64_t v = plan.variant;
  switch (plan.fault) {
    case Fault::kUnknownField: {
      auto& target = (plan.batch && v % 2) ? first_trade(p, true) : p;
      target["remarks"] = "gxm-sim: a member the spec does not define";
      r.note = std::string("unknown member 'remarks' in ") +
               ((plan.batch && v % 2) ? "settlements[0]" : "the message");
      break;
    }
    case Fault::kMissingField: {
      auto& target = (plan.batch && v % 2) ? first_trade(p, true) : p;
      std::vector<std::string> keys;
      for (auto& [k, val] : target.items()) keys.push_back(k);
      const std::string& drop = keys[(v / 2) % keys.size()];
      target.erase(drop);
      r.note = "required member '" + drop + "' left out" +
               ((plan.batch && v % 2) ? " of settlements[0]" : "");
      break;
    }
    case Fault::kOutOfRange: {
      auto& t = first_trade(p, plan.batch);
      switch (v % 10) {
        case 0: t["quantity"] = 0; break;
        case 1: t["quantity"] = 10'000'001; break;
        case 2: t["price_jpy"] = 0; break;
        case 3: t["price_jpy"] = 1'000'001; break;
        case 4: t["vintage"] = 2025; break;
        case 5: t["vintage"] = 2101; break;
        case 6: t["settlement_date"] = add_days(t["trade_date"].get<std::string>(), -1); break;
        case 7: t["session"] = "night"; break;
        case 8: t["unit_type"] = "JCR"; break;
        default: t["quantity"] = -5; break;
      }
      static constexpr const char* kWhat[] = {
          "quantity 0", "quantity 10,000,001", "price_jpy 0", "price_jpy 1,000,001",
          "vintage 2025", "vintage 2101", "settlement_date before trade_date",
          "session 'night'", "unit_type 'JCR'", "quantity -5"};
      r.note = kWhat[v % 10];
      break;
    }
    case Fault::kBadCheckDigit: {
      auto& t = first_trade(p, plan.batch);
      const char* side = v % 2 ? "seller_account" : "buyer_account";
      t[side] = with_wrong_check_digit(t[side].get<std::string>());
      r.note = std::string(side) + " " + t[side].get<std::string>() + " has a wrong check digit";
      break;
    }
    case Fault::kIdempotencyMismatch:
      r.idempotency_key = plan.message_id + "-X";
      r.note = "Idempotency-Key " + *r.idempotency_key;
      break;
    case Fault::kUnknownAccount:
      r.note = "unknown " + std::string(v % 2 ? "seller " + plan.trades[0].seller_account
                                              : "buyer " + plan.trades[0].buyer_account);
      break;
    case Fault::kInsufficientBalance:
      r.note = "quantity " + std::to_string(plan.trades[0].quantity);
      break;
    default:
      break;
  }
  payload_text = p.dump();
  if (plan.fault == Fault::kMalformedJson) {
    payload_text.pop_back();  // the closing brace: signed, but not JSON
    r.note = "payload JSON without its closing brace";
  }
  std::string note;
  auto body = sign_for_fault(plan.fault, payload_text, plan.batch ? "settlement-batch" : "settlement",
                             p, plan.batch, note);
  if (!body) return body.error();
  r.body = std::move(*body);
  if (!note.empty()) r.note = note;

  if (r.expect.http == 202) {
    bool all_applied = true;
    for (size_t i = 0; i < plan.trades.size(); ++i) {
      TradeExpect te{plan.trades[i].trade_id, "applied", ""};
      if (i == 0 && !r.expect.final_reason.empty()) {
        te.status = "exception";
        te.reason = r.expect.final_reason;
        all_applied = false;
      }
      r.trades.push_back(std::move(te));
    }
    // A batch's own final status is not defined by the spec when its trades differ.
    if (plan.batch && !all_applied) {
      r.expect.final_status.clear();
      r.expect.final_reason.clear();
    }
  }
  return r;
}

Result<Request> MessageFactory::build_followup(const Plan& plan, const Request& original,
                                               SysTime now) const {
  Request r;
  r.role = "followup";
  r.fault = plan.fault;
  r.original_message_id = original.message_id;
  r.expect = expectation_for(plan.fault);
  r.target = original.target;
  switch (plan.fault) {
    case Fault::kDuplicate:
      r.message_id = original.message_id;
      r.idempotency_key = original.idempotency_key;
      r.body = original.body;
      r.note = "the same bytes again";
      return r;
    case Fault::kConflict: {
      r.message_id = original.message_id;
      r.idempotency_key = original.idempotency_key;
      auto changed = plan.trades;
      changed[0].quantity += 1;
      std::string sent_at = rfc3339_jst(now);
      OrderedJson p = plan.batch ? batch_payload(plan.message_id, sent_at, changed)
                                 : settlement_payload(plan.message_id, sent_at, changed[0]);
      auto body = sign(p.dump(), plan.batch ? "settlement-batch" : "settlement");
      if (!body) return body.error();
      r.body = std::move(*body);
      r.note = "same message_id, quantity " + std::to_string(changed[0].quantity);
      return r;
    }
    case Fault::kDuplicateTrade: {
      r.message_id = plan.message_id + "-DT";
      if (config_.idempotency_header) r.idempotency_key = r.message_id;
      std::vector<Settlement> one{plan.trades[0]};
      std::string sent_at = rfc3339_jst(now);
      OrderedJson p = plan.batch ? batch_payload(r.message_id, sent_at, one)
                                 : settlement_payload(r.message_id, sent_at, one[0]);
      auto body = sign(p.dump(), plan.batch ? "settlement-batch" : "settlement");
      if (!body) return body.error();
      r.body = std::move(*body);
      r.trades.push_back({one[0].trade_id, "exception", "DUPLICATE_TRADE"});
      if (plan.batch) {
        r.expect.final_status.clear();
        r.expect.final_reason.clear();
      }
      r.note = "trade " + one[0].trade_id + " again under a new message_id";
      return r;
    }
    default:
      return make_error("NOT_FOLLOWUP", std::string(fault_name(plan.fault)) +
                                            " has no follow-up request");
  }
}

Result<Request> MessageFactory::build_statement(const std::string& message_id,
                                                const std::string& business_date,
                                                std::vector<StatementLine> lines,
                                                const std::vector<StatementBreak>& breaks,
                                                const std::string& extra_trade_id, SysTime now,
                                                Rng& rng) const {
  Request r;
  r.role = "statement";
  r.message_id = message_id;
  r.target = std::string(kStatementsPath);
  if (config_.idempotency_header) r.idempotency_key = message_id;
  r.expect.http = 202;  // breaks are business outcomes, raised as reconciliation exceptions
  bool wrong_totals = false;
  auto pick = [&] { return static_cast<size_t>(rng.uniform(0, int64_t(lines.size()) - 1)); };
  for (auto b : breaks) {
    std::string what;
    switch (b) {
      case StatementBreak::kMissingTrade:
        if (lines.empty()) {
          what = "skipped (no trade to leave out)";
        } else {
          auto k = pick();
          what = "left out " + lines[k].trade_id;
          lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(k));
        }
        break;
      case StatementBreak::kExtraTrade: {
        StatementLine extra{extra_trade_id, "", "", 2026, 1};
        if (!lines.empty()) {
          extra.seller_account = lines[0].seller_account;
          extra.buyer_account = lines[0].buyer_account;
          extra.vintage = lines[0].vintage;
        } else {
          extra.seller_account = make_account_number(100, 1);
          extra.buyer_account = make_account_number(100, 2);
        }
        lines.push_back(extra);
        what = "added " + extra_trade_id + " that was never sent";
        break;
      }
      case StatementBreak::kWrongQuantity:
        if (lines.empty()) {
          what = "skipped (no trade to change)";
        } else {
          auto k = pick();
          lines[k].quantity += 1;
          what = lines[k].trade_id + " quantity " + std::to_string(lines[k].quantity);
        }
        break;
      case StatementBreak::kWrongTotals:
        wrong_totals = true;
        what = "total_quantity one more than its lines";
        break;
    }
    if (!r.note.empty()) r.note += "; ";
    r.note += std::string(break_name(b)) + " (" + std::string(break_expected_exception(b)) +
              "): " + what;
  }
  int64_t total = std::accumulate(lines.begin(), lines.end(), int64_t{0},
                                  [](int64_t a, const StatementLine& l) { return a + l.quantity; });
  if (wrong_totals) total += 1;
  OrderedJson p = statement_payload(message_id, rfc3339_jst(now), business_date,
                                    static_cast<int64_t>(lines.size()), total, lines);
  auto body = sign(p.dump(), "statement");
  if (!body) return body.error();
  r.body = std::move(*body);
  return r;
}

}  // namespace gxm
