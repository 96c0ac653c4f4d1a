#include "hub/signing/xmldsig.hpp"

#include <libxml/valid.h>

// xmlsec.h first: the other xmlsec headers use its types.
// clang-format off
#include <xmlsec/xmlsec.h>
#include <xmlsec/keys.h>
#include <xmlsec/list.h>
#include <xmlsec/openssl/crypto.h>
#include <xmlsec/openssl/evp.h>
#include <xmlsec/templates.h>
#include <xmlsec/transforms.h>
#include <xmlsec/xmldsig.h>
// clang-format on

#include <algorithm>
#include <array>

#include "base64.hpp"
#include "hub/core/digest.hpp"
#include "ossl.hpp"
#include "xml_runtime.hpp"
#include "xml_walk.hpp"

namespace hub::signing {
namespace {

constexpr const char* kDsigNs = "http://www.w3.org/2000/09/xmldsig#";
constexpr const char* kExcC14nNs = "http://www.w3.org/2001/10/xml-exc-c14n#";
constexpr std::string_view kEnvelopedUri = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
// Certificates looked at in KeyInfo: enough for a leaf and its chain, bounded work.
constexpr std::size_t kMaxKeyInfoCertificates = 8;

constexpr std::array<std::pair<XmlC14n, std::string_view>, 4> kC14nUris{{
    {XmlC14n::kExclusive, "http://www.w3.org/2001/10/xml-exc-c14n#"},
    {XmlC14n::kExclusiveWithComments, "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"},
    {XmlC14n::kInclusive, "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"},
    {XmlC14n::kInclusiveWithComments,
     "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"},
}};
constexpr std::array<std::pair<XmlSignatureMethod, std::string_view>, 4> kSignatureUris{{
    {XmlSignatureMethod::kRsaSha256, "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"},
    {XmlSignatureMethod::kRsaSha384, "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"},
    {XmlSignatureMethod::kEcdsaSha256, "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"},
    {XmlSignatureMethod::kEcdsaSha384, "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"},
}};
constexpr std::array<std::pair<XmlDigestMethod, std::string_view>, 2> kDigestUris{{
    {XmlDigestMethod::kSha256, "http://www.w3.org/2001/04/xmlenc#sha256"},
    {XmlDigestMethod::kSha384, "http://www.w3.org/2001/04/xmldsig-more#sha384"},
}};

template <class E, std::size_t N>
std::optional<E> from_uri(const std::array<std::pair<E, std::string_view>, N>& table,
                          std::string_view uri) {
  for (const auto& [e, u] : table) {
    if (u == uri) return e;
  }
  return std::nullopt;
}

template <class E, std::size_t N>
std::string_view to_uri(const std::array<std::pair<E, std::string_view>, N>& table, E e) {
  for (const auto& [k, u] : table) {
    if (k == e) return u;
  }
  return {};
}

xmlSecTransformId c14n_transform(XmlC14n c) {
  switch (c) {
    case XmlC14n::kExclusive:
      return xmlSecTransformExclC14NId;
    case XmlC14n::kExclusiveWithComments:
      return xmlSecTransformExclC14NWithCommentsId;
    case XmlC14n::kInclusive:
      return xmlSecTransformInclC14NId;
    case XmlC14n::kInclusiveWithComments:
      return xmlSecTransformInclC14NWithCommentsId;
  }
  return xmlSecTransformIdUnknown;
}

xmlSecTransformId signature_transform(XmlSignatureMethod m) {
  switch (m) {
    case XmlSignatureMethod::kRsaSha256:
      return xmlSecOpenSSLTransformRsaSha256Id;
    case XmlSignatureMethod::kRsaSha384:
      return xmlSecOpenSSLTransformRsaSha384Id;
    case XmlSignatureMethod::kEcdsaSha256:
      return xmlSecOpenSSLTransformEcdsaSha256Id;
    case XmlSignatureMethod::kEcdsaSha384:
      return xmlSecOpenSSLTransformEcdsaSha384Id;
  }
  return xmlSecTransformIdUnknown;
}

xmlSecTransformId digest_transform(XmlDigestMethod d) {
  return d == XmlDigestMethod::kSha384 ? xmlSecOpenSSLTransformSha384Id
                                       : xmlSecOpenSSLTransformSha256Id;
}

std::size_t digest_size(XmlDigestMethod d) { return d == XmlDigestMethod::kSha384 ? 48 : 32; }

bool is_exclusive(XmlC14n c) {
  return c == XmlC14n::kExclusive || c == XmlC14n::kExclusiveWithComments;
}

bool key_fits(XmlSignatureMethod m, KeyType t) {
  if (m == XmlSignatureMethod::kRsaSha256 || m == XmlSignatureMethod::kRsaSha384)
    return t == KeyType::kRsa;
  return t == KeyType::kEcP256 || t == KeyType::kEcP384;
}

// ---- RAII for xmlsec ------------------------------------------------------------------

struct XmlSecKeyFree {
  void operator()(xmlSecKey* k) const { xmlSecKeyDestroy(k); }
};
using XmlSecKeyPtr = std::unique_ptr<xmlSecKey, XmlSecKeyFree>;

// An xmlsec key holding (a reference to) the OpenSSL key: made once per registered key.
Result<XmlSecKeyPtr> make_xmlsec_key(EVP_PKEY* pkey) {
  if (pkey == nullptr || EVP_PKEY_up_ref(pkey) != 1) return make_error("KEY_INVALID", "no key");
  xmlSecKeyDataPtr data = xmlSecOpenSSLEvpKeyAdopt(pkey);
  if (data == nullptr) {
    EVP_PKEY_free(pkey);
    return make_error("KEY_INVALID",
                      "xmlsec cannot use this key (" + detail::take_xmlsec_errors() + ")");
  }
  XmlSecKeyPtr key(xmlSecKeyCreate());
  if (!key || xmlSecKeySetValue(key.get(), data) < 0) {
    xmlSecKeyDataDestroy(data);
    return make_error("KEY_INVALID", "xmlSecKeyCreate failed");
  }
  return key;
}

// One xmlSecDSigCtx for one verification or signature: initialised here, finalised by
// the destructor (which also destroys signKey).
class DsigContext {
 public:
  DsigContext() {
    if (xmlSecDSigCtxInitialize(&ctx_, nullptr) < 0) throw std::bad_alloc();
  }
  ~DsigContext() { xmlSecDSigCtxFinalize(&ctx_); }
  DsigContext(const DsigContext&) = delete;
  DsigContext& operator=(const DsigContext&) = delete;
  xmlSecDSigCtx* get() { return &ctx_; }

