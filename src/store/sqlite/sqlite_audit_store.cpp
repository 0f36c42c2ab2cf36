#include "store/sqlite/sqlite_audit_store.h"

#include "core/redact.h"
#include "store/audit_chain.h"

namespace cadre {
namespace {

#define PREPARE(var, db, sql) CADRE_ASSIGN_OR_RETURN(auto var, (db).prepare(sql))

constexpr char kColumns[] = "seq, at, actor, action, subject, objective_id, task_id, data, prev_hash, hash";

AuditEntry audit_entry_from_row(Stmt& row) {
  AuditEntry e;
  e.seq = row.int_at(0);
  e.at = row.int_at(1);
  e.actor = row.text_at(2);
  e.action = row.text_at(3);
  e.subject = row.text_at(4);
  e.objective_id = row.text_at(5);
  e.task_id = row.text_at(6);
  e.data = row.json_at(7);
  e.prev_hash = row.text_at(8);
  e.hash = row.text_at(9);
  return e;
}

}  // namespace

Status append_audit_entry(SqliteDb& db, AuditEntry& entry) {
  PREPARE(last, db, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
  CADRE_ASSIGN_OR_RETURN(bool row, last->step());
  entry.seq = row ? last->int_at(0) + 1 : 1;
  entry.prev_hash = row ? last->text_at(1) : kAuditGenesisHash;
  if (entry.data.is_null()) entry.data = Json::object();
  if (has_secrets()) {  // Stmt::bind redacts; the hash must cover what is stored
    for (std::string* text : {&entry.actor, &entry.action, &entry.subject, &entry.objective_id, &entry.task_id})
      *text = redact(*text);
    entry.data = redact_json(entry.data);
  }
  entry.hash = audit_hash(entry.prev_hash, entry);
  PREPARE(ins, db,
          "INSERT INTO audit_log (seq, at, actor, action, subject, objective_id, task_id, data, prev_hash, hash) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  ins->bind(1, entry.seq).bind(2, entry.at).bind(3, entry.actor).bind(4, entry.action).bind(5, entry.subject);
  ins->bind(6, entry.objective_id).bind(7, entry.task_id).bind(8, entry.data).bind(9, entry.prev_hash);
  ins->bind(10, entry.hash);
  return ins->run();
}

Result<AuditEntry> SqliteAuditStore::append(AuditEntry entry) {
  return writer_.run<AuditEntry>([&](SqliteDb& db) -> Result<AuditEntry> {
    AuditEntry copy = entry;  // a batch may run this again alone after a rollback
    CADRE_RETURN_IF_ERROR(append_audit_entry(db, copy));
    return copy;
  });
}

Result<std::vector<AuditEntry>> SqliteAuditStore::list(const AuditFilter& filter) {
  std::vector<AuditEntry> out;
  Status s = reader_([&](SqliteDb& db) -> Status {
    std::string sql = std::string("SELECT ") + kColumns + " FROM audit_log WHERE seq > ?1";
    if (!filter.objective_id.empty()) sql += " AND objective_id = ?3";
    sql += " ORDER BY seq LIMIT ?2";
    PREPARE(sel, db, sql);
    sel->bind(1, filter.after_seq).bind(2, filter.limit);
    if (!filter.objective_id.empty()) sel->bind(3, filter.objective_id);
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
      if (!row) break;
      out.push_back(audit_entry_from_row(sel));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<std::optional<AuditEntry>> SqliteAuditStore::head() {
  std::optional<AuditEntry> out;
  Status s = reader_([&](SqliteDb& db) -> Status {
    PREPARE(sel, db, std::string("SELECT ") + kColumns + " FROM audit_log ORDER BY seq DESC LIMIT 1");
    CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
    if (row) out = audit_entry_from_row(sel);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace cadre
