#include "hub/signing/cms.hpp"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include "ossl.hpp"

namespace hub::signing {
namespace {

Error refuse(std::string message) { return make_error("SIGNATURE_INVALID", std::move(message)); }

std::string weak_digest(int nid) {
  switch (nid) {
    case NID_sha1:
      return "SHA-1";
    case NID_md5:
      return "MD5";
    case NID_md4:
      return "MD4";
    case NID_md2:
      return "MD2";
    default:
      return {};
  }
}

std::string object_name(const ASN1_OBJECT* obj) {
  char buf[128];
  OBJ_obj2txt(buf, sizeof buf, obj, 0);
  return buf;
}

// Who the SignerInfo says signed, for a refusal a person can act on.
std::string signer_id_text(CMS_SignerInfo* si) {
  ASN1_OCTET_STRING* keyid = nullptr;
  X509_NAME* issuer = nullptr;
  ASN1_INTEGER* serial = nullptr;
  if (CMS_SignerInfo_get0_signer_id(si, &keyid, &issuer, &serial) != 1)
    return "an unreadable signer id";
  if (issuer != nullptr && serial != nullptr) {
    char* name = X509_NAME_oneline(issuer, nullptr, 0);
    std::string out = std::string("issuer ") + (name != nullptr ? name : "?");
    OPENSSL_free(name);
    if (BIGNUM* bn = ASN1_INTEGER_to_BN(serial, nullptr)) {
      char* hex = BN_bn2hex(bn);
      out += std::string(", serial ") + (hex != nullptr ? hex : "?");
      OPENSSL_free(hex);
      BN_free(bn);
    }
    return out;
  }
  if (keyid != nullptr) {
    static const char* kHex = "0123456789abcdef";
    std::string out = "subject key id ";
    for (int i = 0; i < ASN1_STRING_length(keyid); ++i) {
      unsigned char b = ASN1_STRING_get0_data(keyid)[i];
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
    return out;
  }
  return "an empty signer id";
}

}  // namespace

struct CmsVerifier::Impl {
  std::vector<PublicKey> certificates;
  Result<CmsVerified> verify(BIO* content, std::string_view signature) const;
};

Result<CmsVerifier> CmsVerifier::create(std::vector<PublicKey> registered_certificates) {
  if (registered_certificates.empty())
    return make_error("KEY_INVALID", "no registered certificate for CMS");
  for (const auto& c : registered_certificates) {
    if (c.certificate() == nullptr)
      return make_error(
          "KEY_INVALID",
          "a key registered as SPKI (sha256:" + c.info().fingerprint_sha256.substr(0, 16) +
              ") cannot verify CMS: CMS names its signer by certificate");
  }
  auto impl = std::make_shared<Impl>();
  impl->certificates = std::move(registered_certificates);
  CmsVerifier v;
  v.impl_ = std::move(impl);
  return v;
}

Result<CmsVerified> CmsVerifier::verify_detached(std::string_view content,
                                                 std::string_view signature) const {
  auto bio = detail::memory_bio(content);
  if (!bio) return refuse("the content is too large to verify from memory");
  return impl_->verify(bio.get(), signature);
}

Result<CmsVerified> CmsVerifier::verify_detached_file(const std::filesystem::path& content,
                                                      std::string_view signature) const {
  BIO* file = BIO_new_file(content.c_str(), "rb");
  if (file == nullptr) {
    detail::drain_openssl_errors();
    return make_error("CONTENT_UNREADABLE",
                      "cannot open " + content.string() + " to verify its signature");
  }
  // CMS_verify pulls the content 4 KiB at a time; a 64 KiB read buffer turns that into
  // few large reads. The chain (buffer -> file) is freed as one by BioPtr.
  detail::BioPtr bio(BIO_new(BIO_f_buffer()));
  if (!bio || BIO_set_read_buffer_size(bio.get(), 64 * 1024) != 1) {
    BIO_free(file);
    throw std::bad_alloc();
  }
  BIO_push(bio.get(), file);
  return impl_->verify(bio.get(), signature);
}

Result<CmsVerified> CmsVerifier::Impl::verify(BIO* content, std::string_view signature) const {
  std::size_t start = signature.find_first_not_of(" \t\r\n");
  bool pem = start != std::string_view::npos && signature.substr(start).rfind("-----BEGIN", 0) == 0;
  auto sig_bio = detail::memory_bio(signature);
  if (!sig_bio) return refuse("the signature is too large");
  detail::CmsPtr cms(pem ? PEM_read_bio_CMS(sig_bio.get(), nullptr, nullptr, nullptr)
                         : d2i_CMS_bio(sig_bio.get(), nullptr));
  if (!cms) {
    detail::drain_openssl_errors();
    return refuse(std::string("the signature is not a CMS structure in ") + (pem ? "PEM" : "DER"));
  }
  if (OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed)
    return refuse("the CMS is not a SignedData");
  if (CMS_is_detached(cms.get()) != 1)
    return refuse("the CMS carries its content: a detached signature over the file is expected");
  STACK_OF(CMS_SignerInfo)* infos = CMS_get0_SignerInfos(cms.get());
  int count = infos != nullptr ? sk_CMS_SignerInfo_num(infos) : 0;
  if (count != 1)
    return refuse("the CMS has " + std::to_string(count) + " signers: exactly one is accepted");
  CMS_SignerInfo* si = sk_CMS_SignerInfo_value(infos, 0);

  X509_ALGOR* digest_alg = nullptr;
  X509_ALGOR* signature_alg = nullptr;
  CMS_SignerInfo_get0_algs(si, nullptr, nullptr, &digest_alg, &signature_alg);
  const ASN1_OBJECT* digest_obj = nullptr;
  X509_ALGOR_get0(&digest_obj, nullptr, nullptr, digest_alg);
  int digest_nid = OBJ_obj2nid(digest_obj);
  if (std::string weak = weak_digest(digest_nid); !weak.empty())
    return refuse("the CMS digest algorithm is " + weak +
                  ": refused (SHA-256 or stronger is required)");
  if (digest_nid != NID_sha256 && digest_nid != NID_sha384 && digest_nid != NID_sha512)
    return refuse("the CMS digest algorithm " + object_name(digest_obj) +
                  " is not accepted (SHA-256/384/512)");
  const ASN1_OBJECT* sig_obj = nullptr;
  X509_ALGOR_get0(&sig_obj, nullptr, nullptr, signature_alg);
  int hash_nid = NID_undef;
  if (OBJ_find_sigid_algs(OBJ_obj2nid(sig_obj), &hash_nid, nullptr) == 1) {
    if (std::string weak = weak_digest(hash_nid); !weak.empty())
      return refuse("the CMS signature algorithm " + object_name(sig_obj) + " uses " + weak +
                    ": refused");
  }

  const PublicKey* signer = nullptr;
  for (const auto& c : certificates) {
    if (CMS_SignerInfo_cert_cmp(si, c.certificate()) == 0) {
      signer = &c;
      break;
    }
  }
  if (signer == nullptr)
    return refuse("the CMS signer (" + signer_id_text(si) +
                  ") is not a certificate registered for this connector");
  if (signer->info().type == KeyType::kRsa && signer->info().bits < 2048)
    return refuse("the signer's RSA key has " + std::to_string(signer->info().bits) +
                  " bits: at least 2048 are required");

  // Only the registered certificate may be the signer: it alone is in `certs`, and
  // CMS_NOINTERN keeps OpenSSL from looking at the certificates the CMS carries.
  detail::X509StackPtr certs(sk_X509_new_null());
  if (!certs || sk_X509_push(certs.get(), signer->certificate()) <= 0) throw std::bad_alloc();
  unsigned int flags = CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY | CMS_NOINTERN;
  if (CMS_verify(cms.get(), certs.get(), nullptr, content, nullptr, flags) != 1) {
    std::string why = detail::drain_openssl_errors();
    return refuse("the CMS signature does not verify with the registered certificate " +
                  signer->info().subject + ": the file was changed or another key signed it (" +
                  why + ")");
  }
  detail::drain_openssl_errors();

  CmsVerified out;
  out.signer = *signer;
  out.signer_subject = signer->info().subject;
  out.signer_certificate_sha256 = signer->info().cert_fingerprint_sha256;
  out.digest_algorithm = digest_nid == NID_sha256   ? "SHA256"
                         : digest_nid == NID_sha384 ? "SHA384"
                                                    : "SHA512";
  return out;
}

}  // namespace hub::signing