 private:
  xmlSecDSigCtx ctx_{};
};

// ---- reading the Signature --------------------------------------------------------------

Error refuse(std::string message) { return make_error("SIGNATURE_INVALID", std::move(message)); }

bool is_dsig(const xmlNode* n, const char* local) {
  return n != nullptr && n->type == XML_ELEMENT_NODE && n->ns != nullptr &&
         xmlStrEqual(n->ns->href, BAD_CAST kDsigNs) && xmlStrEqual(n->name, BAD_CAST local);
}

std::vector<xmlNode*> element_children(const xmlNode* n) {
  std::vector<xmlNode*> out;
  for (xmlNode* c = n->children; c != nullptr; c = c->next) {
    if (c->type == XML_ELEMENT_NODE) out.push_back(c);
  }
  return out;
}

std::string name_of(const xmlNode* n) {
  std::string out;
  if (n->ns != nullptr && n->ns->prefix != nullptr)
    out = std::string(reinterpret_cast<const char*>(n->ns->prefix)) + ":";
  return "<" + out + reinterpret_cast<const char*>(n->name) + ">";
}

std::optional<std::string> attribute(const xmlNode* n, const char* name) {
  xmlChar* v = xmlGetNoNsProp(n, BAD_CAST name);
  if (v == nullptr) return std::nullopt;
  std::string out(reinterpret_cast<const char*>(v));
  xmlFree(v);
  return out;
}

std::string text_of(const xmlNode* n) {
  xmlChar* v = xmlNodeGetContent(n);
  std::string out = v != nullptr ? reinterpret_cast<const char*>(v) : "";
  xmlFree(v);
  return out;
}

std::string shown(std::string_view s) {
  std::string out = "\"" + std::string(s.substr(0, 96)) + (s.size() > 96 ? "...\"" : "\"");
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  }
  return out;
}

// Why an algorithm URI is refused whatever the policy, or empty.
std::string never_accepted(std::string_view uri) {
  std::string lower(uri);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower.find("hmac") != std::string::npos)
    return "HMAC (a shared secret) never identifies a sender";
  if (lower.find("md5") != std::string::npos) return "MD5 is broken";
  auto ends_with = [&](std::string_view s) {
    return lower.size() >= s.size() && lower.compare(lower.size() - s.size(), s.size(), s) == 0;
  };
  if (ends_with("#sha1") || ends_with("-sha1")) return "SHA-1 is never accepted";
  return {};
}

