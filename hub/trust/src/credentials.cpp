#include "hub/trust/credentials.hpp"

#include <algorithm>

namespace hub::trust {
namespace {

std::optional<TimePoint> later(std::optional<TimePoint> a, std::optional<TimePoint> b) {
  if (!a) return b;
  if (!b) return a;
  return std::max(*a, *b);
}

std::optional<TimePoint> earlier(std::optional<TimePoint> a, std::optional<TimePoint> b) {
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}

}  // namespace

std::string_view state_str(CredentialState state) {
  switch (state) {
    case CredentialState::kValid: return "valid";
    case CredentialState::kNotYetValid: return "not-yet-valid";
    case CredentialState::kExpired: return "expired";
    case CredentialState::kRevoked: return "revoked";
  }
  return "unknown";
}

CredentialState window_state(const std::optional<Revocation>& revoked, std::optional<TimePoint> from,
                             std::optional<TimePoint> to, TimePoint now) {
  if (revoked) return CredentialState::kRevoked;
  if (from && now < *from) return CredentialState::kNotYetValid;
  if (to && now > *to) return CredentialState::kExpired;
  return CredentialState::kValid;
}

std::optional<TimePoint> SigningKeyRecord::effective_from() const { return later(valid_from, cert_not_before); }
std::optional<TimePoint> SigningKeyRecord::effective_to() const { return earlier(valid_to, cert_not_after); }

}  // namespace hub::trust
