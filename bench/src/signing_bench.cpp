// signing_bench: throughput of the signature checks the connectors run, through the
// public API of hub/signing (run it with bench/signing). Keys are made in the process.
//
//   jws_es256_verify   verify_jws of a ~300-byte ES256 JWS (key resolved from a map, as
//                      the trust store's cache does), 1 thread and --threads threads
//   jws_es256_sign     sign_jws ES256
//   xmldsig_verify     XmlDsigVerifier::verify (parse + policy + xmlsec) of a ~2 KB
//                      enveloped RSA-SHA256 exclusive-c14n document, RSA-2048 key
//   cms_verify_1k/1m   CmsVerifier::verify_detached_file of a 1 KiB / 1 MiB file, detached
//                      RSA-2048 SHA-256 CMS (the file is in the page cache)
// Each figure runs for --seconds (default 2) after a short warm-up. Progress goes to
// stderr; stdout gets one line of JSON.

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "hub/signing/cms.hpp"
#include "hub/signing/jws.hpp"
#include "hub/signing/xmldsig.hpp"
#include "test_keys.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace hub::signing;
using hub::signing::testing::KeyKind;
using hub::signing::testing::test_key;

struct Options {
  double seconds = 2.0;
  int threads = 2;
  std::string only;  // comma-separated groups: jws, xml, cms (default: all)
  bool wants(const std::string& group) const {
    return only.empty() || ("," + only + ",").find("," + group + ",") != std::string::npos;
  }
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--seconds") {
      o.seconds = std::stod(next());
    } else if (a == "--threads") {
      o.threads = std::stoi(next());
    } else if (a == "--only") {
      o.only = next();
    } else if (a == "--help") {
      std::cout << "signing_bench [--seconds S] [--threads N] [--only jws,xml,cms]\n";
      std::exit(0);
    } else {
      throw std::runtime_error("unknown argument " + a);
    }
  }
  return o;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Figure {
  double per_s = 0;          // operations per wall-clock second, all threads together
  double cpu_us_per_op = 0;  // CPU time per operation: steadier than per_s on a shared machine
};

// Runs `op` on `threads` threads for `seconds`; `op` returns false on an unexpected
// outcome, which aborts the bench (a wrong answer fast is no figure).
Figure measure(const std::string& name, double seconds, int threads,
               const std::function<bool()>& op) {
  for (int i = 0; i < 50; ++i) {
    if (!op()) throw std::runtime_error(name + ": unexpected outcome during warm-up");
  }
  std::atomic<bool> stop{false};
  std::atomic<long> total{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  double cpu = 0;
  auto start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      double cpu0 = thread_cpu_seconds();
      long n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (!op()) failed = true;
        ++n;
      }
      total += n;
      std::lock_guard lock(mu);
      cpu += thread_cpu_seconds() - cpu0;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : pool) t.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  if (failed) throw std::runtime_error(name + ": unexpected outcome");
  Figure f;
  f.per_s = static_cast<double>(total.load()) / elapsed;
  f.cpu_us_per_op = cpu * 1e6 / static_cast<double>(std::max(1L, total.load()));
  std::cerr << "signing_bench: " << name << " x" << threads << ": " << static_cast<long>(f.per_s)
            << "/s, " << f.cpu_us_per_op << " us CPU/op\n";
  return f;
}

// Records a figure under `key` (per second) and `key` with _cpu_us (CPU per operation).
void record(nlohmann::json& out, const std::string& key, const Figure& f) {
  out[key + "_per_s"] = std::round(f.per_s);
  out[key + "_cpu_us"] = std::round(f.cpu_us_per_op * 10) / 10;
}

