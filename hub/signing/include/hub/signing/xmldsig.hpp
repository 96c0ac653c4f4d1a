#pragma once
// Enveloped XML Signatures (W3C XML-DSig 1.0/1.1) with xmlsec1 (openssl backend):
// verification under a strict per-connector profile, and signing of the hub's receipts.
//
// What is verified (code SIGNATURE_INVALID for every refusal below; the document itself
// is parsed by XmlDocument::parse, whose refusals are MALFORMED):
//   - exactly one ds:Signature in the whole document, an enveloped one (its parent is an
//     element; an enveloping or detached signature is refused), holding SignedInfo,
//     SignatureValue and at most a KeyInfo: no ds:Object (hence no Manifest);
//   - SignedInfo: CanonicalizationMethod, SignatureMethod and exactly one Reference;
//   - CanonicalizationMethod in the policy (default: exclusive c14n only);
//   - SignatureMethod in the policy (RSA-SHA256/384, ECDSA-SHA256/384); any SHA-1 or MD5
//     method and any HMAC are refused whatever the policy;
//   - the Reference URI is "" (profile kWholeDocument) or "#" + an NCName (profile
//     kElementById), as the policy says; XPointer, remote and relative URIs are refused;
//   - transforms: enveloped-signature, then optionally one canonicalization method from
//     the policy (required when the policy says so); nothing else (no XPath, XSLT, ...);
//   - DigestMethod SHA-256 or SHA-384 (policy), never SHA-1 or MD5;
//   - the key is one of the registered keys given to the verifier. KeyInfo is never a
//     source of trust: a certificate found in KeyInfo/X509Data only selects which
//     registered key to try, by SHA-256 fingerprint of the certificate (or, for a key
//     registered as SPKI, of its public key); when such a certificate matches no
//     registered key the signature is refused. Without one, every registered key that
//     fits the SignatureMethod is tried. xmlsec gets the key directly (no keys manager),
//     so it never reads KeyInfo at all;
//   - RSA keys under 2048 bits cannot be registered (PublicKey refuses them).
//
// Defences against signature wrapping (each has a crafted-document test in
// tests/xmldsig_test.cpp, suite XmlDsigWrappingTest):
//   W1 several Signatures: a document with more than one ds:Signature element, anywhere
//      (including inside the signed content), is refused;
//   W2 the signed element is fixed by the profile: the root for URI=""; for "#id" the one
//      element whose configured Id attribute has that value, which must also be the root
//      when `referenced_element_must_be_root` (the default); a reference to any other
//      element is refused;
//   W3 enveloped means the Signature is a child of the signed element: a Signature
//      elsewhere (e.g. moved into a wrapper, or under a sibling) is refused;
//   W4 duplicate Ids: the Id value referenced may occur once in the whole document, in
//      the configured attribute; a second element with the same Id is refused;
//   W5 Id ambiguity: any other attribute whose local name is id/ID/Id (xml:id, wsu:Id,
//      an attribute with a namespace prefix, a different case) carrying the referenced
//      value is refused, as is an ID already registered by libxml2 (xml:id) that is not
//      the configured attribute. The configured attribute is registered as an ID by us,
//      after these checks; DTD-declared IDs cannot exist (DOCTYPE is refused);
//   W6 the caller processes what was signed: VerifiedXml hands out the signed element
//      (and the document it lives in); connectors must read only that element's subtree
//      (skipping the ds:Signature child), never search the document by name.
//
// Thread-safety rules (see docs/signing.md):
//   - libxml2 and xmlsec are initialised once per process (init_xml_security, also
//     called lazily by every entry point; call it at start-up to fail early). Nothing
//     here ever calls xmlCleanupParser or xmlSecShutdown.
//   - XmlDsigVerifier and XmlSigner are immutable after create(): share one per set of
//     registered keys between any number of threads. Each call builds its own xmlsec
//     context; the xmlsec keys made at create() are only duplicated (a reference count)
//     per call.
//   - An XmlDocument / VerifiedXml is used by one thread at a time.
//   - xmlsec's error callback is process-wide; ours keeps each thread's errors apart.
//
// Lifetime: a VerifiedXml owns the document; the element pointers it gives are valid
// while it lives and the tree is not modified.

#include <cstddef>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "hub/core/result.hpp"
#include "hub/signing/keys.hpp"
#include "hub/signing/xml.hpp"

