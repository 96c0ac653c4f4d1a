#pragma once
// The hub's receipt-signing identity for JWS receipts: a private key, its certificate
// (published to senders) and the kid put in every receipt's header. Loaded once at start.
// Thread-safety: immutable after load(); sign() may be called from many threads at once.

#include <nlohmann/json.hpp>
#include <string>

#include "hub/core/result.hpp"
#include "hub/signing/keys.hpp"

namespace hub::intake {

class JwsReceiptSigner {
 public:
  // kid empty: "hub-receipt-" + the first 16 hex digits of the certificate's fingerprint.
  static Result<JwsReceiptSigner> load(const std::string& key_file, const std::string& cert_file,
                                       const std::string& kid = "");
  // A compact JWS of the payload (serialised as compact JSON, UTF-8 kept) with header
  // {"alg": ES256|ES384|EdDSA|RS256, "kid", "typ": typ}.
  std::string sign(const nlohmann::json& payload, const std::string& typ) const;
  const std::string& kid() const { return kid_; }
  const std::string& certificate_pem() const { return cert_pem_; }
  const std::string& alg() const { return alg_; }

 private:
  signing::PrivateKey key_;
  std::string kid_;
  std::string alg_;
  std::string cert_pem_;
};

}  // namespace hub::intake
