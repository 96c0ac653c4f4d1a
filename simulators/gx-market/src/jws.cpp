#include "gxm/jws.hpp"

namespace gxm {

Result<JwsParts> jws_parse(std::string_view compact) {
  auto d1 = compact.find('.');
  auto d2 = d1 == std::string_view::npos ? d1 : compact.find('.', d1 + 1);
  if (d2 == std::string_view::npos || compact.find('.', d2 + 1) != std::string_view::npos) {
    return make_error("JWS_MALFORMED", "a compact JWS has exactly three dot-separated parts");
  }
  JwsParts p;
  p.header_b64 = std::string(compact.substr(0, d1));
  p.payload_b64 = std::string(compact.substr(d1 + 1, d2 - d1 - 1));
  p.signature_b64 = std::string(compact.substr(d2 + 1));
  auto h = base64url_decode(p.header_b64);
  if (!h) return make_error("JWS_MALFORMED", "protected header: " + h.error().message);
  auto pl = base64url_decode(p.payload_b64);
  if (!pl) return make_error("JWS_MALFORMED", "payload: " + pl.error().message);
  auto s = base64url_decode(p.signature_b64);
  if (!s) return make_error("JWS_MALFORMED", "signature: " + s.error().message);
  p.header_json = std::move(*h);
  p.payload = std::move(*pl);
  p.signature = std::move(*s);
  p.header = nlohmann::json::parse(p.header_json, nullptr, false);
  if (p.header.is_discarded() || !p.header.is_object()) {
    return make_error("JWS_MALFORMED", "the protected header is not a JSON object");
  }
  if (!p.header.contains("alg") || !p.header["alg"].is_string()) {
    return make_error("JWS_MALFORMED", "the protected header has no string 'alg'");
  }
  return p;
}

std::string jws_join(std::string_view header_b64, std::string_view payload_b64,
                     std::string_view signature_b64) {
  std::string out;
  out.reserve(header_b64.size() + payload_b64.size() + signature_b64.size() + 2);
  out.append(header_b64).append(".").append(payload_b64).append(".").append(signature_b64);
  return out;
}

Result<std::string> jws_make(const OrderedJson& header, std::string_view payload,
                             EVP_PKEY* key) {
  if (!header.contains("alg") || !header["alg"].is_string()) {
    return make_error("JWS_HEADER", "the header needs a string 'alg'");
  }
  std::string h64 = base64url_encode(header.dump());
  std::string p64 = base64url_encode(payload);
  std::string input = h64 + "." + p64;
  auto sig = jws_sign(header["alg"].get<std::string>(), key, input);
  if (!sig) return sig.error();
  return jws_join(h64, p64, base64url_encode(*sig));
}

Result<JwsParts> jws_verify_compact(std::string_view compact, EVP_PKEY* key,
                                    std::string_view expected_typ) {
  auto parts = jws_parse(compact);
  if (!parts) return parts.error();
  const auto& h = parts->header;
  for (const char* forbidden : {"crit", "jku", "x5u", "jwk"}) {
    if (h.contains(forbidden)) {
      return make_error("JWS_HEADER",
                        std::string("header '") + forbidden + "' is present and is not honoured");
    }
  }
  if (!expected_typ.empty()) {
    if (!h.contains("typ") || !h["typ"].is_string() || h["typ"] != expected_typ) {
      return make_error("JWS_TYP", "header typ is " + (h.contains("typ") ? h["typ"].dump() : "absent") +
                                       ", expected \"" + std::string(expected_typ) + "\"");
    }
  }
  auto st = jws_verify(h["alg"].get<std::string>(), key, parts->signing_input(),
                       parts->signature);
  if (!st) return st.error();
  return parts;
}

}  // namespace gxm
