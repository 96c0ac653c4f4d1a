// intake_bench: signed settlements end to end (gxm-sim -> HTTPS, mTLS -> JWS verify ->
// inbox -> RabbitMQ -> ledger -> receipt) at rising client concurrency, then the cost of
// each stage alone, in one run (docs/benchmarks.md "bench/intake").
//
// In a scratch database and on RabbitMQ names of its own (mq.queue_suffix) it runs a hubd
// of its own, registers the dev PKI, opens and funds holding accounts, and drives gxm-sim.
// The last line of stdout is one JSON object with every figure.

#include <nlohmann/json.hpp>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <fstream>
#include <iostream>
#include <thread>

#include "bench_support.hpp"
#include "connectors/gx_market.hpp"
#include "hub/core/clock.hpp"
#include "hub/core/ids.hpp"
#include "hub/db/migrations.hpp"
#include "hub/db/pg.hpp"
#include "hub/intake/applier.hpp"
#include "hub/intake/receipt_signer.hpp"
#include "hub/intake/store.hpp"
#include "hub/queue/amqp_connection.hpp"
#include "hub/queue/publisher.hpp"
#include "hub/queue/topology.hpp"
#include "hub/signing/jws.hpp"
#include "registry/domain/account_number.hpp"
#include "registry/ledger/ledger.hpp"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace hb = hub::bench;
using Clock = std::chrono::steady_clock;

struct Options {
  std::vector<int> concurrency = {1, 4, 16, 64};
  int count = 5000;            // messages per concurrency step
  int accounts = 200;
  double half_rate_seconds = 15;
  int stage_messages = 10000;  // for the stages measured alone
  std::string command;
};

[[noreturn]] void usage(int code) {
  (code == 0 ? std::cout : std::cerr)
      << "usage: intake_bench [--concurrency 1,4,16,64] [--count N] [--accounts N] [--half-rate-seconds S]\n"
         "                    [--stage-messages N]\n"
         "Runs a hubd of its own against the private PostgreSQL and RabbitMQ (started by bench/intake)\n"
         "and prints one JSON object as the last line.\n";
  std::exit(code);
}

Options parse(int argc, char** argv) {
  Options o;
  if (const char* c = std::getenv("BENCH_COMMAND"); c && *c) o.command = c;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto need = [&]() -> std::string {
      if (i + 1 >= argc) usage(2);
      return argv[++i];
    };
    try {
      if (a == "--concurrency") {
        o.concurrency.clear();
        std::stringstream ss(need());
        for (std::string x; std::getline(ss, x, ',');) o.concurrency.push_back(std::stoi(x));
      } else if (a == "--count") o.count = std::stoi(need());
      else if (a == "--accounts") o.accounts = std::stoi(need());
      else if (a == "--half-rate-seconds") o.half_rate_seconds = std::stod(need());
      else if (a == "--stage-messages") o.stage_messages = std::stoi(need());
      else if (a == "-h" || a == "--help") usage(0);
      else usage(2);
    } catch (const std::logic_error&) {
      usage(2);
    }
  }
  if (o.concurrency.empty() || o.count < 1 || o.accounts < 2) usage(2);
  return o;
}

void say(const std::string& s) { std::cerr << "intake_bench: " << s << std::endl; }

json last_json_line(const std::string& text) {
  auto end = text.find_last_not_of("\n ");
  if (end == std::string::npos) return json();
  auto start = text.rfind('\n', end);
  return json::parse(text.substr(start == std::string::npos ? 0 : start + 1, end + 1 - (start == std::string::npos ? 0 : start + 1)),
                     nullptr, false);
}

