// Running one tool as a step of a task, for playbook steps and agents alike:
// `wait` and `emit` go through the TaskContext (a timer or event park, an
// exactly-once event); every other tool is invoked from the registry under
// its declared idempotency, retry policy and rate limit. Every call but
// `wait` passes the policy gate first (policy/gate.h): it may be denied, or
// wait for a human who may edit its arguments.
//
// Thread-safety: a free function; the registry is read-only.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "kernel/task_context.h"
#include "kernel/tool.h"
#include "policy/policy.h"
#include "store/store.h"

namespace cadre {

struct ToolStepContext {
  const ToolRegistry* tools = nullptr;
  std::filesystem::path workspace_root;
  const std::map<std::string, ToolLimits>* tool_limits = nullptr;  // tools with a rate limit
  const Policy* policy = nullptr;  // null: every call allowed (tests of the kernel alone)
  Store* store = nullptr;          // with policy: objective titles
};

struct ToolStepOptions {
  std::optional<RetryPolicy> retry;  // empty: the tool's default
  DurationMs timeout = 0;
  std::string label;  // who asks, for errors: "step 'send'", "agent 'support'"
  std::string agent;  // the agent calling, "" for a playbook step
  std::vector<std::string> memory_scopes;  // the agent's
  std::string playbook;    // the playbook whose step calls, "" for an agent
  Json why = Json::object();  // what led to the call, shown to an approver
};

Result<Json> run_tool_step(TaskContext& context, const ToolStepContext& env,
                           const std::string& tool_name, const Json& args,
                           const ToolStepOptions& options);

}  // namespace cadre