std::string receipt_like_document() {
  std::string credits;
  for (int i = 1; i <= 4; ++i) {
    credits += "<jc:Credit><jc:ProjectId>JCL-P-031" + std::to_string(i) +
               "</jc:ProjectId><jc:Category>renewable-electricity</"
               "jc:Category><jc:MonitoringYear>2024</jc:MonitoringYear>"
               "<jc:Serials first=\"JCR-0312-2024-000000001\" last=\"JCR-0312-2024-000000500\"/>"
               "<jc:Quantity>500</jc:Quantity></jc:Credit>\n";
  }
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<jc:CancellationNotice xmlns:jc=\"urn:jp:j-credit:registry:gx-link:1\" version=\"1.0\">\n"
         "<jc:MessageId>JCR-20261121-000101</jc:MessageId><jc:IssuedAt>2026-11-21T10:02:11+09:00</"
         "jc:IssuedAt>\n"
         "<jc:Cancellation><jc:CancellationId>JCN-2026-004512</"
         "jc:CancellationId><jc:Purpose>GX-ETS</jc:Purpose>\n"
         "<jc:Beneficiary><jc:CorporateNumber>7123456789012</jc:CorporateNumber>"
         "<jc:GxAccount>JP-GX-100-0000018</jc:GxAccount></jc:Beneficiary>\n" +
         credits + "</jc:Cancellation>\n</jc:CancellationNotice>\n";
}

std::string cms_sign_file(const std::filesystem::path& path, const testing::TestKey& key) {
  auto cert = testing::certificate_of(key.certificate_pem);
  std::unique_ptr<BIO, decltype(&BIO_free)> in(BIO_new_file(path.c_str(), "rb"), BIO_free);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  return testing::cms_sign(in.get(), {{cert.get(), key.private_key.pkey()}}, EVP_sha256());
}

std::string raw_sign(std::string_view data, EVP_PKEY* key, const EVP_MD* md) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  if (EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, in, data.size()) != 1)
    throw std::runtime_error("raw sign failed");
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                     data.size()) != 1)
    throw std::runtime_error("raw sign failed");
  sig.resize(len);
  return sig;
}
std::string raw_ecdsa_der(std::string_view data, EVP_PKEY* key) {
  return raw_sign(data, key, EVP_sha256());
}
std::string raw_rsa_signature(std::string_view data, EVP_PKEY* key) {
  return raw_sign(data, key, EVP_sha256());
}

// One verification through EVP with a fresh context, as a floor for the API's cost.
bool raw_verify(std::string_view data, const std::string& sig, EVP_PKEY* key, const EVP_MD* md) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  return EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
}

template <class T>
T must(hub::Result<T> r, const char* what) {
  if (!r) throw std::runtime_error(std::string(what) + ": " + r.error().to_string());
  return std::move(*r);
}

}  // namespace

