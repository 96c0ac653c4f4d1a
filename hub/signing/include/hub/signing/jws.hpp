#pragma once
// JWS compact serialization (RFC 7515) as the hub accepts and makes it.
//
// Accepted: exactly three base64url parts (strict: url alphabet, no padding, no white
// space); a protected header that is a JSON object without duplicate members, with `alg`
// and a non-empty `kid`; `alg` in the policy and matching the type of the key that the
// trust store resolves for `kid`:
//   ES256 - EC P-256, ES384 - EC P-384, ES512 - EC P-521, EdDSA - Ed25519,
//   RS256/384/512 and PS256/384/512 - RSA >= 2048 bits.
// ECDSA signatures are R||S (64/96/132 bytes), as RFC 7518 says, never DER.
// Refused, always (code SIGNATURE_INVALID, one sentence saying which rule): `none`, HS*
// (a shared secret is not an identity), `crit` (no extension is understood), `jku`,
// `x5u`, `jwk`, `x5c` (a key is never taken from the message: only the trust store names
// keys), `b64` (RFC 7797 unencoded payloads), a `typ`/`cty` the policy does not expect.
// Refusals from the resolver (unknown, revoked or expired kid) pass through as
// SIGNATURE_INVALID with the resolver's sentence.
//
// Cost: the header is parsed once, the payload decoded once into the result; the key
// comes parsed from the resolver; one EVP_MD_CTX per call. See docs/signing.md.
//
// Thread-safety: free functions with no shared state; the resolver must be callable from
// the calling thread (the trust store's is thread-safe).

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "hub/core/result.hpp"
#include "hub/signing/keys.hpp"

namespace hub::signing {

enum class JwsAlg {
  kEs256,
  kEs384,
  kEs512,
  kEdDsa,
  kRs256,
  kRs384,
  kRs512,
  kPs256,
  kPs384,
  kPs512
};

std::string_view jws_alg_name(JwsAlg alg);  // "ES256", ...
// The algorithm named `name` if the module implements it (never "none" or HS*).
std::optional<JwsAlg> jws_alg_from_name(std::string_view name);

// Returns the registered key for a kid, or an error (unknown, revoked, expired) whose
// message the refusal repeats.
using KeyResolver = std::function<Result<PublicKey>(const std::string& kid)>;

struct JwsPolicy {
  // The algorithms a connector accepts; the default is the gx-market profile.
  std::set<JwsAlg> allowed_algs = {JwsAlg::kEs256, JwsAlg::kEs384, JwsAlg::kEdDsa, JwsAlg::kRs256,
                                   JwsAlg::kPs256};
  // When set, `typ` must be present and equal (compared as RFC 7515 4.1.9 says: ASCII
  // case-insensitive, an "application/" prefix ignored).
  std::optional<std::string> expected_typ;
  // When set, `cty` must be present and one of these (compared like `typ`).
  std::optional<std::set<std::string>> allowed_cty;
};

struct JwsVerified {
  nlohmann::json header;  // the protected header
  std::string payload;    // the decoded payload bytes
  std::string kid;
  JwsAlg alg = JwsAlg::kEs256;
  PublicKey key;  // the key the resolver gave for kid
};

Result<JwsVerified> verify_jws(std::string_view compact, const KeyResolver& resolve,
                               const JwsPolicy& policy = {});

// Signs `payload` under `protected_header` (a JSON object with `alg`; `kid` and `typ` as
// the receiver needs). The alg must be one this module implements and fit the key;
// headers that verify_jws refuses (crit, jku, x5u, jwk, x5c, b64) are refused here too.
// Errors: SIGNING_FAILED.
Result<std::string> sign_jws(const nlohmann::json& protected_header, std::string_view payload,
                             const PrivateKey& key);

}  // namespace hub::signing
