// SqliteAuditStore: the AuditStore of the SQLite backend (table audit_log,
// schema version 4). Appends go through the store's writer; the chain head
// is read inside the appending transaction, so appends from other threads
// and other processes (the CLI) still form one chain.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <functional>

#include "store/audit_store.h"
#include "store/sqlite/group_commit_writer.h"
#include "store/sqlite/sqlite_db.h"

namespace cadre {

// Appends `entry` inside the caller's write transaction: assigns seq,
// prev_hash and hash. For transitions and overrides that audit themselves.
Status append_audit_entry(SqliteDb& db, AuditEntry& entry);

class SqliteAuditStore final : public AuditStore {
 public:
  using Reader = std::function<Status(const std::function<Status(SqliteDb&)>& fn)>;

  SqliteAuditStore(GroupCommitWriter& writer, Reader reader) : writer_(writer), reader_(std::move(reader)) {}

  Result<AuditEntry> append(AuditEntry entry) override;
  Result<std::vector<AuditEntry>> list(const AuditFilter& filter) override;
  Result<std::optional<AuditEntry>> head() override;

 private:
  GroupCommitWriter& writer_;
  Reader reader_;
};

}  // namespace cadre
