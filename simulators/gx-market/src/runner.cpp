#include "gxm/runner.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <condition_variable>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "gxm/callback_server.hpp"
#include "gxm/factory.hpp"
#include "gxm/https_client.hpp"
#include "gxm/rate_limiter.hpp"
#include "gxm/receipt.hpp"

namespace gxm {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::ordered_json;

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", s);
  return buf;
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Everything known about one request of the run.
struct Record {
  Request req;  // the body is dropped once sent and no longer needed
  std::string body_sha256;
  int attempts = 0;
  int http_status = 0;  // 0: no answer
  std::string code;
  std::string hub_ref;
  std::string receipt_status;
  std::string receipt_jws;
  double latency_ms = -1;
  std::string error;
  bool accepted = false;
  bool pollable = false;  // has its own final outcome to await
  std::vector<StatementLine> lines;  // trades expected to apply, for the statement
  std::string final_status;
  std::string final_reason;
  std::map<std::string, std::string> final_trades;  // trade_id -> status
  bool final_timeout = false;
  Checks checks;
  bool callback_seen = false;
};
using RecordPtr = std::shared_ptr<Record>;

struct SendOutcome {
  std::optional<HttpAnswer> answer;
  int attempts = 0;
  bool uncertain = false;  // an attempt may have reached the hub without an answer
  bool retry_after_missing = false;
  double latency_ms = -1;
  std::string error;
};

class Journal {
 public:
  Status open(const std::string& path) {
    if (path.empty()) return ok_status();
    file_.open(path, std::ios::app | std::ios::binary);
    if (!file_) return make_error("JOURNAL", "cannot open the journal " + path);
    return ok_status();
  }
  void write(const Json& line) {
    if (!file_.is_open()) return;
    std::lock_guard lock(mu_);
    file_ << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    file_.flush();  // a crash test reads the journal of a killed run, too
  }

 private:
  std::mutex mu_;
  std::ofstream file_;
};

class Session {
 public:
  Session(Options o, std::ostream& out, std::ostream& err, const std::atomic<bool>& stop)
      : o_(std::move(o)), out_(out), err_(err), stop_(stop) {}

  int run();

 private:
  Status set_up();
  void send_worker();
  RecordPtr send_and_review(HttpsConnection& conn, Request req, const Plan* plan);
  SendOutcome send_with_retry(HttpsConnection& conn, const std::string& method,
                              const Request& req);
  void await_finals(std::vector<RecordPtr> pending);
  bool poll_one(HttpsConnection& conn, Record& rec);
  void send_statements();
  void on_callback(const CallbackEvent& ev);
  void wait_callbacks();
  void finish_record(const RecordPtr& rec);  // journal + tallies
  void register_pollable(const RecordPtr& rec);
  void count_checks(const Checks& c);
  void progress_loop();
  Json record_json(const Record& rec) const;
  Json summary() const;
  std::unique_ptr<HttpsConnection> connection() const {
    return std::make_unique<HttpsConnection>(
        tls_, endpoint_, std::chrono::milliseconds(static_cast<int64_t>(o_.timeout_s * 1000)));
  }

  Options o_;
  std::ostream& out_;
  std::ostream& err_;
  const std::atomic<bool>& stop_;
  std::unique_ptr<RateLimiter> limiter_;  // made once the options are final (--demo sets the rate)
  Endpoint endpoint_;
  TlsContext tls_;
  std::optional<ReceiptVerifier> verifier_;
  std::optional<MessageFactory> factory_;
  std::unique_ptr<Planner> planner_;
  std::unique_ptr<CallbackServer> callbacks_;
  std::vector<StatementBreak> breaks_;
  Journal journal_;
  uint64_t seed_ = 0;
  std::string run_id_;
  Clock::time_point started_;
  Clock::time_point send_done_;

