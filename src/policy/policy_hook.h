// PolicyHook: the one place every tool call and model call of an agent is
// asked about before it happens. This release allows everything; the policy
// module (rules, approvals, budgets, audit) implements the same interface.
//
// Thread-safety: implementations are called from several worker threads.
#pragma once

#include <string>

#include "core/json.h"
#include "kernel/tool.h"

namespace cadre {

enum class PolicyOutcome { kAllow, kDeny, kRequireApproval };

struct PolicyDecision {
  PolicyOutcome outcome = PolicyOutcome::kAllow;
  std::string rule;    // which rule decided ("" : the default)
  std::string reason;  // shown to the agent on deny
};

struct ToolCallRequest {
  std::string agent;
  std::string objective_id;
  std::string tool;
  RiskClass risk = RiskClass::kWrite;
  Json args;
};

struct ModelCallRequest {
  std::string agent;
  std::string objective_id;
  std::string tier;
};

class PolicyHook {
 public:
  virtual ~PolicyHook() = default;
  virtual PolicyDecision check_tool(const ToolCallRequest& request) = 0;
  virtual PolicyDecision check_model(const ModelCallRequest& request) = 0;
};

class AllowAllPolicy final : public PolicyHook {
 public:
  PolicyDecision check_tool(const ToolCallRequest&) override { return {}; }
  PolicyDecision check_model(const ModelCallRequest&) override { return {}; }
};

}  // namespace cadre
