#include "hub/signing/jws.hpp"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "base64.hpp"
#include "jws_crypto.hpp"

namespace hub::signing {
namespace {

using detail::base64url_decode;
using detail::base64url_encode;

constexpr std::array<std::pair<JwsAlg, std::string_view>, 10> kAlgNames{{
    {JwsAlg::kEs256, "ES256"},
    {JwsAlg::kEs384, "ES384"},
    {JwsAlg::kEs512, "ES512"},
    {JwsAlg::kEdDsa, "EdDSA"},
    {JwsAlg::kRs256, "RS256"},
    {JwsAlg::kRs384, "RS384"},
    {JwsAlg::kRs512, "RS512"},
    {JwsAlg::kPs256, "PS256"},
    {JwsAlg::kPs384, "PS384"},
    {JwsAlg::kPs512, "PS512"},
}};

// Header members refused whatever the policy, and why (the why goes into the refusal).
constexpr std::array<std::pair<std::string_view, std::string_view>, 6> kRefusedMembers{{
    {"crit", "no JWS extension is understood here, so a critical one cannot be honoured"},
    {"jku", "keys are never fetched from a URL named by the message"},
    {"x5u", "certificates are never fetched from a URL named by the message"},
    {"jwk", "a key carried in the message is never trusted; kid names a registered key"},
    {"x5c", "a certificate carried in the message is never trusted; kid names a registered key"},
    {"b64", "unencoded payloads (RFC 7797) are not accepted"},
}};

Error refuse(std::string message) { return make_error("SIGNATURE_INVALID", std::move(message)); }

std::string shown(std::string_view s) {
  std::string out = "\"";
  // Partner input in a log line: cut it short and keep it printable.
  for (char c : s.substr(0, 64))
    out += (static_cast<unsigned char>(c) < 0x20 || c == '"') ? '?' : c;
  if (s.size() > 64) out += "...";
  return out + "\"";
}

// RFC 7515 4.1.9: media types compare case-insensitively, and a value without '/' means
// "application/" + value.
std::string media_type_key(std::string_view v) {
  std::string out(v);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  });
  if (out.find('/') == std::string::npos) out = "application/" + out;
  return out;
}

// Parses the header, refusing duplicate member names anywhere (RFC 7515 4: a JWS with
// duplicate header names must be rejected or use the last; two parsers that disagree
// on which one counts are how confusion attacks start).
Result<nlohmann::json> parse_header(const std::string& text) {
  std::vector<std::vector<std::string>> members;
  std::string duplicate;
  auto cb = [&](int, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (ev == E::object_start) {
      members.emplace_back();
    } else if (ev == E::object_end) {
      if (!members.empty()) members.pop_back();
    } else if (ev == E::key && !members.empty()) {
      auto& seen = members.back();
      const auto& name = parsed.get_ref<const std::string&>();
      if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
        if (duplicate.empty()) duplicate = name;
      } else {
        seen.push_back(name);
      }
    }
    return true;
  };
  nlohmann::json header = nlohmann::json::parse(text, cb, /*allow_exceptions=*/false);
  if (header.is_discarded()) return refuse("the protected header is not valid JSON");
  if (!header.is_object()) return refuse("the protected header is not a JSON object");
  if (!duplicate.empty())
    return refuse("the protected header has the member " + shown(duplicate) + " twice");
  return header;
}

// The checks that do not depend on a key: shared by verify and sign so that the hub
// never signs what it would refuse.
Result<JwsAlg> check_alg_and_members(const nlohmann::json& header) {
  auto it = header.find("alg");
  if (it == header.end()) return refuse("the protected header has no \"alg\"");
  if (!it->is_string()) return refuse("the protected header's \"alg\" is not a string");
  const auto& name = it->get_ref<const std::string&>();
  if (name == "none") return refuse("alg \"none\" (an unsecured JWS) is refused");
  if (name.rfind("HS", 0) == 0)
    return refuse("alg " + shown(name) +
                  " (HMAC with a shared secret) is refused: only public-key signatures "
                  "identify the sender");
  for (const auto& [member, why] : kRefusedMembers) {
    if (header.contains(std::string(member)))
      return refuse("header member \"" + std::string(member) +
                    "\" is refused: " + std::string(why));
  }
  auto alg = jws_alg_from_name(name);
  if (!alg) return refuse("alg " + shown(name) + " is not supported");
  return *alg;
}

std::string alg_list(const std::set<JwsAlg>& algs) {
  std::string out;
  for (JwsAlg a : algs) out += (out.empty() ? "" : ", ") + std::string(jws_alg_name(a));
  return out.empty() ? "none" : out;
}

