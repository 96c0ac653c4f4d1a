#pragma once
// hubctl's intake commands: exceptions (what waits for a person), messages (the state and
// current receipt of a connector message) and quarantine (refused bodies). Read-only;
// operators act on exceptions in the console (issue 7).

#include <optional>
#include <string>
#include <vector>

#include "hub/app/settings.hpp"

namespace hub::app {

// Runs the command in args (args[0] is its name); nullopt when it is not one of these.
std::optional<int> run_intake_command(const HubSettings& settings, const std::vector<std::string>& args);
std::string intake_commands_usage();

}  // namespace hub::app