int main(int argc, char** argv) try {
  Options opt = parse(argc, argv);
  init_xml_security();
  nlohmann::json out;
  out["bench"] = "signing";
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) > 0) out["load_1m_at_start"] = load[0];
  out["seconds_per_figure"] = opt.seconds;
  out["threads"] = opt.threads;
  out["hardware_threads"] = std::thread::hardware_concurrency();

  if (opt.wants("jws")) {
    // ES256 JWS, as the market sends them.
    const auto& ec = test_key(KeyKind::kEcP256, "market");
    std::map<std::string, PublicKey> store{{"gxm-2026-01", ec.spki}};
    KeyResolver resolve = [&store](const std::string& kid) -> hub::Result<PublicKey> {
      auto it = store.find(kid);
      if (it == store.end()) return hub::make_error("UNKNOWN_KID", "unknown kid");
      return it->second;
    };
    nlohmann::json header = {
        {"alg", "ES256"}, {"kid", "gxm-2026-01"}, {"typ", "gx-market+jws"}, {"cty", "settlement"}};
    std::string payload =
        R"({"message_id":"GXM-20261121-000001","sent_at":"2026-11-21T15:30:02+09:00","trade_id":"T20261121-000001","seller_account":"JP-GX-100-0000018","buyer_account":"JP-GX-100-0000026","quantity":100,"price_jpy":2460})";
    std::string jws = must(sign_jws(header, payload, ec.private_key), "sign_jws");
    JwsPolicy policy;
    policy.expected_typ = "gx-market+jws";
    policy.allowed_cty = std::set<std::string>{"settlement"};
    auto verify_once = [&] { return verify_jws(jws, resolve, policy).ok(); };
    out["jws_bytes"] = jws.size();
    // The floor: the same ECDSA verification straight through EVP (no parsing, no policy).
    std::string input = jws.substr(0, jws.rfind('.'));
    std::string der = raw_ecdsa_der(input, ec.private_key.pkey());
    record(out, "raw_ecdsa_p256_verify", measure("raw_ecdsa_p256_verify", opt.seconds, 1, [&] {
             return raw_verify(input, der, ec.spki.pkey(), EVP_sha256());
           }));
    record(out, "jws_es256_verify", measure("jws_es256_verify", opt.seconds, 1, verify_once));
    record(out, "jws_es256_verify_threads",
           measure("jws_es256_verify", opt.seconds, opt.threads, verify_once));
    record(out, "jws_es256_sign", measure("jws_es256_sign", opt.seconds, 1, [&] {
             return sign_jws(header, payload, ec.private_key).ok();
           }));
  }

  if (opt.wants("xml")) {
    // XML-DSig: a J-Credit-like notice, RSA-SHA256, exclusive c14n, URI="".
    const auto& rsa = test_key(KeyKind::kRsa2048, "jcredit");
    auto signer = must(XmlSigner::create(rsa.private_key, std::nullopt, {}), "XmlSigner");
    std::string xml = must(signer.sign(receipt_like_document()), "sign xml");
    XmlDsigPolicy xml_policy;
    xml_policy.require_reference_c14n_transform = true;
    auto xml_verifier = must(XmlDsigVerifier::create({rsa.spki}, xml_policy), "XmlDsigVerifier");
    auto xml_once = [&] { return xml_verifier.verify(xml).ok(); };
    out["xml_bytes"] = xml.size();
    record(out, "xmldsig_verify", measure("xmldsig_verify", opt.seconds, 1, xml_once));
    record(out, "xmldsig_verify_threads",
           measure("xmldsig_verify", opt.seconds, opt.threads, xml_once));
    record(out, "xml_parse",
           measure("xml_parse", opt.seconds, 1, [&] { return XmlDocument::parse(xml).ok(); }));
    std::string der = raw_rsa_signature(xml, rsa.private_key.pkey());
    record(out, "raw_rsa2048_verify", measure("raw_rsa2048_verify", opt.seconds, 1, [&] {
             return raw_verify(xml, der, rsa.spki.pkey(), EVP_sha256());
           }));
  }

  if (opt.wants("cms")) {
    const auto& exchange = test_key(KeyKind::kRsa2048, "exchange");
    auto cms_verifier = must(CmsVerifier::create({exchange.certificate}), "CmsVerifier");
    auto dir =
        std::filesystem::temp_directory_path() / ("signing_bench." + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    for (auto [name, size] : {std::pair<const char*, std::size_t>{"cms_verify_1k", 1024},
                              {"cms_verify_1m", 1u << 20}}) {
      auto path = dir / name;
      {
        std::ofstream f(path, std::ios::binary);
        std::string line =
            "X20261121-0000001,2026-11-21T09:00:03+09:00,GXA,2026,JP-GX-100-0000026,JP-GX-100-"
            "0000034,1,2460\n";
        std::string body;
        while (body.size() < size) body += line;
        body.resize(size);
        f << body;
      }
      std::string sig = cms_sign_file(path, exchange);
      record(out, name, measure(name, opt.seconds, 1, [&] {
               return cms_verifier.verify_detached_file(path, sig).ok();
             }));
    }
    std::filesystem::remove_all(dir);
  }

  if (getloadavg(load, 3) > 0) out["load_1m_end"] = load[0];
  std::cout << out.dump() << std::endl;
  return 0;
} catch (const std::exception& e) {
  std::cerr << "signing_bench: error: " << e.what() << "\n";
  return 1;
}
