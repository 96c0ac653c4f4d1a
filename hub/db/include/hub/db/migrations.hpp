#pragma once
// Versioned schema migrations. The list is linear and numbered; each migration runs
// once, inside its own transaction, so a failing one leaves the schema exactly as it was
// before it. A session-level advisory lock serializes concurrent starts. A migration
// already applied whose text changed is refused (the history of a legal registry's
// schema is not rewritten; write a new migration instead).

#include <string>
#include <vector>

#include "hub/core/result.hpp"
#include "hub/db/pg.hpp"

namespace hub::db {

struct Migration {
  int version = 0;
  std::string name;  // e.g. "0001_foundation"
  std::string sql;
};

struct MigrationReport {
  std::vector<std::string> applied;  // names applied by this run
  int schema_version = 0;            // highest applied version afterwards
};

// The migrations compiled into this binary from hub/db/migrations/*.sql, in order.
const std::vector<Migration>& embedded_migrations();

// Applies the pending migrations. Must run as the schema owner.
Result<MigrationReport> apply_migrations(Connection& owner, const std::vector<Migration>& all);

// Highest applied version, 0 when none (or the table does not exist yet).
int current_schema_version(Connection& conn);

}  // namespace hub::db
