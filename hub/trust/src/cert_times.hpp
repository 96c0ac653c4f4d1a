#pragma once
// A certificate's validity as TimePoints. signing::KeyInfo's not_before/not_after pass
// through std::chrono::system_clock (64-bit nanoseconds), which overflows after 2262,
// and some CAs say notAfter 9999-12-31 ("no expiry", RFC 5280 4.1.2.5). Here the years
// are clamped to 1900..2199 first. Internal to hub_trust.

#include <optional>

#include "hub/core/clock.hpp"
#include "hub/signing/keys.hpp"

namespace hub::trust::detail {

struct CertTimes {
  TimePoint not_before;
  TimePoint not_after;
};

// nullopt when the key was not loaded from a certificate or its times do not parse.
std::optional<CertTimes> certificate_times(const signing::PublicKey& key);

}  // namespace hub::trust::detail
