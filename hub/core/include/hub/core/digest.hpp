#pragma once
#include <string>
#include <string_view>

namespace hub {
// Lower-case hex SHA-256 of the bytes.
std::string sha256_hex(std::string_view data);
// Lower-case hex of the bytes.
std::string to_hex(std::string_view data);
}  // namespace hub