// ---- the registry -------------------------------------------------------------------------
std::vector<std::string> seed_registry(hub::db::Connection& app, int n) {
  hub::registry::Ledger ledger(app);
  auto must = [](auto r) {
    if (!r.ok()) throw std::runtime_error(r.error().to_string());
    return std::move(r).value();
  };
  must(ledger.create_company("7000012050002", "GX推進機構", "organization", "bench"));
  must(ledger.create_company("7123456789012", "株式会社ベンチ", "covered", "bench"));
  auto issuance = must(ledger.open_account(200, "7000012050002", "発行口座", "bench"));
  hub::registry::Cause cause{hub::registry::CauseType::kSystem, "intake_bench"};
  must(ledger.issue("bench-issue", cause, "bench-approver", issuance, 2026, 1'000'000'000));
  std::vector<std::string> accounts;
  for (int i = 1; i <= n; ++i) {
    auto number = hub::registry::AccountNumber::make(hub::registry::AccountType::kHolding, i).str();
    must(ledger.open_account(100, "7123456789012", "保有口座", "bench", number));
    must(ledger.allocate("bench-alloc-" + number, cause, issuance, number, 2026, 1'000'000));
    accounts.push_back(number);
  }
  return accounts;
}

// ---- hubd ---------------------------------------------------------------------------------
struct Hubd {
  std::filesystem::path dir, config, log;
  int port = 0;
  std::unique_ptr<hb::Child> child;
};

void start_hubd(Hubd& h, const hb::ScratchDatabase& db, const std::string& suffix) {
  auto pki = hb::var_dir() / "pki";
  auto secrets = hb::var_dir() / "secrets";
  h.port = hb::free_tcp_port();
  std::ofstream(h.config) << "[https]\nport = " << h.port << "\ncert_file = " << (pki / "hub-tls.crt").string()
                          << "\nkey_file = " << (pki / "hub-tls.key").string()
                          << "\nclient_ca_file = " << (pki / "ca.crt").string()
                          << "\nworker_threads = 16\nmax_in_flight = 1024\nshutdown_grace = 5s\n"
                          << "[db]\nport = " << hb::db_port() << "\nname = " << db.name()
                          << "\npassword_file = " << (secrets / "pg_app.password").string()
                          << "\nowner_password_file = " << (secrets / "pg_owner.password").string()
                          << "\npool_size = 24\n[mq]\nport = " << hb::mq_port()
                          << "\npassword_file = " << (secrets / "mq.password").string()
                          << "\nqueue_suffix = " << suffix << "\n[receipts]\njws_key_file = "
                          << (pki / "hub-receipt-ec.key").string() << "\njws_cert_file = "
                          << (pki / "hub-receipt-ec.crt").string() << "\n[log]\nlevel = warn\n"
                          << "[hubctl]\nca_file = " << (pki / "ca.crt").string() << "\n";
  auto port_file = h.dir / "port";
  std::filesystem::remove(port_file);
  h.child = std::make_unique<hb::Child>(
      std::vector<std::string>{HUB_HUBD_PATH, "--config", h.config.string(), "--port-file", port_file.string()}, h.log);
  auto deadline = Clock::now() + 60s;
  while (!std::filesystem::exists(port_file)) {
    if (!h.child->running() || Clock::now() > deadline) throw std::runtime_error("hubd did not start; see " + h.log.string());
    std::this_thread::sleep_for(100ms);
  }
}

// ---- one end-to-end step --------------------------------------------------------------------
json run_step(const Hubd& h, hub::db::Connection& app, const std::string& accounts_file, const std::string& run_id,
              int count, int concurrency, double rate) {
  std::vector<std::string> argv = {HUB_GXM_SIM_PATH, "--hub", "https://127.0.0.1:" + std::to_string(h.port), "--pki",
                                   (hb::var_dir() / "pki").string(), "--accounts-file", accounts_file,
                                   "--count", std::to_string(count), "--concurrency", std::to_string(concurrency),
                                   "--run-id", run_id, "--progress", "0", "--retry-for", "60", "--seed", "7"};
  if (rate > 0) {
    argv.push_back("--rate");
    argv.push_back(std::to_string(rate));
  }
  std::string out;
  auto load0 = hb::load_average_1m();
  int code = hb::run(argv, &out);
  auto summary = last_json_line(out);
  if (code != 0 || summary.is_discarded() || !summary.is_object()) {
    throw std::runtime_error("gxm-sim failed (exit " + std::to_string(code) + "): " + out.substr(out.size() > 2000 ? out.size() - 2000 : 0));
  }
  // Wait until the hub has applied everything of this run.
  const std::string like = "GXM-" + run_id + "-%";
  auto deadline = Clock::now() + 300s;
  while (app.exec("SELECT count(*) FROM inbox_messages WHERE message_id LIKE $1 AND state = 'accepted'", {like})
             .get_int(0, 0) > 0) {
    if (Clock::now() > deadline) throw std::runtime_error("run " + run_id + " not applied within 300 s");
    std::this_thread::sleep_for(100ms);
  }
  auto r = app.exec(
      "SELECT count(*), extract(epoch FROM max(applied_at) - min(received_at)), "
      "percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM applied_at - received_at)) * 1000, "
      "percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM applied_at - received_at)) * 1000, "
      "count(*) FILTER (WHERE state = 'applied') FROM inbox_messages WHERE message_id LIKE $1",
      {like});
  const double n = static_cast<double>(r.get_int(0, 0));
  const double span = std::stod(r.get(0, 1));
  json step = {{"concurrency", concurrency},
               {"rate_asked", rate},
               {"messages", r.get_int(0, 0)},
               {"applied", r.get_int(0, 4)},
               {"applied_per_s", std::round(n / span)},
               {"sent_per_s", summary.value("throughput_per_s", 0.0)},
               {"request_ms", summary.value("latency_ms", json::object())},
               {"request_to_applied_ms", {{"p50", std::round(std::stod(r.get(0, 2)) * 10) / 10},
                                          {"p99", std::round(std::stod(r.get(0, 3)) * 10) / 10}}},
               {"sim_checks_failed", summary["checks"].value("failed", -1)},
               {"load_1m", {{"start", load0}, {"end", hb::load_average_1m()}}}};
  say(step.dump());
  return step;
}

// ---- stages alone ---------------------------------------------------------------------------
template <class Fn>
double per_second(int n, Fn fn) {
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) fn(i);
  return n / std::chrono::duration<double>(Clock::now() - t0).count();
}

json stages(const hb::ScratchDatabase& db, hub::db::Connection& app, const std::vector<std::string>& accounts,
            const std::string& suffix, int n) {
  auto pki = hb::var_dir() / "pki";
  json out;
  // 1. ES256 JWS verify and receipt signing, one thread.
  auto key = hub::signing::PrivateKey::from_file((pki / "gx-market-sign.key").string()).value();
  auto cert = hub::signing::PublicKey::from_file((pki / "gx-market-sign.crt").string()).value();
  json payload = {{"message_id", "GXM-STAGE-1"}, {"sent_at", "2026-11-21T15:30:02+09:00"}, {"trade_id", "T-1"},
                  {"trade_date", "2026-11-21"}, {"settlement_date", "2026-11-21"}, {"session", "continuous"},
                  {"seller_account", accounts[0]}, {"buyer_account", accounts[1]}, {"unit_type", "GXA"},
                  {"vintage", 2026}, {"quantity", 5}, {"price_jpy", 2450}};
  auto jws = hub::signing::sign_jws({{"alg", "ES256"}, {"kid", "k"}, {"typ", "gx-market+jws"}, {"cty", "settlement"}},
                                    payload.dump(), key)
                 .value();
  auto resolver = [&](const std::string&) -> hub::Result<hub::signing::PublicKey> { return cert; };
  out["jws_es256_verify_per_s_1_thread"] = std::round(per_second(n, [&](int) {
    if (!hub::signing::verify_jws(jws, resolver).ok()) throw std::runtime_error("verify failed");
  }));
  auto signer = hub::intake::JwsReceiptSigner::load((pki / "hub-receipt-ec.key").string(),
                                                    (pki / "hub-receipt-ec.crt").string())
                    .value();
  hub::connectors::GxMarketConnector connector(signer);
  out["receipt_sign_per_s_1_thread"] = std::round(per_second(n, [&](int i) {
    (void)connector.sign_receipt({"GXM-" + std::to_string(i), "HUB-1", "settlement", "accepted", std::nullopt,
                                  "2026-11-21T06:30:02.000Z", std::string(64, 'a'), {{"T-1", "HUB-1-1", "accepted", std::nullopt}}});
  }));

  // 2. The inbox INSERT (the 202's commit) from 16 threads, each its own connection.
  const int threads = 16;
  std::atomic<int> next{0};
  auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      auto c = hub::db::Connection::connect(db.app());
      for (int i; (i = next.fetch_add(1)) < n;) {
        json cmd = {{"items", json::array({{{"type", "transfer"}, {"business_key", "T-S" + std::to_string(i)},
                                              {"key", "gx-market:trade:T-S" + std::to_string(i)},
                                              {"duplicate_reason", "DUPLICATE_TRADE"}, {"from", accounts[i % accounts.size()]},
                                              {"to", accounts[(i + 1) % accounts.size()]}, {"unit", "GXA"},
                                              {"vintage", 2026}, {"quantity", 1}}})}};
        hub::intake::NewInboxMessage m;
        m.connector = "gx-market";
        m.message_id = "GXM-STAGE-" + std::to_string(i);
        m.hub_ref = hub::make_hub_ref("20261121");
        m.kind = "settlement";
        m.received_at = hub::format_rfc3339_utc(std::chrono::system_clock::now());
        m.body = &jws;
        m.body_sha256 = std::string(64, 'a');
        m.payload_sha256 = std::string(64, 'b');
        m.remote_address = "127.0.0.1:1";
        m.signer = "k";
        m.command = &cmd;
        m.item_count = 1;
        m.receipt = jws;
        (void)hub::intake::insert_inbox_message(*c, m);
      }
    });
  }
  for (auto& t : pool) t.join();
  out["inbox_insert_commits_per_s_16_threads"] = std::round(n / std::chrono::duration<double>(Clock::now() - t0).count());

  // 3. The relay's publish with confirms (references, 500 in flight) to a queue of its own.
  hub::queue::AmqpSettings mq;
  mq.port = hb::mq_port();
  mq.user = "gxhub";
  mq.password = hb::secret("mq.password");
  {
    auto admin = hub::queue::AmqpConnection::open(mq).value();
    hub::queue::QueueSpec q;
    q.name = "bench.relay" + suffix;
    q.bindings.push_back({"gx.inbound" + suffix, "bench"});
    if (!admin->declare_queue(q).ok() || !admin->bind_queue(q.name, "gx.inbound" + suffix, "bench").ok()) {
      throw std::runtime_error("cannot declare the relay stage's queue");
    }
    auto pub = hub::queue::Publisher::open(mq).value();
    std::vector<hub::queue::OutgoingMessage> msgs;
    for (int i = 0; i < n; ++i) {
      hub::queue::OutgoingMessage m;
      m.exchange = "gx.inbound" + suffix;
      m.routing_key = "bench";
      m.body = std::to_string(100000 + i);
      msgs.push_back(std::move(m));
    }
    auto p0 = Clock::now();
    if (!pub->publish_batch(msgs, 500).ok()) throw std::runtime_error("publish_batch failed");
    out["relay_publish_confirmed_per_s"] = std::round(n / std::chrono::duration<double>(Clock::now() - p0).count());
    (void)admin->delete_queue(q.name);
  }

  // 4. The applier's transaction: the stored messages above, 500 per transaction.
  auto ids = app.exec("SELECT array_agg(id ORDER BY id)::text FROM inbox_messages WHERE message_id LIKE 'GXM-STAGE-%' "
                      "AND state = 'accepted'");
  std::vector<std::int64_t> all;
  {
    std::string text = ids.get(0, 0), cur;
    for (char c : text) {
      if (c >= '0' && c <= '9') cur += c;
      else if (!cur.empty()) {
        all.push_back(std::stoll(cur));
        cur.clear();
      }
    }
  }
  auto a0 = Clock::now();
  int applied = 0;
  for (std::size_t from = 0; from < all.size(); from += 500) {
    std::vector<std::int64_t> slice(all.begin() + static_cast<std::ptrdiff_t>(from),
                                    all.begin() + static_cast<std::ptrdiff_t>(std::min(all.size(), from + 500)));
    applied += hub::intake::apply_inbox_batch(app, connector, slice, false).items_applied;
  }
  out["apply_messages_per_s_batches_of_500"] =
      std::round(static_cast<double>(all.size()) / std::chrono::duration<double>(Clock::now() - a0).count());
  out["apply_items_applied"] = applied;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  try {
    json result = {{"bench", "intake"}, {"command", o.command}, {"machine", {{"load_at_start", hb::load_average_1m()}}}};
    hb::ScratchDatabase db("intake_bench");
    {
      auto owner = hub::db::Connection::connect(db.owner());
      auto m = hub::db::apply_migrations(*owner, hub::db::embedded_migrations());
      if (!m.ok()) throw std::runtime_error(m.error().to_string());
    }
    auto app = hub::db::Connection::connect(db.app());
    say("opening and funding " + std::to_string(o.accounts) + " accounts");
    auto accounts = seed_registry(*app, o.accounts);
    Hubd h;
    h.dir = std::filesystem::temp_directory_path() / ("intake-bench-" + hub::random_hex_id().substr(0, 8));
    std::filesystem::create_directories(h.dir);
    h.config = h.dir / "hubd.conf";
    h.log = h.dir / "hubd.log";
    const std::string suffix = ".bench-" + hub::random_hex_id().substr(0, 8);
    auto accounts_file = (h.dir / "accounts.txt").string();
    {
      std::ofstream f(accounts_file);
      for (const auto& a : accounts) f << a << "\n";
    }
    start_hubd(h, db, suffix);
    std::string out;
    if (hb::run({HUB_HUBCTL_PATH, "--config", h.config.string(), "trust", "import-dev-pki", (hb::var_dir() / "pki").string()},
                &out) != 0) {
      throw std::runtime_error("trust import failed: " + out);
    }
    std::this_thread::sleep_for(2s);  // hubd's trust snapshot follows within a second
    run_step(h, *app, accounts_file, "WARM", 500, 8, 0);

    json steps = json::array();
    double best = 0;
    for (int c : o.concurrency) {
      auto step = run_step(h, *app, accounts_file, "C" + std::to_string(c), o.count, c, 0);
      best = std::max(best, step["applied_per_s"].get<double>());
      steps.push_back(step);
    }
    result["end_to_end"] = steps;
    result["best_applied_per_s"] = best;
    const double half = std::max(1.0, std::round(best / 2));
    say("half rate: " + std::to_string(half) + "/s for " + std::to_string(o.half_rate_seconds) + " s");
    result["half_rate"] =
        run_step(h, *app, accounts_file, "HALF", static_cast<int>(half * o.half_rate_seconds), 16, half);
    auto [rss, hwm] = hb::rss_kib(h.child->pid());
    result["hubd"] = {{"rss_mib_end", rss / 1024}, {"rss_mib_peak", hwm / 1024},
                      {"cpu_seconds", std::round(hb::cpu_seconds(h.child->pid()) * 10) / 10}};
    h.child->stop();
    say("stages alone (hubd stopped)");
    result["stages_alone"] = stages(db, *app, accounts, suffix, o.stage_messages);
    auto v = hub::registry::Ledger(*app).verify();
    result["ledger_verify_ok"] = v.ok();
    result["machine"]["load_at_end"] = hb::load_average_1m();
    result["targets"] = {{"applied_per_s", 5000}, {"p99_ms_at_half_rate", 50}, {"hubd_rss_mib", 512}};
    {
      // The hub's queues and exchanges of this run go too.
      hub::queue::AmqpSettings mq;
      mq.port = hb::mq_port();
      mq.user = "gxhub";
      mq.password = hb::secret("mq.password");
      if (auto admin = hub::queue::AmqpConnection::open(mq); admin.ok()) {
        auto topo = hub::queue::hub_topology(suffix);
        for (const auto& q : topo.queues) (void)(*admin)->delete_queue(q.name);
        for (const auto& e : topo.exchanges) (void)(*admin)->delete_exchange(e.name);
      }
    }
    std::error_code ec;
    std::filesystem::remove_all(h.dir, ec);
    std::cout << result.dump() << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "intake_bench: error: " << e.what() << std::endl;
    return 1;
  }
}
