// Tool: one operation an agent or playbook step may invoke, with a declared
// risk class and idempotency. The kernel uses the declaration to decide what
// happens when a call was in flight at a crash: an idempotent tool is called
// again with the same idempotency key; any other makes the task `uncertain`
// so a human decides. Connectors (later modules) register their tools in the
// same ToolRegistry as the built-ins.
//
// Thread-safety: invoke() may be called from several worker threads at once;
// ToolRegistry is thread-safe (a connector that comes up late adds its tools
// while the kernel runs).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/json.h"
#include "core/result.h"
#include "kernel/retry_policy.h"

namespace cadre {

enum class RiskClass { kRead, kWrite, kIrreversible };
std::string_view to_string(RiskClass risk);

struct ToolSpec {
  std::string name;          // "file.write"
  std::string description;
  RiskClass risk = RiskClass::kWrite;
  bool idempotent = false;   // calling twice with the same key has the effect of once
  Json input_schema = Json::object();  // JSON Schema of the arguments
  RetryPolicy retry;         // default; a step's `retry:` overrides it
  std::string rate_limit_key;  // the kernel RateLimiter bucket shared with others ("" : none of its own)
};

// Who asks for a tool call: provenance for tools that record it (memory),
// and the memory scopes an agent may read and write (empty: not an agent).
struct ToolCaller {
  std::string task_id;
  int step_seq = 0;
  std::string agent;                       // "" for a playbook step
  std::vector<std::string> memory_scopes;
};

// What a tool receives besides its arguments.
struct ToolCall {
  Json args;
  std::string idempotency_key;   // stable across retries and crashes of this step
  int attempt = 1;
  TimeMs deadline = 0;           // 0: none; tools doing I/O must give up by then
  std::filesystem::path workspace_root;
  const Clock* clock = nullptr;
  DurationMs* retry_after = nullptr;  // a tool may ask for at least this delay before a retry
  ToolCaller caller = {};
};

class Tool {
 public:
  virtual ~Tool() = default;
  virtual const ToolSpec& spec() const = 0;
  virtual Result<Json> invoke(const ToolCall& call) = 0;
};

class ToolRegistry {
 public:
  Status add(std::shared_ptr<Tool> tool);  // AlreadyExists on a duplicate name
  std::shared_ptr<Tool> find(std::string_view name) const;
  std::vector<std::string> names() const;

 private:
  mutable std::shared_mutex mutex_;
  std::map<std::string, std::shared_ptr<Tool>, std::less<>> tools_;
};

}  // namespace cadre