// XML NCName, as far as an Id needs it: no ':' and no character that could make the
// reference mean something else (an XPointer, a path, a query).
bool is_ncname(std::string_view s) {
  if (s.empty()) return false;
  auto start = [](unsigned char c) { return std::isalpha(c) || c == '_' || c >= 0x80; };
  auto rest = [&](unsigned char c) { return start(c) || std::isdigit(c) || c == '-' || c == '.'; };
  if (!start(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin() + 1, s.end(),
                     [&](char c) { return rest(static_cast<unsigned char>(c)); });
}

bool equals_ignore_case(const xmlChar* a, const char* b) {
  return xmlStrcasecmp(a, BAD_CAST b) == 0;
}

template <class E, std::size_t N>
std::string allowed_list(const std::array<std::pair<E, std::string_view>, N>& table,
                         const std::set<E>& allowed) {
  std::string out;
  for (E e : allowed) out += (out.empty() ? "" : ", ") + std::string(to_uri(table, e));
  return out;
}

// An exclusive c14n method may carry ec:InclusiveNamespaces; nothing else may have children.
Status check_method_children(const xmlNode* n, bool exclusive) {
  for (const xmlNode* c : element_children(n)) {
    bool inclusive_ns = exclusive && c->ns != nullptr &&
                        xmlStrEqual(c->ns->href, BAD_CAST kExcC14nNs) &&
                        xmlStrEqual(c->name, BAD_CAST "InclusiveNamespaces");
    if (!inclusive_ns) return refuse("unexpected element " + name_of(c) + " inside " + name_of(n));
  }
  return {};
}

Result<XmlC14n> read_c14n(const xmlNode* n, const XmlDsigPolicy& policy, const char* what) {
  auto uri = attribute(n, "Algorithm");
  if (!uri) return refuse(std::string(what) + " has no Algorithm");
  auto c14n = from_uri(kC14nUris, *uri);
  if (!c14n) {
    std::string lower = *uri;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower.find("xpath") != std::string::npos || lower.find("xslt") != std::string::npos)
      return refuse(std::string(what) + " " + shown(*uri) +
                    " is refused: XPath and XSLT transforms are never accepted");
    return refuse(std::string(what) + " " + shown(*uri) + " is not accepted");
  }
  if (!policy.canonicalization.contains(*c14n))
    return refuse(std::string(what) + " " + shown(*uri) +
                  " is not allowed by this connector's policy (allowed: " +
                  allowed_list(kC14nUris, policy.canonicalization) + ")");
  if (auto st = check_method_children(n, is_exclusive(*c14n)); !st) return st.error();
  return *c14n;
}

// What the pre-checks learnt; xmlsec then does the cryptography on exactly this.
struct Plan {
  xmlNode* signature = nullptr;
  xmlNode* signed_element = nullptr;
  xmlNode* key_info = nullptr;
  XmlSignatureMethod signature_method = XmlSignatureMethod::kRsaSha256;
  XmlDigestMethod digest_method = XmlDigestMethod::kSha256;
  std::string digest_value;
  std::string uri;
};

