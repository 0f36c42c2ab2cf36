#include "policy/approvals.h"

#include <cstdlib>

#include "core/hash.h"
#include "core/json_schema.h"

namespace cadre {

std::string operator_identity() {
  for (const char* var : {"CADRE_ACTOR", "USER", "LOGNAME"}) {
    const char* value = std::getenv(var);
    if (value != nullptr && *value != '\0') return std::string("operator:") + value;
  }
  return "operator";
}

Result<ApprovalRecord> answer_approval(Store& store, const std::string& id, ApprovalAnswer answer,
                                       TimeMs now) {
  CADRE_ASSIGN_OR_RETURN(ApprovalRecord item, store.get_approval(id));
  if (item.state != ApprovalState::kPending) {
    return Status::Conflict(already_answered(item));
  }
  if (!answer.args.is_null()) {
    if (answer.decision != "approve")
      return Status::InvalidArgument("only an approval can carry edited arguments");
    if (item.schema.is_null()) {
      return Status::InvalidArgument("approval " + id + " (" + item.kind +
                                     ") cannot be edited; approve or reject it");
    }
    auto errors = validate_json(item.schema, answer.args);
    if (!errors.empty()) {
      return Status::InvalidArgument("the edited arguments do not fit the schema of " +
                                     item.request.value("tool", item.kind) + ": " +
                                     describe(errors));
    }
  }
  if (answer.decision == "reject" && answer.reason.empty()) {
    return Status::InvalidArgument("a rejection needs a reason (the agent sees it)");
  }
  Json data = {
      {"decision", answer.decision}, {"kind", item.kind}, {"edited", !answer.args.is_null()}};
  if (!answer.args.is_null()) data["args_sha256"] = sha256_hex(dump_json(answer.args));
  if (!answer.reason.empty()) data["reason"] = answer.reason;
  AuditEntry entry = audit_entry(now, answer.by, "approval.answered", id, data);
  entry.objective_id = item.objective_id;
  entry.task_id = item.task_id;
  return store.answer_approval(id, answer, now, &entry);
}

Status set_pause(Store& store, const std::string& target, bool paused, const std::string& by,
                 const std::string& reason, TimeMs now) {
  AuditEntry entry = audit_entry(now, by, paused ? "pause" : "resume", target);
  if (!reason.empty()) entry.data["reason"] = reason;
  return store.set_paused({target, by, reason, now}, paused, &entry);
}

}  // namespace cadre
