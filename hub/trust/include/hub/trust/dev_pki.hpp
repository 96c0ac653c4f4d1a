#pragma once
// Registers the development PKI (certs/make-dev-pki.sh, in var/pki) in the trust store,
// so that the demo, the simulators and the tests are trusted: for gx-market, jcredit,
// jcm and exchange their `<c>-tls-client.crt` as TLS client certificate and their
// signing key (gx-market: `gx-market-sign.pub.pem` under the kid in
// `gx-market-sign.kid`; the others: the certificate `<c>-sign.crt`), and
// `operator-admin-tls-client.crt` for the pseudo-connector admin.
//
// Idempotent: what is registered already is left as it is. Never for production trust.

#include <filesystem>
#include <string>
#include <vector>

#include "hub/trust/trust_store.hpp"

namespace hub::trust {

struct DevPkiImport {
  std::vector<std::string> registered;  // one line per credential registered by this run
  std::vector<std::string> unchanged;   // registered already
  std::vector<std::string> failed;      // a file missing or a refusal, with the reason
  bool ok() const { return failed.empty(); }
};

DevPkiImport import_dev_pki(TrustStore& store, const std::filesystem::path& dir, const std::string& actor);

}  // namespace hub::trust