Status check_reference(xmlNode* ref, const XmlDsigPolicy& policy, Plan& plan) {
  auto uri = attribute(ref, "URI");
  if (!uri) return refuse("the Reference has no URI: only URI=\"\" or URI=\"#Id\" is accepted");
  plan.uri = *uri;
  if (uri->empty()) {
    if (policy.reference != XmlReferenceProfile::kWholeDocument)
      return refuse(
          "the Reference URI is \"\" but this connector requires a reference to the element's Id "
          "(URI=\"#...\")");
  } else if ((*uri)[0] == '#') {
    std::string_view id = std::string_view(*uri).substr(1);
    if (id.rfind("xpointer(", 0) == 0)
      return refuse("the Reference URI " + shown(*uri) + " is an XPointer: not accepted");
    if (!is_ncname(id))
      return refuse("the Reference URI " + shown(*uri) + " is not \"#\" followed by an Id");
    if (policy.reference != XmlReferenceProfile::kElementById)
      return refuse("the Reference URI is " + shown(*uri) +
                    " but this connector requires URI=\"\" (the whole document)");
  } else {
    return refuse("the Reference URI " + shown(*uri) +
                  " points outside the document: only URI=\"\" or URI=\"#Id\" is accepted");
  }

  auto children = element_children(ref);
  std::size_t at = 0;
  if (at < children.size() && is_dsig(children[at], "Transforms")) {
    auto transforms = element_children(children[at]);
    ++at;
    if (transforms.empty())
      return refuse("the Reference's Transforms is empty: enveloped-signature is required");
    for (const xmlNode* t : transforms) {
      if (!is_dsig(t, "Transform"))
        return refuse("unexpected element " + name_of(t) + " in Transforms");
    }
    auto first = attribute(transforms[0], "Algorithm");
    if (!first || *first != kEnvelopedUri)
      return refuse("the first transform must be enveloped-signature, found " +
                    shown(first.value_or("(none)")));
    if (!element_children(transforms[0]).empty())
      return refuse("the enveloped-signature transform has children");
    if (transforms.size() > 2)
      return refuse("the Reference has " + std::to_string(transforms.size()) +
                    " transforms: only enveloped-signature and one canonicalization are accepted");
    if (transforms.size() == 2) {
      auto c14n = read_c14n(transforms[1], policy, "the Reference transform");
      if (!c14n) return c14n.error();
    } else if (policy.require_reference_c14n_transform) {
      return refuse(
          "the Reference must list a canonicalization transform after enveloped-signature (" +
          allowed_list(kC14nUris, policy.canonicalization) + ")");
    }
  } else {
    return refuse(
        "the Reference has no Transforms: an enveloped signature needs the enveloped-signature "
        "transform");
  }

  if (at >= children.size() || !is_dsig(children[at], "DigestMethod"))
    return refuse("the Reference has no DigestMethod");
  auto digest_uri = attribute(children[at], "Algorithm");
  if (!digest_uri) return refuse("the DigestMethod has no Algorithm");
  if (std::string why = never_accepted(*digest_uri); !why.empty())
    return refuse("DigestMethod " + shown(*digest_uri) + " is refused: " + why);
  auto digest = from_uri(kDigestUris, *digest_uri);
  if (!digest || !policy.digest_methods.contains(*digest))
    return refuse("DigestMethod " + shown(*digest_uri) +
                  " is not allowed by this connector's policy (allowed: " +
                  allowed_list(kDigestUris, policy.digest_methods) + ")");
  if (!element_children(children[at]).empty()) return refuse("the DigestMethod has children");
  plan.digest_method = *digest;
  ++at;
  if (at >= children.size() || !is_dsig(children[at], "DigestValue"))
    return refuse("the Reference has no DigestValue");
  if (!detail::base64_decode(text_of(children[at]), plan.digest_value) ||
      plan.digest_value.size() != digest_size(*digest))
    return refuse("the DigestValue is not the base64 of a " + std::to_string(digest_size(*digest)) +
                  "-byte digest");
  ++at;
  if (at < children.size())
    return refuse("unexpected element " + name_of(children[at]) + " in the Reference");
  return {};
}

Status check_signed_info(xmlNode* signed_info, const XmlDsigPolicy& policy, Plan& plan) {
  auto children = element_children(signed_info);
  if (children.size() < 3 || !is_dsig(children[0], "CanonicalizationMethod") ||
      !is_dsig(children[1], "SignatureMethod"))
    return refuse(
        "SignedInfo must hold CanonicalizationMethod, SignatureMethod and one Reference, in that "
        "order");
  auto c14n = read_c14n(children[0], policy, "CanonicalizationMethod");
  if (!c14n) return c14n.error();

  auto method_uri = attribute(children[1], "Algorithm");
  if (!method_uri) return refuse("the SignatureMethod has no Algorithm");
  if (std::string why = never_accepted(*method_uri); !why.empty())
    return refuse("SignatureMethod " + shown(*method_uri) + " is refused: " + why);
  auto method = from_uri(kSignatureUris, *method_uri);
  if (!method || !policy.signature_methods.contains(*method))
    return refuse("SignatureMethod " + shown(*method_uri) +
                  " is not allowed by this connector's policy (allowed: " +
                  allowed_list(kSignatureUris, policy.signature_methods) + ")");
  if (!element_children(children[1]).empty()) return refuse("the SignatureMethod has children");
  plan.signature_method = *method;

  std::size_t references = 0;
  for (std::size_t i = 2; i < children.size(); ++i) {
    if (!is_dsig(children[i], "Reference"))
      return refuse("unexpected element " + name_of(children[i]) + " in SignedInfo");
    ++references;
  }
  if (references != 1)
    return refuse("SignedInfo has " + std::to_string(references) +
                  " References: exactly one is accepted");
  return check_reference(children[2], policy, plan);
}

