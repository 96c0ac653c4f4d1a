#pragma once
// hubctl's trust and audit commands (docs/trust.md): list, register, rotate and revoke
// the TLS client credentials and signing keys of each connector, import the dev PKI, and
// list and verify the audit trail. Every change is recorded with the actor
// "os:<the OS user running hubctl>".

#include <optional>
#include <string>
#include <vector>

#include "hub/app/settings.hpp"

namespace hub::app {

// Runs `trust ...` or `audit ...` (args[0] is the command). Returns the exit code, or
// nullopt when args[0] is neither.
std::optional<int> run_trust_command(const HubSettings& settings, const std::vector<std::string>& args);

// The usage lines of these commands, for hubctl --help.
std::string trust_commands_usage();

}  // namespace hub::app
