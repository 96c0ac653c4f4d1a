#pragma once
// Reading the trust tables into records: shared by TrustStore (administration) and
// TrustCache (the snapshot). Internal to hub_trust.

#include <optional>
#include <string>
#include <vector>

#include "hub/db/pg.hpp"
#include "hub/trust/credentials.hpp"

namespace hub::trust::detail {

struct RecordFilter {
  std::optional<std::string> connector;
  std::optional<std::int64_t> id;
};

std::vector<ConnectorInfo> load_connectors(db::Connection& conn);
std::vector<TlsCredential> load_tls_credentials(db::Connection& conn, const RecordFilter& filter = {});
std::vector<SigningKeyRecord> load_signing_keys(db::Connection& conn, const RecordFilter& filter = {});
std::int64_t load_trust_version(db::Connection& conn);

}  // namespace hub::trust::detail
