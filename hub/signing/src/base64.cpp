#include "base64.hpp"

#include <array>
#include <cstdint>

namespace hub::signing::detail {
namespace {

constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr char kStd[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::uint8_t kBad = 0xFF;

using Table = std::array<std::uint8_t, 256>;

constexpr Table make_table(const char* alphabet) {
  Table t{};
  for (auto& v : t) v = kBad;
  for (int i = 0; i < 64; ++i)
    t[static_cast<unsigned char>(alphabet[i])] = static_cast<std::uint8_t>(i);
  return t;
}

constexpr Table kUrlTable = make_table(kUrl);
constexpr Table kStdTable = make_table(kStd);

void encode(std::string_view in, std::string& out, const char* alphabet, bool pad) {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  std::size_t n = in.size();
  out.reserve(out.size() + (n + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8) | p[i + 2];
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (n - i == 1) {
    std::uint32_t v = std::uint32_t{p[i]} << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    if (pad) out += "==";
  } else if (n - i == 2) {
    std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    if (pad) out += '=';
  }
}

// Decodes a sequence of sextets (no padding, no other characters); `strict_tail` demands
// that the bits left over in the last character be zero.
bool decode_sextets(const unsigned char* s, std::size_t n, const Table& table, std::string& out) {
  if (n % 4 == 1) return false;
  out.clear();
  out.reserve(n / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint8_t v = table[s[i]];
    if (v == kBad) return false;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  // 0, 2 or 4 bits are left over; they must be zero for a canonical encoding.
  return (acc & ((1u << bits) - 1)) == 0;
}

}  // namespace

void base64url_encode(std::string_view in, std::string& out) { encode(in, out, kUrl, false); }

bool base64url_decode(std::string_view in, std::string& out) {
  return decode_sextets(reinterpret_cast<const unsigned char*>(in.data()), in.size(), kUrlTable,
                        out);
}

std::string base64_encode(std::string_view in) {
  std::string out;
  encode(in, out, kStd, true);
  return out;
}

bool base64_decode(std::string_view in, std::string& out) {
  std::string compact;
  compact.reserve(in.size());
  for (char c : in) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    compact += c;
  }
  if (compact.size() % 4 != 0) return false;
  std::size_t pad = 0;
  while (pad < 2 && !compact.empty() && compact[compact.size() - 1 - pad] == '=') ++pad;
  return decode_sextets(reinterpret_cast<const unsigned char*>(compact.data()),
                        compact.size() - pad, kStdTable, out);
}

}  // namespace hub::signing::detail
