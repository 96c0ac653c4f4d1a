#pragma once
// A scratch database with the hub's migrations, a TrustStore on the working role, and
// connections as the owner and the superuser: what every trust DbTest starts from.

#include <gtest/gtest.h>

#include <memory>

#include "hub/db/migrations.hpp"
#include "hub/db/pg.hpp"
#include "hub/testing/test_env.hpp"
#include "hub/trust/trust_store.hpp"
#include "test_certs.hpp"

namespace hub::trust::testing {

class TrustDbFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<hub::testing::ScratchDatabase>("trust");
    owner_ = db::Connection::connect(db_->owner_conninfo());
    auto applied = db::apply_migrations(*owner_, db::embedded_migrations());
    ASSERT_TRUE(applied.ok()) << applied.error().to_string();
    pool_ = std::make_unique<db::Pool>(db::PoolSettings{db_->app_conninfo(), 4});
    store_ = std::make_unique<TrustStore>(*pool_);
  }

  std::unique_ptr<db::Connection> app() { return db::Connection::connect(db_->app_conninfo()); }
  std::unique_ptr<db::Connection> superuser() {
    const auto& s = hub::testing::services();
    return db::Connection::connect(s.conninfo("gx_super", s.super_password, db_->name()));
  }

  // A gx-market JWS key under `kid`, optionally with a window.
  Result<Registration> add_kid_key(const std::string& kid, const std::string& pem,
                                   std::optional<TimePoint> from = std::nullopt,
                                   std::optional<TimePoint> to = std::nullopt) {
    return store_->add_signing_key({"gx-market", kid, pem, from, to}, "os:tester");
  }

  std::unique_ptr<hub::testing::ScratchDatabase> db_;
  std::unique_ptr<db::Connection> owner_;
  std::unique_ptr<db::Pool> pool_;
  std::unique_ptr<TrustStore> store_;
};

}  // namespace hub::trust::testing