  mutable std::mutex mu_;  // guards everything below
  std::vector<RecordPtr> records_;
  std::map<std::string, RecordPtr> by_message_id_;  // pollable records
  uint64_t messages_ = 0;
  uint64_t requests_ = 0;
  uint64_t answered_ = 0;
  uint64_t retries_ = 0;
  std::map<std::string, uint64_t> by_status_;
  std::map<std::string, uint64_t> by_fault_;
  std::map<std::string, uint64_t> failed_by_check_;
  uint64_t checks_passed_ = 0;
  uint64_t checks_failed_ = 0;
  std::vector<double> latencies_;
  std::map<std::string, uint64_t> finals_;
  uint64_t callbacks_checked_ = 0;
  std::set<std::string> callback_ids_;  // message_ids of verified callbacks
  // Callbacks that arrived before their message's acceptance was recorded (the hub may
  // deliver before its 202 reaches us); reviewed when the record is registered.
  std::map<std::string, Receipt> early_callbacks_;
  bool fatal_ = false;
  std::string fatal_message_;

  std::mutex done_mu_;
  std::condition_variable done_cv_;
  bool done_ = false;
};

Status Session::set_up() {
  if (auto st = finish_options(o_); !st) return st;
  limiter_ = std::make_unique<RateLimiter>(o_.rate);
  started_ = Clock::now();
  auto now = std::chrono::system_clock::now();
  if (o_.trade_date.empty()) o_.trade_date = jst_date(now);
  if (o_.settlement_date.empty()) o_.settlement_date = o_.trade_date;
  // 63 bits, so that the printed seed can be given back to --seed.
  seed_ = o_.seed ? *o_.seed
                  : ((uint64_t{std::random_device{}()} << 32 | std::random_device{}()) >> 1);
  run_id_ = o_.run_id;
  if (run_id_.empty()) {
    auto t = rfc3339_jst(now);  // 2026-11-21T15:30:02+09:00
    std::string compact;
    for (char c : t.substr(0, 19)) {
      if (std::isdigit(static_cast<unsigned char>(c))) compact += c;
    }
    run_id_ = "R" + compact + "-" + std::to_string(::getpid());
  }
  if (!o_.hub_url.empty()) {
    auto ep = parse_https_url(o_.hub_url);
    if (!ep) return ep.error();
    endpoint_ = *ep;
  }
  auto tls = make_client_tls(o_.ca_file, o_.cert_file, o_.key_file);
  if (!tls) return tls.error();
  tls_ = *tls;
  auto verifier = ReceiptVerifier::from_file(o_.receipt_cert_file);
  if (!verifier) return verifier.error();
  verifier_.emplace(std::move(*verifier));
  auto key = load_private_key(o_.sign_key_file);
  if (!key) return key.error();
  auto factory = MessageFactory::make({*key, o_.kid, o_.idempotency_header});
  if (!factory) return factory.error();
  factory_.emplace(std::move(*factory));
  auto faults = parse_fault_spec(o_.faults);
  if (!faults) return faults.error();
  auto breaks = parse_break_list(o_.statement_breaks);
  if (!breaks) return breaks.error();
  breaks_ = std::move(*breaks);
  if (!o_.count || *o_.count > 0) {
    PlanConfig pc;
    pc.run_id = run_id_;
    pc.accounts = o_.accounts;
    pc.quantity_min = o_.quantity_min;
    pc.quantity_max = o_.quantity_max;
    pc.price_min = o_.price_min;
    pc.price_max = o_.price_max;
    pc.vintage = o_.vintage;
    pc.insufficient_quantity = o_.insufficient_quantity;
    pc.trade_date = o_.trade_date;
    pc.settlement_date = o_.settlement_date;
    pc.batch_size = o_.batch_size;
    pc.count = o_.count;
    pc.seed = seed_;
    pc.faults = std::move(*faults);
    auto planner = Planner::make(std::move(pc));
    if (!planner) return planner.error();
    planner_ = std::move(*planner);
  }
  if (auto st = journal_.open(o_.journal_file); !st) return st;
  if (!o_.callback_listen.empty()) {
    auto ep = parse_host_port(o_.callback_listen);
    if (!ep) return ep.error();
    CallbackConfig cc{*ep, o_.callback_cert_file, o_.callback_key_file,
                      o_.callback_client_ca_file, o_.callback_fail_first};
    callbacks_ = std::make_unique<CallbackServer>(
        cc, *verifier_, [this](const CallbackEvent& ev) { on_callback(ev); });
    auto port = callbacks_->start();
    if (!port) return port.error();
    err_ << "gxm-sim: callback receiver on https://" << ep->host << ":" << *port << "/\n";
  }
  return ok_status();
}

SendOutcome Session::send_with_retry(HttpsConnection& conn, const std::string& method,
                                     const Request& req) {
  SendOutcome out;
  HeaderList headers;
  if (method == "POST") {
    headers.emplace_back("Content-Type", req.content_type);
    if (req.idempotency_key) headers.emplace_back("Idempotency-Key", *req.idempotency_key);
  }
  const std::string target =
      method == "POST" ? req.target : std::string(kMessagesPath) + req.message_id;
  static const std::string kNoBody;
  const std::string& body = method == "POST" ? req.body : kNoBody;  // no copy per attempt
  auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(o_.retry_for_s * 1000));
  auto backoff = std::chrono::milliseconds(100);
  while (true) {
    ++out.attempts;
    auto t0 = Clock::now();
    auto r = conn.send(method, target, headers, body);
    std::chrono::milliseconds wait = backoff;
    if (r) {
      out.latency_ms = ms_since(t0);
      bool overloaded = r->status == 429 || r->status == 503;
      out.answer = std::move(*r);
      if (!overloaded) return out;
      auto it = out.answer->headers.find("retry-after");
      if (it == out.answer->headers.end()) {
        out.retry_after_missing = true;
      } else {
        char* end = nullptr;
        long secs = std::strtol(it->second.c_str(), &end, 10);
        if (end != it->second.c_str() && *end == '\0' && secs >= 0) {
          wait = std::chrono::seconds(std::min(secs, 600L));
        }
      }
    } else {
      out.error = r.error().code + ": " + r.error().message;
      // The request may have reached the hub: from now on a 200 is a valid acceptance.
      out.uncertain = true;
      if (r.error().code == "TLS_VERIFY") return out;
    }
    if (Clock::now() + wait > deadline || stop_.load()) {
      if (stop_.load() && !out.answer) out.error += " (stopped)";
      return out;
    }
    {
      std::lock_guard lock(mu_);
      ++retries_;
    }
    auto until = Clock::now() + wait;
    while (Clock::now() < until && !stop_.load()) {
      std::this_thread::sleep_for(std::min<Clock::duration>(until - Clock::now(),
                                                            std::chrono::milliseconds(100)));
    }
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

RecordPtr Session::send_and_review(HttpsConnection& conn, Request req, const Plan* plan) {
  auto rec = std::make_shared<Record>();
  rec->body_sha256 = sha256_hex(req.body);
  auto sent = send_with_retry(conn, "POST", req);
  rec->attempts = sent.attempts;
  rec->latency_ms = sent.latency_ms;
  if (sent.retry_after_missing) {
    rec->checks.fail("retry_after", "a 429/503 answer without a Retry-After header");
  }
  if (!sent.answer) {
    rec->error = sent.error;
    rec->checks.fail("answered", "no answer within --retry-for " + seconds_text(o_.retry_for_s) +
                                     ": " + sent.error);
  } else {
    auto review = review_answer(req, *sent.answer, *verifier_, sent.uncertain);
    rec->http_status = sent.answer->status;
    rec->code = review.code;
    rec->accepted = review.accepted && review.receipt.has_value();
    for (auto& f : review.checks.failed) rec->checks.failed.push_back(f);
    rec->checks.passed += review.checks.passed;
    if (review.receipt) {
      rec->hub_ref = review.receipt->hub_ref;
      rec->receipt_status = review.receipt->status;
      rec->receipt_jws = review.receipt->jws;
    }
  }
  if (plan && rec->accepted) {
    for (size_t i = 0; i < req.trades.size() && i < plan->trades.size(); ++i) {
      const auto& s = plan->trades[i];
      if (req.trades[i].status == "applied") {
        rec->lines.push_back({s.trade_id, s.seller_account, s.buyer_account, s.vintage, s.quantity});
      }
    }
  }
  rec->pollable = rec->accepted && (req.role != "followup" || req.fault == Fault::kDuplicateTrade);
  rec->req = std::move(req);
  std::lock_guard lock(mu_);
  ++requests_;
  if (rec->http_status) ++answered_;
  ++by_status_[rec->http_status ? std::to_string(rec->http_status) : "none"];
  if (rec->latency_ms >= 0) latencies_.push_back(rec->latency_ms);
  return rec;
}

void Session::count_checks(const Checks& c) {
  std::lock_guard lock(mu_);
  checks_passed_ += static_cast<uint64_t>(c.passed);
  checks_failed_ += c.failed.size();
  for (const auto& f : c.failed) ++failed_by_check_[f.check];
}

void Session::finish_record(const RecordPtr& rec) {
  count_checks(rec->checks);
  if (!rec->final_status.empty() || rec->final_timeout) {
    std::lock_guard lock(mu_);
    ++finals_[rec->final_timeout ? "timeout" : rec->final_status];
  }
  journal_.write(record_json(*rec));
  for (const auto& f : rec->checks.failed) {
    err_ << "gxm-sim: CHECK FAILED " << f.check << " " << rec->req.message_id << " ("
         << fault_name(rec->req.fault) << "): " << f.detail << "\n";
  }
}

void Session::register_pollable(const RecordPtr& rec) {
  std::optional<Receipt> early;
  {
    std::lock_guard lock(mu_);
    by_message_id_[rec->req.message_id] = rec;
    auto it = early_callbacks_.find(rec->req.message_id);
    if (it != early_callbacks_.end()) {
      early = std::move(it->second);
      early_callbacks_.erase(it);
    }
  }
  if (!early) return;
  Checks c;
  review_current_receipt(rec->req, rec->body_sha256, rec->hub_ref, *early, c);
  count_checks(c);
  for (const auto& f : c.failed) {
    err_ << "gxm-sim: CHECK FAILED " << f.check << " (callback of " << rec->req.message_id
         << "): " << f.detail << "\n";
  }
  std::lock_guard lock(mu_);
  rec->callback_seen = true;
  ++callbacks_checked_;
}

void Session::send_worker() {
  auto conn = connection();
  const bool keep = !o_.demo;
  const bool defer = o_.await_final && !o_.demo;
  while (!stop_.load()) {
    auto plan = planner_->next();
    if (!plan) break;
    if (!limiter_->acquire(&stop_)) break;
    auto req = factory_->build(*plan, std::chrono::system_clock::now());
    if (!req) {
      std::lock_guard lock(mu_);
      fatal_ = true;
      fatal_message_ = req.error().message;
      return;
    }
    {
      std::lock_guard lock(mu_);
      ++messages_;
      ++by_fault_[std::string(fault_name(plan->fault))];
    }
    std::vector<RecordPtr> done;
    auto rec = send_and_review(*conn, std::move(*req), &*plan);
    done.push_back(rec);
    if (is_followup(plan->fault)) {
      if (rec->accepted) {
        limiter_->acquire(&stop_);
        auto fu = factory_->build_followup(*plan, rec->req, std::chrono::system_clock::now());
        if (fu) {
          auto frec = send_and_review(*conn, std::move(*fu), nullptr);
          if (plan->fault == Fault::kDuplicate && frec->accepted) {
            frec->checks.expect(frec->hub_ref == rec->hub_ref, "duplicate_hub_ref",
                                "duplicate answered hub_ref " + frec->hub_ref + ", first " +
                                    rec->hub_ref);
            frec->checks.expect(frec->receipt_jws == rec->receipt_jws, "duplicate_same_receipt",
                                "the 200 receipt is not the very receipt of the first answer");
          }
          done.push_back(frec);
        }
      } else {
        rec->req.note += (rec->req.note.empty() ? "" : "; ") + std::string("follow-up ") +
                         std::string(fault_name(plan->fault)) +
                         " not sent: the original was not accepted";
      }
    }
    for (auto& r : done) {
      r->req.body.clear();
      r->req.body.shrink_to_fit();
      if (r->pollable) register_pollable(r);
      if (!(defer && r->pollable)) finish_record(r);
      if (keep) {
        std::lock_guard lock(mu_);
        records_.push_back(r);
      }
    }
  }
}

bool Session::poll_one(HttpsConnection& conn, Record& rec) {
  auto r = conn.send("GET", std::string(kMessagesPath) + rec.req.message_id, {}, "");
  if (!r) return false;  // the next round tries again
  if (r->status == 429 || r->status == 503) return false;
  if (r->status == 404) {
    rec.checks.fail("final_known", "GET messages/" + rec.req.message_id +
                                       " answered 404 for a message the hub accepted");
    return true;
  }
  if (r->status != 200) {
    rec.checks.fail("final_http", "GET messages/" + rec.req.message_id + " answered HTTP " +
                                      std::to_string(r->status));
    return true;
  }
  auto receipt = verifier_->verify(r->body);
  if (!receipt) {
    rec.checks.fail(receipt.error().code == "RECEIPT_SIGNATURE" ? "final_receipt_signature"
                                                                : "final_receipt_fields",
                    receipt.error().message);
    return true;
  }
  Checks c;
  review_current_receipt(rec.req, rec.body_sha256, rec.hub_ref, *receipt, c);
  // Not final yet and consistent: poll again. Final, or inconsistent (another hub_ref or
  // body digest): record it once and stop polling this message.
  if (!is_final_status(receipt->status) && c.failed.empty()) return false;
  rec.checks.passed += c.passed + 1;  // + the signature
  for (auto& f : c.failed) rec.checks.failed.push_back(f);
  rec.final_status = receipt->status;
  rec.final_reason = receipt->reason_code.value_or("");
  for (const auto& t : receipt->trades) rec.final_trades[t.trade_id] = t.status;
  return true;
}

void Session::await_finals(std::vector<RecordPtr> pending) {
  auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(o_.await_timeout_s * 1000));
  int workers = std::max(1, std::min<int>(o_.concurrency, static_cast<int>(pending.size())));
  std::vector<std::unique_ptr<HttpsConnection>> conns;
  for (int i = 0; i < workers; ++i) conns.push_back(connection());
  while (!pending.empty()) {
    std::vector<char> done(pending.size(), 0);
    std::atomic<size_t> next{0};
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w) {
      threads.emplace_back([&, w] {
        for (size_t i = next++; i < pending.size(); i = next++) {
          done[i] = poll_one(*conns[static_cast<size_t>(w)], *pending[i]) ? 1 : 0;
        }
      });
    }
    for (auto& t : threads) t.join();
    std::vector<RecordPtr> left;
    for (size_t i = 0; i < pending.size(); ++i) {
      if (done[i]) {
        finish_record(pending[i]);
      } else {
        left.push_back(pending[i]);
      }
    }
    pending = std::move(left);
    if (pending.empty()) break;
    if (Clock::now() >= deadline || stop_.load()) {
      for (auto& rec : pending) {
        rec->final_timeout = true;
        rec->checks.fail("final_timeout",
                         "not final after --await-timeout " + seconds_text(o_.await_timeout_s) +
                             " (last status " +
                             (rec->final_status.empty() ? rec->receipt_status : rec->final_status) +
                             ")");
        finish_record(rec);
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>(o_.poll_interval_s * 1000)));
  }
}