// W2-W5: finds the element a "#id" reference names, refusing every ambiguity, and
// registers the configured attribute as an ID so that xmlsec resolves it the same way.
Result<xmlNode*> resolve_id(xmlDoc* doc, xmlNode* root, const std::string& id,
                            const XmlDsigPolicy& policy) {
  std::vector<xmlAttr*> matches;
  std::string ambiguous;
  detail::for_each_element(root, [&](xmlNode* n) {
    for (xmlAttr* a = n->properties; a != nullptr; a = a->next) {
      bool configured =
          a->ns == nullptr && xmlStrEqual(a->name, BAD_CAST policy.id_attribute.c_str());
      bool id_like = configured || equals_ignore_case(a->name, "id");
      if (!id_like) continue;
      xmlChar* v = xmlNodeListGetString(doc, a->children, 1);
      bool same = v != nullptr && id == reinterpret_cast<const char*>(v);
      xmlFree(v);
      if (!same) continue;
      if (configured) {
        matches.push_back(a);
      } else if (ambiguous.empty()) {
        ambiguous = name_of(n) + " carries it in attribute " +
                    (a->ns != nullptr && a->ns->prefix != nullptr
                         ? std::string(reinterpret_cast<const char*>(a->ns->prefix)) + ":"
                         : "") +
                    reinterpret_cast<const char*>(a->name);
      }
    }
  });
  if (matches.empty())
    return refuse("no element has " + policy.id_attribute + "=" + shown(id) +
                  ": the Reference points at nothing");
  if (matches.size() > 1)
    return refuse("the Id " + shown(id) + " appears on " + std::to_string(matches.size()) +
                  " elements: duplicate Ids are refused");
  if (!ambiguous.empty()) return refuse("the Id " + shown(id) + " is ambiguous: " + ambiguous);
  xmlAttr* attr = matches.front();
  if (xmlAttr* existing = xmlGetID(doc, BAD_CAST id.c_str());
      existing != nullptr && existing != attr)
    return refuse("the Id " + shown(id) + " is already an ID of another attribute");
  if (xmlGetID(doc, BAD_CAST id.c_str()) == nullptr &&
      xmlAddID(nullptr, doc, BAD_CAST id.c_str(), attr) == nullptr)
    return refuse("the Id " + shown(id) + " cannot be registered");
  return attr->parent;
}

std::string fingerprint_list(const std::vector<const PublicKey*>& keys) {
  std::string out;
  for (const PublicKey* k : keys)
    out += (out.empty() ? "" : ", ") + std::string(key_type_str(k->info().type)) +
           " sha256:" + k->info().fingerprint_sha256.substr(0, 16);
  return out;
}

}  // namespace

// ---- public helpers ------------------------------------------------------------------------

void init_xml_security() { detail::ensure_xml_runtime(); }

std::string_view xml_c14n_uri(XmlC14n c14n) { return to_uri(kC14nUris, c14n); }
std::string_view xml_signature_method_uri(XmlSignatureMethod method) {
  return to_uri(kSignatureUris, method);
}
std::string_view xml_digest_method_uri(XmlDigestMethod method) {
  return to_uri(kDigestUris, method);
}

// ---- verifier ------------------------------------------------------------------------------

struct XmlDsigVerifier::Impl {
  struct Registered {
    PublicKey key;
    XmlSecKeyPtr xmlsec_key;
  };
  XmlDsigPolicy policy;
  std::vector<Registered> keys;

  // The registered keys a KeyInfo certificate names (by fingerprint), or all of them.
  Result<std::vector<const Registered*>> candidates(xmlNode* key_info) const;
  // 1 verified, 0 signature value wrong for this key, or an error (digest mismatch, xmlsec
  // failure) that no other key can change.
  Result<bool> verify_with(const Plan& plan, const Registered& r) const;
};

Result<std::vector<const XmlDsigVerifier::Impl::Registered*>> XmlDsigVerifier::Impl::candidates(
    xmlNode* key_info) const {
  std::vector<const Registered*> out;
  std::size_t seen = 0;
  std::string first_unregistered;
  if (key_info != nullptr) {
    for (xmlNode* data : element_children(key_info)) {
      if (!is_dsig(data, "X509Data")) continue;
      for (xmlNode* c : element_children(data)) {
        if (!is_dsig(c, "X509Certificate")) continue;
        if (++seen > kMaxKeyInfoCertificates) return refuse("KeyInfo holds too many certificates");
        std::string der;
        if (!detail::base64_decode(text_of(c), der))
          return refuse("a KeyInfo X509Certificate is not valid base64");
        const auto* p = reinterpret_cast<const unsigned char*>(der.data());
        detail::X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
        if (!cert) {
          detail::drain_openssl_errors();
          return refuse("a KeyInfo X509Certificate is not a DER certificate");
        }
        std::string cert_fp = sha256_hex(der);
        std::string spki_fp;
        if (EVP_PKEY* pk = X509_get0_pubkey(cert.get())) {
          std::string spki = detail::spki_der(pk);
          if (!spki.empty()) spki_fp = sha256_hex(spki);
        }
        bool matched = false;
        for (const auto& r : keys) {
          const KeyInfo& info = r.key.info();
          bool same = info.from_certificate
                          ? info.cert_fingerprint_sha256 == cert_fp
                          : !spki_fp.empty() && info.fingerprint_sha256 == spki_fp;
          if (same && std::find(out.begin(), out.end(), &r) == out.end()) {
            out.push_back(&r);
            matched = true;
          }
        }
        if (!matched && first_unregistered.empty()) first_unregistered = cert_fp;
      }
    }
  }
  if (seen > 0 && out.empty())
    return refuse("the certificate in KeyInfo (SHA-256 " + first_unregistered +
                  ") is not registered for this connector");
  if (seen == 0 && policy.require_key_info_certificate)
    return refuse(
        "KeyInfo carries no X509Certificate: this connector requires the signer's certificate");
  if (seen == 0) {
    for (const auto& r : keys) out.push_back(&r);
  }
  return out;
}

