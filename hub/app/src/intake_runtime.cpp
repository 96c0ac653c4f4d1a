#include "hub/app/intake_runtime.hpp"

#include "connectors/gx_market.hpp"
#include "hub/core/clock.hpp"

namespace hub::app {

Result<std::unique_ptr<IntakeRuntime>> IntakeRuntime::create(const HubSettings& s, const intake::TrustView& trust,
                                                             db::Pool& pool, MetricsRegistry& metrics) {
  std::unique_ptr<IntakeRuntime> rt(new IntakeRuntime());
  auto signer = intake::JwsReceiptSigner::load(s.receipt_key_file, s.receipt_cert_file, s.receipt_kid);
  if (!signer.ok()) return signer.error();
  rt->jws_signer_ = std::make_unique<intake::JwsReceiptSigner>(std::move(signer).value());

  // The connectors, explicitly (no self-registration): one line per outside system.
  rt->connectors_.push_back(std::make_unique<connectors::GxMarketConnector>(*rt->jws_signer_));

  std::vector<const intake::Connector*> list;
  for (const auto& c : rt->connectors_) list.push_back(c.get());
  intake::RelaySettings rs{s.db_app_conninfo, s.mq};
  rs.exchange = "gx.inbound" + s.mq_suffix;
  rt->relay_ = std::make_unique<intake::Relay>(rs, metrics);
  intake::IntakeSettings is;
  is.max_clock_skew = s.max_clock_skew;
  rt->service_ = std::make_unique<intake::IntakeService>(is, list, trust, pool, SystemClock::instance(),
                                                         rt->relay_.get(), metrics);
  intake::OutboxSettings os;
  os.db_conninfo = s.db_app_conninfo;
  for (const auto& c : rt->connectors_) {
    intake::ApplierSettings as;
    as.db_conninfo = s.db_app_conninfo;
    as.mq = s.mq;
    as.queue = "gx.apply." + c->name() + s.mq_suffix;
    as.batch = static_cast<std::size_t>(s.apply_batch);
    as.callbacks = s.callback_urls.count(c->name()) > 0;
    rt->appliers_.push_back(std::make_unique<intake::Applier>(as, *c, metrics));
    if (as.callbacks) {
      os.targets[c->name()] = intake::CallbackTarget{s.callback_urls.at(c->name()), s.callback_ca_file,
                                                     s.https.cert_file, s.https.key_file};
    }
  }
  rt->outbox_ = std::make_unique<intake::OutboxDeliverer>(os, metrics);
  return rt;
}

IntakeRuntime::~IntakeRuntime() { stop(); }

void IntakeRuntime::register_routes(http::Router& router) const { service_->register_routes(router); }

void IntakeRuntime::start() {
  relay_->start();
  for (auto& a : appliers_) a->start();
  outbox_->start();
}

void IntakeRuntime::stop() {
  if (outbox_) outbox_->stop();
  for (auto& a : appliers_) a->stop();
  if (relay_) relay_->stop();
}

}  // namespace hub::app