void Session::send_statements() {
  std::vector<StatementLine> lines;
  {
    std::lock_guard lock(mu_);
    for (const auto& rec : records_) {
      for (const auto& l : rec->lines) {
        if (o_.await_final) {
          auto it = rec->final_trades.find(l.trade_id);
          std::string st = it != rec->final_trades.end() ? it->second : rec->final_status;
          if (st != "applied") continue;
        }
        lines.push_back(l);
      }
    }
  }
  std::sort(lines.begin(), lines.end(),
            [](const StatementLine& a, const StatementLine& b) { return a.trade_id < b.trade_id; });
  auto conn = connection();
  Rng rng(seed_ ^ 0x57A7EULL);
  std::vector<std::vector<StatementBreak>> rounds{breaks_};
  if (o_.statement_correct && !breaks_.empty()) rounds.emplace_back();
  std::vector<RecordPtr> sent;
  for (size_t i = 0; i < rounds.size() && !stop_.load(); ++i) {
    auto req = factory_->build_statement("GXM-S-" + run_id_ + "-" + std::to_string(i + 1),
                                         o_.settlement_date, lines, rounds[i],
                                         "T-" + run_id_ + "-EXTRA", std::chrono::system_clock::now(),
                                         rng);
    if (!req) {
      err_ << "gxm-sim: cannot build the statement: " << req.error().message << "\n";
      continue;
    }
    if (i > 0) req->note = "corrected statement: supersedes " + run_id_ + "-1, no breaks";
    {
      std::lock_guard lock(mu_);
      ++messages_;
      ++by_fault_[rounds[i].empty() ? "statement" : "statement_breaks"];
    }
    auto rec = send_and_review(*conn, std::move(*req), nullptr);
    rec->req.body.clear();
    {
      std::lock_guard lock(mu_);
      records_.push_back(rec);
    }
    if (rec->pollable) register_pollable(rec);
    if (rec->pollable && o_.await_final) {
      sent.push_back(rec);
    } else {
      finish_record(rec);
    }
  }
  if (!sent.empty()) await_finals(std::move(sent));
}

