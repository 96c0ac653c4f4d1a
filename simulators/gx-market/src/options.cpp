#include "gxm/options.hpp"

#include <cstdlib>
#include <functional>
#include <map>

#include "gxm/crypto.hpp"

namespace gxm {
namespace {

Result<double> to_double(const std::string& flag, const std::string& v, double lo, double hi) {
  char* end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !(d >= lo && d <= hi)) {
    return make_error("BAD_FLAG", flag + " " + v + ": expected a number within " +
                                      std::to_string(lo) + ".." + std::to_string(hi));
  }
  return d;
}

Result<int64_t> to_int(const std::string& flag, const std::string& v, int64_t lo, int64_t hi) {
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < lo || n > hi) {
    return make_error("BAD_FLAG", flag + " " + v + ": expected a whole number within " +
                                      std::to_string(lo) + ".." + std::to_string(hi));
  }
  return n;
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s + ",") {
    if (c == ',' || c == '\n' || c == ' ' || c == '\t' || c == '\r') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  return out;
}

}  // namespace

Result<Options> parse_options(int argc, const char* const* argv) {
  Options o;
  using Setter = std::function<Status(const std::string&)>;
  auto str = [](std::string& field) {
    return Setter([&field](const std::string& v) {
      field = v;
      return ok_status();
    });
  };
  auto dbl = [](std::string flag, double& field, double lo, double hi) {
    return Setter([flag, &field, lo, hi](const std::string& v) -> Status {
      auto d = to_double(flag, v, lo, hi);
      if (!d) return d.error();
      field = *d;
      return ok_status();
    });
  };
  auto i64 = [](std::string flag, int64_t& field, int64_t lo, int64_t hi) {
    return Setter([flag, &field, lo, hi](const std::string& v) -> Status {
      auto n = to_int(flag, v, lo, hi);
      if (!n) return n.error();
      field = *n;
      return ok_status();
    });
  };
  int64_t concurrency = o.concurrency, fail_first = 0, count = -1, seed = -1;
  const std::map<std::string, Setter> with_value = {
      {"--hub", str(o.hub_url)},
      {"--pki", str(o.pki_dir)},
      {"--ca", str(o.ca_file)},
      {"--cert", str(o.cert_file)},
      {"--key", str(o.key_file)},
      {"--sign-key", str(o.sign_key_file)},
      {"--kid", str(o.kid)},
      {"--receipt-cert", str(o.receipt_cert_file)},
      {"--count", i64("--count", count, 0, INT64_MAX)},
      {"--rate", dbl("--rate", o.rate, 0, 1e6)},
      {"--concurrency", i64("--concurrency", concurrency, 1, 512)},
      {"--batch-size", i64("--batch-size", o.batch_size, 0, 5000)},
      {"--accounts", Setter([&o](const std::string& v) {
         for (auto& a : split_list(v)) o.accounts.push_back(a);
         return ok_status();
       })},
      {"--accounts-file", str(o.accounts_file)},
      {"--quantity-min", i64("--quantity-min", o.quantity_min, 1, 10'000'000)},
      {"--quantity-max", i64("--quantity-max", o.quantity_max, 1, 10'000'000)},
      {"--price-min", i64("--price-min", o.price_min, 1, 1'000'000)},
      {"--price-max", i64("--price-max", o.price_max, 1, 1'000'000)},
      {"--vintage", i64("--vintage", o.vintage, 2026, 2100)},
      {"--insufficient-quantity",
       i64("--insufficient-quantity", o.insufficient_quantity, 1, 10'000'000)},
      {"--trade-date", str(o.trade_date)},
      {"--settlement-date", str(o.settlement_date)},
      {"--seed", i64("--seed", seed, 0, INT64_MAX)},
      {"--run-id", str(o.run_id)},
      {"--faults", str(o.faults)},
      {"--timeout", dbl("--timeout", o.timeout_s, 0.1, 3600)},
      {"--retry-for", dbl("--retry-for", o.retry_for_s, 0, 86400)},
      {"--await-timeout", dbl("--await-timeout", o.await_timeout_s, 0, 86400)},
      {"--poll-interval", dbl("--poll-interval", o.poll_interval_s, 0.01, 3600)},
      {"--statement-breaks", str(o.statement_breaks)},
      {"--journal", str(o.journal_file)},
      {"--progress", dbl("--progress", o.progress_s, 0, 3600)},
      {"--callback-listen", str(o.callback_listen)},
      {"--callback-cert", str(o.callback_cert_file)},
      {"--callback-key", str(o.callback_key_file)},
      {"--callback-client-ca", str(o.callback_client_ca_file)},
      {"--callback-fail-first", i64("--callback-fail-first", fail_first, 0, 1'000'000)},
      {"--callback-wait", dbl("--callback-wait", o.callback_wait_s, 0, 86400)},
      {"--demo-interval", dbl("--demo-interval", o.demo_interval_s, 0.01, 3600)},
  };
  const std::map<std::string, bool*> flags = {
      {"--await-final", &o.await_final},
      {"--statement", &o.statement},
      {"--statement-correct", &o.statement_correct},
      {"--demo", &o.demo},
      {"--help", &o.help},
      {"-h", &o.help},
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_value = false;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    if (arg == "--no-idempotency-key") {
      o.idempotency_header = false;
      continue;
    }
    if (auto f = flags.find(arg); f != flags.end()) {
      if (has_value) return make_error("BAD_FLAG", arg + " takes no value");
      *f->second = true;
      continue;
    }
    auto s = with_value.find(arg);
    if (s == with_value.end()) {
      return make_error("BAD_FLAG", "unknown option '" + arg + "' (gxm-sim --help)");
    }
    if (!has_value) {
      if (i + 1 >= argc) return make_error("BAD_FLAG", arg + " needs a value");
      value = argv[++i];
    }
    if (auto st = s->second(value); !st) return st.error();
  }
  o.concurrency = static_cast<int>(concurrency);
  o.callback_fail_first = static_cast<int>(fail_first);
  if (count >= 0) o.count = static_cast<uint64_t>(count);
  if (seed >= 0) o.seed = static_cast<uint64_t>(seed);
  return o;
}

