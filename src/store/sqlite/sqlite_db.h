// SqliteDb: one SQLite connection with a cache of prepared statements, and
// Stmt, a prepared statement bound and stepped through a small typed API.
// SQLite result codes become Status values that say what happened in words
// an operator can act on (busy, read-only, disk full, corrupt).
//
// Thread-safety: a SqliteDb is used by one thread at a time.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "core/json.h"
#include "core/result.h"

namespace cadre {

Status sqlite_status(int rc, sqlite3* db, std::string_view what);

class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt(Stmt&& other) noexcept : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}
  Stmt& operator=(Stmt&&) = delete;
  // Lets a statement held by value read like a handle: `stmt->bind(...)`.
  Stmt* operator->() { return this; }

  Stmt& bind(int index, int64_t value);
  Stmt& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Stmt& bind(int index, std::string_view value);
  Stmt& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
  Stmt& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Stmt& bind(int index, const Json& value);  // stored as JSON text; null as SQL NULL

  // SQLITE_ROW -> true, SQLITE_DONE -> false, anything else -> error.
  Result<bool> step();
  // Runs to completion, ignoring rows.
  Status run();

  int64_t int_at(int col) const { return sqlite3_column_int64(stmt_, col); }
  double double_at(int col) const { return sqlite3_column_double(stmt_, col); }
  std::string text_at(int col) const;
  Json json_at(int col) const;  // NULL -> null; unparsable text -> the text as a string
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class SqliteDb {
 public:
  // Opens (creating if `create`) the database file and applies pragmas.
  static Result<std::unique_ptr<SqliteDb>> open(const std::string& path, bool create,
                                                bool synchronous_full, int busy_timeout_ms);
  ~SqliteDb();

  // A statement from the cache, reset and with bindings cleared. The returned
  // object resets it again when destroyed.
  Result<Stmt> prepare(std::string_view sql);
  Status exec(std::string_view sql);  // one-off scripts without parameters or rows
  Status run(std::string_view sql);   // a cached statement without parameters
  int64_t changes() const { return sqlite3_changes64(db_); }
  sqlite3* handle() { return db_; }

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  struct SqlHash {
    using is_transparent = void;
    size_t operator()(std::string_view sql) const { return std::hash<std::string_view>{}(sql); }
  };
  std::unordered_map<std::string, sqlite3_stmt*, SqlHash, std::equal_to<>> cache_;
};

}  // namespace cadre
