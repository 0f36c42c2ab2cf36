#include "policy/gate.h"

#include "core/json_schema.h"

namespace cadre {
namespace {

std::string objective_title(Store& store, const Policy& policy, const std::string& objective_id) {
  if (!policy.reads_objective_title()) return "";
  auto objective = store.get_objective(objective_id);
  return objective.ok() ? objective->title : "";
}

// "policy rule 'X'" or, for a default, "policy".
std::string decided_by(const PolicyDecision& decision) {
  return decision.rule.empty() ? "policy" : "policy rule '" + decision.rule + "'";
}

}  // namespace

Result<PolicyDecision> decide(TaskContext& context, const std::string& subject,
                              const std::function<PolicyDecision()>& evaluate) {
  const StepRecord* next = context.next_journaled();
  if (next != nullptr && next->kind != "policy") {
    return PolicyDecision{};  // no decision was journaled: the call went ahead by default
  }
  if (next == nullptr) {
    PolicyDecision fresh = evaluate();
    if (fresh.rule.empty() && fresh.outcome == PolicyOutcome::kAllow) return fresh;
    CADRE_RETURN_IF_ERROR(
        context.record("policy." + subject, "policy", [&] { return fresh.to_json(); }).status());
    context.audit(audit_entry(0, "", "policy.decision", subject, fresh.to_json()));
    return fresh;
  }
  CADRE_ASSIGN_OR_RETURN(
      Json journaled, context.record("policy." + subject, "policy", [] { return Json::object(); }));
  return PolicyDecision::from_json(journaled);
}

ApprovalRecord approval_for(const TaskContext& context, const PolicyDecision& decision,
                            const std::string& kind, const std::string& title) {
  ApprovalRecord draft;
  draft.kind = kind;
  draft.agent = context.task().agent;
  draft.title = title;
  draft.reason = decision.reason;
  draft.rule = decision.rule;
  draft.timeout_action = decision.on_timeout.empty() ? "reject" : decision.on_timeout;
  if (decision.timeout > 0) draft.expires_at = context.clock().now_ms() + decision.timeout;
  return draft;
}

bool approved(const Json& answer) {
  std::string decision = answer.value("decision", std::string());
  return decision == "approve" || decision == "redo";
}

std::string describe_refusal(const Json& answer) {
  std::string by = answer.value("by", std::string("someone"));
  std::string reason = answer.value("reason", std::string());
  std::string text = by == "timeout" ? "no one answered in time, so it was rejected by default"
                                     : "rejected by " + by;
  return reason.empty() || by == "timeout" ? text : text + ": " + reason;
}

Result<Json> gate_tool_call(TaskContext& context, const Policy& policy, Store& store,
                            ToolGateRequest request) {
  ToolCallRequest& call = request.call;
  CADRE_ASSIGN_OR_RETURN(PolicyDecision decision, decide(context, call.tool, [&] {
                           call.objective_title =
                               objective_title(store, policy, context.task().objective_id);
                           return policy.check_tool(call);
                         }));
  if (decision.outcome == PolicyOutcome::kAllow) return call.args;
  if (decision.outcome == PolicyOutcome::kDeny) {
    return Status::FailedPrecondition("denied by " + decided_by(decision) + ": " + decision.reason);
  }
  std::string who =
      call.agent.empty() ? "playbook '" + call.playbook + "'" : "agent '" + call.agent + "'";
  ApprovalRecord draft =
      approval_for(context, decision, "tool", who + " wants to call " + call.tool);
  draft.request = {{"tool", call.tool}, {"risk", to_string(call.risk)}, {"args", call.args}};
  draft.context = request.context;
  draft.schema = request.schema.is_null() ? Json::object() : request.schema;
  CADRE_ASSIGN_OR_RETURN(Json answer, context.await_approval(std::move(draft)));
  if (!approved(answer))
    return Status::FailedPrecondition("the call to " + call.tool + " was " +
                                      describe_refusal(answer));
  if (!answer.contains("args")) return call.args;
  // Checked when the answer was given too; checked again in case the tool's schema changed since.
  auto errors = validate_json(request.schema, answer["args"]);
  if (!errors.empty()) {
    return Status::InvalidArgument("the edited arguments for " + call.tool +
                                   " do not fit its schema: " + describe(errors));
  }
  return answer["args"];
}

Status gate_model_call(TaskContext& context, const Policy& policy, Store& store,
                       ModelCallRequest request, const Json& why) {
  CADRE_ASSIGN_OR_RETURN(PolicyDecision decision, decide(context, request.tier, [&] {
                           request.objective_title =
                               objective_title(store, policy, context.task().objective_id);
                           return policy.check_model(request);
                         }));
  if (decision.outcome == PolicyOutcome::kAllow) return Status::Ok();
  if (decision.outcome == PolicyOutcome::kDeny) {
    return Status::FailedPrecondition("the model call was denied by " + decided_by(decision) + ": " +
                                      decision.reason);
  }
  ApprovalRecord draft =
      approval_for(context, decision, "model",
                   "agent '" + request.agent + "' wants to call the " + request.tier + " model");
  draft.request = {{"tier", request.tier}, {"estimated_cost_usd", request.estimated_cost_usd}};
  draft.context = why;
  CADRE_ASSIGN_OR_RETURN(Json answer, context.await_approval(std::move(draft)));
  if (!approved(answer))
    return Status::FailedPrecondition("the model call was " + describe_refusal(answer));
  return Status::Ok();
}

}  // namespace cadre
