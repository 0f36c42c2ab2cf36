// The accountability trace of one objective (`cadre trace`): which prompt
// produced which answer, which agent or playbook touched which tool with
// which arguments, which rule allowed, stopped or escalated it, and who
// approved. Built from what the store already holds — the tasks and their
// journals (kernel/operations.h build_trace), the objective's approval
// items and its audit entries — so it can be asked after the fact of any run.
//
// The trace is JSON, full for programs (prompts and answers whole); the CLI
// shortens prompts to hashes and answers to excerpts for people.
//
//   {objective, focus?, tasks: [{id, key, kind, agent, state, actor, error,
//     events: [{seq, name, kind, state, attempts, error, started, finished, duration_ms, ...}]}],
//    approvals: [approval records, oldest first], audit: [audit entries, by seq]}
//
// Events by step kind, beyond the common fields:
//   context   prompt {system, user, sha256, chars}, memory [items]
//   model     actor, tier, prompt {sha256 (= the request key), chars, messages, request},
//             answer {content, sha256, chars, tool_calls, finish_reason} | null,
//             call {provider, model, cost_usd, input_tokens, output_tokens, cached, latency_ms} | null,
//             policy?, approval?
//   tool      tool, actor, args, result, policy?, approval?
//   policy    subject, decision, rule, reason
//   approval  approval_id, request, answer | null, decision, by, edited, record?
//   lock      resource, actor
//   others    input, output
// `policy` on a model or tool event is the decision that let it run
// {decision, rule, reason, from: "step #N" | "audit #N"}; `approval` the
// answer it ran under {approval_id, decision, by, edited}.
//
// Thread-safety: a free function over a thread-safe Store.
#pragma once

#include <string>

#include "core/json.h"
#include "core/result.h"
#include "store/store.h"

namespace cadre {

// The trace of objective `id` (or of the objective of task `id`).
// kNotFound when there is no such objective or task.
Result<Json> build_objective_trace(Store& store, const std::string& id);

// The events of one task's journal (steps as to_json(StepRecord)), with the
// decisions and answers linked to the effects they allowed. `actor` is who
// acts in the task ("agent:NAME", "playbook:NAME"); `audit_decisions` the
// task's `policy.decision` audit entries, used where the journal holds no
// decision. Exposed for tests.
Json trace_events(const Json& steps, const std::string& actor, const Json& approvals_by_id,
                  const Json& audit_decisions);

}  // namespace cadre
