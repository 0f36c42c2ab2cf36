#include "store/sqlite/sqlite_db.h"

#include <sys/statvfs.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "core/redact.h"

namespace cadre {

Status sqlite_status(int rc, sqlite3* db, std::string_view what) {
  if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return Status::Ok();
  std::string detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string msg = std::string(what) + ": " + detail;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable(msg + " (another process holds the database; retry later)");
    case SQLITE_READONLY:
      return Status::IOError(msg + " (the database or its folder is read-only)");
    case SQLITE_FULL:
      return Status::ResourceExhausted(msg + " (the disk is full; nothing was written)");
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corruption(msg + " (the database file is damaged or not a Cadre database)");
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_IOERR:
      return Status::IOError(msg);
    case SQLITE_CONSTRAINT:
      return Status::AlreadyExists(msg);
    case SQLITE_TOOBIG:
      return Status::ResourceExhausted(msg);
    default:
      return Status::Internal(msg);
  }
}

Stmt::~Stmt() {
  if (!stmt_) return;  // moved from
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Stmt& Stmt::bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Stmt& Stmt::bind(int index, std::string_view value) {
  // Every text and JSON the store writes passes here: no secret value this
  // process knows reaches the database (journal, audit, memory, errors).
  if (has_secrets()) {
    if (std::optional<std::string> clean = redacted_copy(value)) {
      sqlite3_bind_text64(stmt_, index, clean->data(), clean->size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      return *this;
    }
  }
  sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return *this;
}

Stmt& Stmt::bind(int index, const Json& value) {
  if (value.is_null()) {
    sqlite3_bind_null(stmt_, index);
    return *this;
  }
  return bind(index, dump_json(value));
}

Result<bool> Stmt::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite_status(rc, db_, "database statement failed");
}

Status Stmt::run() {
  while (true) {
    auto row = step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
  }
}

std::string Stmt::text_at(int col) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (!text) return {};
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

Json Stmt::json_at(int col) const {
  if (is_null(col)) return nullptr;
  std::string text = text_at(col);
  Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return Json(text);
  return value;
}

namespace {

// Whether the folder holding `path` is on a read-only mount (root ignores
// permissions, so only the mount flag tells).
bool read_only_folder(const std::string& path) {
  struct statvfs info {};
  std::filesystem::path folder = std::filesystem::path(path).parent_path();
  if (folder.empty()) folder = std::filesystem::path(".");
  return statvfs(folder.c_str(), &info) == 0 && (info.f_flag & ST_RDONLY) != 0;
}

}  // namespace

Result<std::unique_ptr<SqliteDb>> SqliteDb::open(const std::string& path, bool create,
                                                 bool synchronous_full, int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status s = sqlite_status(rc, raw, "cannot open database " + path);
    sqlite3_close(raw);
    if (read_only_folder(path)) {
      return Status::IOError("cannot open database " + path +
                             ": the workspace is on a read-only file system");
    }
    return s;
  }
  std::unique_ptr<SqliteDb> db(new SqliteDb(raw));
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  sqlite3_extended_result_codes(raw, 1);
  std::string pragmas = "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=";
  pragmas += synchronous_full ? "FULL;" : "NORMAL;";
  pragmas += "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-16000; PRAGMA mmap_size=268435456;";
  pragmas += "PRAGMA journal_size_limit=67108864;";  // a WAL that starts over shrinks back to 64 MiB
  // Switching a new database to WAL takes an exclusive lock and may answer
  // "busy" at once, without the busy handler, when another process opens it
  // at the same moment: try again until the busy timeout.
  auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
  Status s = db->exec(pragmas);
  while (s.is(StatusCode::kUnavailable) && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    s = db->exec(pragmas);
  }
  if (s.is(StatusCode::kIOError) && read_only_folder(path)) {
    return Status::IOError("database " + path +
                           " cannot be opened: the workspace is on a read-only file system");
  }
  if (!s.ok()) return s.with_context("database " + path);
  return db;
}

SqliteDb::~SqliteDb() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

Result<Stmt> SqliteDb::prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return sqlite_status(rc, db_, "cannot prepare statement");
    it = cache_.emplace(std::string(sql), stmt).first;
  }
  return Stmt(db_, it->second);
}

Status SqliteDb::run(std::string_view sql) {
  auto stmt = prepare(sql);
  if (!stmt.ok()) return stmt.status();
  return stmt->run();
}

Status SqliteDb::exec(std::string_view sql) {
  char* error = nullptr;
  int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    Status s = sqlite_status(rc, db_, "database command failed");
    sqlite3_free(error);
    return s;
  }
  return Status::Ok();
}

}  // namespace cadre
