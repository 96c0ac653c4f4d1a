#pragma once
// TrustCache: the read side of the trust store, for the hot path. It keeps an immutable
// snapshot of every connector's credentials in memory (certificates and keys parsed once)
// and answers from it without touching the database.
//
// Freshness: every change made through TrustStore bumps a version counter in the
// database (trust_state). A background poller reads that counter every poll_interval
// (1 s by default) and reloads the snapshot when it moved, so a revocation made by any
// hubctl or hubd reaches every hubd within about a second; refresh() reloads at once (the
// admin API calls it after each change). When the database cannot be read the old
// snapshot stays in force and the failure is logged and counted.
//
// Every query takes `now` (injected time: tests pass a fixed clock's time).
//
// Lifetime and thread-safety: construct once at start (loads the first snapshot, throws
// db::DbError when it cannot: a start-up error), destroy after the last caller (the
// destructor stops the poller). The queries are safe from any number of threads at once:
// they take the current snapshot with one atomic load and read it without locks, except
// the CA path of tls_client_allowed, which consults a per-snapshot cache of
// "certificate F is issued by CA X" verdicts under a shared lock (exclusive only to add
// a verdict). They allocate nothing on success but for the PublicKey copies returned
// (shared_ptr copies) and signing_certificates' vector.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "hub/core/metrics.hpp"
#include "hub/core/result.hpp"
#include "hub/http/message.hpp"
#include "hub/signing/keys.hpp"
#include "hub/trust/credentials.hpp"

namespace hub::db {
class Connection;
}

namespace hub::trust {

namespace detail {
struct Snapshot;
}

struct TrustCacheSettings {
  std::string conninfo;  // the working role (gx_app) is enough: the cache only reads
  // How often the version counter is read; zero: no poller (refresh() only).
  std::chrono::milliseconds poll_interval{1000};
};

class TrustCache {
 public:
  explicit TrustCache(TrustCacheSettings settings, MetricsRegistry* metrics = nullptr);
  ~TrustCache();
  TrustCache(const TrustCache&) = delete;
  TrustCache& operator=(const TrustCache&) = delete;

  // Reloads the snapshot if the version counter moved (always when force). Returns false
  // when the database could not be read (the snapshot in force stays).
  bool refresh(bool force = false);
  // The version of the snapshot in force.
  std::int64_t version() const;

  // May this TLS client certificate call this connector? Accepted: a registered client
  // certificate (by SHA-256 fingerprint) or one whose signature verifies with the key of a
  // CA registered for the connector (the CA must be its direct issuer), each unrevoked and
  // within its validity at `now`. A certificate registered and revoked is refused even if
  // a registered CA issued it. Refusal code TLS_CLIENT_REFUSED, with the reason.
  Status tls_client_allowed(std::string_view connector, const http::PeerCertificate& peer, TimePoint now) const;
  // The admin API's check: a client certificate registered for the pseudo-connector admin.
  Status admin_client_allowed(const http::PeerCertificate& peer, TimePoint now) const;

  // The JWS key registered under `kid` for the connector, if it is in force at `now`.
  // Refusal code SIGNATURE_INVALID, naming the kid and why (unknown, revoked, not yet
  // valid, expired).
  Result<signing::PublicKey> signing_key(std::string_view connector, std::string_view kid, TimePoint now) const;
  // The registered signing certificate whose DER has this SHA-256 (lower-case hex), if in
  // force at `now` (XML-DSig KeyInfo / CMS signer: "match the certificate, not just its
  // issuer"). Refusal code SIGNATURE_INVALID with the reason.
  Result<signing::PublicKey> signing_certificate(std::string_view connector, std::string_view cert_sha256,
                                                 TimePoint now) const;
  // Every signing certificate of the connector in force at `now`.
  std::vector<signing::PublicKey> signing_certificates(std::string_view connector, TimePoint now) const;

  // The connector as registered (nullopt when unknown); callback_url for the outbox.
  std::optional<ConnectorInfo> connector(std::string_view name) const;

 private:
  std::shared_ptr<const detail::Snapshot> current() const { return snapshot_.load(std::memory_order_acquire); }
  void poll_loop();

  TrustCacheSettings settings_;
  Gauge* version_gauge_ = nullptr;
  Counter* failures_ = nullptr;
  std::atomic<std::shared_ptr<const detail::Snapshot>> snapshot_;

  std::mutex refresh_mu_;  // one reload at a time; guards conn_
  std::unique_ptr<db::Connection> conn_;
  bool last_refresh_failed_ = false;

  std::mutex poll_mu_;
  std::condition_variable poll_cv_;
  bool stop_ = false;
  std::thread poller_;
};

}  // namespace hub::trust
