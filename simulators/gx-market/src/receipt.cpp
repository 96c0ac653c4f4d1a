#include "gxm/receipt.hpp"

#include <algorithm>

#include "gxm/jws.hpp"
#include "gxm/messages.hpp"

namespace gxm {
namespace {

bool is_status(const std::string& s) {
  return s == "accepted" || s == "applied" || s == "exception" || s == "rejected";
}

bool is_sha256_hex(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string clip(const std::string& s, size_t n = 300) {
  return s.size() <= n ? s : s.substr(0, n) + "...";
}

Result<std::string> string_member(const nlohmann::json& j, const char* name) {
  if (!j.contains(name) || !j[name].is_string() || j[name].get<std::string>().empty()) {
    return make_error("RECEIPT_FIELDS", std::string("receipt member '") + name +
                                            "' is missing or not a non-empty string");
  }
  return j[name].get<std::string>();
}

}  // namespace

bool is_final_status(const std::string& status) {
  return status == "applied" || status == "exception" || status == "rejected";
}

Result<ReceiptVerifier> ReceiptVerifier::from_file(const std::string& path) {
  auto key = load_public_key(path);
  if (!key) return key.error();
  return ReceiptVerifier(std::move(*key));
}

Result<Receipt> ReceiptVerifier::verify(std::string_view jws) const {
  auto parts = jws_verify_compact(jws, key_.get(), kReceiptTyp);
  if (!parts) return make_error("RECEIPT_SIGNATURE", parts.error().message);
  Receipt r;
  r.jws = std::string(jws);
  r.payload = nlohmann::json::parse(parts->payload, nullptr, false);
  if (r.payload.is_discarded() || !r.payload.is_object()) {
    return make_error("RECEIPT_FIELDS", "the receipt payload is not a JSON object");
  }
  const auto& p = r.payload;
  for (auto [field, name] : {std::pair{&r.message_id, "message_id"}, {&r.hub_ref, "hub_ref"},
                             {&r.status, "status"}, {&r.received_at, "received_at"},
                             {&r.body_sha256, "body_sha256"}}) {
    auto v = string_member(p, name);
    if (!v) return v.error();
    *field = std::move(*v);
  }
  if (!is_status(r.status)) {
    return make_error("RECEIPT_FIELDS", "receipt status '" + r.status + "' is not one of "
                                        "accepted, applied, exception, rejected");
  }
  if (!parse_rfc3339(r.received_at)) {
    return make_error("RECEIPT_FIELDS",
                      "received_at '" + r.received_at + "' is not RFC 3339 with an offset");
  }
  if (!is_sha256_hex(r.body_sha256)) {
    return make_error("RECEIPT_FIELDS", "body_sha256 is not 64 hex digits");
  }
  if (p.contains("reason_code") && p["reason_code"].is_string()) {
    r.reason_code = p["reason_code"].get<std::string>();
  } else if (p.contains("reason_code") && !p["reason_code"].is_null()) {
    return make_error("RECEIPT_FIELDS", "reason_code is neither a string nor null");
  }
  if ((r.status == "exception" || r.status == "rejected") && !r.reason_code) {
    return make_error("RECEIPT_FIELDS", "a receipt with status " + r.status +
                                            " must carry a reason_code");
  }
  if (p.contains("trades")) {
    if (!p["trades"].is_array()) return make_error("RECEIPT_FIELDS", "trades is not an array");
    for (const auto& t : p["trades"]) {
      if (!t.is_object()) return make_error("RECEIPT_FIELDS", "a trades item is not an object");
      ReceiptTrade rt;
      auto id = string_member(t, "trade_id");
      auto st = string_member(t, "status");
      if (!id) return id.error();
      if (!st) return st.error();
      rt.trade_id = *id;
      rt.status = *st;
      if (!is_status(rt.status)) {
        return make_error("RECEIPT_FIELDS", "trade " + rt.trade_id + " has status '" +
                                                rt.status + "'");
      }
      if (t.contains("reason_code") && t["reason_code"].is_string()) {
        rt.reason_code = t["reason_code"].get<std::string>();
      }
      if (t.contains("hub_ref") && t["hub_ref"].is_string()) {
        rt.hub_ref = t["hub_ref"].get<std::string>();
      }
      r.trades.push_back(std::move(rt));
    }
  }
  return r;
}

void Checks::expect(bool ok, const std::string& check, const std::string& detail) {
  if (ok) {
    ++passed;
  } else {
    failed.push_back({check, detail});
  }
}

AnswerReview review_answer(const Request& req, const HttpAnswer& a,
                           const ReceiptVerifier& verifier, bool retried) {
  AnswerReview out;
  auto& c = out.checks;
  const int want = req.expect.http;
  bool status_ok = a.status == want || (want == 202 && retried && a.status == 200);
  std::string problem_detail;

  if (a.status == 200 || a.status == 202) {
    auto receipt = verifier.verify(a.body);
    if (!receipt) {
      c.fail(receipt.error().code == "RECEIPT_SIGNATURE" ? "receipt_signature" : "receipt_fields",
             receipt.error().message + " (body: " + clip(a.body, 120) + ")");
    } else {
      c.expect(true, "receipt_signature");
      c.expect(receipt->message_id == req.message_id, "receipt_message_id",
               "receipt names " + receipt->message_id + ", sent " + req.message_id);
      c.expect(lower(receipt->body_sha256) == sha256_hex(req.body), "receipt_body_sha256",
               "receipt body_sha256 " + receipt->body_sha256 + ", SHA-256 of the body sent " +
                   sha256_hex(req.body));
      if (a.status == 202) {
        c.expect(receipt->status == "accepted", "receipt_status",
                 "a 202 receipt has status " + receipt->status + ", expected accepted");
      }
      out.receipt = std::move(*receipt);
    }
    out.accepted = true;
  } else {
    auto ct = a.headers.count("content-type") ? lower(a.headers.at("content-type")) : "";
    c.expect(ct.rfind("application/problem+json", 0) == 0, "problem_content_type",
             "HTTP " + std::to_string(a.status) + " with Content-Type '" + ct +
                 "', expected application/problem+json");
    auto j = nlohmann::json::parse(a.body, nullptr, false);
    if (j.is_object()) {
      if (j.contains("code") && j["code"].is_string()) out.code = j["code"].get<std::string>();
      if (j.contains("detail") && j["detail"].is_string()) problem_detail = j["detail"];
    }
    if (status_ok) {
      bool code_ok = std::find(req.expect.codes.begin(), req.expect.codes.end(), out.code) !=
                     req.expect.codes.end();
      c.expect(code_ok, "problem_code",
               "code '" + out.code + "', expected " + req.expect.describe() +
                   (problem_detail.empty() ? "" : " (detail: " + clip(problem_detail) + ")"));
      bool has_id = j.is_object() && j.contains("message_id");
      if (has_id || req.expect.problem_names_message) {
        c.expect(has_id && j["message_id"] == req.message_id, "problem_message_id",
                 has_id ? "problem names message_id " + j["message_id"].dump() + ", sent " +
                              req.message_id
                        : "the problem does not name the message_id " + req.message_id);
      }
    }
  }
  c.expect(status_ok, "http_status",
           "HTTP " + std::to_string(a.status) + (out.code.empty() ? "" : " " + out.code) +
               ", expected " + req.expect.describe() +
               (problem_detail.empty() ? "" : " (detail: " + clip(problem_detail) + ")"));
  return out;
}

void review_current_receipt(const Request& req, const std::string& body_sha256,
                            const std::string& hub_ref, const Receipt& r, Checks& c) {
  c.expect(r.message_id == req.message_id, "final_message_id",
           "receipt names " + r.message_id + ", expected " + req.message_id);
  if (!hub_ref.empty()) {
    c.expect(r.hub_ref == hub_ref, "final_hub_ref",
             "hub_ref " + r.hub_ref + ", the acceptance gave " + hub_ref);
  }
  c.expect(lower(r.body_sha256) == body_sha256, "final_body_sha256",
           "body_sha256 " + r.body_sha256 + " is not the SHA-256 of the accepted body");
  if (!is_final_status(r.status)) return;
  const auto& e = req.expect;
  if (!e.final_status.empty()) {
    c.expect(r.status == e.final_status, "final_status",
             "final status " + r.status + (r.reason_code ? " " + *r.reason_code : "") +
                 ", expected " + e.final_status + (e.final_reason.empty() ? "" : " " + e.final_reason));
    if (!e.final_reason.empty() && r.status == e.final_status) {
      c.expect(r.reason_code && *r.reason_code == e.final_reason, "final_reason",
               "reason_code " + r.reason_code.value_or("(none)") + ", expected " + e.final_reason);
    }
  }
  // A batch receipt lists every trade (gx-market.md, Batch); a single one may.
  bool batch = req.target == kBatchPath;
  for (const auto& te : req.trades) {
    auto it = std::find_if(r.trades.begin(), r.trades.end(),
                           [&](const ReceiptTrade& t) { return t.trade_id == te.trade_id; });
    if (it == r.trades.end()) {
      if (batch) c.fail("final_trades", "the final receipt does not list trade " + te.trade_id);
      continue;
    }
    bool ok = it->status == te.status &&
              (te.reason.empty() || (it->reason_code && *it->reason_code == te.reason));
    c.expect(ok, "final_trades",
             "trade " + te.trade_id + " ended " + it->status + " " +
                 it->reason_code.value_or("") + ", expected " + te.status + " " + te.reason);
  }
}

}  // namespace gxm
