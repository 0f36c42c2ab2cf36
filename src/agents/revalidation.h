// Outcome re-validation: does an agent's outcome still hold some time after
// its objective succeeded? An agent declares the check in its success
// criterion (agent.h, `success.revalidate`):
//
//   success:
//     revalidate:
//       uses: billing.get_invoice               # a tool that looks at the outcome
//       with: {id: "{{ answer.invoice_id }}"}   # templates over the outcome
//       expect: "{{ result.status == 'paid' }}" # true: the outcome held
//       after: [30d, 90d]                       # the default
//
// When an objective owned by such an agent succeeds, its agent task ends
// with a step `outcome.schedule` that adds one row per horizon to
// outcome_checks and one objective (owner `revalidate:AGENT`, dedupe key
// `revalidate:OBJECTIVE`) holding one `outcome_check` task per horizon. Each
// task sleeps (a kernel timer: no worker held) until its due time, then
// renders `with`, calls the tool as a step (policy gate, retries, audit, as
// the agent), judges the result with `expect`, and records passed, failed
// or error in outcome_checks (step `outcome.record`). A check that cannot
// run (the tool fails for good, a template breaks) is recorded as error and
// its task still succeeds: the result is the record, not the task's state.
//
// Template scope of `with` and `expect`: answer (the agent's final answer as
// JSON, or null), text (its text), objective {id, title, inputs,
// succeeded_at}, agent (its name); `expect` also sees result (the tool's
// output). The snapshot of the agent the objective ran under is used, so a
// later edit of the file does not change a scheduled check.
//
// Thread-safety: handlers run concurrently on worker threads; they hold no
// mutable state.
#pragma once

#include <memory>
#include <string>

#include "agents/agent.h"
#include "agents/agent_runner.h"
#include "agents/tool_step.h"
#include "kernel/kernel.h"
#include "kernel/task_handler.h"
#include "store/store.h"

namespace cadre {

inline constexpr char kOutcomeCheckKind[] = "outcome_check";

// The horizon's label as outcome_checks and the metrics name it: "30d".
std::string horizon_label(DurationMs horizon);

// Schedules the checks of `outcome` (an objective `agent` owns, succeeded at
// `succeeded_at` with the agent task's output `result`): the rows and the
// objective that runs them. Idempotent by the outcome's id. Returns
// {objective, checks: [{horizon, due_at}]}.
Result<Json> schedule_revalidation(Store& store, const AgentDef& agent, const std::string& version,
                                   const ObjectiveRecord& outcome, const Json& result,
                                   TimeMs succeeded_at);

// Runs tasks of kind outcome_check.
class OutcomeCheckHandler final : public TaskHandler {
 public:
  OutcomeCheckHandler(AgentRunner& agents, ToolStepContext tools)
      : agents_(agents), tools_(std::move(tools)) {}
  Result<Json> run(TaskContext& context) override;

 private:
  AgentRunner& agents_;
  ToolStepContext tools_;
};

// The agent_task handler, then, for an objective the agent owns whose
// definition declares success.revalidate, the `outcome.schedule` step.
class RevalidatingAgentTaskHandler final : public TaskHandler {
 public:
  explicit RevalidatingAgentTaskHandler(AgentRunner& agents) : agents_(agents), inner_(agents) {}
  Result<Json> run(TaskContext& context) override;

 private:
  AgentRunner& agents_;
  AgentTaskHandler inner_;
};

}  // namespace cadre
