#pragma once
// Credit serial numbers and serial blocks. The ledger keeps every JCR and JCM credit as a
// block (range) of serials and guarantees that no serial is ever credited twice
// (double-counting prevention); these are the value types and the arithmetic for that.
// The store enforces uniqueness across postings; this module decides what a valid block
// is and when two blocks overlap.
//
// Serial formats (../shared/specs):
//   J-Credit  JCR-{project 4 digits}-{monitoring year}-{9 digits}  JCR-0312-2024-000000001
//   JCM       JCM-{project}-{vintage}-{9 digits}                   JCM-MN001-2023-000000001
//             (project = ISO 3166-1 alpha-2 partner code + 3 digits)
// A serial is split into a prefix (everything before the trailing run of digits) and
// that run, read as a number; the width of the run is kept so that the zero padding can
// be restored. GXA serials, if allowances are tracked as blocks, have no partner format
// and need only the generic shape.
// All types here are plain values: copyable, thread-safe to share when not mutated.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "hub/core/result.hpp"
#include "registry/domain/units.hpp"

namespace hub::registry {

// Up to 18 digits, so every serial number fits in std::int64_t.
inline constexpr int kMaxSerialDigits = 18;

struct SerialNumber {
  std::string prefix;       // e.g. "JCR-0312-2024-"
  std::int64_t number = 0;  // e.g. 1
  int digits = 0;           // width of the digit run as written, e.g. 9

  std::string str() const;  // the serial as written, e.g. "JCR-0312-2024-000000001"
  friend bool operator==(const SerialNumber&, const SerialNumber&) = default;
};

// Splits off the trailing run of ASCII digits (1..18 of them; no sign is ever part of the
// number). The prefix must be non-empty, start with an ASCII letter and hold only ASCII
// letters, digits and - _ . /. Refusals are check 1012 (SERIAL_RANGE_INVALID).
Result<SerialNumber> parse_serial(std::string_view text);

// OK if `serial` has the format of its unit's registry (see above; any well-formed serial
// for GXA), else check 1012 with the expected format.
Status check_serial_format(UnitType unit, const SerialNumber& serial);

// The year inside a JCR or JCM prefix (monitoring year / vintage), e.g. 2024 for
// "JCR-0312-2024-"; nullopt for GXA or a prefix without that format. Connectors compare it
// with the declared year.
std::optional<int> serial_year(UnitType unit, std::string_view prefix);

// A serial number written with its zero padding restored: ("JCR-0312-2024-", 1, 9) ->
// "JCR-0312-2024-000000001". A number wider than `width` is written in full.
std::string format_serial(std::string_view prefix, std::int64_t number, int width);

// The serials prefix+first .. prefix+last, both included, of one unit type.
struct SerialBlock {
  UnitType unit = UnitType::kGXA;
  std::string prefix;
  std::int64_t first = 0;
  std::int64_t last = 0;
  int digits = 0;  // width of the serials' digit run, for format_serial()

  std::int64_t quantity() const { return last - first + 1; }
  std::string first_serial() const { return format_serial(prefix, first, digits); }
  std::string last_serial() const { return format_serial(prefix, last, digits); }
  // "JCR-0312-2024-000000001..JCR-0312-2024-000000500" (one serial: just that serial).
  std::string str() const;

  friend bool operator==(const SerialBlock&, const SerialBlock&) = default;
};

// The block first_text..last_text, whatever quantity it holds. Same refusals as below
// except the quantity comparison; for callers that must report a quantity mismatch in
// their own words (J-Credit and JCM answer QUANTITY_MISMATCH): compare quantity() with the
// declared quantity.
Result<SerialBlock> make_serial_block(UnitType unit, std::string_view first_text,
                                      std::string_view last_text);

// The block first_text..last_text as a partner declared it. Refuses with check 1012:
// malformed serials, serials not in the unit's format, different prefixes or widths,
// first after last, and a declared quantity that is not last - first + 1 (the sentence
// gives both numbers); with check 1006 a block above the maximum quantity.
Result<SerialBlock> make_serial_block(UnitType unit, std::string_view first_text,
                                      std::string_view last_text, std::int64_t declared_quantity);

// True when the two blocks share at least one serial: same unit, same prefix and
// intersecting ranges. Touching ranges (..500 and 501..) do not overlap. The width is
// ignored on purpose: "A-01" and "A-001" are counted as the same serial, so that a
// re-padded serial cannot be credited twice.
bool overlaps(const SerialBlock& a, const SerialBlock& b);

// The serials the two blocks share (with a's width), or nullopt when they do not overlap.
std::optional<SerialBlock> common_serials(const SerialBlock& a, const SerialBlock& b);

}  // namespace hub::registry
