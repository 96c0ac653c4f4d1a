#pragma once
// The intake path as hubd runs it: the receipt signer, the connectors (listed here
// explicitly, docs/intake.md "Adding a connector"), the intake service's routes, the
// relay to RabbitMQ, one applier per connector queue and the callback outbox.
//
// Lifetime: create() at start, register_routes() before the server starts, start() once
// the server listens, stop() after the server stopped (no request is then in flight).
// The TrustView, Pool and MetricsRegistry must outlive the runtime.

#include <memory>
#include <vector>

#include "hub/app/settings.hpp"
#include "hub/core/metrics.hpp"
#include "hub/core/result.hpp"
#include "hub/db/pg.hpp"
#include "hub/http/router.hpp"
#include "hub/intake/applier.hpp"
#include "hub/intake/connector.hpp"
#include "hub/intake/intake_service.hpp"
#include "hub/intake/outbox.hpp"
#include "hub/intake/receipt_signer.hpp"
#include "hub/intake/relay.hpp"

namespace hub::app {

class IntakeRuntime {
 public:
  static Result<std::unique_ptr<IntakeRuntime>> create(const HubSettings& settings, const intake::TrustView& trust,
                                                       db::Pool& pool, MetricsRegistry& metrics);
  ~IntakeRuntime();
  void register_routes(http::Router& router) const;
  void start();
  void stop();

 private:
  IntakeRuntime() = default;
  std::unique_ptr<intake::JwsReceiptSigner> jws_signer_;
  std::vector<std::unique_ptr<intake::Connector>> connectors_;
  std::unique_ptr<intake::Relay> relay_;
  std::unique_ptr<intake::IntakeService> service_;
  std::vector<std::unique_ptr<intake::Applier>> appliers_;
  std::unique_ptr<intake::OutboxDeliverer> outbox_;
};

}  // namespace hub::app
