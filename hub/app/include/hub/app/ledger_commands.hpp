#pragma once
// hubctl's registry commands: companies, accounts, issuance, allocation, transfers,
// balances, history, ledger verify/seal, backup and restore. They go through the
// registry's posting engine as the hub's working role, never through table writes.

#include <optional>
#include <string>
#include <vector>

#include "hub/app/settings.hpp"

namespace hub::app {

// Runs the command in args (args[0] is its name). Returns the process exit code, or
// nullopt when args[0] is not one of these commands.
std::optional<int> run_ledger_command(const HubSettings& settings, const std::vector<std::string>& args);

// The usage lines of these commands, for hubctl --help.
std::string ledger_commands_usage();

}  // namespace hub::app