Status check_media_type(const nlohmann::json& header, const char* member,
                        const std::set<std::string>& allowed) {
  auto it = header.find(member);
  if (it == header.end())
    return refuse(std::string("the protected header has no \"") + member + "\"");
  if (!it->is_string()) return refuse(std::string("\"") + member + "\" is not a string");
  const auto& value = it->get_ref<const std::string&>();
  std::string key = media_type_key(value);
  for (const auto& a : allowed) {
    if (media_type_key(a) == key) return {};
  }
  std::string expected;
  for (const auto& a : allowed) expected += (expected.empty() ? "" : ", ") + a;
  return refuse(std::string("\"") + member + "\" is " + shown(value) + ", expected " + expected);
}

}  // namespace

std::string_view jws_alg_name(JwsAlg alg) {
  for (const auto& [a, n] : kAlgNames) {
    if (a == alg) return n;
  }
  return "?";
}

std::optional<JwsAlg> jws_alg_from_name(std::string_view name) {
  for (const auto& [a, n] : kAlgNames) {
    if (n == name) return a;
  }
  return std::nullopt;
}

Result<JwsVerified> verify_jws(std::string_view compact, const KeyResolver& resolve,
                               const JwsPolicy& policy) {
  std::size_t dot1 = compact.find('.');
  std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : compact.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos)
    return refuse("the JWS is not three base64url parts joined by '.': the signature is missing");
  if (compact.find('.', dot2 + 1) != std::string_view::npos)
    return refuse("the JWS has more than three parts (a JWE, or not a compact JWS)");
  std::string_view header_part = compact.substr(0, dot1);
  std::string_view payload_part = compact.substr(dot1 + 1, dot2 - dot1 - 1);
  std::string_view signature_part = compact.substr(dot2 + 1);
  if (signature_part.empty())
    return refuse("the JWS signature part is empty: the signature is missing");

  if (header_part.empty())
    return refuse(
        "the protected header is empty: alg and kid must be in the integrity-protected header");
  std::string header_text;
  if (!base64url_decode(header_part, header_text))
    return refuse("the protected header is not valid base64url");
  auto header = parse_header(header_text);
  if (!header) return header.error();
  auto alg = check_alg_and_members(*header);
  if (!alg) return alg.error();
  if (!policy.allowed_algs.contains(*alg))
    return refuse("alg " + std::string(jws_alg_name(*alg)) +
                  " is not allowed here (allowed: " + alg_list(policy.allowed_algs) + ")");
  auto kid_it = header->find("kid");
  if (kid_it == header->end())
    return refuse("the protected header has no \"kid\": the key cannot be chosen");
  if (!kid_it->is_string() || kid_it->get_ref<const std::string&>().empty())
    return refuse("the protected header's \"kid\" is not a non-empty string");
  if (policy.expected_typ) {
    if (auto st = check_media_type(*header, "typ", {*policy.expected_typ}); !st) return st.error();
  }
  if (policy.allowed_cty) {
    if (auto st = check_media_type(*header, "cty", *policy.allowed_cty); !st) return st.error();
  }

  std::string signature;
  if (!base64url_decode(signature_part, signature))
    return refuse("the JWS signature part is not valid base64url");

  const auto& kid = kid_it->get_ref<const std::string&>();
  auto key = resolve(kid);
  if (!key) return refuse("kid " + shown(kid) + ": " + key.error().message);
  if (std::string why = detail::jws_key_mismatch(*alg, key->info().type, key->info().bits);
      !why.empty())
    return refuse("alg does not match the key of kid " + shown(kid) + ": " + why);
  auto verified =
      detail::jws_verify_signature(*alg, compact.substr(0, dot2), signature, key->pkey());
  if (!verified) return refuse(verified.error().message + " (kid " + shown(kid) + ")");

  JwsVerified out;
  if (!base64url_decode(payload_part, out.payload))
    return refuse("the JWS payload part is not valid base64url");
  out.kid = kid;
  out.alg = *alg;
  out.key = std::move(*key);
  out.header = std::move(*header);
  return out;
}

Result<std::string> sign_jws(const nlohmann::json& protected_header, std::string_view payload,
                             const PrivateKey& key) {
  auto failed = [](const std::string& why) { return make_error("SIGNING_FAILED", why); };
  if (!protected_header.is_object()) return failed("the protected header is not a JSON object");
  if (key.pkey() == nullptr) return failed("no private key");
  auto alg = check_alg_and_members(protected_header);
  if (!alg) return failed(alg.error().message);
  if (std::string why = detail::jws_key_mismatch(*alg, key.type(), key.bits()); !why.empty())
    return failed(why);
  std::string out;
  base64url_encode(protected_header.dump(), out);
  out += '.';
  base64url_encode(payload, out);
  auto signature = detail::jws_create_signature(*alg, out, key.pkey());
  if (!signature) return signature.error();
  out += '.';
  base64url_encode(*signature, out);
  return out;
}

}  // namespace hub::signing
