#include "hub/db/migrations.hpp"

#include "hub/core/digest.hpp"

#include <map>

namespace hub::db {

namespace {
// An arbitrary constant that names "schema migration" among advisory locks.
constexpr const char* kLockKey = "7390412237";

const char* kCreateHistory = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  sha256     text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  applied_by text NOT NULL DEFAULT current_user
))sql";
}  // namespace

int current_schema_version(Connection& conn) {
  auto exists = conn.exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (exists.get(0, 0) != "t") return 0;
  auto r = conn.exec("SELECT coalesce(max(version), 0) FROM schema_migrations");
  return static_cast<int>(r.get_int(0, 0));
}

Result<MigrationReport> apply_migrations(Connection& owner, const std::vector<Migration>& all) {
  MigrationReport report;
  try {
    owner.exec(std::string("SELECT pg_advisory_lock(") + kLockKey + ")");
  } catch (const DbError& e) {
    return make_error("MIGRATION_FAILED", std::string("cannot take the migration lock: ") + e.what());
  }
  auto unlock = [&] {
    try {
      owner.exec(std::string("SELECT pg_advisory_unlock(") + kLockKey + ")");
    } catch (const DbError&) {
    }
  };
  try {
    owner.exec(kCreateHistory);
    std::map<int, std::pair<std::string, std::string>> applied;  // version -> (name, sha)
    auto rows = owner.exec("SELECT version, name, sha256 FROM schema_migrations ORDER BY version");
    for (int i = 0; i < rows.rows(); ++i) {
      applied[static_cast<int>(rows.get_int(i, 0))] = {rows.get(i, 1), rows.get(i, 2)};
    }
    int last = 0;
    for (const auto& m : all) {
      if (m.version <= last) {
        unlock();
        return make_error("MIGRATION_FAILED", "migration " + m.name +
                                                  " is out of order: versions must increase");
      }
      last = m.version;
      std::string sha = sha256_hex(m.sql);
      if (auto it = applied.find(m.version); it != applied.end()) {
        if (it->second.second != sha) {
          unlock();
          return make_error("MIGRATION_CHANGED",
                            "migration " + m.name + " was applied as " + it->second.first +
                                " with a different text (sha256 " + it->second.second.substr(0, 12) +
                                "..., now " + sha.substr(0, 12) +
                                "...); applied migrations are never edited: add a new one");
        }
        continue;
      }
      try {
        Transaction tx(owner);
        owner.exec_script(m.sql);
        tx.exec("INSERT INTO schema_migrations (version, name, sha256) VALUES ($1, $2, $3)",
                {std::to_string(m.version), m.name, sha});
        tx.commit();
      } catch (const DbError& e) {
        unlock();
        return make_error("MIGRATION_FAILED",
                          "migration " + m.name + " failed and was rolled back (schema left at version " +
                              std::to_string(current_schema_version(owner)) + "): " + e.what());
      }
      report.applied.push_back(m.name);
    }
    report.schema_version = current_schema_version(owner);
  } catch (const DbError& e) {
    unlock();
    return make_error("MIGRATION_FAILED", std::string("migrations could not run: ") + e.what());
  }
  unlock();
  return report;
}

}  // namespace hub::db
