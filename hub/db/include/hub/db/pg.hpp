#pragma once
// A thin, RAII-owning layer over libpq. No libpq types appear here.
//
// Errors: database failures are exceptions of the DbError family, chosen by SQLSTATE so
// callers can catch exactly what they expect (UniqueViolation, ExclusionViolation, ...)
// and turn it into a domain refusal at their boundary. Everything else propagates.
//
// Thread-safety: a Connection (and its ResultSets) is used by one thread at a time.
// Pool is thread-safe.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hub::db {

class DbError : public std::runtime_error {
 public:
  DbError(std::string sqlstate, const std::string& message)
      : std::runtime_error(message), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};
// The connection could not be made or was lost (class 08, or no server answer).
class ConnectionError : public DbError { using DbError::DbError; };
class IntegrityViolation : public DbError { using DbError::DbError; };   // class 23
class UniqueViolation : public IntegrityViolation { using IntegrityViolation::IntegrityViolation; };
class ForeignKeyViolation : public IntegrityViolation { using IntegrityViolation::IntegrityViolation; };
class CheckViolation : public IntegrityViolation { using IntegrityViolation::IntegrityViolation; };
class NotNullViolation : public IntegrityViolation { using IntegrityViolation::IntegrityViolation; };
class ExclusionViolation : public IntegrityViolation { using IntegrityViolation::IntegrityViolation; };
// Serialization failure or deadlock: the transaction may simply be run again.
class TransactionConflict : public DbError { using DbError::DbError; };
class InsufficientPrivilege : public DbError { using DbError::DbError; };
class QueryCanceled : public DbError { using DbError::DbError; };  // statement_timeout
// A RAISE EXCEPTION from our own triggers/functions (SQLSTATE P0001 or a custom one).
class RaisedException : public DbError { using DbError::DbError; };

// Throws the DbError subclass that matches sqlstate.
[[noreturn]] void throw_db_error(const std::string& sqlstate, const std::string& message);

using Param = std::optional<std::string>;  // nullopt is SQL NULL; values in text format

class ResultSet {
 public:
  ResultSet() = default;
  ~ResultSet();
  ResultSet(ResultSet&&) noexcept;
  ResultSet& operator=(ResultSet&&) noexcept;
  ResultSet(const ResultSet&) = delete;
  ResultSet& operator=(const ResultSet&) = delete;

  int rows() const;
  int columns() const;
  int column(std::string_view name) const;  // throws std::out_of_range if absent
  bool is_null(int row, int col) const;
  std::string_view text(int row, int col) const;
  std::string get(int row, int col) const { return std::string(text(row, col)); }
  std::int64_t get_int(int row, int col) const;
  std::optional<std::string> get_opt(int row, int col) const;
  // Rows affected by INSERT/UPDATE/DELETE.
  std::int64_t affected() const;

 private:
  friend class Connection;
  explicit ResultSet(void* res) : res_(res) {}
  void* res_ = nullptr;
};

class Connection {
 public:
  // Connects with a libpq conninfo string; throws ConnectionError with the server's reason.
  static std::unique_ptr<Connection> connect(const std::string& conninfo);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one statement with $1.. parameters (text format). Throws DbError on failure.
  ResultSet exec(std::string_view sql, const std::vector<Param>& params = {});
  // Runs a script of several statements without parameters (migrations).
  void exec_script(std::string_view sql);
  bool healthy() const;
  int server_version() const;  // e.g. 150018
  std::string server_version_text() const;

 private:
  explicit Connection(void* conn) : conn_(conn) {}
  void* conn_ = nullptr;
};

// BEGIN on construction; ROLLBACK in the destructor unless commit() was called.
class Transaction {
 public:
  enum class Isolation { kReadCommitted, kRepeatableRead, kSerializable };
  explicit Transaction(Connection& conn, Isolation iso = Isolation::kReadCommitted);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ResultSet exec(std::string_view sql, const std::vector<Param>& params = {}) {
    return conn_.exec(sql, params);
  }
  Connection& connection() { return conn_; }
  void commit();

 private:
  Connection& conn_;
  bool done_ = false;
};

struct PoolSettings {
  std::string conninfo;
  int size = 8;
  std::chrono::milliseconds acquire_timeout{5000};
};

class Pool;

// A connection borrowed from a Pool; goes back on destruction (or is dropped if broken).
class PooledConnection {
 public:
  PooledConnection(Pool* pool, std::unique_ptr<Connection> conn)
      : pool_(pool), conn_(std::move(conn)) {}
  ~PooledConnection();
  PooledConnection(PooledConnection&&) noexcept = default;
  PooledConnection(const PooledConnection&) = delete;
  Connection& operator*() { return *conn_; }
  Connection* operator->() { return conn_.get(); }

 private:
  Pool* pool_;
  std::unique_ptr<Connection> conn_;
};

// A fixed-size pool that opens connections lazily. Must outlive every PooledConnection.
class Pool {
 public:
  explicit Pool(PoolSettings settings) : settings_(std::move(settings)) {}
  // Throws ConnectionError when no connection can be had within acquire_timeout.
  PooledConnection acquire();
  int idle() const;
  const PoolSettings& settings() const { return settings_; }

 private:
  friend class PooledConnection;
  void give_back(std::unique_ptr<Connection> conn);
  PoolSettings settings_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;
};

// Quotes an identifier for SQL (double quotes doubled).
std::string quote_ident(std::string_view name);

}  // namespace hub::db
