#include "xml_runtime.hpp"

#include <libxml/parser.h>

// xmlsec.h first: the other xmlsec headers use its types.
// clang-format off
#include <xmlsec/xmlsec.h>
#include <xmlsec/errors.h>
#include <xmlsec/io.h>
#include <xmlsec/openssl/app.h>
#include <xmlsec/openssl/crypto.h>
// clang-format on

#include <mutex>
#include <stdexcept>

namespace hub::signing::detail {
namespace {

constexpr std::size_t kMaxKept = 3;

struct ThreadErrors {
  std::string text;
  std::size_t count = 0;
};

ThreadErrors& thread_errors() {
  thread_local ThreadErrors errors;
  return errors;
}

// Replaces xmlsec's default callback, which prints to stderr: the reasons belong in the
// refusal that the caller gets, not in the process's output.
void record_error(const char*, int, const char* func, const char* error_object,
                  const char* error_subject, int reason, const char* msg) {
  auto& e = thread_errors();
  if (e.count++ >= kMaxKept) return;
  if (!e.text.empty()) e.text += "; ";
  const char* reason_text = nullptr;
  for (std::size_t i = 0; i < XMLSEC_ERRORS_MAX_NUMBER && xmlSecErrorsGetMsg(i) != nullptr; ++i) {
    if (xmlSecErrorsGetCode(i) == reason) {
      reason_text = xmlSecErrorsGetMsg(i);
      break;
    }
  }
  e.text += func != nullptr ? func : "xmlsec";
  if (reason_text != nullptr) e.text += std::string(": ") + reason_text;
  if (msg != nullptr && *msg != '\0') e.text += std::string(" (") + msg + ")";
  if (error_subject != nullptr)
    e.text += std::string(" [") + error_subject + "]";
  else if (error_object != nullptr)
    e.text += std::string(" [") + error_object + "]";
}

void init_once() {
  xmlInitParser();
  if (xmlSecInit() < 0) throw std::runtime_error("xmlsec: xmlSecInit failed");
  if (xmlSecCheckVersion() != 1)
    throw std::runtime_error("xmlsec: the loaded library does not match the headers");
  if (xmlSecOpenSSLAppInit(nullptr) < 0)
    throw std::runtime_error("xmlsec: xmlSecOpenSSLAppInit failed");
  if (xmlSecOpenSSLInit() < 0) throw std::runtime_error("xmlsec: xmlSecOpenSSLInit failed");
  // After xmlSecOpenSSLInit, which installs its own (printing) callback.
  xmlSecErrorsSetCallback(record_error);
  // xmlsec registers file/http/ftp readers for Reference URIs; with none registered no
  // reference can ever read outside the document, whatever the checks above it miss.
  xmlSecIOCleanupCallbacks();
}

}  // namespace

void ensure_xml_runtime() {
  static std::once_flag once;
  std::call_once(once, init_once);
}

void clear_xmlsec_errors() {
  auto& e = thread_errors();
  e.text.clear();
  e.count = 0;
}

std::string take_xmlsec_errors() {
  auto& e = thread_errors();
  std::string out = std::move(e.text);
  clear_xmlsec_errors();
  return out.empty() ? "no detail from xmlsec" : out;
}

}  // namespace hub::signing::detail
