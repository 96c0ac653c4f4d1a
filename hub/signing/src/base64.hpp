#pragma once
// Base64 as the signature formats need it. Internal to hub/signing.
//   base64url (RFC 4648 section 5, no padding): JWS. Decoding is strict: only the url
//   alphabet, no '=', no white space, and the unused low bits of the last character must
//   be zero, so that one byte string has exactly one accepted encoding.
//   base64 (section 4, padded): XML (X509Certificate) and PEM. Decoding skips XML white
//   space, as XML Schema's base64Binary allows.

#include <string>
#include <string_view>

namespace hub::signing::detail {

// Appends the encoding of `in` to `out`.
void base64url_encode(std::string_view in, std::string& out);
// Replaces `out` with the decoding of `in`; false if `in` is not canonical base64url.
bool base64url_decode(std::string_view in, std::string& out);

std::string base64_encode(std::string_view in);
bool base64_decode(std::string_view in, std::string& out);

}  // namespace hub::signing::detail