Status finish_options(Options& o) {
  if (!o.pki_dir.empty()) {
    auto fill = [&](std::string& field, const char* name) {
      if (field.empty()) field = o.pki_dir + "/" + name;
    };
    fill(o.ca_file, "ca.crt");
    fill(o.cert_file, "gx-market-tls-client.crt");
    fill(o.key_file, "gx-market-tls-client.key");
    fill(o.sign_key_file, "gx-market-sign.key");
    fill(o.receipt_cert_file, "hub-receipt-ec.crt");
    if (o.kid.empty()) {
      try {
        auto kid = split_list(read_text_file(o.pki_dir + "/gx-market-sign.kid"));
        if (!kid.empty()) o.kid = kid[0];
      } catch (const std::exception&) {
        // falls back to the spec's kid below
      }
    }
  }
  if (o.kid.empty()) o.kid = "gxm-2026-01";
  if (!o.accounts_file.empty()) {
    try {
      for (auto& a : split_list(read_text_file(o.accounts_file))) {
        if (a.rfind('#', 0) != 0) o.accounts.push_back(a);
      }
    } catch (const std::exception& e) {
      return make_error("BAD_FLAG", std::string("--accounts-file: ") + e.what());
    }
  }
  if (o.demo) {
    if (o.rate == 0) o.rate = 1.0 / o.demo_interval_s;
    if (o.faults.empty()) {
      o.faults = "duplicate=0.05,stale=0.03,bad_signature=0.03,unknown_account=0.03,"
                 "insufficient_balance=0.02,unknown_field=0.02";
    }
  } else if (!o.count) {
    o.count = 100;
  }
  std::vector<std::pair<const char*, std::string*>> required = {
      {"--ca", &o.ca_file},           {"--cert", &o.cert_file},
      {"--key", &o.key_file},         {"--sign-key", &o.sign_key_file},
      {"--receipt-cert", &o.receipt_cert_file}};
  bool sends = !o.count || *o.count > 0 || o.statement || o.demo;
  if (sends && o.hub_url.empty()) return make_error("BAD_FLAG", "--hub https://HOST:PORT is required");
  for (auto& [flag, field] : required) {
    if (field->empty()) {
      return make_error("BAD_FLAG", std::string(flag) + " is required (or --pki DIR)");
    }
  }
  if (!o.callback_listen.empty() && (o.callback_cert_file.empty() || o.callback_key_file.empty())) {
    return make_error("BAD_FLAG", "--callback-listen needs --callback-cert and --callback-key");
  }
  if (o.quantity_min > o.quantity_max) return make_error("BAD_FLAG", "--quantity-min > --quantity-max");
  if (o.price_min > o.price_max) return make_error("BAD_FLAG", "--price-min > --price-max");
  if (!o.run_id.empty()) {
    if (o.run_id.size() > 40) return make_error("BAD_FLAG", "--run-id is at most 40 characters");
    for (char c : o.run_id) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
        return make_error("BAD_FLAG", "--run-id holds letters, digits, '-' and '_' only");
      }
    }
  }
  return ok_status();
}

