#pragma once
// The JSON form of connectors and credentials, one for the admin API and `hubctl trust
// list --json`. Times are RFC 3339 UTC; "state" is the state at `now`. Pure functions.

#include <nlohmann/json.hpp>

#include "hub/trust/credentials.hpp"

namespace hub::trust {

nlohmann::json connector_json(const ConnectorInfo& c);
nlohmann::json credential_json(const TlsCredential& t, TimePoint now);
nlohmann::json credential_json(const SigningKeyRecord& k, TimePoint now);

}  // namespace hub::trust
