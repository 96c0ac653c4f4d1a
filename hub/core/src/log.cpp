#include "hub/core/log.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "hub/core/clock.hpp"

namespace hub {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_mu;
FILE* g_out = nullptr;  // guarded by g_mu; nullptr means stderr

const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

}  // namespace

void Logger::set_level(LogLevel level) { g_level = static_cast<int>(level); }

bool Logger::parse_level(std::string_view text, LogLevel& out) {
  if (text == "debug") out = LogLevel::kDebug;
  else if (text == "info") out = LogLevel::kInfo;
  else if (text == "warn") out = LogLevel::kWarn;
  else if (text == "error") out = LogLevel::kError;
  else return false;
  return true;
}

void Logger::set_file(const std::string& path) {
  std::lock_guard lock(g_mu);
  if (g_out) std::fclose(g_out);
  g_out = path.empty() ? nullptr : std::fopen(path.c_str(), "a");
}

void Logger::write(LogLevel level, std::string_view msg, const nlohmann::json& fields) const {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return;
  nlohmann::json line = {{"ts", format_rfc3339_utc(SystemClock::instance().now())},
                         {"level", level_name(level)},
                         {"module", module_},
                         {"msg", msg}};
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) line[it.key()] = it.value();
  }
  // Replace invalid UTF-8 rather than throw: a log line must never take the process down.
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text += '\n';
  std::lock_guard lock(g_mu);
  FILE* out = g_out ? g_out : stderr;
  std::fwrite(text.data(), 1, text.size(), out);
  std::fflush(out);
}

}  // namespace hub