Result<bool> XmlDsigVerifier::Impl::verify_with(const Plan& plan, const Registered& r) const {
  DsigContext c;
  xmlSecDSigCtx* ctx = c.get();
  ctx->flags = XMLSEC_DSIG_FLAGS_IGNORE_MANIFESTS;
  // Defence in depth for the checks above: xmlsec itself accepts only these.
  ctx->enabledReferenceUris = static_cast<xmlSecTransformUriType>(
      xmlSecTransformUriTypeEmpty | xmlSecTransformUriTypeSameDocument);
  bool ok = xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformEnvelopedId) >= 0;
  for (XmlC14n m : policy.canonicalization) {
    ok = ok && xmlSecDSigCtxEnableReferenceTransform(ctx, c14n_transform(m)) >= 0 &&
         xmlSecDSigCtxEnableSignatureTransform(ctx, c14n_transform(m)) >= 0;
  }
  for (XmlDigestMethod d : policy.digest_methods) {
    ok = ok && xmlSecDSigCtxEnableReferenceTransform(ctx, digest_transform(d)) >= 0;
  }
  ok = ok &&
       xmlSecDSigCtxEnableSignatureTransform(ctx, signature_transform(plan.signature_method)) >= 0;
  if (!ok) throw std::bad_alloc();
  ctx->signKey = xmlSecKeyDuplicate(r.xmlsec_key.get());
  if (ctx->signKey == nullptr) throw std::bad_alloc();

  detail::clear_xmlsec_errors();
  if (xmlSecDSigCtxVerify(ctx, plan.signature) < 0) {
    detail::drain_openssl_errors();
    return refuse("xmlsec could not check the signature: " + detail::take_xmlsec_errors());
  }
  detail::drain_openssl_errors();
  if (ctx->status == xmlSecDSigStatusSucceeded) return true;
  if (xmlSecPtrListGetSize(&ctx->signedInfoReferences) > 0) {
    auto* ref =
        static_cast<xmlSecDSigReferenceCtxPtr>(xmlSecPtrListGetItem(&ctx->signedInfoReferences, 0));
    if (ref != nullptr && ref->status != xmlSecDSigStatusSucceeded)
      return refuse(
          "the DigestValue does not match the signed content: the document was changed after "
          "signing");
  }
  return false;
}

Result<XmlDsigVerifier> XmlDsigVerifier::create(std::vector<PublicKey> registered_keys,
                                                XmlDsigPolicy policy) {
  detail::ensure_xml_runtime();
  if (registered_keys.empty())
    return make_error("KEY_INVALID", "no registered key to verify XML signatures with");
  if (policy.canonicalization.empty() || policy.signature_methods.empty() ||
      policy.digest_methods.empty())
    return make_error("KEY_INVALID",
                      "the XML-DSig policy allows no canonicalization, signature or digest method");
  if (!is_ncname(policy.id_attribute))
    return make_error("KEY_INVALID", "the Id attribute name is not a plain name");
  auto impl = std::make_shared<Impl>();
  for (auto& key : registered_keys) {
    KeyType t = key.info().type;
    if (t != KeyType::kRsa && t != KeyType::kEcP256 && t != KeyType::kEcP384)
      return make_error("KEY_INVALID",
                        "a " + std::string(key_type_str(t)) +
                            " key cannot verify XML signatures here (RSA, EC P-256 or P-384)");
    detail::clear_xmlsec_errors();
    auto xk = make_xmlsec_key(key.pkey());
    if (!xk) return xk.error();
    impl->keys.push_back({std::move(key), std::move(*xk)});
  }
  impl->policy = std::move(policy);
  XmlDsigVerifier v;
  v.impl_ = std::move(impl);
  return v;
}

const XmlDsigPolicy& XmlDsigVerifier::policy() const { return impl_->policy; }

Result<VerifiedXml> XmlDsigVerifier::verify(std::string_view xml) const {
  auto doc = XmlDocument::parse(xml);
  if (!doc) return doc.error();
  return verify(std::move(*doc));
}

