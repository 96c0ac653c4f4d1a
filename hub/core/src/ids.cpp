#include "hub/core/ids.hpp"

#include <openssl/rand.h>

#include <array>
#include <stdexcept>

namespace hub {

std::string random_hex_id() {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw std::runtime_error("OpenSSL RAND_bytes failed");
  }
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(32);
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::string make_hub_ref(const std::string& yyyymmdd) {
  return "HUB-" + yyyymmdd + "-" + random_hex_id().substr(0, 20);
}

}  // namespace hub
