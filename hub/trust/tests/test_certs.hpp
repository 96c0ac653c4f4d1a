#pragma once
// Certificates and keys made in process for the trust tests (OpenSSL API), with the
// validity windows and issuers a test needs: CAs, client certificates, bare keys.

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "hub/core/clock.hpp"
#include "hub/http/message.hpp"

namespace hub::trust::testing {

struct TestKey {
  std::shared_ptr<EVP_PKEY> pkey;
  std::string public_pem;  // SPKI
};
TestKey make_ec_key();

struct TestCert {
  TestKey key;
  std::shared_ptr<X509> x509;
  std::string pem;
  std::string fingerprint_sha256;  // of the DER, computed with X509_digest
  std::string subject;             // RFC 2253
};

struct CertSpec {
  std::string cn;
  TimePoint not_before;
  TimePoint not_after;
  bool ca = false;
  bool no_expiry = false;  // notAfter 99991231235959Z (RFC 5280 4.1.2.5)
};

// A self-signed CA.
TestCert make_ca(const CertSpec& spec);
// A certificate issued (signed) by `issuer`.
TestCert issue(const TestCert& issuer, const CertSpec& spec);

// The PeerCertificate the HTTP server would report for this certificate.
http::PeerCertificate peer_of(const TestCert& cert);

// Fixed instants for the tests: 2026-01-01T00:00:00Z plus whole days.
TimePoint day(int n);

}  // namespace hub::trust::testing
