#include "ossl.hpp"

#include <openssl/err.h>

#include <climits>

namespace hub::signing::detail {

std::string drain_openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

BioPtr memory_bio(std::string_view bytes) {
  if (bytes.size() > static_cast<std::size_t>(INT_MAX)) return nullptr;
  return BioPtr(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

namespace {
// i2d_X509 / i2d_PUBKEY into a string: one call for the size, one to write.
template <class T, int (*Encode)(const T*, unsigned char**)>
std::string der_of(const T* object) {
  int len = Encode(object, nullptr);
  if (len <= 0) return {};
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  Encode(object, &p);
  return der;
}
}  // namespace

std::string certificate_der(X509* cert) { return der_of<X509, i2d_X509>(cert); }
std::string spki_der(EVP_PKEY* key) { return der_of<EVP_PKEY, i2d_PUBKEY>(key); }

}  // namespace hub::signing::detail
