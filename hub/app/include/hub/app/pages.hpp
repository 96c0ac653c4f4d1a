#pragma once
#include <string>

namespace hub::app {
// The start page served at "/" until the console and portal exist: product name, what
// runs, and where the probes are. Static HTML; no data from requests is reflected.
std::string landing_page_html();
}  // namespace hub::app
