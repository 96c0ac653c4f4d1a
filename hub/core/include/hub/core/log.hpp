#pragma once
// Structured logging: one JSON object per line ({"ts","level","module","msg",...fields}).
// One Logger per module. Loggers are cheap values; the sink is process-wide and
// thread-safe. Never log secrets or whole payloads at info level.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace hub {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

class Logger {
 public:
  explicit Logger(std::string module) : module_(std::move(module)) {}

  void debug(std::string_view msg, const nlohmann::json& fields = {}) const {
    write(LogLevel::kDebug, msg, fields);
  }
  void info(std::string_view msg, const nlohmann::json& fields = {}) const {
    write(LogLevel::kInfo, msg, fields);
  }
  void warn(std::string_view msg, const nlohmann::json& fields = {}) const {
    write(LogLevel::kWarn, msg, fields);
  }
  void error(std::string_view msg, const nlohmann::json& fields = {}) const {
    write(LogLevel::kError, msg, fields);
  }
  void write(LogLevel level, std::string_view msg, const nlohmann::json& fields) const;

  // Process-wide settings: minimum level, and where lines go (default stderr; an empty
  // path means stderr).
  static void set_level(LogLevel level);
  static bool parse_level(std::string_view text, LogLevel& out);
  static void set_file(const std::string& path);

 private:
  std::string module_;
};

}  // namespace hub
