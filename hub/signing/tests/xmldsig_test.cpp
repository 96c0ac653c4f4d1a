#include "hub/signing/xmldsig.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "hub/testing/test_env.hpp"
#include "test_keys.hpp"

namespace {

using hub::signing::PublicKey;
using hub::signing::VerifiedXml;
using hub::signing::XmlC14n;
using hub::signing::XmlDigestMethod;
using hub::signing::XmlDsigPolicy;
using hub::signing::XmlDsigVerifier;
using hub::signing::XmlReferenceProfile;
using hub::signing::XmlSignatureMethod;
using hub::signing::XmlSigner;
using hub::signing::XmlSignOptions;
using hub::signing::testing::KeyKind;
using hub::signing::testing::test_key;
using hub::signing::testing::TestKey;

const std::string kJCredit = R"(<?xml version="1.0" encoding="UTF-8"?>
<jc:CancellationNotice xmlns:jc="urn:jp:j-credit:registry:gx-link:1" version="1.0">
  <jc:MessageId>JCR-20261121-000101</jc:MessageId>
  <jc:Beneficiary><jc:Name>株式会社サンプル製鉄</jc:Name><jc:GxAccount>JP-GX-100-0000018</jc:GxAccount></jc:Beneficiary>
  <jc:Quantity>500</jc:Quantity>
</jc:CancellationNotice>
)";

const std::string kJcm = R"(<?xml version="1.0" encoding="UTF-8"?>
<CancellationForGx xmlns="urn:jp:jcm:registry:2" Id="m-JCM-20261121-0007">
  <Header><MessageId>JCM-20261121-0007</MessageId></Header>
  <Body><Units amount="250" first="JCM-MN001-2023-000000001"/></Body>
</CancellationForGx>
)";

XmlDsigPolicy by_id_policy() {
  XmlDsigPolicy p;
  p.reference = XmlReferenceProfile::kElementById;
  return p;
}

XmlSignOptions by_id_options() {
  XmlSignOptions o;
  o.reference = XmlReferenceProfile::kElementById;
  return o;
}

std::string sign(const std::string& xml, const TestKey& key, XmlSignOptions options = {},
                 bool with_cert = false) {
  options.include_certificate = options.include_certificate || with_cert;
  auto signer = XmlSigner::create(
      key.private_key, with_cert ? std::optional<PublicKey>(key.certificate) : std::nullopt,
      options);
  if (!signer) throw std::runtime_error(signer.error().to_string());
  auto signed_xml = signer->sign(xml);
  if (!signed_xml) throw std::runtime_error(signed_xml.error().to_string());
  return *signed_xml;
}

XmlDsigVerifier verifier(std::vector<PublicKey> keys, XmlDsigPolicy policy = {}) {
  auto v = XmlDsigVerifier::create(std::move(keys), std::move(policy));
  if (!v) throw std::runtime_error(v.error().to_string());
  return *v;
}

void expect_refused(const hub::Result<VerifiedXml>& r, const std::string& fragment,
                    const std::string& code = "SIGNATURE_INVALID") {
  ASSERT_FALSE(r.ok()) << "expected a refusal mentioning '" << fragment << "'";
  EXPECT_EQ(r.error().code, code);
  EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
}

// Replaces the first `from` (which must be there) with `to`.
std::string replaced(std::string s, const std::string& from, const std::string& to) {
  auto at = s.find(from);
  if (at == std::string::npos)
    throw std::runtime_error("test fixture: '" + from + "' not found in\n" + s);
  return s.replace(at, from.size(), to);
}

std::string signature_of(const std::string& doc) {
  auto start = doc.find("<ds:Signature");
  auto end = doc.find("</ds:Signature>");
  if (start == std::string::npos || end == std::string::npos)
    throw std::runtime_error("no signature in\n" + doc);
  return doc.substr(start, end + 15 - start);
}

std::string element_name(const xmlNode* n) { return reinterpret_cast<const char*>(n->name); }

// ---- round trips ----------------------------------------------------------------------