void Session::on_callback(const CallbackEvent& ev) {
  Json line;
  line["kind"] = "callback";
  line["delivery"] = ev.delivery;
  line["target"] = ev.target;
  line["answered"] = ev.answered;
  if (ev.failed_on_purpose) line["failed_on_purpose"] = true;
  Checks c;
  if (!ev.error.empty() && !ev.failed_on_purpose) {
    c.fail("callback_receipt", ev.error);
  }
  if (ev.receipt) {
    line["message_id"] = ev.receipt->message_id;
    line["hub_ref"] = ev.receipt->hub_ref;
    line["status"] = ev.receipt->status;
    if (ev.receipt->reason_code) line["reason_code"] = *ev.receipt->reason_code;
    line["duplicate"] = ev.duplicate;
    c.expect(true, "callback_receipt");
    if (!ev.duplicate) {
      c.expect(is_final_status(ev.receipt->status), "callback_final",
               "a callback with status " + ev.receipt->status);
      RecordPtr rec;
      {
        std::lock_guard lock(mu_);
        callback_ids_.insert(ev.receipt->message_id);
        auto it = by_message_id_.find(ev.receipt->message_id);
        if (it != by_message_id_.end()) rec = it->second;
      }
      if (rec) {
        review_current_receipt(rec->req, rec->body_sha256, rec->hub_ref, *ev.receipt, c);
        std::lock_guard lock(mu_);
        rec->callback_seen = true;
        ++callbacks_checked_;
      } else {
        std::lock_guard lock(mu_);
        early_callbacks_.emplace(ev.receipt->message_id, *ev.receipt);
        line["note"] = "its message's acceptance is not recorded (yet): checked when it is";
      }
    }
  }
  if (!c.failed.empty()) {
    Json failed = Json::array();
    for (const auto& f : c.failed) failed.push_back({{"check", f.check}, {"detail", f.detail}});
    line["checks_failed"] = failed;
    for (const auto& f : c.failed) {
      err_ << "gxm-sim: CHECK FAILED " << f.check << " (callback " << ev.delivery
           << "): " << f.detail << "\n";
    }
  }
  count_checks(c);
  journal_.write(line);
}

