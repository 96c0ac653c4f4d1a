#pragma once
// Detached CMS (PKCS#7) signatures over files, as `openssl cms -sign -binary -outform DER
// -md sha256` makes them (the exchange's settlement files).
//
// Accepted: a CMS SignedData in DER or PEM, detached (no embedded content), with exactly
// one SignerInfo whose signer identifier (issuer+serial or subject key id) names one of
// the registered certificates; digest SHA-256/384/512; the signature must verify with the
// registered certificate's key over the content (and the signed attributes, whose
// messageDigest must match the content).
// Refused (code SIGNATURE_INVALID): anything else, notably a SHA-1 or MD5 digest or
// signature algorithm, a signer that is not registered, several signers.
// Never used for identity: the certificates inside the CMS (CMS_NOINTERN: only the
// registered certificate can be the signer). No chain is built or required
// (CMS_NO_SIGNER_CERT_VERIFY): the registration is the trust decision, and the trust
// store checks validity windows and revocation before handing keys over.
// RSA keys under 2048 bits cannot be registered (PublicKey refuses them).
//
// Content from a file is streamed through a file BIO into the digest (never held in
// memory); content given as bytes is read in place (no copy).
//
// Thread-safety: a CmsVerifier is immutable after create(); share one per set of
// registered certificates between any number of threads.

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hub/core/result.hpp"
#include "hub/signing/keys.hpp"

namespace hub::signing {

struct CmsVerified {
  PublicKey signer;                       // the registered certificate that verified
  std::string signer_subject;             // RFC 2253
  std::string signer_certificate_sha256;  // lower-case hex SHA-256 of the certificate DER
  std::string digest_algorithm;           // "SHA256", "SHA384" or "SHA512"
};

class CmsVerifier {
 public:
  // Errors (KEY_INVALID): no key, a registered key that is not a certificate (CMS names
  // its signer by certificate).
  static Result<CmsVerifier> create(std::vector<PublicKey> registered_certificates);

  // `signature`: DER, or PEM ("CMS" or "PKCS7" block).
  Result<CmsVerified> verify_detached(std::string_view content, std::string_view signature) const;
  // Errors: CONTENT_UNREADABLE when the file cannot be opened; else as above.
  Result<CmsVerified> verify_detached_file(const std::filesystem::path& content,
                                           std::string_view signature) const;

  struct Impl;

 private:
  std::shared_ptr<const Impl> impl_;
};

}  // namespace hub::signing
