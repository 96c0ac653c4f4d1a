// ledger_bench: durable transfer throughput of the registry ledger (run it with bench/ledger).
//
// In a scratch database of its own (created as gx_owner, migrations applied, dropped at the
// end) it opens N holding accounts (10,000), funds them through post_batch, then for every
// (mode, writers) pair runs writers for a fixed time after a warm-up, each writer on its own
// connection as gx_app, moving 1..10 GXA between random pairs of the N accounts:
//   single        one posting per transaction (Ledger::transfer: gx_post's transfer path)
//   batched       Ledger::post_batch of --batch postings (100) per transaction; all are
//                 transfers, so it goes through transfer_batch (set-based, one call)
//   batched_set   Ledger::transfer_batch inside the bench's own transaction, as the intake
//                 consumer calls it (BEGIN, one call, COMMIT)
//   batched_each  (only with --modes) what post_batch did before migration 0003: lock the
//                 batch's accounts, then one gx_post call per transfer, one transaction
//   raw_single / raw_batched / raw_set (only with --modes): the same account pairs through
//                 a bare two-row UPDATE (of a copy of the balances) + one journal row: no
//                 checks, no digest, no keys; one call per transfer (raw_single, and
//                 raw_batched with --batch per transaction), or a batch as arrays in one
//                 set-based call (raw_set): the floor of what the database does here
// A sealer thread calls Ledger::seal() every 100 ms on its own connection, as production
// does. Afterwards Ledger::verify() runs once. Progress goes to stderr; stdout gets one line
// of JSON with every figure.
//
// --sql FILE (repeatable) runs FILE as gx_owner after the migrations: how a prototype of a
// faster gx_post is measured with the same harness (the prototypes that led to migration
// 0003 are in git history: bench/sql/ before that migration).
// --profile measures, before the runs, the server CPU time of gx_post and of its parts in
// PL/pgSQL loops (see run_profile); --modes none skips the runs.

#include <linux/perf_event.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

#include "bench_support.hpp"
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "hub/core/ids.hpp"
#include "hub/db/migrations.hpp"
#include "hub/db/pg.hpp"
#include "registry/domain/account_number.hpp"
#include "registry/ledger/ledger.hpp"

namespace {

using hub::db::Connection;
using hub::registry::Cause;
using hub::registry::CauseType;
using hub::registry::Ledger;
using hub::registry::PostingKind;
using hub::registry::PostingRequest;
using hub::registry::TransferItem;
using hub::registry::UnitType;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

std::atomic<bool> g_interrupted{false};
extern "C" void on_signal(int) { g_interrupted = true; }

constexpr int kVintage = 2026;
constexpr std::int64_t kFunding = 1'000'000;  // GXA per account: transfers of 1..10 never run dry
const Cause kCause{CauseType::kSystem, "ledger-bench"};
const char* const kOrganization = "7000012050002";
const char* const kCompany = "7123456789012";

double r1(double x) { return std::round(x * 10) / 10; }
double r2(double x) { return std::round(x * 100) / 100; }
double r3(double x) { return std::round(x * 1000) / 1000; }
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// ---- options ----------------------------------------------------------------------------
struct Options {
  double seconds = 8;
  double warmup = 1;
  int accounts = 10'000;
  std::vector<int> writers = {1, 8, 32};
  std::vector<std::string> modes = {"single", "batched"};
  int batch = 100;
  int seal_interval_ms = 100;
  std::vector<std::string> sql_files;
  bool keep = false;
  int profile = 0;  // --profile [SCALE%]: 0 = off
  int explain_slow_ms = 0;    // --explain-slow MS: auto_explain in the scratch database
  int explain_sealer_ms = 0;  // --explain-sealer MS: auto_explain in the sealer's session only
  std::string command;
};

[[noreturn]] void usage(int code) {
  std::fprintf(code ? stderr : stdout,
               "usage: ledger_bench [--seconds S] [--warmup S] [--accounts N] [--writers 1,8,32]\n"
               "                    [--modes single,batched[,batched_set,batched_each,raw_single,raw_batched,raw_set]]\n"
               "                    [--batch N]\n"
               "                    [--seal-interval-ms MS (0: no sealer)] [--sql FILE]... [--keep]\n"
               "                    [--profile] [--profile-scale PERCENT]   (--modes none: no runs)\n"
               "                    [--explain-slow MS]  (plans of statements slower than MS, nested ones\n"
               "                    included, go to the server log: var/log/postgres.log)\n"
               "                    [--explain-sealer MS]  (the same for the sealer's session only; it\n"
               "                    then connects as gx_super)\n");
  std::exit(code);
}

template <class T>
std::vector<T> split_list(const std::string& s, T (*conv)(const std::string&)) {
  std::vector<T> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(conv(item));
  }
  return out;
}

Options parse_options(int argc, char** argv) {
  Options o;
  // bench/ledger passes its own command line, the one to record in docs/benchmarks.md.
  if (const char* c = std::getenv("BENCH_COMMAND"); c && *c) {
    o.command = c;
  } else {
    for (int i = 0; i < argc; ++i) o.command += (i ? " " : "") + std::string(argv[i]);
  }
  auto need = [&](int& i) -> std::string {
    if (i + 1 >= argc) usage(2);
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    try {
      if (a == "--seconds") o.seconds = std::stod(need(i));
      else if (a == "--warmup") o.warmup = std::stod(need(i));
      else if (a == "--accounts") o.accounts = std::stoi(need(i));
      else if (a == "--writers") o.writers = split_list<int>(need(i), [](const std::string& s) { return std::stoi(s); });
      else if (a == "--modes") o.modes = split_list<std::string>(need(i), [](const std::string& s) { return s; });
      else if (a == "--batch") o.batch = std::stoi(need(i));
      else if (a == "--seal-interval-ms") o.seal_interval_ms = std::stoi(need(i));
      else if (a == "--sql") o.sql_files.push_back(need(i));
      else if (a == "--keep") o.keep = true;
      else if (a == "--profile") o.profile = 100;
      else if (a == "--profile-scale") o.profile = std::stoi(need(i));
      else if (a == "--explain-slow") o.explain_slow_ms = std::stoi(need(i));
      else if (a == "--explain-sealer") o.explain_sealer_ms = std::stoi(need(i));
      else if (a == "-h" || a == "--help") usage(0);
      else usage(2);
    } catch (const std::logic_error&) {
      usage(2);
    }
  }
  if (o.modes.size() == 1 && o.modes[0] == "none") o.modes.clear();
  for (const auto& m : o.modes) {
    if (m != "single" && m != "batched" && m != "batched_set" && m != "batched_each" && m != "raw_single" &&
        m != "raw_batched" && m != "raw_set") {
      usage(2);
    }
  }
  if (o.seconds <= 0 || o.warmup < 0 || o.accounts < 2 || o.accounts > 999'999 || o.batch < 1 || o.writers.empty() ||
      o.profile < 0) {
    usage(2);
  }
  return o;
}

