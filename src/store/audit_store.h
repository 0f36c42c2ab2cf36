// AuditStore: the append-only, hash-chained audit log of every decision and
// effect (policy decisions, approvals and who answered them, tool effects,
// model calls, definition changes, pause/resume, secret use by name).
//
// Each entry's hash is SHA-256 over the previous entry's hash and the
// entry's own canonical content (audit_chain.h), so altering, deleting,
// inserting or reordering any entry breaks the chain from there on. The
// store assigns seq (1, 2, 3, ... without gaps), prev_hash and hash inside
// the transaction that appends, so concurrent writers (threads or
// processes) still form one chain.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/json.h"
#include "core/result.h"

namespace cadre {

struct AuditEntry {
  int64_t seq = 0;            // assigned by the store
  TimeMs at = 0;
  std::string actor;          // "agent:NAME", "playbook:NAME", "operator:USER", "planner", "system"
  std::string action;         // "policy.decision", "approval.requested", "approval.answered",
                              // "tool.effect", "model.call", "definition.changed", "pause",
                              // "resume", "secret.used", "secret.set", ...
  std::string subject;        // what was touched: a tool, a tier, an approval id, a name
  std::string objective_id;   // "" when not about one objective
  std::string task_id;
  Json data = Json::object(); // never secret values: hashes and names only
  std::string prev_hash;      // assigned by the store ("" for seq 1 is written as 64 zeros)
  std::string hash;           // assigned by the store
};

// A new entry: who did what to which subject, and when (the store fills
// seq and the hashes; a TaskContext fills an empty actor, task and objective).
inline AuditEntry audit_entry(TimeMs at, std::string actor, std::string action, std::string subject,
                              Json data = Json::object()) {
  AuditEntry e;
  e.at = at;
  e.actor = std::move(actor);
  e.action = std::move(action);
  e.subject = std::move(subject);
  e.data = std::move(data);
  return e;
}

struct AuditFilter {
  int64_t after_seq = 0;      // entries with seq > after_seq, oldest first
  std::string objective_id;   // "" : all
  int limit = 100;
};

class AuditStore {
 public:
  virtual ~AuditStore() = default;
  // Appends in its own transaction; returns the entry with seq and hashes.
  virtual Result<AuditEntry> append(AuditEntry entry) = 0;
  virtual Result<std::vector<AuditEntry>> list(const AuditFilter& filter) = 0;
  // The newest entry, if any.
  virtual Result<std::optional<AuditEntry>> head() = 0;
};

}  // namespace cadre
