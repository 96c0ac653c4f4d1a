#pragma once

namespace hub {
inline constexpr const char* kVersion = "0.1.0";
}  // namespace hub
