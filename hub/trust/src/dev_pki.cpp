#include "hub/trust/dev_pki.hpp"

#include <cctype>
#include <fstream>
#include <sstream>

namespace hub::trust {
namespace {

Result<std::string> read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return make_error("FILE_UNREADABLE", "cannot read " + p.string() + " (run ./gxhub pki)");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(s.begin());
  return s;
}

void record(DevPkiImport& out, const std::string& what, const Result<Registration>& r) {
  if (!r) {
    out.failed.push_back(what + ": " + r.error().to_string());
  } else if (r->already_registered) {
    out.unchanged.push_back(what + ": already registered (id " + std::to_string(r->id) + ")");
  } else {
    out.registered.push_back(what + ": registered (id " + std::to_string(r->id) + ")");
  }
}

}  // namespace

DevPkiImport import_dev_pki(TrustStore& store, const std::filesystem::path& dir, const std::string& actor) {
  DevPkiImport out;
  auto tls = [&](const std::string& connector, const std::string& file) {
    auto pem = read_text(dir / file);
    std::string what = connector + " TLS client certificate " + file;
    if (!pem) {
      out.failed.push_back(what + ": " + pem.error().to_string());
      return;
    }
    record(out, what, store.add_tls_credential(connector, *pem, false, actor));
  };
  auto key = [&](const std::string& connector, const std::string& file, std::optional<std::string> kid) {
    auto pem = read_text(dir / file);
    std::string what = connector + " signing key " + file + (kid ? " (kid " + *kid + ")" : "");
    if (!pem) {
      out.failed.push_back(what + ": " + pem.error().to_string());
      return;
    }
    record(out, what, store.add_signing_key({connector, kid, *pem, std::nullopt, std::nullopt}, actor));
  };
  for (const std::string& c : std::vector<std::string>{"gx-market", "jcredit", "jcm", "exchange"}) {
    tls(c, c + "-tls-client.crt");
    if (c == "gx-market") {
      auto kid = read_text(dir / "gx-market-sign.kid");
      if (!kid) {
        out.failed.push_back("gx-market signing key: " + kid.error().to_string());
        continue;
      }
      key(c, "gx-market-sign.pub.pem", trim(*kid));
    } else {
      key(c, c + "-sign.crt", std::nullopt);
    }
  }
  tls(std::string(kAdminConnector), "operator-admin-tls-client.crt");
  return out;
}

}  // namespace hub::trust