TEST(XmlDsigTest, SignsAndVerifiesRsaAndEcdsaOverTheWholeDocument) {
  for (KeyKind kind : {KeyKind::kRsa2048, KeyKind::kEcP256, KeyKind::kEcP384}) {
    const auto& key = test_key(kind);
    std::string doc = sign(kJCredit, key);
    auto r = verifier({key.spki}).verify(doc);
    ASSERT_TRUE(r.ok()) << r.error().to_string() << "\n" << doc;
    EXPECT_EQ(r->signed_element(), r->document().root());
    EXPECT_EQ(element_name(r->signed_element()), "CancellationNotice");
    EXPECT_EQ(r->signature_element()->parent, r->signed_element());
    EXPECT_EQ(r->reference_uri(), "");
    EXPECT_EQ(r->digest_method(), XmlDigestMethod::kSha256);
    EXPECT_EQ(r->digest_value().size(), 32u);
    EXPECT_EQ(r->key().info().fingerprint_sha256, key.spki.info().fingerprint_sha256);
    EXPECT_EQ(r->signature_method(), kind == KeyKind::kRsa2048 ? XmlSignatureMethod::kRsaSha256
                                                               : XmlSignatureMethod::kEcdsaSha256);
  }
}

TEST(XmlDsigTest, SignsAndVerifiesByIdWithTheCertificateInKeyInfo) {
  const auto& key = test_key(KeyKind::kEcP256, "jcm");
  XmlSignOptions options = by_id_options();
  options.digest = XmlDigestMethod::kSha384;
  std::string doc = sign(kJcm, key, options, /*with_cert=*/true);
  EXPECT_NE(doc.find("URI=\"#m-JCM-20261121-0007\""), std::string::npos);
  EXPECT_NE(doc.find("<ds:X509Certificate>"), std::string::npos);
  // Two registered keys: the KeyInfo certificate picks the right one.
  auto r =
      verifier({test_key(KeyKind::kEcP256, "other").certificate, key.certificate}, by_id_policy())
          .verify(doc);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(element_name(r->signed_element()), "CancellationForGx");
  EXPECT_EQ(r->reference_uri(), "#m-JCM-20261121-0007");
  EXPECT_EQ(r->digest_method(), XmlDigestMethod::kSha384);
  EXPECT_EQ(r->key().info().cert_fingerprint_sha256,
            key.certificate.info().cert_fingerprint_sha256);
}

TEST(XmlDsigTest, SpkiRegistrationMatchesAKeyInfoCertificateByPublicKey) {
  const auto& key = test_key(KeyKind::kRsa2048, "jcredit");
  std::string doc = sign(kJCredit, key, {}, /*with_cert=*/true);
  EXPECT_TRUE(verifier({key.spki}).verify(doc).ok());
}

TEST(XmlDsigTest, RefusesAKeyInfoCertificateThatIsNotRegistered) {
  // Signed by an unregistered key that ships its own certificate: never trusted.
  const auto& intruder = test_key(KeyKind::kRsa2048, "intruder");
  std::string doc = sign(kJCredit, intruder, {}, /*with_cert=*/true);
  expect_refused(verifier({test_key(KeyKind::kRsa2048, "jcredit").certificate}).verify(doc),
                 "is not registered");
  // The registered certificate's key, but the message carries another certificate for it:
  // J-Credit registers certificates, and the certificate must match, not just the key.
  const auto& jcredit = test_key(KeyKind::kRsa2048, "jcredit");
  auto reissued = PublicKey::from_pem(
      hub::signing::testing::another_certificate_pem(jcredit, "jcredit reissued"));
  ASSERT_TRUE(reissued.ok());
  XmlSignOptions with_cert;
  with_cert.include_certificate = true;
  auto signer = XmlSigner::create(jcredit.private_key, *reissued, with_cert);
  ASSERT_TRUE(signer.ok()) << signer.error().to_string();
  auto reissued_doc = signer->sign(kJCredit);
  ASSERT_TRUE(reissued_doc.ok());
  expect_refused(verifier({jcredit.certificate}).verify(*reissued_doc), "is not registered");
  // Registered as a bare public key (SPKI), any certificate of that key selects it.
  EXPECT_TRUE(verifier({jcredit.spki}).verify(*reissued_doc).ok());
}

TEST(XmlDsigTest, RequiresTheKeyInfoCertificateWhenThePolicySays) {
  const auto& key = test_key(KeyKind::kRsa2048, "jcredit");
  XmlDsigPolicy strict;
  strict.require_key_info_certificate = true;
  expect_refused(verifier({key.certificate}, strict).verify(sign(kJCredit, key)),
                 "KeyInfo carries no X509Certificate");
  EXPECT_TRUE(verifier({key.certificate}, strict).verify(sign(kJCredit, key, {}, true)).ok());
}

