// AgentRunner: the agent loop, as durable kernel steps.
//
//   context  -> the prompt: role, instructions, task, inputs, results of
//               the tasks it waited for, and what memory holds that bears on
//               the task (memory/context.h; journaled with the sources of
//               each item, so replay sees the same and the trace says why)
//   model    -> one call to the agent's tier (journaled and committed at
//               once: a crash never pays for the same call twice)
//   tools    -> each call the model asked for: only tools the agent is
//               allowed, arguments checked against the tool's schema, passed
//               through the policy gate, then run as a tool step; the result (or
//               the reason it was refused) goes back to the model
//   repeat until a final answer or max_turns
//   check    -> the answer against the success criterion (JSON Schema and/or
//               a judge model call); on failure the errors go back to the
//               model, the tier escalates if the agent says so, and after
//               `success.retries` failed checks the task fails with them
//
// Budgets (tokens and dollars per day and per objective) are checked before
// each new model call; at a limit the agent's tasks wait for an approval item
// that asks a human to raise it (rejected: the task fails with the figures).
// Model and tool calls pass the policy gate (policy/gate.h) first.
//
// AgentTaskHandler runs tasks of kind agent_task (an objective given to an
// agent, or one task of a plan), and records the outcome in memory (an
// `outcome` event in the agent's first scope, naming the task's entities). Playbook steps `uses: agent.NAME` call
// AgentRunner::run inside their own task.
//
// Thread-safety: called concurrently from worker threads; the definition
// cache is synchronized.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "agents/agent.h"
#include "agents/tool_step.h"
#include "agents/workspace.h"
#include "kernel/task_handler.h"
#include "memory/memory.h"
#include "models/gateway.h"
#include "policy/policy.h"
#include "store/store.h"

namespace cadre {

inline constexpr char kAgentTaskKind[] = "agent_task";

// What one agent is asked to do.
struct AgentJob {
  std::string task;                // the objective or task text
  Json inputs = Json::object();    // structured inputs
  Json upstream = Json::object();  // key -> output of each task it waited for
  TimeMs deadline_at = 0;          // the objective's SLA deadline, 0: none
};

class AgentRunner {
 public:
  AgentRunner(Store& store, const Workspace& workspace, ToolStepContext tools,
              ModelGateway* gateway, const Policy& policy, Memory* memory = nullptr);

  // Runs the loop for `agent` as steps of `context`'s task; the answer is
  // {answer, text, turns, tier, late}.
  Result<Json> run(TaskContext& context, const AgentDef& agent, const AgentJob& job);

  // The agent named `name` as this task first saw it: its version is
  // journaled on first use, and the stored snapshot is used ever after.
  Result<std::shared_ptr<const AgentDef>> pinned(TaskContext& context, const std::string& name);

  // The stored snapshot of an agent version.
  Result<std::shared_ptr<const AgentDef>> definition(const std::string& version);

  // Stores the snapshot of `agent` (once per version) and returns its version.
  Result<std::string> remember(const AgentDef& agent);

  // One model call as a step: {response, call} (see models/gateway.h).
  Result<Json> call_model(TaskContext& context, const AgentDef& agent, const std::string& tier,
                          const ChatRequest& request);

  const Workspace& workspace() const { return workspace_; }
  Store& store() { return store_; }
  Memory* memory() { return memory_; }
  const Policy& policy() const { return policy_; }

 private:
  // A budget the agent has reached, after what approvals granted; none when within all.
  struct BudgetOverrun {
    std::string scope;    // "objective:ID" or "day:YYYY-MM-DD"
    std::string message;  // the figures and the setting
    double usd = 0;       // what approving grants
    int64_t tokens = 0;
  };
  Result<std::optional<BudgetOverrun>> budget_overrun(TaskContext& context, const AgentDef& agent,
                                                      const TokenUsage& used, double spent);
  // Ok when the next model call is within budget; at a limit the task waits
  // for a human to raise it (an approval item shared by the agent's tasks).
  Status ensure_budget(TaskContext& context, const AgentDef& agent, const TokenUsage& used, double spent);
  Result<Json> call_tool(TaskContext& context, const AgentDef& agent, const ModelToolCall& call,
                         const Json& why);
  Result<std::vector<std::string>> check_answer(TaskContext& context, const AgentDef& agent,
                                                const AgentJob& job, const std::string& text,
                                                Json* answer);

  Store& store_;
  const Workspace& workspace_;
  ToolStepContext tools_;
  ModelGateway* gateway_;  // null: no models configured
  const Policy& policy_;
  Memory* memory_;  // null: agents work without memory
  std::mutex cache_mutex_;
  std::map<std::string, std::shared_ptr<const AgentDef>> cache_;
};

class AgentTaskHandler final : public TaskHandler {
 public:
  explicit AgentTaskHandler(AgentRunner& runner) : runner_(runner) {}
  Result<Json> run(TaskContext& context) override;

 private:
  AgentRunner& runner_;
};

// The name an agent's tool has on the wire ([A-Za-z0-9_-] only): '.' -> '__'.
std::string wire_tool_name(const std::string& tool);

// A model's final answer as JSON: the text itself, or inside a ``` fence.
Result<Json> parse_json_answer(const std::string& text);

}  // namespace cadre
