#pragma once
// RAII for the OpenSSL handles this module uses, and the text of OpenSSL's error queue.
// Internal to hub/signing.

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

namespace hub::signing::detail {

template <auto Fn>
struct Freer {
  template <class T>
  void operator()(T* p) const {
    Fn(p);
  }
};

using BioPtr = std::unique_ptr<BIO, Freer<BIO_free_all>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, Freer<EVP_MD_CTX_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, Freer<EVP_PKEY_free>>;
using EvpMdPtr = std::unique_ptr<EVP_MD, Freer<EVP_MD_free>>;
using X509Ptr = std::unique_ptr<X509, Freer<X509_free>>;
using CmsPtr = std::unique_ptr<CMS_ContentInfo, Freer<CMS_ContentInfo_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Freer<ECDSA_SIG_free>>;

struct X509StackFree {
  // Frees the stack only: the certificates belong to the PublicKey objects that hold them.
  void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackFree>;

// The reasons queued by OpenSSL since the last call, "; "-separated (the queue is emptied).
std::string drain_openssl_errors();

// A read-only memory BIO over bytes that outlive it (no copy).
BioPtr memory_bio(std::string_view bytes);

// The DER encoding of a certificate / of a key's SubjectPublicKeyInfo, or empty on failure.
std::string certificate_der(X509* cert);
std::string spki_der(EVP_PKEY* key);

}  // namespace hub::signing::detail