TEST(XmlDsigTest, RefusesSignaturesByUnregisteredKeys) {
  std::string doc = sign(kJCredit, test_key(KeyKind::kRsa2048, "intruder"));
  expect_refused(verifier({test_key(KeyKind::kRsa2048, "jcredit").spki}).verify(doc),
                 "does not verify with the registered");
  // An EC-signed document and only RSA keys registered.
  std::string ec_doc = sign(kJCredit, test_key(KeyKind::kEcP256));
  expect_refused(verifier({test_key(KeyKind::kRsa2048).spki}).verify(ec_doc),
                 "no registered key fits");
}

TEST(XmlDsigTest, RefusesChangedContentAndChangedSignedInfo) {
  const auto& key = test_key(KeyKind::kRsa2048);
  auto v = verifier({key.spki});
  std::string doc = sign(kJCredit, key);
  expect_refused(v.verify(replaced(doc, "<jc:Quantity>500<", "<jc:Quantity>5000<")),
                 "DigestValue does not match");
  // A comment is outside what URI="" signs; an attribute is inside.
  EXPECT_TRUE(v.verify(replaced(doc, "<jc:Quantity>", "<!-- note --><jc:Quantity>")).ok());
  expect_refused(
      v.verify(replaced(doc, "gx-link:1\" version=\"1.0\"", "gx-link:1\" version=\"1.1\"")),
      "DigestValue does not match");
  expect_refused(
      v.verify(replaced(doc, "<ds:Reference URI=\"\">", "<ds:Reference URI=\"\" Id=\"r\">")),
      "SignatureValue does not verify");
}

TEST(XmlDsigTest, ReturnsMalformedForDocumentsThatDoNotParse) {
  auto v = verifier({test_key(KeyKind::kRsa2048).spki});
  expect_refused(v.verify("<!DOCTYPE r [<!ENTITY x \"y\">]><r>&x;</r>"), "DOCTYPE", "MALFORMED");
  expect_refused(v.verify("<r><unclosed></r>"), "not well-formed", "MALFORMED");
  expect_refused(v.verify("<r>unsigned</r>"), "no ds:Signature");
}

// ---- algorithm and structure policy --------------------------------------------------------

