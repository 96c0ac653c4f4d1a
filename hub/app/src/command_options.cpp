#include "hub/app/command_options.hpp"

namespace hub::app {

Options parse_options(const std::vector<std::string>& args, std::size_t from) {
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

std::string need(const Options& o, const std::string& name) {
  auto it = o.named.find(name);
  if (it == o.named.end() || it->second.empty()) throw Usage("--" + name + " is required");
  return it->second;
}

std::string opt(const Options& o, const std::string& name, const std::string& fallback) {
  auto it = o.named.find(name);
  return it == o.named.end() ? fallback : it->second;
}

std::int64_t need_int(const Options& o, const std::string& name) {
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

}  // namespace hub::app
