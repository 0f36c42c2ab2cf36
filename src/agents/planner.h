// The planner: an objective given to no particular agent becomes a plan, a
// DAG of tasks for the workspace's agents, produced by a `large`-tier agent
// (agents/planner.yaml, or a built-in default) and validated before
// anything runs: known agents, unique keys, `needs` naming keys of the
// plan, no cycle, `tools` (optional, narrowing a task's tools) within its
// agent's allowed tools, at most max_tasks tasks, and the agents' per-objective
// budgets within the objective's budget. An invalid plan goes back to the
// model with the errors, up to max_attempts times; then the objective fails
// with them. The model steps that produced the plan stay in the journal
// (prompt and output), and the plan task's output is the plan and the
// results of its tasks.
//
// Thread-safety: like AgentTaskHandler.
#pragma once

#include <string>
#include <vector>

#include "agents/agent_runner.h"

namespace cadre {

inline constexpr char kPlanTaskKind[] = "plan";

struct PlanLimits {
  int max_tasks = 12;
  int max_attempts = 3;
};

// Every way `plan` is not a runnable plan for `workspace` (empty: valid).
// `budget_usd` 0 means the objective has no budget.
std::vector<std::string> validate_plan(const Json& plan, const Workspace& workspace,
                                       const PlanLimits& limits, double budget_usd);

// The JSON Schema a planner's answer must match.
const Json& plan_schema();

class PlanHandler final : public TaskHandler {
 public:
  PlanHandler(AgentRunner& runner, PlanLimits limits) : runner_(runner), limits_(limits) {}
  Result<Json> run(TaskContext& context) override;

 private:
  Result<Json> make_plan(TaskContext& context, const AgentDef& planner,
                         const std::string& objective, double budget_usd);
  // With plans.require_approval: the plan as a human approved (or edited) it.
  Result<Json> approve_plan(TaskContext& context, Json plan, const std::string& objective, double budget_usd);

  AgentRunner& runner_;
  const PlanLimits limits_;
};

}  // namespace cadre
