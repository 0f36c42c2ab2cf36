// Policy: the rules of policies.yaml, asked before every tool call and every
// model call (DESIGN.md, "Policy, humans and audit").
//
//   defaults:                    # when no rule matches
//     read: allow
//     write: allow
//     irreversible: require_approval
//     model: allow
//   approvals: {timeout: 24h, on_timeout: reject}   # for every item unless a rule says
//   plans: {require_approval: true}                 # the planner's plans wait for a human
//   rules:
//     - name: big-refunds
//       match:                   # every condition given must hold
//         agent: [ops]           # names or globs (fnmatch), one or a list
//         tool: payments.*       # tool calls only
//         tier: large            # model calls only
//         risk: irreversible     # read | write | irreversible
//         args: {amount: {gt: 100}, to: {matches: "*@client.com"}}
//         cost_usd: {gt: 0.5}    # the call's estimated cost
//         objective: "*refund*"  # the objective's title
//       decision: require_approval   # allow | deny | require_approval
//       reason: Refunds over $100 are checked by a human
//       timeout: 4h
//       on_timeout: reject
//
// How rules combine: every matching rule is found; the most restrictive
// decision wins (deny > require_approval > allow), and among rules with that
// decision the first in the file is the one reported. A rule that allows
// therefore overrides a default, never another rule's deny or approval.
// A rule with `tier` or `cost_usd` applies to model calls only; one with
// `tool`, `risk` or `args` to tool calls only; one with neither to both.
//
// Argument conditions: a plain value means equal; otherwise one or more of
// eq, ne, gt, gte, lt, lte (numbers), in, not_in (lists), contains (a
// substring, or an element of a list), matches (a glob), exists (bool).
// Paths are dotted (`customer.email`); a missing field fails every
// condition but `ne`, `not_in` and `exists: false`.
//
// Thread-safety: const after construction; evaluated from many threads.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/diagnostics.h"
#include "core/duration.h"
#include "core/json.h"
#include "kernel/tool.h"

namespace cadre {

enum class PolicyOutcome { kAllow, kRequireApproval, kDeny };  // in rising restrictiveness
std::string_view to_string(PolicyOutcome outcome);

struct ArgCondition {
  std::string path;  // dotted
  std::string op;    // eq ne gt gte lt lte in not_in contains matches exists
  Json value;
};

struct PolicyRule {
  std::string name;
  int line = 0;                                               // in policies.yaml, for messages
  std::vector<std::string> agents, tools, tiers, objectives;  // globs; empty: any
  std::vector<RiskClass> risks;
  std::vector<ArgCondition> args;
  std::optional<double> cost_above, cost_at_most;  // cost_usd {gt | lte}
  PolicyOutcome decision = PolicyOutcome::kAllow;
  std::string reason;
  DurationMs timeout = -1;  // -1: the approvals default
  std::string on_timeout;   // "": the approvals default

  bool for_tools() const { return tiers.empty() && !cost_above && !cost_at_most; }
  bool for_models() const { return tools.empty() && risks.empty() && args.empty(); }
};

struct PolicyConfig {
  PolicyOutcome default_read = PolicyOutcome::kAllow;
  PolicyOutcome default_write = PolicyOutcome::kAllow;
  PolicyOutcome default_irreversible = PolicyOutcome::kRequireApproval;
  PolicyOutcome default_model = PolicyOutcome::kAllow;
  DurationMs approval_timeout = 24 * 3600 * 1000LL;  // 0: wait forever
  std::string on_timeout = "reject";                 // approve | reject
  bool plans_require_approval = false;
  std::vector<PolicyRule> rules;
};

// The rules and defaults in force, as the API shows them.
Json to_json(const PolicyConfig& config);

// Parses policies.yaml; every problem goes to `diagnostics` with its line.
// An empty file is the defaults.
PolicyConfig parse_policies(std::string_view text, const std::string& file,
                            Diagnostics* diagnostics);

struct ToolCallRequest {
  std::string agent;     // "" for a playbook step
  std::string playbook;  // "" for an agent
  std::string objective_title;
  std::string tool;
  RiskClass risk = RiskClass::kWrite;
  Json args;
};

struct ModelCallRequest {
  std::string agent;
  std::string objective_title;
  std::string tier;
  double estimated_cost_usd = 0;
};

struct PolicyDecision {
  PolicyOutcome outcome = PolicyOutcome::kAllow;
  std::string rule;        // the rule that decided; "" for a default
  std::string reason;      // shown to the agent and the approver
  DurationMs timeout = 0;  // for require_approval: how long the item waits (0: forever)
  std::string on_timeout;  // approve | reject

  Json to_json() const;
  static PolicyDecision from_json(const Json& j);
};

class Policy {
 public:
  explicit Policy(PolicyConfig config = {}) : config_(std::move(config)) {}

  PolicyDecision check_tool(const ToolCallRequest& request) const;
  PolicyDecision check_model(const ModelCallRequest& request) const;

  const PolicyConfig& config() const { return config_; }
  // Whether any rule reads the objective's title (so callers look it up only then).
  bool reads_objective_title() const;

 private:
  PolicyDecision combine(const std::vector<const PolicyRule*>& matched, PolicyOutcome fallback,
                         const std::string& fallback_reason) const;

  PolicyConfig config_;
};

}  // namespace cadre