Result<VerifiedXml> XmlDsigVerifier::verify(XmlDocument doc) const {
  const Impl& impl = *impl_;
  const XmlDsigPolicy& policy = impl.policy;
  xmlNode* root = doc.root();
  if (root == nullptr) return refuse("the document has no root element");

  // W1: exactly one Signature in the whole document.
  std::vector<xmlNode*> signatures;
  detail::for_each_element(root, [&](xmlNode* n) {
    if (is_dsig(n, "Signature")) signatures.push_back(n);
  });
  if (signatures.empty()) return refuse("the document has no ds:Signature: it is not signed");
  if (signatures.size() > 1)
    return refuse("the document has " + std::to_string(signatures.size()) +
                  " ds:Signature elements: exactly one is accepted");
  Plan plan;
  plan.signature = signatures.front();
  if (plan.signature == root)
    return refuse(
        "the ds:Signature is the document element (an enveloping signature): only enveloped "
        "signatures "
        "are accepted");

  auto parts = element_children(plan.signature);
  if (parts.size() < 2 || !is_dsig(parts[0], "SignedInfo") || !is_dsig(parts[1], "SignatureValue"))
    return refuse("the ds:Signature must start with SignedInfo and SignatureValue");
  for (std::size_t i = 2; i < parts.size(); ++i) {
    if (i == 2 && is_dsig(parts[i], "KeyInfo")) {
      plan.key_info = parts[i];
    } else if (is_dsig(parts[i], "Object")) {
      return refuse(
          "the ds:Signature holds a ds:Object: not accepted (it can carry Manifests or signed "
          "decoys)");
    } else {
      return refuse("unexpected element " + name_of(parts[i]) + " in the ds:Signature");
    }
  }
  if (auto st = check_signed_info(parts[0], policy, plan); !st) return st.error();

  // W2-W5: which element is signed, and is the Signature enveloped in it?
  if (plan.uri.empty()) {
    plan.signed_element = root;
  } else {
    auto target = resolve_id(doc.get(), root, plan.uri.substr(1), policy);
    if (!target) return target.error();
    plan.signed_element = *target;
    if (policy.referenced_element_must_be_root && plan.signed_element != root)
      return refuse("the Reference points at " + name_of(plan.signed_element) +
                    ", which is not the document element: only the document element may be signed");
  }
  if (plan.signature->parent != plan.signed_element)
    return refuse("the ds:Signature is not a child of the element it signs (" +
                  name_of(plan.signed_element) + "): an enveloped signature must be");

  auto candidates = impl.candidates(plan.key_info);
  if (!candidates) return candidates.error();
  std::vector<const PublicKey*> tried;
  for (const auto* r : *candidates) {
    if (!key_fits(plan.signature_method, r->key.info().type)) continue;
    tried.push_back(&r->key);
    auto verified = impl.verify_with(plan, *r);
    if (!verified) return verified.error();
    if (!*verified) continue;
    VerifiedXml out(std::move(doc));
    out.signed_ = plan.signed_element;
    out.signature_ = plan.signature;
    out.key_ = r->key;
    out.signature_method_ = plan.signature_method;
    out.digest_method_ = plan.digest_method;
    out.digest_value_ = std::move(plan.digest_value);
    out.reference_uri_ = std::move(plan.uri);
    return out;
  }
  if (tried.empty())
    return refuse("no registered key fits SignatureMethod " +
                  std::string(xml_signature_method_uri(plan.signature_method)));
  return refuse("the SignatureValue does not verify with the registered key(s) tried (" +
                fingerprint_list(tried) + "): another key signed it, or SignedInfo was changed");
}

// ---- signer --------------------------------------------------------------------------------

struct XmlSigner::Impl {
  PrivateKey key;
  std::optional<PublicKey> certificate;
  XmlSignOptions options;
  XmlSecKeyPtr xmlsec_key;
  xmlSecTransformId method = xmlSecTransformIdUnknown;
  std::string certificate_b64;
};

Result<XmlSigner> XmlSigner::create(PrivateKey key, std::optional<PublicKey> certificate,
                                    XmlSignOptions options) {
  detail::ensure_xml_runtime();
  auto impl = std::make_shared<Impl>();
  if (key.type() == KeyType::kRsa) {
    impl->method = xmlSecOpenSSLTransformRsaSha256Id;
  } else if (key.type() == KeyType::kEcP256 || key.type() == KeyType::kEcP384) {
    impl->method = xmlSecOpenSSLTransformEcdsaSha256Id;
  } else {
    return make_error("KEY_INVALID", "a " + std::string(key_type_str(key.type())) +
                                         " key cannot sign XML here (RSA or EC P-256/P-384)");
  }
  if (options.reference == XmlReferenceProfile::kElementById && !is_ncname(options.id_attribute))
    return make_error("KEY_INVALID", "the Id attribute name is not a plain name");
  if (certificate) {
    if (certificate->certificate() == nullptr)
      return make_error("KEY_INVALID", "the signer's key is not a certificate");
    if (EVP_PKEY_eq(certificate->pkey(), key.pkey()) != 1)
      return make_error("KEY_INVALID", "the certificate does not belong to the signing key");
    impl->certificate_b64 =
        detail::base64_encode(detail::certificate_der(certificate->certificate()));
  } else if (options.include_certificate) {
    return make_error("KEY_INVALID", "include_certificate needs the signer's certificate");
  }
  detail::clear_xmlsec_errors();
  auto xk = make_xmlsec_key(key.pkey());
  if (!xk) return xk.error();
  impl->xmlsec_key = std::move(*xk);
  impl->key = std::move(key);
  impl->certificate = std::move(certificate);
  impl->options = std::move(options);
  XmlSigner s;
  s.impl_ = std::move(impl);
  return s;
}

