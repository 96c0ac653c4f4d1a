#pragma once
// The signature primitives under JWS: which key each alg needs, and the raw sign/verify
// over the JWS signing input. No policy here: verify_jws decides what is allowed first.
// Internal to hub/signing (the tests use it to check the RFC vectors' signatures).

#include <string>
#include <string_view>

#include "hub/core/result.hpp"
#include "hub/signing/jws.hpp"
#include "hub/signing/keys.hpp"

namespace hub::signing::detail {

// Empty when a key of this type and size may be used with `alg`, else a sentence that
// names what the alg needs and what the key is.
std::string jws_key_mismatch(JwsAlg alg, KeyType type, int bits);

// Checks `signature` (as carried in the JWS: R||S for ECDSA) over `signing_input`.
// The error (code SIGNATURE_INVALID) says whether the shape or the value is wrong.
Status jws_verify_signature(JwsAlg alg, std::string_view signing_input, std::string_view signature,
                            EVP_PKEY* key);

// The JWS signature of `signing_input` (R||S for ECDSA). Errors: SIGNING_FAILED.
Result<std::string> jws_create_signature(JwsAlg alg, std::string_view signing_input, EVP_PKEY* key);

}  // namespace hub::signing::detail
