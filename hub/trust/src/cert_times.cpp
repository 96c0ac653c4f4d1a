#include "cert_times.hpp"

#include <openssl/asn1.h>
#include <openssl/x509.h>

#include <ctime>

namespace hub::trust::detail {
namespace {

std::optional<TimePoint> clamped(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
  if (tm.tm_year + 1900 > 2199) {
    tm = std::tm{};
    tm.tm_year = 2199 - 1900;
    tm.tm_mon = 11;
    tm.tm_mday = 31;
    tm.tm_hour = 23;
    tm.tm_min = 59;
    tm.tm_sec = 59;
  }
  if (tm.tm_year + 1900 < 1900) tm.tm_year = 0;
  return TimePoint(std::chrono::seconds(timegm(&tm)));
}

}  // namespace

std::optional<CertTimes> certificate_times(const signing::PublicKey& key) {
  X509* cert = key.certificate();
  if (cert == nullptr) return std::nullopt;
  auto from = clamped(X509_get0_notBefore(cert));
  auto to = clamped(X509_get0_notAfter(cert));
  if (!from || !to) return std::nullopt;
  return CertTimes{*from, *to};
}

}  // namespace hub::trust::detail
