// gxm-sim: the allowance trading market simulator. See `gxm-sim --help` and
// docs/simulators.md.
#include <csignal>
#include <iostream>

#include "gxm/options.hpp"
#include "gxm/runner.hpp"

namespace {
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler needs a lock-free flag");
void on_signal(int) { g_stop.store(true); }
}  // namespace

int main(int argc, char** argv) {
  auto opts = gxm::parse_options(argc, argv);
  if (!opts) {
    std::cerr << "gxm-sim: " << opts.error().message << "\n";
    return 2;
  }
  if (opts->help) {
    std::cout << gxm::help_text();
    return 0;
  }
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  return gxm::run_simulator(std::move(*opts), std::cout, std::cerr, g_stop);
}