void Session::wait_callbacks() {
  if (!callbacks_ || o_.callback_wait_s <= 0) return;
  auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(o_.callback_wait_s * 1000));
  auto missing = [&] {
    std::vector<RecordPtr> out;
    std::lock_guard lock(mu_);
    for (const auto& [id, rec] : by_message_id_) {
      if ((rec->final_status == "applied" || rec->final_status == "rejected") &&
          !rec->callback_seen && !callback_ids_.count(id)) {
        out.push_back(rec);
      }
    }
    return out;
  };
  bool expect_all = false;
  {
    std::lock_guard lock(mu_);
    expect_all = o_.await_final && !by_message_id_.empty();
  }
  while (Clock::now() < deadline && !stop_.load()) {
    if (expect_all && missing().empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!expect_all) return;
  Checks c;
  for (const auto& rec : missing()) {
    c.fail("callback_delivered", "no callback for " + rec->req.message_id + " (" +
                                     rec->final_status + ") within --callback-wait");
    journal_.write(Json{{"kind", "callback_missing"}, {"message_id", rec->req.message_id},
                        {"hub_ref", rec->hub_ref}, {"final_status", rec->final_status}});
  }
  std::lock_guard lock(mu_);
  for (const auto& [id, rec] : by_message_id_) {
    if ((rec->final_status == "applied" || rec->final_status == "rejected") &&
        (rec->callback_seen || callback_ids_.count(id))) {
      ++c.passed;
    }
  }
  checks_passed_ += static_cast<uint64_t>(c.passed);
  checks_failed_ += c.failed.size();
  for (const auto& f : c.failed) ++failed_by_check_[f.check];
}

