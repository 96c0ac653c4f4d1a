#include "connectors/gx_market.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "hub/core/digest.hpp"
#include "hub/signing/jws.hpp"
#include "registry/domain/account_number.hpp"

namespace hub::connectors {
namespace {

using nlohmann::json;
using intake::Refusal;

constexpr std::size_t kMaxBatch = 5000;

// The first problem found in a payload, with the path of the field: "settlements[3].quantity".
struct Problem {
  std::string path;
  std::string what;
};

bool valid_date(const std::string& s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (std::size_t i : {0u, 1u, 2u, 3u, 5u, 6u, 8u, 9u}) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  int y = std::stoi(s.substr(0, 4)), m = std::stoi(s.substr(5, 2)), d = std::stoi(s.substr(8, 2));
  static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1 || d > kDays[m - 1]) return false;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return !(m == 2 && d == 29 && !leap);
}

bool valid_identifier(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

// Checks one JSON object against a fixed list of fields: every field present, no other.
class ObjectCheck {
 public:
  ObjectCheck(const json& obj, std::string path, std::optional<Problem>& problem)
      : obj_(obj), path_(std::move(path)), problem_(problem) {}

  bool shape(const std::vector<std::string>& fields) {
    if (!obj_.is_object()) return fail(path_.empty() ? "(payload)" : path_, "must be a JSON object");
    for (const auto& f : fields) {
      if (!obj_.contains(f)) return fail(at(f), "is required");
    }
    for (const auto& [k, v] : obj_.items()) {
      if (std::find(fields.begin(), fields.end(), k) == fields.end()) {
        return fail(at(k), "is not a field of this message (unknown fields are refused)");
      }
    }
    return true;
  }
  bool string(const std::string& f, std::string& out) {
    if (!obj_[f].is_string()) return fail(at(f), "must be a string");
    out = obj_[f].get<std::string>();
    return true;
  }
  bool identifier(const std::string& f, std::string& out) {
    if (!string(f, out)) return false;
    if (!valid_identifier(out)) return fail(at(f), "must be 1 to 128 characters of A-Z a-z 0-9 - _ . :");
    return true;
  }
  bool integer(const std::string& f, std::int64_t lo, std::int64_t hi, std::int64_t& out) {
    const auto& v = obj_[f];
    if (!v.is_number_integer()) return fail(at(f), "must be a whole number (no decimal point, not a string)");
    if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(hi)) {
      return fail(at(f), "is " + std::to_string(v.get<std::uint64_t>()) + "; it must be between " + std::to_string(lo) +
                             " and " + std::to_string(hi));
    }
    out = v.get<std::int64_t>();
    if (out < lo || out > hi) {
      return fail(at(f), "is " + std::to_string(out) + "; it must be between " + std::to_string(lo) + " and " +
                             std::to_string(hi));
    }
    return true;
  }
  bool date(const std::string& f, std::string& out) {
    if (!string(f, out)) return false;
    if (!valid_date(out)) return fail(at(f), "'" + out + "' is not a date YYYY-MM-DD");
    return true;
  }
  bool account(const std::string& f, std::string& out) {
    if (!string(f, out)) return false;
    auto a = registry::AccountNumber::parse(out);
    if (!a.ok()) return fail(at(f), a.error().message);
    return true;
  }
  bool one_of(const std::string& f, const std::set<std::string>& values, std::string& out) {
    if (!string(f, out)) return false;
    if (values.count(out) == 0) {
      std::string list;
      for (const auto& v : values) list += (list.empty() ? "" : ", ") + v;
      return fail(at(f), "'" + out + "' is not one of " + list);
    }
    return true;
  }
  bool fail(const std::string& path, const std::string& what) {
    if (!problem_) problem_ = Problem{path, what};
    return false;
  }
  std::string at(const std::string& f) const { return path_.empty() ? f : path_ + "." + f; }

 private:
  const json& obj_;
  std::string path_;
  std::optional<Problem>& problem_;
};

// One settled trade (as a single message or an element of a batch) -> a transfer command.
bool map_settlement(const json& s, const std::string& path, bool with_envelope, json& command,
                    std::optional<Problem>& problem) {
  ObjectCheck c(s, path, problem);
  std::vector<std::string> fields = {"trade_id",       "trade_date",    "settlement_date", "session",
                                     "seller_account", "buyer_account", "unit_type",       "vintage",
                                     "quantity",       "price_jpy"};
  if (with_envelope) {
    fields.insert(fields.begin(), "sent_at");
    fields.insert(fields.begin(), "message_id");
  }
  if (!c.shape(fields)) return false;
  std::string trade_id, trade_date, settlement_date, session, seller, buyer, unit;
  std::int64_t vintage = 0, quantity = 0, price = 0;
  if (!c.identifier("trade_id", trade_id) || !c.date("trade_date", trade_date) ||
      !c.date("settlement_date", settlement_date) ||
      !c.one_of("session", {"auction", "continuous", "block"}, session) || !c.account("seller_account", seller) ||
      !c.account("buyer_account", buyer) || !c.one_of("unit_type", {"GXA"}, unit) ||
      !c.integer("vintage", 2026, 2100, vintage) || !c.integer("quantity", 1, 10'000'000, quantity) ||
      !c.integer("price_jpy", 1, 1'000'000, price)) {
    return false;
  }
  if (settlement_date < trade_date) {
    return c.fail(c.at("settlement_date"),
                  "is " + settlement_date + ", before the trade_date " + trade_date + " (it must be on or after it)");
  }
  command = {{"type", "transfer"},
             {"business_key", trade_id},
             {"key", "gx-market:trade:" + trade_id},
             {"duplicate_reason", "DUPLICATE_TRADE"},
             {"from", seller},
             {"to", buyer},
             {"unit", unit},
             {"vintage", vintage},
             {"quantity", quantity},
             {"business_keys",
              {{"trade_id", trade_id},
               {"trade_date", trade_date},
               {"settlement_date", settlement_date},
               {"session", session},
               {"price_jpy", price}}}};
  return true;
}

bool map_statement(const json& p, json& command, std::optional<Problem>& problem) {
  ObjectCheck c(p, "", problem);
  if (!c.shape({"message_id", "sent_at", "business_date", "trade_count", "total_quantity", "trades"})) return false;
  std::string date;
  std::int64_t count = 0, total = 0;
  if (!c.date("business_date", date) || !c.integer("trade_count", 0, 100'000'000, count) ||
      !c.integer("total_quantity", 0, 1'000'000'000'000'000LL, total)) {
    return false;
  }
  if (!p["trades"].is_array()) return c.fail("trades", "must be an array");
  const auto& trades = p["trades"];
  for (std::size_t i = 0; i < trades.size(); ++i) {
    ObjectCheck t(trades[i], "trades[" + std::to_string(i) + "]", problem);
    std::string trade_id, seller, buyer;
    std::int64_t vintage = 0, quantity = 0;
    if (!t.shape({"trade_id", "seller_account", "buyer_account", "vintage", "quantity"}) ||
        !t.identifier("trade_id", trade_id) || !t.account("seller_account", seller) ||
        !t.account("buyer_account", buyer) || !t.integer("vintage", 2026, 2100, vintage) ||
        !t.integer("quantity", 1, 10'000'000, quantity)) {
      return false;
    }
  }
  // The statement's own totals are not checked here: a statement whose count or total
  // disagrees with its lines is a TOTALS_MISMATCH break for reconciliation, not a refusal.
  command = {{"type", "statement"},
             {"business_key", "statement:" + date},
             {"business_date", date},
             {"payload", {{"business_date", date}, {"trade_count", count}, {"total_quantity", total}, {"trades", trades}}}};
  return true;
}

// The message_id of a payload that could not be verified, for the problem's message_id
// member only (never trusted for anything else).
std::optional<std::string> peek_message_id(const std::string& compact) {
  auto first = compact.find('.');
  auto second = first == std::string::npos ? std::string::npos : compact.find('.', first + 1);
  if (second == std::string::npos) return std::nullopt;
  // base64url -> base64 with padding, then OpenSSL's decoder.
  std::string b64 = compact.substr(first + 1, second - first - 1);
  if (b64.empty() || b64.size() > (1u << 24)) return std::nullopt;
  for (auto& ch : b64) ch = ch == '-' ? '+' : ch == '_' ? '/' : ch;
  std::size_t pad = 0;
  while (b64.size() % 4 != 0) {
    b64 += '=';
    ++pad;
  }
  std::string payload(b64.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(payload.data()),
                          reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
  if (n < 0 || static_cast<std::size_t>(n) < pad) return std::nullopt;
  payload.resize(static_cast<std::size_t>(n) - pad);  // EVP_DecodeBlock counts padding as zero bytes
  auto j = json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("message_id") || !j["message_id"].is_string()) {
    return std::nullopt;
  }
  auto id = j["message_id"].get<std::string>();
  if (!valid_identifier(id)) return std::nullopt;
  return id;
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r\n");
  auto e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

}  // namespace

GxMarketConnector::GxMarketConnector(const intake::JwsReceiptSigner& signer) : signer_(signer) {
  endpoints_ = {{"settlements", "settlement", 1u << 20},
                {"settlements:batch", "settlement-batch", 16u << 20},
                {"statements", "statement", 32u << 20}};
}

intake::AcceptOutcome GxMarketConnector::accept(const intake::Endpoint& endpoint, const http::Request& request,
                                                const intake::TrustView& trust, TimePoint now) const {
  const std::string compact = trim(request.body);
  auto message_id = peek_message_id(compact);
  const auto* ct = request.header("content-type");
  std::string media = ct == nullptr ? "" : trim(ct->substr(0, ct->find(';')));
  std::transform(media.begin(), media.end(), media.begin(), [](unsigned char c) { return std::tolower(c); });
  if (media != "application/jose") {
    return Refusal{400, "MALFORMED",
                   "Content-Type must be application/jose (one JWS in compact serialization), got '" +
                       (ct == nullptr ? std::string("(none)") : *ct) + "'",
                   message_id};
  }

  signing::JwsPolicy policy;
  policy.expected_typ = "gx-market+jws";
  policy.allowed_cty = std::set<std::string>{endpoint.kind};
  auto verified = signing::verify_jws(
      compact, [&](const std::string& kid) { return trust.signing_key(name_, kid, now); }, policy);
  if (!verified.ok()) return Refusal{401, "SIGNATURE_INVALID", verified.error().message, message_id};

  const std::string& payload = verified->payload;
  auto p = json::parse(payload, nullptr, false);
  if (p.is_discarded()) {
    // Parse again with exceptions for the position of the error.
    std::string where;
    try {
      auto again = json::parse(payload);
      where = " (" + std::string(again.type_name()) + ")";
    } catch (const json::parse_error& e) {
      where = " (at byte " + std::to_string(e.byte) + ")";
    }
    return Refusal{400, "MALFORMED", "the JWS payload is not valid JSON" + where, message_id};
  }
  if (!p.is_object()) return Refusal{400, "SCHEMA_VIOLATION", "the JWS payload must be a JSON object", message_id};

  std::optional<Problem> problem;
  ObjectCheck envelope(p, "", problem);
  std::string id, sent_at_text;
  if (!p.contains("message_id") || !envelope.identifier("message_id", id)) {
    if (!problem) problem = Problem{"message_id", "is required"};
    return Refusal{400, "SCHEMA_VIOLATION", "message_id " + problem->what, message_id};
  }
  if (!p.contains("sent_at")) return Refusal{400, "SCHEMA_VIOLATION", "sent_at is required", id};
  if (!envelope.string("sent_at", sent_at_text)) return Refusal{400, "SCHEMA_VIOLATION", "sent_at must be a string", id};
  auto sent_at = parse_rfc3339(sent_at_text);
  if (!sent_at) {
    return Refusal{400, "SCHEMA_VIOLATION",
                   "sent_at '" + sent_at_text + "' is not an RFC 3339 time with its offset (e.g. 2026-11-21T15:30:02+09:00)",
                   id};
  }

  json items = json::array();
  if (endpoint.kind == "settlement") {
    json cmd;
    if (!map_settlement(p, "", true, cmd, problem)) {
      return Refusal{400, "SCHEMA_VIOLATION", problem->path + " " + problem->what, id};
    }
    items.push_back(std::move(cmd));
  } else if (endpoint.kind == "settlement-batch") {
    ObjectCheck c(p, "", problem);
    if (!c.shape({"message_id", "sent_at", "settlements"})) {
      return Refusal{400, "SCHEMA_VIOLATION", problem->path + " " + problem->what, id};
    }
    const auto& list = p["settlements"];
    if (!list.is_array() || list.empty() || list.size() > kMaxBatch) {
      return Refusal{400, "SCHEMA_VIOLATION",
                     "settlements must be an array of 1 to " + std::to_string(kMaxBatch) + " settlements" +
                         (list.is_array() ? " (it has " + std::to_string(list.size()) + ")" : ""),
                     id};
    }
    for (std::size_t i = 0; i < list.size(); ++i) {
      json cmd;
      if (!map_settlement(list[i], "settlements[" + std::to_string(i) + "]", false, cmd, problem)) {
        return Refusal{400, "SCHEMA_VIOLATION", problem->path + " " + problem->what, id};
      }
      items.push_back(std::move(cmd));
    }
  } else {
    json cmd;
    if (!map_statement(p, cmd, problem)) {
      return Refusal{400, "SCHEMA_VIOLATION", problem->path + " " + problem->what, id};
    }
    items.push_back(std::move(cmd));
  }

  intake::AcceptedMessage m;
  m.message_id = id;
  m.sent_at = sent_at;
  m.payload_sha256 = sha256_hex(payload);
  m.signer = verified->kid;
  m.command = {{"items", std::move(items)}};
  return m;
}

std::string GxMarketConnector::sign_receipt(const intake::ReceiptData& r) const {
  json payload = {{"message_id", r.message_id}, {"hub_ref", r.hub_ref},         {"status", r.status},
                  {"received_at", r.received_at}, {"body_sha256", r.body_sha256}};
  if (r.status != "accepted" && r.status != "applied") payload["reason_code"] = r.reason_code ? json(*r.reason_code) : json();
  if (r.kind != "statement") {
    json trades = json::array();
    for (const auto& i : r.items) {
      trades.push_back({{"trade_id", i.business_key},
                        {"hub_ref", i.hub_ref},
                        {"status", i.status},
                        {"reason_code", i.reason_code ? json(*i.reason_code) : json()}});
    }
    payload["trades"] = std::move(trades);
  }
  return signer_.sign(payload, "gx-hub-receipt+jws");
}

}  // namespace hub::connectors
