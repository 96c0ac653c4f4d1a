#include "hub/core/config.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace hub {
namespace {

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

bool valid_name(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '-' || c == '.';
  });
}

}  // namespace

Config::EnvLookup Config::process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (const char* v = std::getenv(name.c_str())) return std::string(v);
    return std::nullopt;
  };
}

std::string Config::env_name(const std::string& key) {
  std::string out = "HUB_";
  for (char c : key) {
    out += (c == '.' || c == '-') ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

Result<Config> Config::parse(const std::string& text, const std::string& origin,
                             const EnvLookup& env) {
  Config cfg;
  cfg.origin_ = origin;
  std::istringstream in(text);
  std::string line;
  std::string section;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    std::string t = trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    if (t.front() == '[') {
      if (t.back() != ']') {
        return make_error("CONFIG_INVALID", origin + ":" + std::to_string(lineno) +
                                                ": section header must end with ']'");
      }
      section = trim(std::string_view(t).substr(1, t.size() - 2));
      if (!valid_name(section)) {
        return make_error("CONFIG_INVALID",
                          origin + ":" + std::to_string(lineno) + ": bad section name");
      }
      continue;
    }
    auto eq = t.find('=');
    if (eq == std::string::npos) {
      return make_error("CONFIG_INVALID", origin + ":" + std::to_string(lineno) +
                                              ": expected `key = value`, got `" + t + "`");
    }
    std::string key = trim(std::string_view(t).substr(0, eq));
    std::string value = trim(std::string_view(t).substr(eq + 1));
    if (!valid_name(key)) {
      return make_error("CONFIG_INVALID",
                        origin + ":" + std::to_string(lineno) + ": bad key `" + key + "`");
    }
    // Values may be quoted to keep leading/trailing spaces or a '#'.
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    } else if (auto hash = value.find(" #"); hash != std::string::npos) {
      value = trim(std::string_view(value).substr(0, hash));
    }
    std::string full = section.empty() ? key : section + "." + key;
    if (cfg.lines_.count(full)) {
      return make_error("CONFIG_INVALID", origin + ":" + std::to_string(lineno) + ": `" + full +
                                              "` is set twice (first on line " +
                                              std::to_string(cfg.lines_[full]) + ")");
    }
    cfg.values_[full] = value;
    cfg.lines_[full] = lineno;
  }
  if (env) {
    for (auto& [key, value] : cfg.values_) {
      if (auto v = env(env_name(key))) value = *v;
    }
  }
  return cfg;
}

Result<Config> Config::load(const std::filesystem::path& file, const EnvLookup& env) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return make_error("CONFIG_INVALID", "cannot read configuration file " + file.string());
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), file.string(), env);
}

std::optional<std::string> Config::find(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string Config::get_string(const std::string& key, const std::string& fallback) const {
  return find(key).value_or(fallback);
}

Result<std::string> Config::require_string(const std::string& key) const {
  auto v = find(key);
  if (!v || v->empty()) {
    return make_error("CONFIG_INVALID", origin_ + ": `" + key + "` is required (or set " +
                                            env_name(key) + ")");
  }
  return *v;
}

Result<std::int64_t> Config::get_int(const std::string& key, std::int64_t fallback) const {
  auto v = find(key);
  if (!v) return fallback;
  try {
    std::size_t pos = 0;
    long long n = std::stoll(*v, &pos);
    if (pos != v->size()) throw std::invalid_argument("trailing");
    return static_cast<std::int64_t>(n);
  } catch (const std::exception&) {
    return make_error("CONFIG_INVALID",
                      origin_ + ": `" + key + "` must be a whole number, got `" + *v + "`");
  }
}

Result<bool> Config::get_bool(const std::string& key, bool fallback) const {
  auto v = find(key);
  if (!v) return fallback;
  if (*v == "true" || *v == "yes" || *v == "on" || *v == "1") return true;
  if (*v == "false" || *v == "no" || *v == "off" || *v == "0") return false;
  return make_error("CONFIG_INVALID",
                    origin_ + ": `" + key + "` must be true or false, got `" + *v + "`");
}

Result<std::chrono::milliseconds> Config::get_duration(const std::string& key,
                                                       std::chrono::milliseconds fallback) const {
  auto v = find(key);
  if (!v) return fallback;
  std::size_t i = 0;
  while (i < v->size() && std::isdigit(static_cast<unsigned char>((*v)[i]))) ++i;
  std::string unit = v->substr(i);
  if (i == 0) {
    return make_error("CONFIG_INVALID", origin_ + ": `" + key +
                                            "` must be a duration like 500ms, 30s, 5m, 2h; got `" +
                                            *v + "`");
  }
  long long n = std::stoll(v->substr(0, i));
  using namespace std::chrono;
  if (unit == "ms") return milliseconds(n);
  if (unit == "s") return duration_cast<milliseconds>(seconds(n));
  if (unit == "m") return duration_cast<milliseconds>(minutes(n));
  if (unit == "h") return duration_cast<milliseconds>(hours(n));
  return make_error("CONFIG_INVALID", origin_ + ": `" + key +
                                          "` must be a duration like 500ms, 30s, 5m, 2h; got `" +
                                          *v + "`");
}

std::filesystem::path Config::get_path(const std::string& key, const std::string& fallback) const {
  std::filesystem::path p = get_string(key, fallback);
  if (p.empty() || p.is_absolute()) return p;
  return base_dir_ / p;
}

Result<std::string> Config::read_secret_file(const std::string& key) const {
  auto path = get_path(key, "");
  if (path.empty()) return make_error("CONFIG_INVALID", origin_ + ": `" + key + "` is required");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error("CONFIG_INVALID", "cannot read the secret file " + path.string() +
                                            " named by `" + key + "`");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return trim(ss.str());
}

std::vector<std::string> Config::keys() const {
  std::vector<std::string> out;
  for (auto& [k, v] : values_) out.push_back(k);
  return out;
}

}  // namespace hub