// ---- the private services (bench/src/bench_support) -----------------------------------------
using hub::bench::read_text;
using hub::bench::ScratchDatabase;
using hub::bench::secret;

std::string conninfo(const std::string& user, const std::string& password, const std::string& dbname) {
  return hub::bench::conninfo(user, password, dbname, "ledger_bench");
}

// ---- CPU accounting ---------------------------------------------------------------------
struct MachineCpu {
  long long busy = 0, total = 0;  // clock ticks, all cores
};
MachineCpu machine_cpu() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  long long v[10] = {};
  in >> cpu;
  for (auto& x : v) in >> x;
  MachineCpu m;
  for (auto x : v) m.total += x;
  m.total -= v[8] + v[9];  // guest time is counted in user already
  m.busy = m.total - v[3] - v[4];  // minus idle and iowait
  return m;
}
// CPU time of one single-threaded process (a PostgreSQL backend) in seconds, and the time
// it waited for a CPU (run queue), from /proc/<pid>/schedstat (nanoseconds); 0 if gone.
struct ProcCpu {
  double on_cpu = 0, waiting = 0;
};
ProcCpu process_cpu(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/schedstat");
  long long run = 0, wait = 0;
  if (!(in >> run >> wait)) return {};
  return {static_cast<double>(run) / 1e9, static_cast<double>(wait) / 1e9};
}
double process_cpu_seconds(int pid) { return process_cpu(pid).on_cpu; }

// The instructions one process executes from now on, counted by the kernel
// (perf_event_open, user and kernel mode). Unlike CPU time it hardly changes with the
// other load on a shared machine, so figures taken on different days compare. value()
// is -1 when the kernel does not allow the counting (perf_event_paranoid, no PMU in a VM).
class InstructionCounter {
 public:
  explicit InstructionCounter(int pid) {
    if (pid <= 0) return;
    perf_event_attr attr{};
    attr.type = PERF_TYPE_HARDWARE;
    attr.size = sizeof attr;
    attr.config = PERF_COUNT_HW_INSTRUCTIONS;
    attr.exclude_hv = 1;
    fd_ = static_cast<int>(syscall(SYS_perf_event_open, &attr, pid, -1, -1, 0));
  }
  ~InstructionCounter() {
    if (fd_ >= 0) close(fd_);
  }
  InstructionCounter(const InstructionCounter&) = delete;
  InstructionCounter& operator=(const InstructionCounter&) = delete;
  InstructionCounter(InstructionCounter&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  double value() const {
    std::uint64_t v = 0;
    if (fd_ < 0 || read(fd_, &v, sizeof v) != static_cast<ssize_t>(sizeof v)) return -1;
    return static_cast<double>(v);
  }

 private:
  int fd_ = -1;
};
double self_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}
std::vector<double> loadavg() {
  std::ifstream in("/proc/loadavg");
  double a = 0, b = 0, c = 0;
  in >> a >> b >> c;
  return {a, b, c};
}

// ---- the registry -------------------------------------------------------------------------
template <class T>
T must(hub::Result<T> r, const char* what) {
  if (!r.ok()) throw std::runtime_error(std::string(what) + ": " + r.error().to_string());
  return std::move(r).value();
}

struct Registry {
  std::vector<std::string> numbers;  // the holding accounts
  std::vector<std::int64_t> ids;     // their account_id, same order
  double accounts_s = 0, funding_s = 0;
  int funding_postings = 0;
};

Registry set_up(Connection& app, Connection& owner, int n) {
  Registry reg;
  Ledger ledger(app);
  must(ledger.create_company(kOrganization, "GX推進機構", "organization", "bench"), "company");
  must(ledger.create_company(kCompany, "株式会社ベンチ", "covered", "bench"), "company");
  auto issuance = must(ledger.open_account(200, kOrganization, "発行口座", "bench"), "issuance account");

  // N accounts through gx_open_account, in one statement.
  auto t0 = Clock::now();
  std::string array = "{";
  for (int i = 1; i <= n; ++i) {
    reg.numbers.push_back(hub::registry::AccountNumber::make(hub::registry::AccountType::kHolding, i).str());
    array += (i > 1 ? "," : "") + reg.numbers.back();
  }
  array += "}";
  app.exec("SELECT count(gx_open_account(100::smallint, $1, 'bench', 'bench', n)) FROM unnest($2::text[]) n",
           {std::string(kCompany), array});
  reg.accounts_s = seconds_since(t0);

  // Funding: one issuance, then allocations of 100 accounts each (one debit of the
  // issuance account, 100 credits), all in one post_batch transaction.
  t0 = Clock::now();
  must(ledger.issue("bench-issue", kCause, "bench-approver", issuance, kVintage, kFunding * n), "issuance");
  constexpr int kPerAllocation = 100;
  std::vector<PostingRequest> batch;
  for (int from = 0; from < n; from += kPerAllocation) {
    int to = std::min(n, from + kPerAllocation);
    PostingRequest r{PostingKind::kAllocation, "bench-fund-" + std::to_string(from), kCause, "", "", std::nullopt,
                     {{issuance, UnitType::kGXA, kVintage, -kFunding * (to - from)}}, {}};
    for (int i = from; i < to; ++i) r.lines.push_back({reg.numbers[static_cast<std::size_t>(i)], UnitType::kGXA, kVintage, kFunding});
    batch.push_back(std::move(r));
  }
  reg.funding_postings = static_cast<int>(batch.size()) + 1;
  for (auto& r : ledger.post_batch(batch)) must(std::move(r), "allocation");
  reg.funding_s = seconds_since(t0);
  while (ledger.seal() > 0) {
  }
  // The funding entries have 101 lines each, so ANALYZE would see ~100 lines per entry and
  // plan look-ups of one entry's lines (gx_entry_lines_text) as hash joins over all accounts.
  // A registry in service holds mostly two-line entries: tell the planner so.
  owner.exec("ALTER TABLE journal_lines ALTER COLUMN entry_id SET (n_distinct = -0.5)");
  owner.exec("ANALYZE");

  auto ids = app.exec("SELECT account_id FROM accounts a JOIN unnest($1::text[]) WITH ORDINALITY u(n, i) "
                      "ON a.account_number = u.n ORDER BY u.i",
                      {array});
  for (int i = 0; i < ids.rows(); ++i) reg.ids.push_back(ids.get_int(i, 0));
  if (static_cast<int>(reg.ids.size()) != n) throw std::runtime_error("accounts missing after set-up");
  return reg;
}

