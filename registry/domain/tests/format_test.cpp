#include "registry/domain/format.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace hub::registry {
namespace {

TEST(FormatQuantityTest, GroupsThousands) {
  const struct {
    std::int64_t value;
    const char* text;
  } rows[] = {
      {0, "0"},
      {7, "7"},
      {999, "999"},
      {1000, "1,000"},
      {12345, "12,345"},
      {100000, "100,000"},
      {1234567, "1,234,567"},
      {1'000'000'000'000, "1,000,000,000,000"},
      {-1, "-1"},
      {-1000, "-1,000"},
      {-123456, "-123,456"},
      {std::numeric_limits<std::int64_t>::max(), "9,223,372,036,854,775,807"},
      {std::numeric_limits<std::int64_t>::min(), "-9,223,372,036,854,775,808"},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(format_quantity(row.value), row.text) << row.value;
  }
}

TEST(QuoteInputTest, QuotesAndEscapes) {
  EXPECT_EQ(quote_input("JP-GX-100-0000018"), "\"JP-GX-100-0000018\"");
  EXPECT_EQ(quote_input(""), "\"\"");
  EXPECT_EQ(quote_input("a\"b\\c"), "\"a\\x22b\\x5Cc\"");
  EXPECT_EQ(quote_input("a\nb\tc"), "\"a\\x0Ab\\x09c\"");
  // Full-width digit one (U+FF11) is three UTF-8 bytes.
  EXPECT_EQ(quote_input("\xEF\xBC\x91"), "\"\\xEF\\xBC\\x91\"");
}

TEST(QuoteInputTest, CutsLongInputAt40Characters) {
  const std::string long_text(500, 'x');
  const std::string quoted = quote_input(long_text);
  EXPECT_EQ(quoted, "\"" + std::string(40, 'x') + "\"...");
  EXPECT_EQ(quote_input(std::string(40, 'y')), "\"" + std::string(40, 'y') + "\"");
}

}  // namespace
}  // namespace hub::registry
