#pragma once
// The small command-line grammar every hubctl command shares: positional words, then
// `--name value` options and `--flag`s. Usage errors are thrown as cli::Usage and printed
// by the command with its usage line.

#include <cstdint>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace hub::app::cli {

struct Options {
  std::vector<std::string> positional;
  std::map<std::string, std::string> named;
  std::set<std::string> flags;
};

// --name value pairs; a --flag followed by another --option (or nothing) is a flag.
inline Options parse(const std::vector<std::string>& args, std::size_t from) {
  Options o;
  for (std::size_t i = from; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a.rfind("--", 0) == 0) {
      if (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) {
        o.named[a.substr(2)] = args[++i];
      } else {
        o.flags.insert(a.substr(2));
      }
    } else {
      o.positional.push_back(a);
    }
  }
  return o;
}

class Usage : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline std::string need(const Options& o, const std::string& name) {
  auto it = o.named.find(name);
  if (it == o.named.end() || it->second.empty()) throw Usage("--" + name + " is required");
  return it->second;
}

inline std::string opt(const Options& o, const std::string& name, const std::string& fallback) {
  auto it = o.named.find(name);
  return it == o.named.end() ? fallback : it->second;
}

inline std::int64_t need_int(const Options& o, const std::string& name) {
  auto text = need(o, name);
  try {
    std::size_t pos = 0;
    auto v = std::stoll(text, &pos);
    if (pos != text.size()) throw std::invalid_argument("trailing");
    return v;
  } catch (const std::exception&) {
    throw Usage("--" + name + " must be a whole number, got '" + text + "'");
  }
}

}  // namespace hub::app::cli