std::string help_text() {
  return R"HELP(gxm-sim: the allowance trading market simulator (connector gx-market)

Sends signed settled trades, batches and daily statements to the hub exactly as
shared/specs/gx-market.md says, over mutual TLS, injects the faults the specs name, and
checks every answer against the spec (status, problem code, the receipt's signature,
body_sha256, hub_ref, message_id). Journal: one JSON line per request; the LAST line of
stdout is a JSON summary. Exit code: 0 all checks passed, 1 a check failed, 2 bad usage or
set-up (unreadable key, TLS context, ...).

Usage: gxm-sim --hub https://127.0.0.1:8443 --pki var/pki --accounts A,B[,...] [options]

Connection and keys
  --hub URL               the hub, https://HOST:PORT (required unless nothing is sent)
  --pki DIR               the dev PKI (certs/make-dev-pki.sh): fills each of the five file
                          options below that is not given, and --kid from gx-market-sign.kid
  --ca FILE               CA certificate(s) that the hub's TLS certificate must chain to
  --cert FILE, --key FILE the market's TLS client certificate and key (mTLS)
  --sign-key FILE         the market's message-signing private key (PEM; EC P-256 -> ES256)
  --kid KID               its registered key id (default gxm-2026-01)
  --receipt-cert FILE     the hub's receipt-signing certificate (or public key), to verify
                          receipts (dev PKI: hub-receipt-ec.crt)

What to send
  --count N               messages to send (default 100; 0 = none). Follow-up faults add a
                          second request to their message (see Faults)
  --rate R                messages per second over all connections, 0 = as fast as possible
                          (default 0)
  --concurrency C         keep-alive connections, one request in flight on each (default 4)
  --batch-size B          0 = single settlements (default); 1..5000 = each message is a batch
                          (settlements:batch) of B settlements
  --accounts A,B,...      holding accounts to trade between (at least two, valid check
                          digits). Sellers must hold GXA of --vintage: the caller sets the
                          registry up
  --accounts-file FILE    the same, one per line (# comments allowed); adds to --accounts
  --quantity-min/--quantity-max N   tonnes per trade (default 1..10; spec 1..10,000,000)
  --price-min/--price-max N         JPY per tonne (default 1700..4300; spec 1..1,000,000)
  --vintage Y             GXA vintage (default 2026)
  --trade-date D, --settlement-date D   YYYY-MM-DD (default today in Japan)
  --seed S                seed of every random choice (accounts, amounts, faults); default
                          random, printed in the summary; the same seed and options give
                          the same messages
  --run-id ID             prefix that makes message_id and trade_id unique per run
                          (default R<yyyymmddhhmmss>-<pid>); ids are GXM-<run>-000001,
                          GXM-B-<run>-000001, T-<run>-000001[-0001], GXM-S-<run>-1
  --no-idempotency-key    do not send the Idempotency-Key header (sent by default, = message_id)

Faults
  --faults SPEC           NAME=VALUE,...: VALUE with a decimal point is a probability per
                          message, an integer an exact count (placed at random positions).
                          One fault per message at most. Expected hub answer of each:
    duplicate             follow-up: the same bytes again -> 200, the original receipt
                          (same bytes, same hub_ref)
    conflict              follow-up: same message_id, quantity+1, re-signed -> 409
                          IDEMPOTENCY_CONFLICT (problem names the message_id)
    duplicate_trade       follow-up: the first trade again under message_id <id>-DT -> 202,
                          then exception DUPLICATE_TRADE
    stale                 sent_at 11-30 minutes old -> 400 STALE_MESSAGE
    bad_signature         quantity changed after signing -> 401 SIGNATURE_INVALID
    wrong_key             signed by a fresh P-256 key under the registered kid -> 401
    unknown_kid           kid gxm-unknown-kid -> 401 SIGNATURE_INVALID
    alg_none              alg none, empty signature -> 401 SIGNATURE_INVALID
    alg_hs256             HS256 keyed with the registered public key -> 401 SIGNATURE_INVALID
    unknown_field         an extra member 'remarks' -> 400 SCHEMA_VIOLATION
    missing_field         one required member left out -> 400 SCHEMA_VIOLATION
    out_of_range          quantity/price/vintage out of range, settlement before trade date,
                          unknown session or unit_type -> 400 SCHEMA_VIOLATION
    bad_check_digit       an account with a wrong Luhn digit -> 400 MALFORMED or
                          SCHEMA_VIOLATION
    malformed_json        signed payload that is not JSON -> 400 MALFORMED
    idempotency_mismatch  Idempotency-Key != message_id -> 400 MALFORMED
    unknown_account       a valid-looking account that does not exist (JP-GX-100-9xxxxx)
                          -> 202, then exception UNKNOWN_ACCOUNT
    insufficient_balance  quantity --insufficient-quantity (default 10,000,000) -> 202, then
                          exception INSUFFICIENT_BALANCE
                          In batches, trade faults hit settlements[0] only.
  --insufficient-quantity N   quantity of insufficient_balance trades

Waiting for outcomes
  --timeout S             per request step (connect, TLS, write, read), default 30
  --retry-for S           a connection error or 429/503 is retried with the SAME bytes
                          (Retry-After honoured, else back-off 0.1..2 s) for up to S seconds
                          after the first attempt (default 120)
  --await-final           after sending, poll GET /connectors/gx-market/v1/messages/{id}
                          until each accepted message is applied, exception or rejected,
                          verifying those receipts and the expected outcome
  --await-timeout S       give up polling after S seconds (default 120)
  --poll-interval S       between polling rounds (default 0.5)

Daily statement
  --statement             at the end, send the statement of --settlement-date listing this
                          run's trades that were applied (with --await-final) or accepted and
                          expected to apply -> 202
  --statement-breaks L    deliberate breaks, comma-separated: missing_trade
                          (MISSING_IN_SOURCE), extra_trade (MISSING_IN_HUB), wrong_quantity
                          (MISMATCH), wrong_totals (TOTALS_MISMATCH)
  --statement-correct     then send a corrected statement (new message_id, no breaks) that
                          supersedes the broken one

Callback receiver (the hub's final receipts)
  --callback-listen HOST:PORT   HTTPS server for POSTed final receipts; verified,
                          deduplicated by hub_ref, answered 200, journaled
  --callback-cert FILE, --callback-key FILE   its server certificate and key
  --callback-client-ca FILE     require a client certificate issued by this CA
  --callback-fail-first N answer 500 to the first N deliveries (exercises the hub's retries)
  --callback-wait S       after everything else, wait up to S seconds for a callback of
                          every message that ended applied or rejected (checked);
                          with --count 0 it just receives for S seconds

Output
  --journal FILE          one JSON line per request and per callback (appended)
  --progress S            progress line on stderr every S seconds (default 5; 0 = none)

Demo
  --demo                  gentle continuous traffic until SIGTERM/SIGINT: one message every
                          --demo-interval seconds (default 2), faults (unless --faults):
                          duplicate=0.05,stale=0.03,bad_signature=0.03,unknown_account=0.03,
                          insufficient_balance=0.02,unknown_field=0.02
  --help                  this text
)HELP";
}

}  // namespace gxm
