#pragma once
// JWS compact serialization (RFC 7515 s.7.1) as the gx-market spec uses it: the simulator
// signs its messages with it and verifies the hub's receipts with it. Stateless and
// thread-safe.

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "gxm/crypto.hpp"
#include "gxm/result.hpp"

namespace gxm {

// Header members keep the order they were given in, so the bytes are predictable.
using OrderedJson = nlohmann::ordered_json;

struct JwsParts {
  std::string header_b64;
  std::string payload_b64;
  std::string signature_b64;
  std::string header_json;  // decoded
  std::string payload;      // decoded
  std::string signature;    // decoded
  nlohmann::json header;
  std::string signing_input() const { return header_b64 + "." + payload_b64; }
};

// Splits and decodes; checks that the header is a JSON object with a string "alg".
Result<JwsParts> jws_parse(std::string_view compact);

// header_b64 "." payload_b64 "." signature with the header's alg.
Result<std::string> jws_make(const OrderedJson& header, std::string_view payload, EVP_PKEY* key);

// Assembles a compact JWS from already-encoded parts (used to build deliberately broken ones).
std::string jws_join(std::string_view header_b64, std::string_view payload_b64,
                     std::string_view signature_b64);

// Verifies a compact JWS: the header's alg must be accepted for the key (never "none" or
// HS*), no "crit", "jku", "x5u" or "jwk" header, and, when expected_typ is not empty, the
// header's typ must equal it.
Result<JwsParts> jws_verify_compact(std::string_view compact, EVP_PKEY* key,
                                    std::string_view expected_typ);

}  // namespace gxm