// The floor: a transfer as two balance updates (in account_id order) and one journal row,
// nothing else; created as gx_owner only when a raw mode is asked for.
const char* const kRawSql = R"SQL(
CREATE TABLE IF NOT EXISTS bench_raw_journal (id bigserial PRIMARY KEY, from_id bigint NOT NULL, to_id bigint NOT NULL,
                                quantity bigint NOT NULL, at timestamptz NOT NULL DEFAULT now());
-- A copy of the funded balances (same key, same CHECK constraints): the ledger's own
-- balances stay as the journal says, so verify() still holds after raw runs.
CREATE TABLE IF NOT EXISTS bench_raw_balances (LIKE balances INCLUDING ALL);
INSERT INTO bench_raw_balances SELECT * FROM balances ON CONFLICT DO NOTHING;
CREATE OR REPLACE FUNCTION bench_raw_transfer(p_from bigint, p_to bigint, p_q bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  UPDATE bench_raw_balances SET quantity = quantity + CASE WHEN account_id = p_from THEN -p_q ELSE p_q END
   WHERE account_id = least(p_from, p_to) AND unit_type = 'GXA' AND vintage = 2026;
  UPDATE bench_raw_balances SET quantity = quantity + CASE WHEN account_id = p_from THEN -p_q ELSE p_q END
   WHERE account_id = greatest(p_from, p_to) AND unit_type = 'GXA' AND vintage = 2026;
  INSERT INTO bench_raw_journal (from_id, to_id, quantity) VALUES (p_from, p_to, p_q);
END $$;
-- The same as a batch in one call, set-based (raw_set): lock, one UPDATE of the net
-- changes by primary key, one INSERT of the journal rows.
CREATE OR REPLACE FUNCTION bench_raw_transfers(p_from bigint[], p_to bigint[], p_q bigint[]) RETURNS void
LANGUAGE plpgsql SET enable_hashjoin = off SET enable_mergejoin = off AS $$
BEGIN
  PERFORM 1 FROM bench_raw_balances WHERE account_id = ANY (p_from || p_to) AND unit_type = 'GXA' AND vintage = 2026
    ORDER BY account_id FOR NO KEY UPDATE;
  UPDATE bench_raw_balances b SET quantity = b.quantity + d.q
    FROM (SELECT x.id, sum(x.q) AS q
            FROM (SELECT f AS id, -q AS q FROM unnest(p_from, p_q) y(f, q)
                  UNION ALL SELECT t, q FROM unnest(p_to, p_q) y(t, q)) x GROUP BY x.id) d
   WHERE b.account_id = d.id AND b.unit_type = 'GXA' AND b.vintage = 2026;
  INSERT INTO bench_raw_journal (from_id, to_id, quantity) SELECT * FROM unnest(p_from, p_to, p_q);
END $$;
CREATE OR REPLACE FUNCTION bench_raw_lock(p_ids bigint[]) RETURNS integer LANGUAGE sql AS $$
  SELECT count(*)::integer FROM (SELECT 1 FROM bench_raw_balances WHERE account_id = ANY (p_ids) AND unit_type = 'GXA'
                                  AND vintage = 2026 ORDER BY account_id FOR NO KEY UPDATE) x
$$;
ANALYZE bench_raw_balances;
)SQL";

// ---- one run ------------------------------------------------------------------------------
struct Sealer {
  std::atomic<long long> calls{0}, sealed{0}, errors{0}, max_batch{0};
  std::atomic<long long> max_us{0};
  std::atomic<bool> stop{false};
  std::atomic<int> backend_pid{0};
  std::string first_error;
};

