// The policy gate: what a task does before a tool call or a model call.
//
//   decide   -> the Policy's decision, journaled as a `policy` step when a
//               rule made it or it is not a plain allow (so a replay follows
//               the decision taken then, even if policies.yaml changed), and
//               audited ("policy.decision")
//   deny     -> an error naming the rule and its reason
//   approval -> an approval item (what, why, the proposed arguments, what led
//               there); the task parks without holding a worker until a human
//               answers or the item times out; approve (as proposed or with
//               edited arguments, checked against the tool's schema again),
//               reject (an error carrying the human's reason)
//
// A denial or rejection is kFailedPrecondition: an agent hands it back to
// the model as the tool's result; a playbook step fails with it.
//
// Thread-safety: free functions over one task's TaskContext.
#pragma once

#include <string>

#include "kernel/task_context.h"
#include "policy/policy.h"
#include "store/store.h"

namespace cadre {

struct ToolGateRequest {
  ToolCallRequest call;           // objective_title is filled in here when a rule needs it
  Json schema;                    // the tool's argument schema (edits are checked against it)
  Json context = Json::object();  // what led there: the task, the model's words
};

// Returns the arguments to call the tool with: as proposed, or as a human edited them.
Result<Json> gate_tool_call(TaskContext& context, const Policy& policy, Store& store,
                            ToolGateRequest request);

// Ok when the model call may go ahead.
Status gate_model_call(TaskContext& context, const Policy& policy, Store& store,
                       ModelCallRequest request, const Json& why = Json::object());

// The decision for the next call, journaled as described above. `evaluate`
// runs only when the journal does not already hold the answer.
Result<PolicyDecision> decide(TaskContext& context, const std::string& subject,
                              const std::function<PolicyDecision()>& evaluate);

// An approval item for a decision that requires one; expires per the decision.
ApprovalRecord approval_for(const TaskContext& context, const PolicyDecision& decision,
                            const std::string& kind, const std::string& title);

// How an answer reads in an error: "rejected by operator:alice: too expensive".
std::string describe_refusal(const Json& answer);
bool approved(const Json& answer);

}  // namespace cadre
