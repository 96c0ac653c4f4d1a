#pragma once
// Connector `gx-market`: the allowance trading market (../shared/specs/gx-market.md).
// Settled trades, batches of them and daily statements, each one JWS compact
// (application/jose) signed with a registered key selected by kid; receipts are JWS
// signed by the hub (typ gx-hub-receipt+jws).
//
// accept() checks, in this order, and refuses with the spec's codes:
//   Content-Type application/jose (MALFORMED), the JWS (SIGNATURE_INVALID, 401: kid
//   registered and valid now, alg ES256/ES384/EdDSA/RS256/PS256 matching the key, typ
//   gx-market+jws, cty matching the endpoint, no crit/jku/x5u/jwk), the payload as JSON
//   (MALFORMED), then every field (SCHEMA_VIOLATION: required, no unknown field, types,
//   ranges, dates, account numbers with their check digit; `detail` names the field path).
// Business outcomes (unknown account, balance, duplicate trade) are not refusals: the
// applier decides them and the receipt tells.
//
// Canonical commands: one `transfer` per settlement (ledger key
// "gx-market:trade:<trade_id>", so a trade settles once whatever message carries it;
// a second arrival is DUPLICATE_TRADE), one `statement` per daily statement.
// Thread-safety: immutable after construction; accept/sign_receipt from any thread.

#include <string>
#include <vector>

#include "hub/intake/connector.hpp"
#include "hub/intake/receipt_signer.hpp"

namespace hub::connectors {

class GxMarketConnector final : public intake::Connector {
 public:
  explicit GxMarketConnector(const intake::JwsReceiptSigner& signer);

  const std::string& name() const override { return name_; }
  const std::vector<intake::Endpoint>& endpoints() const override { return endpoints_; }
  intake::AcceptOutcome accept(const intake::Endpoint& endpoint, const http::Request& request,
                               const intake::TrustView& trust, TimePoint now) const override;
  std::string sign_receipt(const intake::ReceiptData& receipt) const override;
  const std::string& receipt_content_type() const override { return content_type_; }
  const std::string& receipt_certificate_pem() const override { return signer_.certificate_pem(); }

 private:
  const intake::JwsReceiptSigner& signer_;
  std::string name_ = "gx-market";
  std::string content_type_ = "application/jose";
  std::vector<intake::Endpoint> endpoints_;
};

}  // namespace hub::connectors
