#include "hub/trust/trust_cache.hpp"

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "hub/core/log.hpp"
#include "hub/db/pg.hpp"
#include "hub/trust/time_text.hpp"
#include "cert_times.hpp"
#include "records_sql.hpp"
#include "snapshot.hpp"

namespace hub::trust {
namespace {

const Logger kLog("trust");

// Verdicts kept per connector and snapshot; beyond this the cache starts over (a flood of
// distinct certificates must not grow memory without bound).
constexpr std::size_t kMaxVerdicts = 4096;

using detail::CaVerdict;
using detail::ConnectorEntry;
using detail::Snapshot;

std::shared_ptr<const Snapshot> build_snapshot(std::int64_t version, std::vector<ConnectorInfo> connectors,
                                               std::vector<TlsCredential> tls, std::vector<SigningKeyRecord> keys) {
  auto snap = std::make_shared<Snapshot>();
  snap->version = version;
  for (auto& info : connectors) {
    auto entry = std::make_unique<ConnectorEntry>();
    entry->info = std::move(info);
    snap->connectors.push_back(std::move(entry));
  }
  auto entry_of = [&](const std::string& name) -> ConnectorEntry* {
    for (auto& c : snap->connectors) {
      if (c->info.name == name) return c.get();
    }
    return nullptr;
  };
  // A credential whose PEM no longer parses is left out: it then refuses (fail closed).
  for (auto& t : tls) {
    auto cert = signing::PublicKey::from_pem(t.certificate_pem);
    auto* c = entry_of(t.connector);
    if (!cert || c == nullptr) {
      kLog.error("TLS credential left out of the trust snapshot",
                 {{"id", t.id}, {"error", cert ? "unknown connector" : cert.error().to_string()}});
      continue;
    }
    c->has_ca = c->has_ca || t.is_ca;
    c->tls.push_back({std::move(t), std::move(*cert)});
  }
  for (auto& k : keys) {
    auto key = signing::PublicKey::from_pem(k.pem);
    auto* c = entry_of(k.connector);
    if (!key || c == nullptr) {
      kLog.error("signing key left out of the trust snapshot",
                 {{"id", k.id}, {"error", key ? "unknown connector" : key.error().to_string()}});
      continue;
    }
    c->keys.push_back({std::move(k), std::move(*key)});
  }
  return snap;
}

// A sender's text echoed in an answer: bounded, so that a huge kid stays a short sentence.
std::string echo(std::string_view text) {
  constexpr std::size_t kMax = 80;
  return text.size() <= kMax ? std::string(text) : std::string(text.substr(0, kMax)) + "...";
}

std::string when(TimePoint t) { return format_rfc3339_seconds(t); }

Error tls_refused(std::string message) { return make_error("TLS_CLIENT_REFUSED", std::move(message)); }
Error signature_invalid(std::string message) { return make_error("SIGNATURE_INVALID", std::move(message)); }

std::string describe(const http::PeerCertificate& peer) {
  return "the client certificate " + peer.subject + " (SHA-256 " + peer.fingerprint_sha256 + ")";
}

// Why a credential is not in force, as the end of a sentence ("was revoked at ...").
std::string why_not(CredentialState state, const std::optional<Revocation>& revoked, std::optional<TimePoint> from,
                    std::optional<TimePoint> to) {
  switch (state) {
    case CredentialState::kRevoked: return "was revoked at " + when(revoked->at);
    case CredentialState::kNotYetValid: return "is not valid before " + when(*from);
    case CredentialState::kExpired: return "expired at " + when(*to);
    case CredentialState::kValid: break;
  }
  return "is valid";
}

// Which registered CAs issued the certificate: parsed and verified once per certificate
// and snapshot. Calls f(verdict) under the cache's lock and returns its result, so that a
// cached verdict is read in place, without a copy.
CaVerdict compute_verdict(const ConnectorEntry& c, const http::PeerCertificate& peer) {
  CaVerdict v;
  auto cert = signing::PublicKey::from_pem(peer.pem);
  if (!cert) return v;
  auto times = detail::certificate_times(*cert);
  if (!times) return v;
  v.parsed = true;
  v.not_before = times->not_before;
  v.not_after = times->not_after;
  for (std::size_t i = 0; i < c.tls.size(); ++i) {
    const auto& ca = c.tls[i];
    if (!ca.record.is_ca) continue;
    if (X509_check_issued(ca.certificate.certificate(), cert->certificate()) == X509_V_OK &&
        X509_verify(cert->certificate(), ca.certificate.pkey()) == 1) {
      v.issuers.push_back(i);
    }
  }
  return v;
}

template <class F>
auto with_ca_verdict(const ConnectorEntry& c, const http::PeerCertificate& peer, F&& f) {
  {
    std::shared_lock lock(c.verdicts_mu);
    if (auto it = c.verdicts.find(peer.fingerprint_sha256); it != c.verdicts.end()) return f(it->second);
  }
  CaVerdict v = compute_verdict(c, peer);
  std::unique_lock lock(c.verdicts_mu);
  if (c.verdicts.size() >= kMaxVerdicts) c.verdicts.clear();
  auto it = c.verdicts.try_emplace(peer.fingerprint_sha256, std::move(v)).first;
  return f(it->second);
}

}  // namespace

TrustCache::TrustCache(TrustCacheSettings settings, MetricsRegistry* metrics) : settings_(std::move(settings)) {
  if (metrics != nullptr) {
    version_gauge_ = &metrics->gauge("hub_trust_version", "Version of the trust snapshot in force.");
    failures_ = &metrics->counter("hub_trust_refresh_failures_total",
                                  "Trust snapshot reloads that failed (the previous snapshot stayed in force).");
  }
  conn_ = db::Connection::connect(settings_.conninfo);
  {
    db::Transaction tx(*conn_, db::Transaction::Isolation::kRepeatableRead);
    auto version = detail::load_trust_version(*conn_);
    snapshot_.store(build_snapshot(version, detail::load_connectors(*conn_), detail::load_tls_credentials(*conn_),
                                   detail::load_signing_keys(*conn_)));
    tx.commit();
  }
  if (version_gauge_ != nullptr) version_gauge_->set(static_cast<double>(version()));
  if (settings_.poll_interval.count() > 0) poller_ = std::thread([this] { poll_loop(); });
}

TrustCache::~TrustCache() {
  {
    std::lock_guard lock(poll_mu_);
    stop_ = true;
  }
  poll_cv_.notify_all();
  if (poller_.joinable()) poller_.join();
}

std::int64_t TrustCache::version() const { return current()->version; }

bool TrustCache::refresh(bool force) {
  std::lock_guard lock(refresh_mu_);
  try {
    if (!conn_ || !conn_->healthy()) conn_ = db::Connection::connect(settings_.conninfo);
    if (!force && detail::load_trust_version(*conn_) == version()) {
      last_refresh_failed_ = false;
      return true;
    }
    // One snapshot of the database: the version and the rows it stands for.
    db::Transaction tx(*conn_, db::Transaction::Isolation::kRepeatableRead);
    auto version = detail::load_trust_version(*conn_);
    auto snap = build_snapshot(version, detail::load_connectors(*conn_), detail::load_tls_credentials(*conn_),
                               detail::load_signing_keys(*conn_));
    tx.commit();
    std::size_t tls = 0;
    std::size_t keys = 0;
    for (const auto& c : snap->connectors) {
      tls += c->tls.size();
      keys += c->keys.size();
    }
    snapshot_.store(std::move(snap), std::memory_order_release);
    if (version_gauge_ != nullptr) version_gauge_->set(static_cast<double>(version));
    kLog.info("trust snapshot loaded", {{"version", version}, {"tls_credentials", tls}, {"signing_keys", keys}});
    last_refresh_failed_ = false;
    return true;
  } catch (const db::DbError& e) {
    conn_.reset();
    if (failures_ != nullptr) failures_->inc();
    // Logged once per outage, not once per poll.
    if (!last_refresh_failed_) {
      kLog.warn("trust snapshot not refreshed; the previous one stays in force", {{"error", e.what()}});
    }
    last_refresh_failed_ = true;
    return false;
  }
}

void TrustCache::poll_loop() {
  std::unique_lock lock(poll_mu_);
  while (!stop_) {
    poll_cv_.wait_for(lock, settings_.poll_interval, [this] { return stop_; });
    if (stop_) break;
    lock.unlock();
    refresh();
    lock.lock();
  }
}

Status TrustCache::tls_client_allowed(std::string_view connector, const http::PeerCertificate& peer,
                                      TimePoint now) const {
  auto snap = current();
  const ConnectorEntry* c = snap->find(connector);
  if (c == nullptr) return tls_refused("there is no connector '" + echo(connector) + "'");
  if (!peer.present) {
    return tls_refused("no client certificate was presented; " + c->info.name +
                       " accepts only client certificates registered for it");
  }
  // 1. The certificate itself. A revoked or lapsed registration decides: no CA overrides it.
  for (const auto& t : c->tls) {
    if (t.record.is_ca || t.record.fingerprint_sha256 != peer.fingerprint_sha256) continue;
    auto state = t.record.state(now);
    if (state == CredentialState::kValid) return {};
    return tls_refused(describe(peer) + " registered for " + c->info.name + " " +
                       why_not(state, t.record.revoked, t.record.not_before, t.record.not_after));
  }
  // 2. An issuing CA.
  if (c->has_ca && !peer.pem.empty()) {
    auto verdict = with_ca_verdict(*c, peer, [&](const CaVerdict& v) -> std::optional<Status> {
      if (!v.parsed || v.issuers.empty()) return std::nullopt;
      auto cert_state = window_state(std::nullopt, v.not_before, v.not_after, now);
      if (cert_state != CredentialState::kValid) {
        return tls_refused(describe(peer) + " " + why_not(cert_state, std::nullopt, v.not_before, v.not_after));
      }
      std::string reasons;
      for (auto i : v.issuers) {
        const auto& ca = c->tls[i].record;
        auto state = ca.state(now);
        if (state == CredentialState::kValid) return Status{};
        reasons += (reasons.empty() ? "" : "; ") + std::string("its issuing CA ") + ca.subject + " (credential " +
                   std::to_string(ca.id) + ") " + why_not(state, ca.revoked, ca.not_before, ca.not_after);
      }
      return tls_refused(describe(peer) + " is not accepted for " + c->info.name + ": " + reasons);
    });
    if (verdict) return *verdict;
  }
  return tls_refused(describe(peer) + " is not registered for " + c->info.name +
                     " (neither the certificate nor a CA that issued it)");
}

Status TrustCache::admin_client_allowed(const http::PeerCertificate& peer, TimePoint now) const {
  return tls_client_allowed(kAdminConnector, peer, now);
}

Result<signing::PublicKey> TrustCache::signing_key(std::string_view connector, std::string_view kid,
                                                   TimePoint now) const {
  auto snap = current();
  const ConnectorEntry* c = snap->find(connector);
  if (c == nullptr) return signature_invalid("there is no connector '" + echo(connector) + "'");
  for (const auto& k : c->keys) {
    if (!k.record.kid || *k.record.kid != kid) continue;
    auto state = k.record.state(now);
    if (state == CredentialState::kValid) return k.key;
    return signature_invalid("the signing key with kid '" + echo(kid) + "' of " + c->info.name + " " +
                             why_not(state, k.record.revoked, k.record.effective_from(), k.record.effective_to()));
  }
  return signature_invalid("no signing key with kid '" + echo(kid) + "' is registered for " + c->info.name);
}

Result<signing::PublicKey> TrustCache::signing_certificate(std::string_view connector, std::string_view cert_sha256,
                                                           TimePoint now) const {
  auto snap = current();
  const ConnectorEntry* c = snap->find(connector);
  if (c == nullptr) return signature_invalid("there is no connector '" + echo(connector) + "'");
  for (const auto& k : c->keys) {
    if (!k.record.cert_sha256 || *k.record.cert_sha256 != cert_sha256) continue;
    auto state = k.record.state(now);
    if (state == CredentialState::kValid) return k.key;
    return signature_invalid("the signer certificate " + k.record.subject.value_or("") + " (SHA-256 " +
                             std::string(cert_sha256) + ") of " + c->info.name + " " +
                             why_not(state, k.record.revoked, k.record.effective_from(), k.record.effective_to()));
  }
  return signature_invalid("the signer certificate (SHA-256 " + echo(cert_sha256) + ") is not registered for " +
                           c->info.name);
}

std::vector<signing::PublicKey> TrustCache::signing_certificates(std::string_view connector, TimePoint now) const {
  std::vector<signing::PublicKey> out;
  auto snap = current();
  const ConnectorEntry* c = snap->find(connector);
  if (c == nullptr) return out;
  for (const auto& k : c->keys) {
    if (k.record.is_certificate && k.record.state(now) == CredentialState::kValid) out.push_back(k.key);
  }
  return out;
}

std::optional<ConnectorInfo> TrustCache::connector(std::string_view name) const {
  auto snap = current();
  const ConnectorEntry* c = snap->find(name);
  if (c == nullptr) return std::nullopt;
  return c->info;
}

}  // namespace hub::trust
