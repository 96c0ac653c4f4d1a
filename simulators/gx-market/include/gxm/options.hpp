#pragma once
// gxm-sim's command line. parse_options() only reads and range-checks the flags; files are
// opened by the runner.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gxm/result.hpp"

namespace gxm {

struct Options {
  // Where and who.
  std::string hub_url;
  std::string pki_dir;  // fills the file options below that were not given
  std::string ca_file, cert_file, key_file;
  std::string sign_key_file, kid;
  std::string receipt_cert_file;
  // What and how much.
  std::optional<uint64_t> count;  // default 100; unbounded in --demo
  double rate = 0;                // messages per second, 0 = as fast as possible
  int concurrency = 4;
  int64_t batch_size = 0;
  std::vector<std::string> accounts;
  std::string accounts_file;
  int64_t quantity_min = 1, quantity_max = 10;
  int64_t price_min = 1700, price_max = 4300;
  int64_t vintage = 2026;
  int64_t insufficient_quantity = 10'000'000;
  std::string trade_date, settlement_date;  // default: today in Japan
  std::optional<uint64_t> seed;
  std::string run_id;
  std::string faults;
  bool idempotency_header = true;
  // Timing.
  double timeout_s = 30;
  double retry_for_s = 120;
  bool await_final = false;
  double await_timeout_s = 120;
  double poll_interval_s = 0.5;
  // Statements.
  bool statement = false;
  std::string statement_breaks;
  bool statement_correct = false;
  // Output.
  std::string journal_file;
  double progress_s = 5;
  // Callback receiver.
  std::string callback_listen;
  std::string callback_cert_file, callback_key_file, callback_client_ca_file;
  int callback_fail_first = 0;
  double callback_wait_s = 0;
  // Demo.
  bool demo = false;
  double demo_interval_s = 2;

  bool help = false;
};

Result<Options> parse_options(int argc, const char* const* argv);
// Fills file options from --pki and applies the defaults that depend on other options;
// checks that everything a run needs is there.
Status finish_options(Options& o);
std::string help_text();

}  // namespace gxm