Status XmlSigner::sign(XmlDocument& doc) const {
  const Impl& impl = *impl_;
  auto failed = [](std::string why) { return make_error("SIGNING_FAILED", std::move(why)); };
  xmlNode* root = doc.root();
  if (root == nullptr) return failed("the document has no root element");
  std::string uri;
  if (impl.options.reference == XmlReferenceProfile::kElementById) {
    xmlAttr* attr = xmlHasNsProp(root, BAD_CAST impl.options.id_attribute.c_str(), nullptr);
    auto id = attribute(root, impl.options.id_attribute.c_str());
    if (attr == nullptr || !id)
      return failed("the document element has no " + impl.options.id_attribute + " attribute");
    if (!is_ncname(*id))
      return failed("the document element's Id " + shown(*id) + " is not a plain name");
    xmlAttr* existing = xmlGetID(doc.get(), BAD_CAST id->c_str());
    if (existing != nullptr && existing != attr)
      return failed("the Id " + shown(*id) + " is already used");
    if (existing == nullptr && xmlAddID(nullptr, doc.get(), BAD_CAST id->c_str(), attr) == nullptr)
      return failed("the Id " + shown(*id) + " cannot be registered");
    uri = "#" + *id;
  }

  xmlNode* sig = xmlSecTmplSignatureCreateNsPref(doc.get(), xmlSecTransformExclC14NId, impl.method,
                                                 nullptr, BAD_CAST "ds");
  if (sig == nullptr) throw std::bad_alloc();
  xmlAddChild(root, sig);
  // Until the signature is complete, a failure takes it out again.
  struct Undo {
    xmlNode* node;
    ~Undo() {
      if (node != nullptr) {
        xmlUnlinkNode(node);
        xmlFreeNode(node);
      }
    }
  } undo{sig};

  xmlNode* ref = xmlSecTmplSignatureAddReference(sig, digest_transform(impl.options.digest),
                                                 nullptr, BAD_CAST uri.c_str(), nullptr);
  if (ref == nullptr ||
      xmlSecTmplReferenceAddTransform(ref, xmlSecTransformEnvelopedId) == nullptr ||
      xmlSecTmplReferenceAddTransform(ref, xmlSecTransformExclC14NId) == nullptr)
    throw std::bad_alloc();

  DsigContext c;
  c.get()->enabledReferenceUris = static_cast<xmlSecTransformUriType>(
      xmlSecTransformUriTypeEmpty | xmlSecTransformUriTypeSameDocument);
  c.get()->signKey = xmlSecKeyDuplicate(impl.xmlsec_key.get());
  if (c.get()->signKey == nullptr) throw std::bad_alloc();
  detail::clear_xmlsec_errors();
  if (xmlSecDSigCtxSign(c.get(), sig) < 0 || c.get()->status != xmlSecDSigStatusSucceeded) {
    detail::drain_openssl_errors();
    return failed("xmlsec could not sign: " + detail::take_xmlsec_errors());
  }
  if (impl.options.include_certificate) {
    // Added after signing: KeyInfo is outside what the Reference covers, and written by
    // us, xmlsec's KeyInfo writer never runs.
    xmlNode* key_info = xmlSecTmplSignatureEnsureKeyInfo(sig, nullptr);
    xmlNode* data = key_info != nullptr ? xmlSecTmplKeyInfoAddX509Data(key_info) : nullptr;
    xmlNode* cert = data != nullptr ? xmlSecTmplX509DataAddCertificate(data) : nullptr;
    if (cert == nullptr) throw std::bad_alloc();
    xmlNodeSetContent(cert, BAD_CAST impl.certificate_b64.c_str());
  }
  undo.node = nullptr;
  return {};
}

Result<std::string> XmlSigner::sign(std::string_view xml) const {
  auto doc = XmlDocument::parse(xml);
  if (!doc) return doc.error();
  if (auto st = sign(*doc); !st) return st.error();
  return doc->serialize();
}

}  // namespace hub::signing