Json Session::record_json(const Record& rec) const {
  Json j;
  j["kind"] = "message";
  j["role"] = rec.req.role;
  j["message_id"] = rec.req.message_id;
  if (!rec.req.original_message_id.empty()) j["original_message_id"] = rec.req.original_message_id;
  Json ids = Json::array();
  for (const auto& t : rec.req.trades) ids.push_back(t.trade_id);
  j["trade_ids"] = ids;
  j["fault"] = fault_name(rec.req.fault);
  if (!rec.req.note.empty()) j["note"] = rec.req.note;
  j["expected"] = rec.req.expect.describe();
  j["attempts"] = rec.attempts;
  j["http_status"] = rec.http_status;
  if (!rec.code.empty()) j["code"] = rec.code;
  if (!rec.hub_ref.empty()) j["hub_ref"] = rec.hub_ref;
  if (!rec.receipt_status.empty()) j["receipt_status"] = rec.receipt_status;
  j["body_sha256"] = rec.body_sha256;
  if (rec.latency_ms >= 0) j["latency_ms"] = std::round(rec.latency_ms * 100) / 100;
  if (!rec.error.empty()) j["error"] = rec.error;
  if (!rec.final_status.empty()) j["final_status"] = rec.final_status;
  if (!rec.final_reason.empty()) j["final_reason"] = rec.final_reason;
  if (rec.final_timeout) j["final_timeout"] = true;
  if (!rec.final_trades.empty() && rec.final_trades.size() <= 50) j["final_trades"] = rec.final_trades;
  j["checks_passed"] = rec.checks.passed;
  Json failed = Json::array();
  for (const auto& f : rec.checks.failed) failed.push_back({{"check", f.check}, {"detail", f.detail}});
  j["checks_failed"] = failed;
  return j;
}

