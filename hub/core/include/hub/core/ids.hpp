#pragma once
// Identifiers the hub makes itself. Random parts come from OpenSSL's CSPRNG.

#include <string>

namespace hub {

// 128 random bits as 32 lower-case hex digits.
std::string random_hex_id();
// A time-ordered reference, e.g. "HUB-20261121-8f3a...": date prefix for people, random
// suffix for uniqueness.
std::string make_hub_ref(const std::string& yyyymmdd);

}  // namespace hub
