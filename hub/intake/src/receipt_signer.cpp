#include "hub/intake/receipt_signer.hpp"

#include <stdexcept>

#include "hub/signing/jws.hpp"

namespace hub::intake {

Result<JwsReceiptSigner> JwsReceiptSigner::load(const std::string& key_file, const std::string& cert_file,
                                                const std::string& kid) {
  auto key = signing::PrivateKey::from_file(key_file);
  if (!key.ok()) return make_error("RECEIPT_KEY", "receipt signing key " + key_file + ": " + key.error().message);
  auto cert = signing::PublicKey::from_file(cert_file);
  if (!cert.ok()) return make_error("RECEIPT_KEY", "receipt certificate " + cert_file + ": " + cert.error().message);
  JwsReceiptSigner s;
  s.key_ = *key;
  switch (key->type()) {
    case signing::KeyType::kEcP256: s.alg_ = "ES256"; break;
    case signing::KeyType::kEcP384: s.alg_ = "ES384"; break;
    case signing::KeyType::kEd25519: s.alg_ = "EdDSA"; break;
    case signing::KeyType::kRsa: s.alg_ = "RS256"; break;
    default: return make_error("RECEIPT_KEY", "receipt signing key " + key_file + " is of an unsupported type");
  }
  s.cert_pem_ = cert->pem();
  const auto& fp = cert->info().from_certificate ? cert->info().cert_fingerprint_sha256 : cert->info().fingerprint_sha256;
  s.kid_ = kid.empty() ? "hub-receipt-" + fp.substr(0, 16) : kid;
  // The certificate must be the key's: a receipt nobody can verify is worse than none.
  auto probe = signing::sign_jws({{"alg", s.alg_}, {"kid", "probe"}}, "probe", s.key_);
  if (!probe.ok()) return make_error("RECEIPT_KEY", "receipt signing key cannot sign: " + probe.error().message);
  auto check = signing::verify_jws(
      *probe, [&](const std::string&) -> Result<signing::PublicKey> { return *cert; }, signing::JwsPolicy{});
  if (!check.ok()) {
    return make_error("RECEIPT_KEY", "receipt certificate " + cert_file + " does not match the key " + key_file);
  }
  return s;
}

std::string JwsReceiptSigner::sign(const nlohmann::json& payload, const std::string& typ) const {
  auto jws = signing::sign_jws({{"alg", alg_}, {"kid", kid_}, {"typ", typ}}, payload.dump(), key_);
  if (!jws.ok()) throw std::runtime_error("receipt signing failed: " + jws.error().to_string());
  return *jws;
}

}  // namespace hub::intake
