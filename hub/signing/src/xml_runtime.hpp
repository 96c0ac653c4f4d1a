#pragma once
// Process-wide set-up of libxml2 and xmlsec (openssl backend), done once, and the
// capture of xmlsec's error reports per thread. Internal to hub/signing.

#include <string>

namespace hub::signing::detail {

// Initialises libxml2 and xmlsec once for the process (thread-safe; later calls return at
// once). Throws std::runtime_error if the libraries cannot start: a start-up error.
void ensure_xml_runtime();

// xmlsec reports errors through one process-wide callback; ours keeps the first few of
// each thread. Clear before an xmlsec call, take after it to explain a failure.
void clear_xmlsec_errors();
std::string take_xmlsec_errors();

}  // namespace hub::signing::detail
