#pragma once
// The intake path's view of the trust store: hub::intake::TrustView answered by the
// TrustCache's snapshot. Thread-safe as the cache is; the cache must outlive the view.

#include "hub/intake/connector.hpp"
#include "hub/trust/trust_cache.hpp"

namespace hub::app {

class TrustCacheView final : public intake::TrustView {
 public:
  explicit TrustCacheView(const trust::TrustCache& cache) : cache_(cache) {}
  Status tls_client_allowed(const std::string& connector, const http::PeerCertificate& peer,
                            TimePoint now) const override;
  Result<signing::PublicKey> signing_key(const std::string& connector, const std::string& kid,
                                         TimePoint now) const override;
  std::vector<signing::PublicKey> signing_certificates(const std::string& connector, TimePoint now) const override;

 private:
  const trust::TrustCache& cache_;
};

}  // namespace hub::app
