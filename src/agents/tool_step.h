// Running one tool as a step of a task, for playbook steps and agents alike:
// `wait` and `emit` go through the TaskContext (a timer or event park, an
// exactly-once event); every other tool is invoked from the registry under
// its declared idempotency, retry policy and rate limit.
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

namespace cadre {

struct ToolStepContext {
  const ToolRegistry* tools = nullptr;
  std::filesystem::path workspace_root;
  const std::map<std::string, ToolLimits>* tool_limits = nullptr;  // tools with a rate limit
};

struct ToolStepOptions {
  std::optional<RetryPolicy> retry;  // empty: the tool's default
  DurationMs timeout = 0;
  std::string label;  // who asks, for errors: "step 'send'", "agent 'support'"
  std::string agent;  // the agent calling, "" for a playbook step
  std::vector<std::string> memory_scopes;  // the agent's
};

Result<Json> run_tool_step(TaskContext& context, const ToolStepContext& env,
                           const std::string& tool_name, const Json& args,
                           const ToolStepOptions& options);

}  // namespace cadre