TEST(XmlDsigTest, RefusesAlgorithmsOutsideThePolicy) {
  const auto& key = test_key(KeyKind::kRsa2048);
  auto v = verifier({key.spki});
  std::string doc = sign(kJCredit, key);
  const std::string exc = "http://www.w3.org/2001/10/xml-exc-c14n#";
  const std::string rsa256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
  const std::string sha256 = "http://www.w3.org/2001/04/xmlenc#sha256";
  struct Case {
    std::string from, to, fragment;
  };
  const Case cases[] = {
      {"CanonicalizationMethod Algorithm=\"" + exc + "\"",
       "CanonicalizationMethod Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"",
       "CanonicalizationMethod \"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\" is not allowed "
       "by this connector's policy"},
      {"CanonicalizationMethod Algorithm=\"" + exc + "\"",
       "CanonicalizationMethod Algorithm=\"http://www.w3.org/2006/12/xml-c14n11\"",
       "is not accepted"},
      {rsa256, "http://www.w3.org/2000/09/xmldsig#rsa-sha1", "SHA-1 is never accepted"},
      {rsa256, "http://www.w3.org/2000/09/xmldsig#hmac-sha1", "HMAC"},
      {rsa256, "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256", "HMAC"},
      {rsa256, "http://www.w3.org/2001/04/xmldsig-more#rsa-md5", "MD5"},
      {rsa256, "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
       "is not allowed by this connector's policy"},
      {sha256, "http://www.w3.org/2000/09/xmldsig#sha1",
       "DigestMethod \"http://www.w3.org/2000/09/xmldsig#sha1\" is refused: SHA-1"},
      {sha256, "http://www.w3.org/2001/04/xmlenc#sha512",
       "is not allowed by this connector's policy"},
      {"<ds:Transform Algorithm=\"" + exc + "\"/>",
       "<ds:Transform "
       "Algorithm=\"http://www.w3.org/TR/1999/"
       "REC-xpath-19991116\"><ds:XPath>not(ancestor-or-self::x)</ds:XPath></ds:Transform>",
       "XPath and XSLT transforms are never accepted"},
      {"<ds:Transform Algorithm=\"" + exc + "\"/>",
       "<ds:Transform Algorithm=\"" + exc + "\"/><ds:Transform Algorithm=\"" + exc + "\"/>",
       "3 transforms"},
      {"<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>", "",
       "the first transform must be enveloped-signature"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.to);
    expect_refused(v.verify(replaced(doc, c.from, c.to)), c.fragment);
  }
  // The same switch to inclusive c14n is accepted by a policy that allows it: the refusal
  // above is the policy's, not a failure to process inclusive c14n (the signature then
  // fails, as SignedInfo was changed).
  XmlDsigPolicy inclusive;
  inclusive.canonicalization = {XmlC14n::kExclusive, XmlC14n::kInclusive};
  expect_refused(
      verifier({key.spki}, inclusive)
          .verify(replaced(doc, "CanonicalizationMethod Algorithm=\"" + exc + "\"",
                           "CanonicalizationMethod "
                           "Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"")),
      "SignatureValue does not verify");
}

TEST(XmlDsigTest, RefusesReferencesOutsideTheProfile) {
  const auto& key = test_key(KeyKind::kRsa2048);
  auto whole = verifier({key.spki});
  std::string doc = sign(kJCredit, key);
  const std::string ref = "<ds:Reference URI=\"\">";
  expect_refused(
      whole.verify(replaced(doc, ref, "<ds:Reference URI=\"http://127.0.0.1:9/other.xml\">")),
      "points outside the document");
  expect_refused(whole.verify(replaced(doc, ref, "<ds:Reference URI=\"file:///etc/passwd\">")),
                 "points outside the document");
  expect_refused(whole.verify(replaced(doc, ref, "<ds:Reference URI=\"#xpointer(/)\">")),
                 "is an XPointer");
  expect_refused(whole.verify(replaced(doc, ref, "<ds:Reference URI=\"#a b\">")),
                 "is not \"#\" followed by an Id");
  expect_refused(whole.verify(replaced(doc, ref, "<ds:Reference>")), "has no URI");
  expect_refused(whole.verify(replaced(doc, ref, "<ds:Reference URI=\"#x\">")),
                 "requires URI=\"\"");
  expect_refused(verifier({key.spki}, by_id_policy()).verify(doc),
                 "requires a reference to the element's Id");
  // Two References.
  auto start = doc.find(ref);
  auto end = doc.find("</ds:Reference>") + 15;
  std::string reference = doc.substr(start, end - start);
  expect_refused(whole.verify(replaced(doc, reference, reference + reference)),
                 "2 References: exactly one");
  // No Transforms at all.
  auto ts = doc.find("<ds:Transforms>");
  auto te = doc.find("</ds:Transforms>") + 16;
  expect_refused(whole.verify(replaced(doc, doc.substr(ts, te - ts), "")), "has no Transforms");
}

TEST(XmlDsigTest, RequiresTheC14nTransformWhenThePolicySays) {
  const auto& key = test_key(KeyKind::kRsa2048);
  std::string doc = sign(kJCredit, key);
  std::string enveloped_only =
      replaced(doc, "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>", "");
  XmlDsigPolicy strict;
  strict.require_reference_c14n_transform = true;
  expect_refused(verifier({key.spki}, strict).verify(enveloped_only),
                 "must list a canonicalization transform");
  EXPECT_TRUE(verifier({key.spki}, strict).verify(doc).ok());
}

TEST(XmlDsigTest, RefusesObjectsAndUnexpectedElementsInTheSignature) {
  const auto& key = test_key(KeyKind::kRsa2048);
  auto v = verifier({key.spki});
  std::string doc = sign(kJCredit, key);
  expect_refused(v.verify(replaced(doc, "</ds:Signature>",
                                   "<ds:Object Id=\"o\">x</ds:Object></ds:Signature>")),
                 "holds a ds:Object");
  expect_refused(
      v.verify(replaced(doc, "</ds:Signature>", "<x:Extra xmlns:x=\"urn:x\"/></ds:Signature>")),
      "unexpected element <x:Extra>");
  expect_refused(
      v.verify(replaced(doc, "</ds:SignedInfo>", "<x:Extra xmlns:x=\"urn:x\"/></ds:SignedInfo>")),
      "unexpected element <x:Extra> in SignedInfo");
}

// ---- wrapping attacks (the defences W1-W6 of xmldsig.hpp) ------------------------------------

TEST(XmlDsigWrappingTest, W1RefusesASecondSignatureAnywhere) {
  const auto& key = test_key(KeyKind::kRsa2048);
  std::string doc = sign(kJCredit, key);
  std::string sig = signature_of(doc);
  auto v = verifier({key.spki});
  expect_refused(v.verify(replaced(doc, "<jc:Quantity>", sig + "<jc:Quantity>")),
                 "2 ds:Signature elements");
  // Hidden deep inside the content.
  expect_refused(
      v.verify(replaced(doc, "<jc:Name>", "<jc:Name><x:y xmlns:x=\"urn:x\">" + sig + "</x:y>")),
      "2 ds:Signature elements");
}

TEST(XmlDsigWrappingTest, W2RefusesAReferenceToAnElementThatIsNotTheRoot) {
  // A genuinely signed element (its own document, signed by Id) moved under an attacker's
  // root: the signature still verifies over that element, but it is not what a JCM
  // message is (the root), so the default policy refuses it.
  const auto& key = test_key(KeyKind::kEcP256, "jcm");
  std::string signed_alone = sign(kJcm, key, by_id_options());
  std::string element = signed_alone.substr(signed_alone.find("<CancellationForGx"));
  std::string wrapped = "<Evil xmlns=\"urn:evil\"><Payload>forged</Payload>" + element + "</Evil>";
  expect_refused(verifier({key.spki}, by_id_policy()).verify(wrapped),
                 "is not the document element");
  // W6: with a policy that lets a child element be signed, the caller is handed exactly the
  // signed element, never the attacker's root.
  XmlDsigPolicy relaxed = by_id_policy();
  relaxed.referenced_element_must_be_root = false;
  auto r = verifier({key.spki}, relaxed).verify(wrapped);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(element_name(r->signed_element()), "CancellationForGx");
  EXPECT_NE(r->signed_element(), r->document().root());
}

TEST(XmlDsigWrappingTest, W2RefusesAWholeDocumentSignatureUnderAnotherRoot) {
  const auto& key = test_key(KeyKind::kRsa2048);
  std::string doc = sign(kJCredit, key);
  std::string element = doc.substr(doc.find("<jc:CancellationNotice"));
  std::string wrapped = "<Evil><Quantity>999999</Quantity>" + element + "</Evil>";
  expect_refused(verifier({key.spki}).verify(wrapped),
                 "not a child of the element it signs (<Evil>)");
}

TEST(XmlDsigWrappingTest, W3RefusesASignatureThatIsNotAChildOfTheSignedElement) {
  const auto& key = test_key(KeyKind::kRsa2048);
  std::string doc = sign(kJCredit, key);
  std::string sig = signature_of(doc);
  // Moved into a child: the enveloped transform still removes it, so the digest would match.
  std::string moved =
      replaced(replaced(doc, sig, ""), "<jc:Quantity>500", "<jc:Quantity>500" + sig);
  expect_refused(verifier({key.spki}).verify(moved), "not a child of the element it signs");
  // By Id: the signature under a sibling of the signed element.
  const auto& ec = test_key(KeyKind::kEcP256, "jcm");
  std::string by_id = sign(kJcm, ec, by_id_options());
  std::string sig2 = signature_of(by_id);
  std::string moved2 = replaced(replaced(by_id, sig2, ""), "<Body>", "<Body>" + sig2);
  expect_refused(verifier({ec.spki}, by_id_policy()).verify(moved2),
                 "not a child of the element it signs");
}

TEST(XmlDsigWrappingTest, W4RefusesDuplicateIds) {
  const auto& key = test_key(KeyKind::kEcP256, "jcm");
  std::string doc = sign(kJcm, key, by_id_options());
  auto v = verifier({key.spki}, by_id_policy());
  // Classic XSW: a forged element takes the Id; the genuine one is hidden further down.
  std::string genuine = doc.substr(doc.find("<CancellationForGx"));
  genuine = genuine.substr(0, genuine.find("<ds:Signature"));
  std::string hidden =
      replaced(doc, "<Body>", "<Body><Hidden>" + genuine + "</CancellationForGx></Hidden>");
  expect_refused(v.verify(hidden), "appears on 2 elements");
  expect_refused(v.verify(replaced(doc, "<Header>", "<Header Id=\"m-JCM-20261121-0007\">")),
                 "appears on 2 elements");
}

TEST(XmlDsigWrappingTest, W5RefusesIdAmbiguity) {
  const auto& key = test_key(KeyKind::kEcP256, "jcm");
  std::string doc = sign(kJcm, key, by_id_options());
  auto v = verifier({key.spki}, by_id_policy());
  const std::string id = "m-JCM-20261121-0007";
  expect_refused(v.verify(replaced(doc, "<Header>", "<Header xml:id=\"" + id + "\">")),
                 "ambiguous");
  expect_refused(v.verify(replaced(doc, "<Header>", "<Header ID=\"" + id + "\">")), "ambiguous");
  expect_refused(v.verify(replaced(doc, "<Header>", "<Header id=\"" + id + "\">")), "ambiguous");
  expect_refused(v.verify(replaced(doc, "<Header>",
                                   "<Header "
                                   "xmlns:wsu=\"http://docs.oasis-open.org/wss/2004/01/"
                                   "oasis-200401-wss-wssecurity-utility-1.0.xsd\" "
                                   "wsu:Id=\"" +
                                       id + "\">")),
                 "ambiguous");
  // The configured attribute in a namespace is not the configured attribute.
  expect_refused(
      v.verify(replaced(doc, "Id=\"" + id + "\"", "xmlns:p=\"urn:p\" p:Id=\"" + id + "\"")),
      "no element has Id=");
  // Id-like attributes with other values are no ambiguity.
  std::string with_other_ids =
      replaced(kJcm, "<Header>", "<Header ID=\"h1\" xml:id=\"h2\"><Item Id=\"h3\"/>");
  EXPECT_TRUE(v.verify(sign(with_other_ids, key, by_id_options())).ok());
}

TEST(XmlDsigWrappingTest, RefusesAnEnvelopingSignature) {
  const auto& key = test_key(KeyKind::kRsa2048);
  std::string doc = sign(kJCredit, key);
  expect_refused(verifier({key.spki}).verify(signature_of(doc)), "is the document element");
}

// ---- configuration, signer errors and concurrency -----------------------------------------

TEST(XmlDsigTest, CreateRefusesUnusableKeysAndPolicies) {
  auto no_keys = XmlDsigVerifier::create({}, {});
  ASSERT_FALSE(no_keys.ok());
  EXPECT_EQ(no_keys.error().code, "KEY_INVALID");
  auto ed = XmlDsigVerifier::create({test_key(KeyKind::kEd25519).spki}, {});
  ASSERT_FALSE(ed.ok());
  EXPECT_NE(ed.error().message.find("Ed25519"), std::string::npos);
  XmlDsigPolicy empty;
  empty.signature_methods.clear();
  EXPECT_FALSE(XmlDsigVerifier::create({test_key(KeyKind::kRsa2048).spki}, empty).ok());
  XmlDsigPolicy bad_attr;
  bad_attr.id_attribute = "a b";
  EXPECT_FALSE(XmlDsigVerifier::create({test_key(KeyKind::kRsa2048).spki}, bad_attr).ok());

  EXPECT_FALSE(XmlSigner::create(test_key(KeyKind::kEd25519).private_key, std::nullopt, {}).ok());
  EXPECT_FALSE(XmlSigner::create(test_key(KeyKind::kRsa2048).private_key,
                                 test_key(KeyKind::kRsa2048, "x").certificate, {})
                   .ok());
  XmlSignOptions with_cert;
  with_cert.include_certificate = true;
  EXPECT_FALSE(
      XmlSigner::create(test_key(KeyKind::kRsa2048).private_key, std::nullopt, with_cert).ok());
}

TEST(XmlDsigTest, SignByIdNeedsTheRootId) {
  auto signer =
      XmlSigner::create(test_key(KeyKind::kEcP256).private_key, std::nullopt, by_id_options());
  ASSERT_TRUE(signer.ok());
  auto r = signer->sign(kJCredit);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "SIGNING_FAILED");
  EXPECT_NE(r.error().message.find("has no Id attribute"), std::string::npos);
  // A failed signature leaves the document as it was.
  auto doc = hub::signing::XmlDocument::parse(kJCredit);
  ASSERT_TRUE(doc.ok());
  std::string before = doc->serialize();
  EXPECT_FALSE(signer->sign(*doc).ok());
  EXPECT_EQ(doc->serialize(), before);
}

TEST(XmlDsigTest, OneVerifierServesManyThreads) {
  const auto& key = test_key(KeyKind::kRsa2048);
  auto v = verifier({test_key(KeyKind::kRsa2048, "other").spki, key.spki});
  std::string good = sign(kJCredit, key);
  std::string bad = replaced(good, "<jc:Quantity>500<", "<jc:Quantity>501<");
  std::atomic<int> accepted{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        auto ok = v.verify(good);
        if (ok.ok() && element_name(ok->signed_element()) == "CancellationNotice") ++accepted;
        auto no = v.verify(bad);
        if (!no.ok() && no.error().message.find("DigestValue does not match") != std::string::npos)
          ++refused;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 400);
  EXPECT_EQ(refused.load(), 400);
}

// ---- independent peer: the xmlsec1 command-line tool ----------------------------------------

TEST(XmlDsigInteropTest, Xmlsec1VerifiesWhatWeSignAndWeVerifyWhatItSigns) {
  hub::testing::TempDir dir;
  const auto& rsa = test_key(KeyKind::kRsa2048, "jcredit");
  const auto& ec = test_key(KeyKind::kEcP256, "jcm");
  hub::testing::write_file(dir.path() / "rsa.pub.pem", rsa.public_pem);
  hub::testing::write_file(dir.path() / "rsa.key.pem", rsa.private_pem);
  hub::testing::write_file(dir.path() / "ec.pub.pem", ec.public_pem);
  hub::testing::write_file(dir.path() / "ours-rsa.xml", sign(kJCredit, rsa));
  hub::testing::write_file(dir.path() / "ours-ec.xml", sign(kJcm, ec, by_id_options()));
  auto p = [&](const char* name) { return (dir.path() / name).string(); };

  auto r1 = hub::testing::run_command({"xmlsec1", "--verify", "--enabled-reference-uris", "empty",
                                       "--pubkey-pem", p("rsa.pub.pem"), p("ours-rsa.xml")});
  EXPECT_EQ(r1.exit_code, 0) << r1.output;
  auto r2 =
      hub::testing::run_command({"xmlsec1", "--verify", "--enabled-reference-uris", "same-doc",
                                 "--id-attr:Id", "urn:jp:jcm:registry:2:CancellationForGx",
                                 "--pubkey-pem", p("ec.pub.pem"), p("ours-ec.xml")});
  EXPECT_EQ(r2.exit_code, 0) << r2.output;

  // A template signed by xmlsec1: exclusive c14n, RSA-SHA256, enveloped, URI="".
  std::string tmpl = replaced(
      kJCredit, "</jc:CancellationNotice>",
      R"(<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI=""><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature></jc:CancellationNotice>)");
  hub::testing::write_file(dir.path() / "tmpl.xml", tmpl);
  auto r3 = hub::testing::run_command({"xmlsec1", "--sign", "--privkey-pem", p("rsa.key.pem"),
                                       "--output", p("theirs.xml"), p("tmpl.xml")});
  ASSERT_EQ(r3.exit_code, 0) << r3.output;
  XmlDsigPolicy jcredit;
  jcredit.require_reference_c14n_transform = true;
  jcredit.signature_methods = {XmlSignatureMethod::kRsaSha256};
  jcredit.digest_methods = {XmlDigestMethod::kSha256};
  std::string theirs = hub::testing::read_file(dir.path() / "theirs.xml");
  auto r = verifier({rsa.spki}, jcredit).verify(theirs);
  ASSERT_TRUE(r.ok()) << r.error().to_string() << "\n" << theirs;
  expect_refused(verifier({rsa.spki}, jcredit)
                     .verify(replaced(theirs, "<jc:Quantity>500", "<jc:Quantity>600")),
                 "DigestValue does not match");
}

}  // namespace