void run_sealer(const std::string& conninfo_app, int interval_ms, Sealer& s) {
  std::unique_ptr<Connection> conn;
  try {
    conn = Connection::connect(conninfo_app);
    s.backend_pid = static_cast<int>(conn->exec("SELECT pg_backend_pid()").get_int(0, 0));
  } catch (const std::exception& e) {
    s.errors++;
    s.first_error = e.what();
    return;
  }
  Ledger ledger(*conn);
  while (!s.stop) {
    auto t0 = Clock::now();
    try {
      long long n = ledger.seal();
      s.sealed += n;
      if (n > s.max_batch) s.max_batch = n;
    } catch (const std::exception& e) {
      if (s.errors++ == 0) s.first_error = e.what();
    }
    s.calls++;
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
    if (us > s.max_us) s.max_us = us;
    auto next = t0 + std::chrono::milliseconds(interval_ms);
    while (!s.stop && Clock::now() < next) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

struct WorkerResult {
  std::vector<double> lat_ms;  // per transaction completed inside the window
  long long transfers = 0, transactions = 0, refusals = 0, errors = 0;
  std::string first_error;
  int backend_pid = 0;
};

struct DbCounters {
  long long xact_commit = 0, xact_rollback = 0, deadlocks = 0, wal_sync = 0, wal_write = 0;
  std::string lsn;
};
DbCounters db_counters(Connection& c, const std::string& dbname) {
  auto r = c.exec(
      "SELECT xact_commit, xact_rollback, deadlocks, (SELECT wal_sync FROM pg_stat_wal), "
      "(SELECT wal_write FROM pg_stat_wal), pg_current_wal_lsn()::text FROM pg_stat_database WHERE datname = $1",
      {dbname});
  return {r.get_int(0, 0), r.get_int(0, 1), r.get_int(0, 2), r.get_int(0, 3), r.get_int(0, 4), r.get(0, 5)};
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  auto k = static_cast<std::size_t>(std::min<double>(static_cast<double>(v.size() - 1), std::floor(p * static_cast<double>(v.size()))));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

void sleep_until(Clock::time_point t) {
  while (!g_interrupted && Clock::now() < t) {
    auto left = t - Clock::now();
    std::this_thread::sleep_for(std::min<Clock::duration>(left, std::chrono::milliseconds(20)));
  }
}

json run_one(const Options& o, const ScratchDatabase& db, Connection& main, const Registry& reg,
             const std::string& mode, int writers, int run_no, Sealer& sealer) {
  const bool raw = mode.rfind("raw_", 0) == 0;
  const bool batched = mode != "single" && mode != "raw_single";
  const int per_tx = batched ? o.batch : 1;
  std::fprintf(stderr, "ledger_bench: run %d: %s, %d writer(s), %.0f s + %.0f s warm-up ...\n", run_no, mode.c_str(),
               writers, o.seconds, o.warmup);

  std::vector<WorkerResult> results(static_cast<std::size_t>(writers));
  std::latch connected(writers);
  std::atomic<bool> go{false};
  Clock::time_point window_start, window_end;  // written before go, read after
  std::vector<std::thread> threads;
  const std::string ci = raw ? db.owner() : db.app();

  for (int t = 0; t < writers; ++t) {
    threads.emplace_back([&, t] {
      auto& res = results[static_cast<std::size_t>(t)];
      std::unique_ptr<Connection> conn;
      try {
        conn = Connection::connect(ci);
        res.backend_pid = static_cast<int>(conn->exec("SELECT pg_backend_pid()").get_int(0, 0));
      } catch (const std::exception& e) {
        res.errors++;
        res.first_error = e.what();
      }
      connected.count_down();
      while (!go) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      if (!conn) return;
      Ledger ledger(*conn);
      std::mt19937_64 rng(static_cast<std::uint64_t>(run_no) * 1000003u + static_cast<std::uint64_t>(t));
      std::uniform_int_distribution<int> pick(0, static_cast<int>(reg.numbers.size()) - 1);
      std::uniform_int_distribution<int> qty(1, 10);
      auto pair = [&] {
        int a = pick(rng), b = pick(rng);
        while (b == a) b = pick(rng);
        return std::pair{a, b};
      };
      const std::string key_prefix = "r" + std::to_string(run_no) + "-" + std::to_string(t) + "-";
      long long seq = 0;
      res.lat_ms.reserve(200'000);
      while (!g_interrupted && Clock::now() < window_end) {
        long long ok = 0, refused = 0;
        bool failed = false;
        auto t0 = Clock::now();
        try {
          if (mode == "single") {
            auto [a, b] = pair();
            auto r = ledger.transfer(key_prefix + std::to_string(seq++), kCause, reg.numbers[a], reg.numbers[b],
                                     UnitType::kGXA, kVintage, qty(rng));
            (r.ok() ? ok : refused)++;
          } else if (mode == "batched") {
            std::vector<PostingRequest> batch;
            batch.reserve(static_cast<std::size_t>(per_tx));
            for (int k = 0; k < per_tx; ++k) {
              auto [a, b] = pair();
              std::int64_t q = qty(rng);
              batch.push_back({PostingKind::kTransfer, key_prefix + std::to_string(seq++), kCause, "", "", std::nullopt,
                               {{reg.numbers[a], UnitType::kGXA, kVintage, -q}, {reg.numbers[b], UnitType::kGXA, kVintage, q}},
                               {}});
            }
            for (const auto& r : ledger.post_batch(batch)) (r.ok() ? ok : refused)++;
          } else if (mode == "batched_set") {
            // As the intake consumer: its own transaction, the batch in one call.
            std::vector<TransferItem> items;
            items.reserve(static_cast<std::size_t>(per_tx));
            for (int k = 0; k < per_tx; ++k) {
              auto [a, b] = pair();
              items.push_back({key_prefix + std::to_string(seq++), kCause, reg.numbers[a], reg.numbers[b],
                               UnitType::kGXA, kVintage, qty(rng)});
            }
            hub::db::Transaction tx(*conn);
            for (const auto& r : ledger.transfer_batch(items)) (r.ok() ? ok : refused)++;
            tx.commit();
          } else if (mode == "batched_each") {
            // Before migration 0003: lock all accounts, then one gx_post per transfer.
            std::vector<std::pair<int, int>> pairs;
            std::string numbers = "{";
            for (int k = 0; k < per_tx; ++k) {
              pairs.push_back(pair());
              numbers += (k ? "," : "") + reg.numbers[pairs.back().first] + "," + reg.numbers[pairs.back().second];
            }
            numbers += "}";
            hub::db::Transaction tx(*conn);
            tx.exec("SELECT gx_lock_accounts($1::text[])", {numbers});
            for (auto [a, b] : pairs) {
              auto r = ledger.transfer(key_prefix + std::to_string(seq++), kCause, reg.numbers[a], reg.numbers[b],
                                       UnitType::kGXA, kVintage, qty(rng));
              (r.ok() ? ok : refused)++;
            }
            tx.commit();
          } else if (mode == "raw_set") {
            std::string from = "{", to = "{", qs = "{";
            for (int k = 0; k < per_tx; ++k) {
              auto [a, b] = pair();
              const char* sep = k ? "," : "";
              from += sep + std::to_string(reg.ids[a]);
              to += sep + std::to_string(reg.ids[b]);
              qs += sep + std::to_string(qty(rng));
            }
            conn->exec("SELECT bench_raw_transfers($1::bigint[], $2::bigint[], $3::bigint[])",
                       {from + "}", to + "}", qs + "}"});
            ok = per_tx;
          } else if (mode == "raw_single") {
            auto [a, b] = pair();
            conn->exec("SELECT bench_raw_transfer($1, $2, $3)",
                       {std::to_string(reg.ids[a]), std::to_string(reg.ids[b]), std::to_string(qty(rng))});
            ok = 1;
          } else {  // raw_batched
            std::vector<std::pair<int, int>> pairs;
            std::string ids = "{";
            for (int k = 0; k < per_tx; ++k) {
              pairs.push_back(pair());
              ids += (k ? "," : "") + std::to_string(reg.ids[pairs.back().first]) + "," +
                     std::to_string(reg.ids[pairs.back().second]);
            }
            ids += "}";
            hub::db::Transaction tx(*conn);
            tx.exec("SELECT bench_raw_lock($1::bigint[])", {ids});
            for (auto [a, b] : pairs) {
              tx.exec("SELECT bench_raw_transfer($1, $2, $3)",
                      {std::to_string(reg.ids[a]), std::to_string(reg.ids[b]), std::to_string(qty(rng))});
            }
            tx.commit();
            ok = per_tx;
          }
        } catch (const std::exception& e) {
          failed = true;
          if (res.errors == 0) res.first_error = e.what();
          res.errors++;
          if (!conn->healthy()) {
            try {
              conn = Connection::connect(ci);
            } catch (const std::exception&) {
              return;
            }
          }
        }
        auto t1 = Clock::now();
        if (t1 >= window_start && t1 < window_end && !failed) {
          res.transfers += ok;
          res.refusals += refused;
          res.transactions++;
          res.lat_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        }
      }
    });
  }
  connected.wait();
  auto before = db_counters(main, db.name());
  auto sealed_before = sealer.sealed.load();
  auto seal_calls_before = sealer.calls.load();
  auto seal_errors_before = sealer.errors.load();
  sealer.max_batch = 0;
  sealer.max_us = 0;
  auto start = Clock::now();
  window_start = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.warmup));
  window_end = window_start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  go = true;

  sleep_until(window_start);
  auto m0 = machine_cpu();
  double self0 = self_cpu_seconds();
  std::vector<ProcCpu> backend0;
  std::vector<InstructionCounter> backend_instructions;
  for (const auto& r : results) {
    backend0.push_back(process_cpu(r.backend_pid));
    backend_instructions.emplace_back(r.backend_pid);
  }
  double sealer0 = process_cpu_seconds(sealer.backend_pid);
  InstructionCounter sealer_instructions(sealer.backend_pid);
  auto mid = db_counters(main, db.name());
  sleep_until(window_end);
  auto m1 = machine_cpu();
  double self1 = self_cpu_seconds();
  double backends = 0, backends_waiting = 0, backends_ins = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    auto c = process_cpu(results[i].backend_pid);
    backends += c.on_cpu - backend0[i].on_cpu;
    backends_waiting += c.waiting - backend0[i].waiting;
    auto ins = backend_instructions[i].value();
    backends_ins = (ins < 0 || backends_ins < 0) ? -1 : backends_ins + ins;
  }
  double sealer_cpu = process_cpu_seconds(sealer.backend_pid) - sealer0;
  double sealer_ins = sealer_instructions.value();
  auto lsn_end = main.exec("SELECT pg_current_wal_lsn()::text").get(0, 0);
  auto load_end = loadavg();
  for (auto& th : threads) th.join();

  long long unsealed = main.exec("SELECT count(*) FROM journal_unsealed").get_int(0, 0);
  auto seal_max_batch = sealer.max_batch.load();
  auto seal_max_us = sealer.max_us.load();
  auto seal_calls = sealer.calls.load() - seal_calls_before;
  auto sealed = sealer.sealed.load() - sealed_before;
  auto drain0 = Clock::now();
  long long left = unsealed;
  while (left > 0 && o.seal_interval_ms > 0 && !g_interrupted && seconds_since(drain0) < 120) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    left = main.exec("SELECT count(*) FROM journal_unsealed").get_int(0, 0);
  }
  double drain_s = seconds_since(drain0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // statistics reach pg_stat_database
  auto after = db_counters(main, db.name());
  double wal_bytes = main.exec("SELECT pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn)::bigint", {lsn_end, mid.lsn}).get_int(0, 0);

  WorkerResult all;
  for (auto& r : results) {
    all.transfers += r.transfers;
    all.transactions += r.transactions;
    all.refusals += r.refusals;
    all.errors += r.errors;
    if (all.first_error.empty()) all.first_error = r.first_error;
    all.lat_ms.insert(all.lat_ms.end(), r.lat_ms.begin(), r.lat_ms.end());
  }
  double p50 = percentile(all.lat_ms, 0.50), p99 = percentile(all.lat_ms, 0.99);
  double max_ms = all.lat_ms.empty() ? 0 : *std::max_element(all.lat_ms.begin(), all.lat_ms.end());
  const double secs = o.seconds;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double machine_busy_s = static_cast<double>(m1.busy - m0.busy) / tick;
  const double machine_total_s = static_cast<double>(m1.total - m0.total) / tick;
  const double per = all.transfers > 0 ? 1e6 / static_cast<double>(all.transfers) : 0;

  json run = {
      {"mode", mode},
      {"writers", writers},
      {"postings_per_transaction", per_tx},
      {"seconds", secs},
      {"transfers", all.transfers},
      {"transfers_per_s", r1(static_cast<double>(all.transfers) / secs)},
      {"transactions_per_s", r1(static_cast<double>(all.transactions) / secs)},
      {"p50_ms", r3(p50)},
      {"p99_ms", r3(p99)},
      {"max_ms", r3(max_ms)},
      {"refusals", all.refusals},
      {"errors", all.errors},
      {"deadlocks", after.deadlocks - before.deadlocks},
      {"rollbacks", after.xact_rollback - before.xact_rollback},
      {"unsealed_at_end", unsealed},
      {"seal_drain_s", r2(drain_s)},
      {"sealer", {{"calls", seal_calls}, {"sealed", sealed}, {"max_batch", seal_max_batch}, {"max_ms", r1(seal_max_us / 1000.0)},
                  {"errors", sealer.errors.load() - seal_errors_before}, {"backend_cpu_s", r2(sealer_cpu)}}},
      {"cpu",
       {{"machine_busy_pct", r1(machine_total_s > 0 ? 100 * machine_busy_s / machine_total_s : 0)},
        {"bench_process_s", r2(self1 - self0)},
        {"writer_backends_s", r2(backends)},
        {"writer_backends_runqueue_wait_s", r2(backends_waiting)},
        {"server_us_per_transfer", r1(backends * per)},
        {"server_k_instructions_per_transfer", backends_ins < 0 ? -1.0 : r1(backends_ins * per / 1e9)},
        {"sealer_k_instructions_per_transfer", sealer_ins < 0 ? -1.0 : r1(sealer_ins * per / 1e9)},
        {"client_us_per_transfer", r1((self1 - self0) * per)},
        {"machine_us_per_transfer", r1(machine_busy_s * per)}}},
      {"wal",
       {{"bytes_per_transfer", r1(wal_bytes * per / 1e6)},
        {"syncs_per_s_approx", r1(static_cast<double>(after.wal_sync - mid.wal_sync) / secs)}}},
      {"load_1m_end", load_end[0]},
  };
  if (!all.first_error.empty()) run["first_error"] = all.first_error;
  std::fprintf(stderr,
               "ledger_bench:   %.0f transfers/s, %.0f tx/s, p50 %.2f ms, p99 %.2f ms, refusals %lld, errors %lld, "
               "unsealed at end %lld, machine busy %.0f %%, server %.0f k instructions per transfer\n",
               static_cast<double>(all.transfers) / secs, static_cast<double>(all.transactions) / secs, p50, p99,
               all.refusals, all.errors, unsealed, machine_total_s > 0 ? 100 * machine_busy_s / machine_total_s : 0,
               backends_ins < 0 ? -1.0 : backends_ins * per / 1e9);
  return run;
}


// ---- --profile: where a posting's server time goes -------------------------------------
// Each item runs a PL/pgSQL loop of `n` iterations in a fresh gx_owner session, inside a
// transaction that is rolled back (so items do not see each other's rows and the
// database is left as it was), after a warm-up of 100 iterations. It reports the
// backend's CPU time per iteration (/proc/<pid>/schedstat). No commit, no round trip: the
// cost of the SQL alone. Each iteration picks a random pair of the holding accounts and
// builds the posting's lines as jsonb, as the client would send them ("arguments only"
// is that part alone, to subtract).
struct ProfileItem {
  std::string name;
  int n;
  std::string setup;  // SQL run in the transaction first (DDL is rolled back too)
  std::string body;   // PL/pgSQL statements of one iteration
};

const char* const kProfileDo = R"SQL(
DO $do$
DECLARE
  acc text[] := (SELECT array_agg(account_number ORDER BY account_id) FROM accounts WHERE account_type = 100);
  ids bigint[] := (SELECT array_agg(account_id ORDER BY account_id) FROM accounts WHERE account_type = 100);
  na integer := cardinality(acc);
  a integer; b integer; j integer; lines jsonb; key text; t text; x bigint;
  ta text[]; tb text[]; tc smallint[]; td bigint[]; tk text[]; tx bigint[]; ty bigint[];
BEGIN
  FOR i IN 1..@N@ LOOP
    j := @BASE@ + i;  -- warm-up and measured loops use distinct keys and ids
    a := 1 + floor(random() * na)::integer;
    b := 1 + floor(random() * (na - 1))::integer;
    IF b >= a THEN b := b + 1; END IF;
    key := '@TAG@-' || j;
    lines := jsonb_build_array(jsonb_build_object('account', acc[a], 'unit', 'GXA', 'vintage', 2026, 'delta', -1),
                               jsonb_build_object('account', acc[b], 'unit', 'GXA', 'vintage', 2026, 'delta', 1));
    @BODY@
  END LOOP;
END $do$)SQL";