Json Session::summary() const {
  std::lock_guard lock(mu_);
  Json s;
  s["run_id"] = run_id_;
  s["seed"] = seed_;
  s["messages"] = messages_;
  s["sent"] = requests_;
  s["answered"] = answered_;
  s["retries"] = retries_;
  s["by_http_status"] = by_status_;
  s["by_fault"] = by_fault_;
  s["checks"] = {{"passed", checks_passed_}, {"failed", checks_failed_}};
  s["failed_checks"] = failed_by_check_;
  double send_s = std::chrono::duration<double>(
                      (send_done_ == Clock::time_point{} ? Clock::now() : send_done_) - started_)
                      .count();
  s["send_seconds"] = std::round(send_s * 1000) / 1000;
  s["throughput_per_s"] = send_s > 0 ? std::round(answered_ / send_s * 10) / 10 : 0.0;
  auto lat = latencies_;
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) {
    if (lat.empty()) return 0.0;
    auto idx = static_cast<size_t>(std::ceil(p * static_cast<double>(lat.size()))) - 1;
    return std::round(lat[std::min(idx, lat.size() - 1)] * 100) / 100;
  };
  s["latency_ms"] = {{"p50", pct(0.50)}, {"p99", pct(0.99)}, {"max", lat.empty() ? 0.0 : pct(1.0)}};
  if (o_.await_final) s["final"] = finals_;
  if (callbacks_) {
    auto cs = callbacks_->stats();
    s["callbacks"] = {{"deliveries", cs.deliveries},   {"failed_on_purpose", cs.failed_on_purpose},
                      {"verified", cs.verified},       {"duplicates", cs.duplicates},
                      {"refused", cs.refused},         {"matched_messages", callbacks_checked_}};
  }
  s["elapsed_seconds"] =
      std::round(std::chrono::duration<double>(Clock::now() - started_).count() * 1000) / 1000;
  if (fatal_) s["fatal"] = fatal_message_;
  return s;
}

