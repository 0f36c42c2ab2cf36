#include "store/audit_chain.h"

#include "core/hash.h"

namespace cadre {

std::string audit_content(const AuditEntry& e) {
  Json content = Json::array({e.seq, e.at, e.actor, e.action, e.subject, e.objective_id, e.task_id, e.data});
  return dump_json(content);
}

std::string audit_hash(const std::string& prev_hash, const AuditEntry& entry) {
  return sha256_hex(prev_hash + "\n" + audit_content(entry));
}

}  // namespace cadre
