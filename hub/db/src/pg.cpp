#include "hub/db/pg.hpp"

#include <libpq-fe.h>

#include <cstdlib>
#include <cstring>

namespace hub::db {
namespace {

PGresult* res(void* p) { return static_cast<PGresult*>(p); }
PGconn* con(void* p) { return static_cast<PGconn*>(p); }

std::string trim_message(const char* m) {
  std::string s = m ? m : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Throws for a failed result; takes ownership of r in that case.
void check(PGconn* c, PGresult* r) {
  auto st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) return;
  std::string sqlstate;
  std::string message;
  if (r) {
    const char* code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    sqlstate = code ? code : "";
    message = trim_message(PQresultErrorMessage(r));
    PQclear(r);
  } else {
    message = trim_message(PQerrorMessage(c));
  }
  if (sqlstate.empty() && PQstatus(c) != CONNECTION_OK) sqlstate = "08006";
  throw_db_error(sqlstate, message);
}

}  // namespace

void throw_db_error(const std::string& s, const std::string& m) {
  if (s == "23505") throw UniqueViolation(s, m);
  if (s == "23503") throw ForeignKeyViolation(s, m);
  if (s == "23514") throw CheckViolation(s, m);
  if (s == "23502") throw NotNullViolation(s, m);
  if (s == "23P01") throw ExclusionViolation(s, m);
  if (s.rfind("23", 0) == 0) throw IntegrityViolation(s, m);
  if (s == "40001" || s == "40P01") throw TransactionConflict(s, m);
  if (s == "42501") throw InsufficientPrivilege(s, m);
  if (s == "57014") throw QueryCanceled(s, m);
  if (s.rfind("08", 0) == 0 || s == "57P01" || s == "57P02" || s == "57P03") {
    throw ConnectionError(s, m);
  }
  if (s == "P0001" || s.rfind("GX", 0) == 0) throw RaisedException(s, m);
  throw DbError(s, m);
}

// ---- ResultSet ----
ResultSet::~ResultSet() {
  if (res_) PQclear(res(res_));
}
ResultSet::ResultSet(ResultSet&& o) noexcept : res_(o.res_) { o.res_ = nullptr; }
ResultSet& ResultSet::operator=(ResultSet&& o) noexcept {
  if (this != &o) {
    if (res_) PQclear(res(res_));
    res_ = o.res_;
    o.res_ = nullptr;
  }
  return *this;
}
int ResultSet::rows() const { return res_ ? PQntuples(res(res_)) : 0; }
int ResultSet::columns() const { return res_ ? PQnfields(res(res_)) : 0; }
int ResultSet::column(std::string_view name) const {
  int n = res_ ? PQfnumber(res(res_), std::string(name).c_str()) : -1;
  if (n < 0) throw std::out_of_range("no column named " + std::string(name));
  return n;
}
bool ResultSet::is_null(int row, int col) const { return PQgetisnull(res(res_), row, col) != 0; }
std::string_view ResultSet::text(int row, int col) const {
  if (row < 0 || row >= rows() || col < 0 || col >= columns()) {
    throw std::out_of_range("result cell out of range");
  }
  return {PQgetvalue(res(res_), row, col),
          static_cast<std::size_t>(PQgetlength(res(res_), row, col))};
}
std::int64_t ResultSet::get_int(int row, int col) const {
  auto t = get(row, col);
  return std::stoll(t);
}
std::optional<std::string> ResultSet::get_opt(int row, int col) const {
  if (is_null(row, col)) return std::nullopt;
  return get(row, col);
}
std::int64_t ResultSet::affected() const {
  const char* t = res_ ? PQcmdTuples(res(res_)) : "";
  return (t && *t) ? std::atoll(t) : 0;
}

// ---- Connection ----
std::unique_ptr<Connection> Connection::connect(const std::string& conninfo) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (!c) throw ConnectionError("08001", "out of memory creating a PostgreSQL connection");
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = trim_message(PQerrorMessage(c));
    PQfinish(c);
    throw ConnectionError("08001", "cannot connect to PostgreSQL: " + msg);
  }
  // Notices (e.g. "relation already exists, skipping") are not errors; keep them out of
  // stderr, which carries our JSON log lines.
  PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<Connection>(new Connection(c));
}

Connection::~Connection() {
  if (conn_) PQfinish(con(conn_));
}

ResultSet Connection::exec(std::string_view sql, const std::vector<Param>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  std::string q(sql);
  PGresult* r = PQexecParams(con(conn_), q.c_str(), static_cast<int>(values.size()), nullptr,
                             values.data(), nullptr, nullptr, 0);
  check(con(conn_), r);
  return ResultSet(r);
}

void Connection::exec_script(std::string_view sql) {
  std::string q(sql);
  PGresult* r = PQexec(con(conn_), q.c_str());
  check(con(conn_), r);
  PQclear(r);
}

bool Connection::healthy() const {
  return conn_ && PQstatus(con(conn_)) == CONNECTION_OK &&
         PQtransactionStatus(con(conn_)) == PQTRANS_IDLE;
}
int Connection::server_version() const { return PQserverVersion(con(conn_)); }
std::string Connection::server_version_text() const {
  const char* v = PQparameterStatus(con(conn_), "server_version");
  return v ? v : "unknown";
}

// ---- Transaction ----
Transaction::Transaction(Connection& conn, Isolation iso) : conn_(conn) {
  switch (iso) {
    case Isolation::kReadCommitted: conn_.exec("BEGIN"); break;
    case Isolation::kRepeatableRead: conn_.exec("BEGIN ISOLATION LEVEL REPEATABLE READ"); break;
    case Isolation::kSerializable: conn_.exec("BEGIN ISOLATION LEVEL SERIALIZABLE"); break;
  }
}
Transaction::~Transaction() {
  if (!done_) {
    try {
      conn_.exec("ROLLBACK");
    } catch (const DbError&) {
      // A lost connection rolls back by itself; the pool drops the broken connection.
    }
  }
}
void Transaction::commit() {
  done_ = true;
  conn_.exec("COMMIT");
}

// ---- Pool ----
PooledConnection::~PooledConnection() {
  if (pool_ && conn_) pool_->give_back(std::move(conn_));
}

PooledConnection Pool::acquire() {
  std::unique_lock lock(mu_);
  auto deadline = std::chrono::steady_clock::now() + settings_.acquire_timeout;
  while (true) {
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return PooledConnection(this, std::move(c));
    }
    if (open_ < settings_.size) {
      ++open_;
      lock.unlock();
      try {
        return PooledConnection(this, Connection::connect(settings_.conninfo));
      } catch (...) {
        std::lock_guard relock(mu_);
        --open_;
        cv_.notify_one();
        throw;
      }
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= settings_.size) {
      throw ConnectionError("08004", "no PostgreSQL connection free within " +
                                         std::to_string(settings_.acquire_timeout.count()) +
                                         " ms (pool of " + std::to_string(settings_.size) + ")");
    }
  }
}

void Pool::give_back(std::unique_ptr<Connection> conn) {
  std::lock_guard lock(mu_);
  if (conn->healthy()) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;  // dropped; a fresh one is opened on demand
  }
  cv_.notify_one();
}

int Pool::idle() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(idle_.size());
}

std::string quote_ident(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace hub::db