namespace hub::signing {

// Initialises libxml2 + xmlsec (openssl) once for the process. Throws std::runtime_error
// when the libraries cannot start (a start-up error).
void init_xml_security();

enum class XmlReferenceProfile {
  kWholeDocument,  // Reference URI="": the document element is signed
  kElementById,    // Reference URI="#id": the element whose Id attribute is id
};

enum class XmlC14n { kExclusive, kExclusiveWithComments, kInclusive, kInclusiveWithComments };
enum class XmlSignatureMethod { kRsaSha256, kRsaSha384, kEcdsaSha256, kEcdsaSha384 };
enum class XmlDigestMethod { kSha256, kSha384 };

std::string_view xml_c14n_uri(XmlC14n c14n);
std::string_view xml_signature_method_uri(XmlSignatureMethod method);
std::string_view xml_digest_method_uri(XmlDigestMethod method);

struct XmlDsigPolicy {
  XmlReferenceProfile reference = XmlReferenceProfile::kWholeDocument;
  // The attribute (no namespace) that carries the element's Id for kElementById.
  std::string id_attribute = "Id";
  // kElementById: the referenced element must be the document element (JCM).
  bool referenced_element_must_be_root = true;
  // For SignedInfo's CanonicalizationMethod and for the Reference's c14n transform.
  // Inclusive c14n is off unless a connector's specification asks for it.
  std::set<XmlC14n> canonicalization = {XmlC14n::kExclusive};
  // Whether the Reference must list a c14n transform after enveloped-signature (the
  // J-Credit profile does); without it, XML-DSig applies inclusive c14n to the
  // reference's node-set implicitly, as the W3C interop vectors rely on.
  bool require_reference_c14n_transform = false;
  // Whether KeyInfo must carry the signer's X509Certificate (J-Credit and JCM send it).
  // It still only selects the registered key; it is never trusted by itself.
  bool require_key_info_certificate = false;
  std::set<XmlSignatureMethod> signature_methods = {
      XmlSignatureMethod::kRsaSha256, XmlSignatureMethod::kRsaSha384,
      XmlSignatureMethod::kEcdsaSha256, XmlSignatureMethod::kEcdsaSha384};
  std::set<XmlDigestMethod> digest_methods = {XmlDigestMethod::kSha256, XmlDigestMethod::kSha384};
};

// A document whose signature verified, and the element that signature covers.
class VerifiedXml {
 public:
  // The element the connector must process: the root for URI="", the referenced element
  // for "#id". Its ds:Signature child is signature_element().
  xmlNode* signed_element() const { return signed_; }
  xmlNode* signature_element() const { return signature_; }
  const XmlDocument& document() const { return doc_; }
  // The registered key that verified the signature.
  const PublicKey& key() const { return key_; }
  XmlSignatureMethod signature_method() const { return signature_method_; }
  XmlDigestMethod digest_method() const { return digest_method_; }
  // The Reference's DigestValue (binary): the digest of the canonical signed content, a
  // stable identity of what was signed (for idempotency checks).
  const std::string& digest_value() const { return digest_value_; }
  const std::string& reference_uri() const { return reference_uri_; }

 private:
  friend class XmlDsigVerifier;
  VerifiedXml(XmlDocument doc) : doc_(std::move(doc)) {}  // NOLINT(google-explicit-constructor)
  XmlDocument doc_;
  xmlNode* signed_ = nullptr;
  xmlNode* signature_ = nullptr;
  PublicKey key_;
  XmlSignatureMethod signature_method_ = XmlSignatureMethod::kRsaSha256;
  XmlDigestMethod digest_method_ = XmlDigestMethod::kSha256;
  std::string digest_value_;
  std::string reference_uri_;
};

// Verifies enveloped signatures against a fixed set of registered keys and a policy.
// Build one per (connector, key set) and share it; rebuild when the trust store changes.
class XmlDsigVerifier {
 public:
  // Errors (KEY_INVALID): no key, a key xmlsec cannot use (e.g. Ed25519), an empty
  // algorithm set in the policy, an id_attribute that is not a plain name.
  static Result<XmlDsigVerifier> create(std::vector<PublicKey> registered_keys,
                                        XmlDsigPolicy policy);

  // Parses (MALFORMED refusals) and verifies (SIGNATURE_INVALID refusals).
  Result<VerifiedXml> verify(std::string_view xml) const;
  Result<VerifiedXml> verify(XmlDocument doc) const;

  const XmlDsigPolicy& policy() const;

  struct Impl;

 private:
  std::shared_ptr<const Impl> impl_;
};

struct XmlSignOptions {
  XmlReferenceProfile reference = XmlReferenceProfile::kWholeDocument;
  // kElementById: the document element's attribute whose value the Reference names.
  std::string id_attribute = "Id";
  XmlDigestMethod digest = XmlDigestMethod::kSha256;
  // Adds KeyInfo/X509Data/X509Certificate with the signer's certificate (which then must
  // be given to create()).
  bool include_certificate = false;
};

// Signs documents enveloped on their root: exclusive c14n for SignedInfo and as the
// Reference transform after enveloped-signature; RSA-SHA256 for an RSA key, ECDSA-SHA256
// for an EC P-256/P-384 key; the Signature (prefix ds) is appended as the root's last
// child.
class XmlSigner {
 public:
  // Errors (KEY_INVALID): unsupported key type, a certificate that does not belong to
  // the key, include_certificate without a certificate.
  static Result<XmlSigner> create(PrivateKey key, std::optional<PublicKey> certificate,
                                  XmlSignOptions options);

  // Adds the signature to `doc` (left unchanged on error). Errors: SIGNING_FAILED.
  Status sign(XmlDocument& doc) const;
  // Parses `xml` (MALFORMED refusals as for partner input), signs it and serializes it.
  Result<std::string> sign(std::string_view xml) const;

  struct Impl;

 private:
  std::shared_ptr<const Impl> impl_;
};

}  // namespace hub::signing
