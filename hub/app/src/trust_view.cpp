#include "hub/app/trust_view.hpp"

namespace hub::app {

Status TrustCacheView::tls_client_allowed(const std::string& connector, const http::PeerCertificate& peer,
                                          TimePoint now) const {
  return cache_.tls_client_allowed(connector, peer, now);
}

Result<signing::PublicKey> TrustCacheView::signing_key(const std::string& connector, const std::string& kid,
                                                       TimePoint now) const {
  return cache_.signing_key(connector, kid, now);
}

std::vector<signing::PublicKey> TrustCacheView::signing_certificates(const std::string& connector,
                                                                     TimePoint now) const {
  return cache_.signing_certificates(connector, now);
}

}  // namespace hub::app
