#pragma once
// The option syntax shared by hubctl's commands: `--name value` pairs, `--flag`s (an
// option followed by another option or by nothing) and positional arguments.

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace hub::app {

struct Options {
  std::vector<std::string> positional;
  std::map<std::string, std::string> named;
  std::set<std::string> flags;

  bool flag(const std::string& name) const { return flags.count(name) > 0; }
  bool has(const std::string& name) const { return named.count(name) > 0; }
};

// Parses args[from..].
Options parse_options(const std::vector<std::string>& args, std::size_t from);

// A mistake in the command line: the command prints it with its usage and exits 2.
class Usage : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The value of --name; throws Usage when it is missing or empty.
std::string need(const Options& o, const std::string& name);
std::string opt(const Options& o, const std::string& name, const std::string& fallback);
// --name as a whole number; throws Usage otherwise.
std::int64_t need_int(const Options& o, const std::string& name);

}  // namespace hub::app
