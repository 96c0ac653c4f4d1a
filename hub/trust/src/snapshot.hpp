#pragma once
// The immutable picture of every connector's credentials that TrustCache answers from.
// Internal to hub_trust. Built once per version; never changed afterwards, except the
// CA-verdict cache, which has its own lock.

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hub/signing/keys.hpp"
#include "hub/trust/credentials.hpp"

namespace hub::trust::detail {

struct TlsEntry {
  TlsCredential record;
  signing::PublicKey certificate;
};

struct KeyEntry {
  SigningKeyRecord record;
  signing::PublicKey key;
};

// Which registered CAs issued a given client certificate (indices into
// ConnectorEntry::tls), and the certificate's own validity: facts that do not depend on
// the time of asking, so they can be kept for the snapshot's life.
struct CaVerdict {
  std::vector<std::size_t> issuers;
  TimePoint not_before;
  TimePoint not_after;
  bool parsed = false;  // false: the certificate could not be read
};

struct ConnectorEntry {
  ConnectorInfo info;
  std::vector<TlsEntry> tls;
  std::vector<KeyEntry> keys;
  bool has_ca = false;

  mutable std::shared_mutex verdicts_mu;
  mutable std::unordered_map<std::string, CaVerdict> verdicts;  // by certificate SHA-256
};

struct Snapshot {
  std::int64_t version = 0;
  std::vector<std::unique_ptr<ConnectorEntry>> connectors;

  const ConnectorEntry* find(std::string_view name) const {
    for (const auto& c : connectors) {
      if (c->info.name == name) return c.get();
    }
    return nullptr;
  }
};

}  // namespace hub::trust::detail
