#pragma once
// The daemon's configuration: an INI-like file of `key = value` lines under `[section]`
// headers, `#` comments. Keys are addressed as "section.key". Every key can be
// overridden by an environment variable HUB_<SECTION>_<KEY> (upper case, dots and dashes
// as underscores), so scripts and tests can move ports without editing the file.
// Immutable after load; safe to read from many threads.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hub/core/result.hpp"

namespace hub {

class Config {
 public:
  using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

  // Parses text; `origin` names the file in error messages. env may be empty (no overrides).
  static Result<Config> parse(const std::string& text, const std::string& origin,
                              const EnvLookup& env = process_env());
  static Result<Config> load(const std::filesystem::path& file,
                             const EnvLookup& env = process_env());
  static EnvLookup process_env();

  std::optional<std::string> find(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  Result<std::string> require_string(const std::string& key) const;
  Result<std::int64_t> get_int(const std::string& key, std::int64_t fallback) const;
  Result<bool> get_bool(const std::string& key, bool fallback) const;
  // Durations are written with a unit: 250ms, 30s, 5m, 2h.
  Result<std::chrono::milliseconds> get_duration(const std::string& key,
                                                 std::chrono::milliseconds fallback) const;
  // A path value; relative paths are resolved against base_dir().
  std::filesystem::path get_path(const std::string& key, const std::string& fallback) const;
  // Reads a secret from the file named by `key` (whitespace trimmed).
  Result<std::string> read_secret_file(const std::string& key) const;

  void set(const std::string& key, std::string value) { values_[key] = std::move(value); }
  const std::filesystem::path& base_dir() const { return base_dir_; }
  void set_base_dir(std::filesystem::path dir) { base_dir_ = std::move(dir); }
  const std::string& origin() const { return origin_; }
  std::vector<std::string> keys() const;

  static std::string env_name(const std::string& key);

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, int> lines_;
  std::string origin_;
  std::filesystem::path base_dir_ = std::filesystem::current_path();
};

}  // namespace hub
