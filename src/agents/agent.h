// AgentDef: a role that owns outcomes, loaded from agents/NAME.yaml.
//
//   role: Support triage                 # one line: who this agent is
//   instructions: |                      # how it works (the system prompt)
//     ...
//   tier: small                          # small | large
//   escalate: large                      # tier to switch to when an answer fails its check
//   tools: [log, file.write]             # the only tools it may call
//   memory: {scopes: [support, shared]}  # memory it reads and writes
//   success:
//     schema: {type: object, ...}        # the final answer must be JSON of this schema
//     judge: {prompt: "...", tier: small}  # and/or a model-judged check
//     retries: 2                         # answers re-asked after a failed check
//     revalidate:                        # does the outcome still hold later? (revalidation.h)
//       uses: billing.get_invoice        # a tool whose result is judged
//       with: {id: "{{ answer.invoice_id }}"}  # templates over the outcome
//       expect: "{{ result.status == 'paid' }}"  # true: the outcome held
//       after: [30d, 90d]                # when, after the objective succeeded
//   max_turns: 8                         # model calls per task, tool rounds included
//   sla: 4h                              # an objective is late after this long
//   budget: {tokens_per_day: 200000, usd_per_day: 2, tokens_per_objective: 50000,
//   usd_per_objective: 0.5} concurrency: 2                       # tasks of this agent running at
//   once cache: true                          # may answers come from the response cache triggers:
//     - cron: "0 9 * * 1-5"
//       objective: "Triage the inbox"    # a template (trigger/event in scope)
//     - event: customer.signup
//       objective: "Welcome {{ event.data.name }}"
//
// Every agent can also be started by hand (`cadre ask`, `cadre objective add`).
//
// Thread-safety: plain values.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agents/playbook.h"
#include "agents/workspace.h"
#include "core/diagnostics.h"

namespace cadre {

struct JudgeDef {
  std::string prompt;  // what the judge checks; it answers {pass, reason}
  std::string tier = "small";
};

// A re-validation of an agent's outcome some time after its objective
// succeeded: the tool `uses` is called with `with` (templates over the
// outcome: answer, text, objective, agent) and `expect` (a condition over
// the same plus `result`, the tool's output) says whether the outcome still
// holds. Scheduled and run by agents/revalidation.h.
struct RevalidateDef {
  std::string uses;
  Json with = Json::object();
  std::string expect;
  std::vector<DurationMs> after = {30LL * 24 * 3600 * 1000, 90LL * 24 * 3600 * 1000};  // ascending
};

struct BudgetDef {  // 0: no limit
  int64_t tokens_per_day = 0;
  double usd_per_day = 0;
  int64_t tokens_per_objective = 0;
  double usd_per_objective = 0;
};

struct AgentTrigger {
  TriggerDef when;        // cron or event (its `inputs` are unused)
  std::string objective;  // template of the objective text
};

struct AgentDef {
  std::string name;  // the file name without .yaml
  std::string file;  // relative path it was loaded from
  std::string role;
  std::string instructions;
  std::string tier = "small";
  std::string escalate;  // "": never
  std::vector<std::string> tools;
  std::vector<std::string> memory_scopes;
  Json output_schema;  // null: any text
  std::optional<JudgeDef> judge;
  std::optional<RevalidateDef> revalidate;  // success.revalidate; none: outcomes are not re-checked
  int output_retries = 2;
  int max_turns = 8;
  DurationMs sla = 0;  // 0: none
  BudgetDef budget;
  int concurrency = 1;
  bool cache = true;
  std::vector<AgentTrigger> triggers;

  // Canonical JSON (the definition snapshot a task replays against) and back.
  // version() is the first 16 hex digits of SHA-256 over to_json().
  Json to_json() const;
  static Result<AgentDef> from_json(const Json& j);
  std::string version() const;
};

// Parses agents/NAME.yaml. Problems go to `diagnostics` (all of them);
// the definition is returned best effort.
AgentDef parse_agent(std::string_view yaml_text, const std::string& file, const std::string& name,
                     const LoadOptions& options, Diagnostics* diagnostics);

// The planner when the workspace has no agents/planner.yaml: a `large`-tier
// agent without tools whose answer is a plan.
AgentDef default_planner();

}  // namespace cadre
