#pragma once
// One simulator session: sends what the options say, checks every answer, optionally awaits
// final outcomes, sends statements, receives callbacks, and writes the journal, progress
// (to `err`) and the summary (the last line of `out`).

#include <atomic>
#include <ostream>

#include "gxm/options.hpp"

namespace gxm {

// Returns the exit code: 0 all checks passed, 1 a check failed, 2 bad set-up. `stop` ends
// the session early (SIGTERM): no new message is started, the summary is still written.
int run_simulator(Options options, std::ostream& out, std::ostream& err,
                  const std::atomic<bool>& stop);

}  // namespace gxm