// 10,000 journal entries (ids 1,000,001..) for the items that insert rows referring to one.
const char* const kProfileEntries =
    "INSERT INTO journal_entries (entry_id, kind, idempotency_key, request_sha256, cause_type, cause_ref, posted_at, "
    "entry_hash) SELECT 1000000 + g, 'transfer', 'profile-' || g, '', 'system', 'bench', now(), '' "
    "FROM generate_series(1, 10000) g;";

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
  return s;
}

json run_profile(const ScratchDatabase& db, int scale) {
  const std::string post_call =
      "SELECT p.outcome INTO t FROM gx_post(key, repeat('0', 64), 'transfer', 'system', 'bench', '', '', NULL, lines, "
      "'[]'::jsonb) p; IF t <> 'posted' THEN RAISE EXCEPTION 'gx_post: %', t; END IF;";
  // gx_post as migration 0002 made it, taken from the embedded migration, installed in the
  // item's rolled-back transaction: the before of this series.
  const auto& m0002 = hub::db::embedded_migrations().at(1).sql;
  auto from = m0002.find("CREATE FUNCTION gx_post(");
  auto to = m0002.find("END $$;", from);
  if (from == std::string::npos || to == std::string::npos) throw std::runtime_error("no gx_post in migration 0002");
  const std::string gx_post_0002 = "CREATE OR REPLACE FUNCTION gx_post(" +
                                   m0002.substr(from + std::string("CREATE FUNCTION gx_post(").size(),
                                                to + 7 - from - std::string("CREATE FUNCTION gx_post(").size());
  auto batch_call = [](int n) {
    const auto ns = std::to_string(n);
    return "ta := coalesce(ta, '{}') || acc[a]; tb := coalesce(tb, '{}') || acc[b]; tk := coalesce(tk, '{}') || key; "
           "IF cardinality(tk) = " + ns + " THEN SELECT count(*) INTO x FROM gx_post_transfers(tk, "
           "array_fill(repeat('0', 64), ARRAY[" + ns + "]), array_fill('system'::text, ARRAY[" + ns + "]), "
           "array_fill('bench'::text, ARRAY[" + ns + "]), ta, tb, array_fill('GXA'::text, ARRAY[" + ns + "]), "
           "array_fill(2026::smallint, ARRAY[" + ns + "]), array_fill(1::bigint, ARRAY[" + ns + "])) p "
           "WHERE p.outcome = 'posted'; IF x <> " + ns + " THEN RAISE EXCEPTION 'gx_post_transfers: % posted', x; "
           "END IF; ta := NULL; tb := NULL; tk := NULL; END IF;";
  };
  const std::string lines_text = "'1,JP-GX-100-0000018,GXA,2026,-1;2,JP-GX-100-0000026,GXA,2026,1'";
  std::vector<ProfileItem> items = {
      {"arguments only (random pair, lines as jsonb)", 20000, "", "NULL;"},
      {"gx_post as in migration 0002", 300, gx_post_0002, post_call},
      {"gx_post (migration 0003, transfer path)", 3000, "", post_call},
      {"gx_post_transfers, per transfer, 100 per call", 5000, "", batch_call(100)},
      {"gx_post_transfers, per transfer, 1000 per call", 10000, "", batch_call(1000)},
      {"part: parse lines jsonb -> arrays", 20000, "",
       "SELECT array_agg(e.v->>'account' ORDER BY e.ord), array_agg(e.v->>'unit' ORDER BY e.ord), "
       "array_agg((e.v->>'vintage')::smallint ORDER BY e.ord), array_agg((e.v->>'delta')::bigint ORDER BY e.ord) "
       "INTO ta, tb, tc, td FROM jsonb_array_elements(lines) WITH ORDINALITY e(v, ord);"},
      {"part: lock 2 accounts FOR NO KEY UPDATE (reading id, type, state)", 5000, "",
       "SELECT array_agg(q.account_id) INTO td FROM (SELECT ac.account_id, ac.account_type, ac.state FROM accounts ac "
       "WHERE ac.account_number = ANY (ARRAY[acc[a], acc[b]]) ORDER BY ac.account_id FOR NO KEY UPDATE) q;"},
      {"part: idempotency look-up", 20000, "",
       "SELECT e.entry_id INTO x FROM journal_entries e WHERE e.idempotency_key = key;"},
      {"part: 2 balance updates by primary key", 5000, "",
       "UPDATE balances SET quantity = quantity - 1 WHERE account_id = ids[a] AND unit_type = 'GXA' AND vintage = 2026; "
       "UPDATE balances SET quantity = quantity + 1 WHERE account_id = ids[b] AND unit_type = 'GXA' AND vintage = 2026;"},
      {"part: insert 2 journal_lines", 5000, "",
       "INSERT INTO journal_lines VALUES (1000000 + j, 1, ids[a], 'GXA', 2026, -1), (1000000 + j, 2, ids[b], 'GXA', 2026, 1);"},
      {"part: gx_entry_lines_text(entry) (0002 reads the 2 lines back)", 20000,
       kProfileEntries + std::string("INSERT INTO journal_lines SELECT 1000000 + g, l, 1 + l, 'GXA', 2026, 3 - 2 * l "
                                     "FROM generate_series(1, 10000) g, generate_series(1, 2) l;"),
       "t := gx_entry_lines_text(1000001 + j % 10000);"},
      {"part: gx_entry_digest (SHA-256 of the entry text)", 20000, "",
       "t := gx_entry_digest(j, 'transfer', key, repeat('0', 64), 'system', 'bench', '', '', NULL, clock_timestamp(), " +
           lines_text + ", NULL);"},
      {"part: insert journal_entries (with digest)", 5000, "",
       "x := nextval('journal_entry_seq'); INSERT INTO journal_entries VALUES (x, 'transfer', key, repeat('0', 64), "
       "'system', 'bench', '', '', NULL, clock_timestamp(), gx_entry_digest(x, 'transfer', key, repeat('0', 64), "
       "'system', 'bench', '', '', NULL, clock_timestamp(), " + lines_text + ", NULL));"},
      {"part: insert journal_unsealed", 9000, "",
       "INSERT INTO journal_unsealed VALUES (1000000 + j);"},
      {"raw transfer: 2 updates + 1 journal row (bench_raw_transfer)", 5000, kRawSql,
       "PERFORM bench_raw_transfer(ids[a], ids[b], 1);"},
      {"raw transfers, set-based, per transfer, 100 per call (bench_raw_transfers)", 10000, kRawSql,
       "tx := coalesce(tx, '{}') || ids[a]; ty := coalesce(ty, '{}') || ids[b]; "
       "IF cardinality(tx) = 100 THEN PERFORM bench_raw_transfers(tx, ty, array_fill(1::bigint, ARRAY[100])); "
       "tx := NULL; ty := NULL; END IF;"},
  };
  json out = json::array();
  int k = 0;
  for (const auto& it : items) {
    if (g_interrupted) break;
    int n = std::max(1, it.n * scale / 100);
    auto conn = Connection::connect(db.owner());
    int pid = static_cast<int>(conn->exec("SELECT pg_backend_pid()").get_int(0, 0));
    conn->exec("BEGIN");
    if (!it.setup.empty()) conn->exec_script(it.setup);
    auto sql = replace_all(replace_all(kProfileDo, "@BODY@", it.body), "@TAG@", "p" + std::to_string(++k));
    // Warm-up: plans cached, pages in memory.
    conn->exec_script(replace_all(replace_all(sql, "@N@", "100"), "@BASE@", "0"));
    InstructionCounter instructions(pid);
    auto c0 = process_cpu(pid);
    auto t0 = Clock::now();
    conn->exec_script(replace_all(replace_all(sql, "@N@", std::to_string(n)), "@BASE@", "100"));
    double wall = seconds_since(t0);
    auto c1 = process_cpu(pid);
    double ins = instructions.value();
    conn->exec("ROLLBACK");
    double us = (c1.on_cpu - c0.on_cpu) * 1e6 / n;
    double kins = ins < 0 ? -1 : ins / 1000 / n;
    std::fprintf(stderr, "ledger_bench: profile: %-70s %9.1f us CPU, %8.1f k instructions per iteration (n=%d)\n",
                 it.name.c_str(), us, kins, n);
    out.push_back({{"item", it.name}, {"n", n}, {"cpu_us", r1(us)}, {"k_instructions", r1(kins)},
                   {"wall_s", r2(wall)}, {"runqueue_wait_s", r2(c1.waiting - c0.waiting)}});
  }
  // Client side: one round trip of a trivial statement, and the client's own work per
  // transfer (validation, canonical JSON, SHA-256, the call) without the database.
  {
    auto conn = Connection::connect(db.app());
    int pid = static_cast<int>(conn->exec("SELECT pg_backend_pid()").get_int(0, 0));
    const int n = std::max(1, 20000 * scale / 100);
    for (int i = 0; i < 200; ++i) conn->exec("SELECT $1::text", {std::to_string(i)});
    auto c0 = process_cpu(pid);
    double self0 = self_cpu_seconds();
    auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) conn->exec("SELECT $1::text", {std::to_string(i)});
    double wall = seconds_since(t0);
    auto c1 = process_cpu(pid);
    double self1 = self_cpu_seconds();
    out.push_back({{"item", "round trip SELECT $1::text (server / client CPU, wall per call)"},
                   {"n", n},
                   {"cpu_us", r1((c1.on_cpu - c0.on_cpu) * 1e6 / n)},
                   {"client_cpu_us", r1((self1 - self0) * 1e6 / n)},
                   {"wall_us", r1(wall * 1e6 / n)}});
    std::fprintf(stderr, "ledger_bench: profile: round trip: server %.1f us, client %.1f us CPU, wall %.1f us\n",
                 (c1.on_cpu - c0.on_cpu) * 1e6 / n, (self1 - self0) * 1e6 / n, wall * 1e6 / n);
    PostingRequest req{PostingKind::kTransfer, "", kCause, "", "", std::nullopt,
                       {{"JP-GX-100-0000018", UnitType::kGXA, kVintage, -1}, {"JP-GX-100-0000026", UnitType::kGXA, kVintage, 1}},
                       {}};
    const int m = std::max(1, 50000 * scale / 100);
    self0 = self_cpu_seconds();
    std::size_t sink = 0;
    for (int i = 0; i < m; ++i) {
      req.idempotency_key = "k" + std::to_string(i);
      sink += req.sha256().size() + req.canonical_json().size();
    }
    self1 = self_cpu_seconds();
    out.push_back({{"item", "client: canonical JSON + SHA-256 of a transfer request (Ledger computes both per call)"},
                   {"n", m},
                   {"client_cpu_us", r1((self1 - self0) * 1e6 / m)},
                   {"sink", sink % 7}});
  }
  return out;
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string os_name() {
  std::ifstream in("/etc/os-release");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("PRETTY_NAME=", 0) == 0) {
      auto v = line.substr(12);
      if (v.size() >= 2 && v.front() == '"') v = v.substr(1, v.size() - 2);
      return v;
    }
  }
  return "unknown";
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse_options(argc, argv);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  json out = {{"bench", "ledger"}, {"command", o.command}, {"date", utc_now()}};
  utsname un{};
  uname(&un);
  out["machine"] = {{"cores", std::thread::hardware_concurrency()}, {"os", os_name()}, {"kernel", un.release},
                    {"load_at_start", loadavg()}};
  out["settings"] = {{"accounts", o.accounts}, {"seconds", o.seconds}, {"warmup_s", o.warmup}, {"batch", o.batch},
                     {"seal_interval_ms", o.seal_interval_ms}, {"sql", o.sql_files}, {"modes", o.modes},
                     {"writers", o.writers}};
  int rc = 0;
  try {
    ScratchDatabase db("ledger_bench");
    if (o.keep) db.keep();
    out["database"] = db.name();
    std::fprintf(stderr, "ledger_bench: database %s\n", db.name().c_str());
    if (o.explain_slow_ms > 0) {
      // As gx_super: every later session in the scratch database loads auto_explain.
      auto super = Connection::connect(conninfo("gx_super", secret("pg_super.password"), db.name()));
      const std::string alter = "ALTER DATABASE " + db.name() + " SET ";
      super->exec(alter + "session_preload_libraries = 'auto_explain'");
      super->exec(alter + "auto_explain.log_min_duration = " + std::to_string(o.explain_slow_ms));
      super->exec(alter + "auto_explain.log_nested_statements = on");
    }
    auto owner = Connection::connect(db.owner());
    auto mig = hub::db::apply_migrations(*owner, hub::db::embedded_migrations());
    if (!mig.ok()) throw std::runtime_error(mig.error().to_string());
    out["schema_version"] = mig.value().schema_version;
    for (const auto& f : o.sql_files) {
      std::fprintf(stderr, "ledger_bench: applying %s as gx_owner\n", f.c_str());
      owner->exec_script(read_text(f));
    }
    auto main_conn = Connection::connect(db.app());
    auto show = [&](const char* name) { return main_conn->exec(std::string("SHOW ") + name).get(0, 0); };
    out["server"] = {{"version", main_conn->server_version_text()},
                     {"fsync", show("fsync")},
                     {"synchronous_commit", show("synchronous_commit")},
                     {"wal_sync_method", show("wal_sync_method")},
                     {"full_page_writes", show("full_page_writes")},
                     {"commit_delay", show("commit_delay")},
                     {"archive_mode", show("archive_mode")},
                     {"shared_buffers", show("shared_buffers")}};

    std::fprintf(stderr, "ledger_bench: opening and funding %d accounts ...\n", o.accounts);
    auto reg = set_up(*main_conn, *owner, o.accounts);
    out["setup"] = {{"accounts_s", r2(reg.accounts_s)},
                    {"funding_s", r2(reg.funding_s)},
                    {"funding_postings", reg.funding_postings}};
    std::fprintf(stderr, "ledger_bench: accounts in %.2f s, funding (%d postings, %d lines) in %.2f s\n",
                 reg.accounts_s, reg.funding_postings, o.accounts + reg.funding_postings, reg.funding_s);

    // The raw modes' tables start from the funded balances.
    bool raw = std::any_of(o.modes.begin(), o.modes.end(), [](const auto& m) { return m.rfind("raw_", 0) == 0; });
    if (raw) owner->exec_script(kRawSql);
    if (o.profile > 0) out["profile"] = run_profile(db, o.profile);

    Sealer sealer;
    std::thread sealer_thread;
    std::string sealer_ci = db.app();
    if (o.explain_sealer_ms > 0) {
      sealer_ci = conninfo("gx_super", secret("pg_super.password"), db.name()) +
                  " options='-c session_preload_libraries=auto_explain -c auto_explain.log_nested_statements=on"
                  " -c auto_explain.log_min_duration=" + std::to_string(o.explain_sealer_ms) + "'";
    }
    if (o.seal_interval_ms > 0) sealer_thread = std::thread(run_sealer, sealer_ci, o.seal_interval_ms, std::ref(sealer));
    json runs = json::array();
    int run_no = 0;
    for (const auto& mode : o.modes) {
      for (int w : o.writers) {
        if (g_interrupted) break;
        runs.push_back(run_one(o, db, *main_conn, reg, mode, w, ++run_no, sealer));
      }
    }
    sealer.stop = true;
    if (sealer_thread.joinable()) sealer_thread.join();
    out["runs"] = runs;
    if (!sealer.first_error.empty()) out["sealer_first_error"] = sealer.first_error;

    std::fprintf(stderr, "ledger_bench: verify ...\n");
    Ledger ledger(*main_conn);
    auto rep = ledger.verify();
    json breaks = json::array();
    for (std::size_t i = 0; i < rep.breaks.size() && i < 5; ++i) {
      breaks.push_back(rep.breaks[i].kind + ": " + rep.breaks[i].detail);
    }
    out["verify"] = {{"ok", rep.ok()},          {"seconds", r2(rep.seconds)}, {"entries", rep.entries},
                     {"lines", rep.lines},      {"sealed", rep.sealed},       {"balances", rep.balances},
                     {"breaks", rep.breaks.size()}, {"first_breaks", breaks}, {"totals", rep.totals}};
    if (!rep.ok()) rc = 1;

    auto best = [&](const std::string& mode) {
      double b = 0;
      for (const auto& r : runs) {
        if (r["mode"] == mode) b = std::max(b, r["transfers_per_s"].get<double>());
      }
      return b;
    };
    out["targets"] = {{"single_transfers_per_s", 6000},
                      {"batched_transfers_per_s", 30000},
                      {"single_best", best("single")},
                      {"batched_best", std::max(best("batched"), best("batched_set"))},
                      {"single_met", best("single") >= 6000},
                      {"batched_met", std::max(best("batched"), best("batched_set")) >= 30000}};
    if (o.keep) std::fprintf(stderr, "ledger_bench: kept database %s\n", db.name().c_str());
  } catch (const std::exception& e) {
    out["error"] = e.what();
    std::fprintf(stderr, "ledger_bench: error: %s\n", e.what());
    rc = 1;
  }
  out["machine"]["load_at_end"] = loadavg();
  if (g_interrupted) out["interrupted"] = true;
  std::cout << out.dump(-1, ' ', false, json::error_handler_t::replace) << std::endl;
  return rc;
}