void Session::progress_loop() {
  if (o_.progress_s <= 0) return;
  auto period = std::chrono::milliseconds(static_cast<int64_t>(o_.progress_s * 1000));
  std::unique_lock lock(done_mu_);
  while (!done_cv_.wait_for(lock, period, [&] { return done_; })) {
    std::lock_guard g(mu_);
    double secs = std::chrono::duration<double>(Clock::now() - started_).count();
    err_ << "gxm-sim: " << messages_ << (o_.count ? "/" + std::to_string(*o_.count) : "")
         << " messages, " << requests_ << " requests answered " << answered_ << " (";
    bool first = true;
    for (const auto& [k, v] : by_status_) {
      err_ << (first ? "" : ", ") << k << ": " << v;
      first = false;
    }
    err_ << "), retries " << retries_ << ", checks failed " << checks_failed_ << ", "
         << static_cast<int64_t>(secs > 0 ? answered_ / secs : 0) << "/s\n";
  }
}

int Session::run() {
  if (auto st = set_up(); !st) {
    err_ << "gxm-sim: " << st.error().message << "\n";
    return 2;
  }
  std::thread progress([this] { progress_loop(); });
  if (planner_) {
    std::vector<std::thread> workers;
    int n = o_.demo ? 1 : o_.concurrency;
    for (int i = 0; i < n; ++i) {
      workers.emplace_back([this] {
        try {
          send_worker();
        } catch (const std::exception& e) {
          std::lock_guard lock(mu_);
          fatal_ = true;
          fatal_message_ = std::string("worker stopped: ") + e.what();
        }
      });
    }
    for (auto& w : workers) w.join();
  }
  send_done_ = Clock::now();
  if (o_.await_final && !o_.demo) {
    std::vector<RecordPtr> pending;
    {
      std::lock_guard lock(mu_);
      for (const auto& rec : records_) {
        if (rec->pollable) pending.push_back(rec);
      }
    }
    await_finals(std::move(pending));
  }
  if (o_.statement && !stop_.load()) send_statements();
  if (callbacks_ && o_.callback_wait_s > 0) {
    if (planner_ || o_.statement) {
      wait_callbacks();
    } else {
      auto until = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(o_.callback_wait_s * 1000));
      while (Clock::now() < until && !stop_.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  }
  if (callbacks_) callbacks_->stop();
  {
    std::lock_guard lock(done_mu_);
    done_ = true;
  }
  done_cv_.notify_all();
  progress.join();
  auto s = summary();
  out_ << s.dump() << std::endl;
  std::lock_guard lock(mu_);
  if (fatal_) {
    err_ << "gxm-sim: " << fatal_message_ << "\n";
    return 2;
  }
  return checks_failed_ > 0 ? 1 : 0;
}

}  // namespace

int run_simulator(Options options, std::ostream& out, std::ostream& err,
                  const std::atomic<bool>& stop) {
  Session s(std::move(options), out, err, stop);
  return s.run();
}

}  // namespace gxm
