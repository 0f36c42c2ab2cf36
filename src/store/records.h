// The records the Store keeps: objectives, tasks, journaled steps, events,
// definitions. Plain values shared by every backend and by the kernel,
// server and command line that read them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/json.h"

namespace cadre {

// Task state machine (DESIGN.md):
//   pending -> ready -> running -> waiting -> ready -> ... -> succeeded | failed | cancelled
// plus `uncertain` (a non-idempotent step was in flight at a crash; a human
// decides) and `skipped` (its `if` was false; counts as done for dependents).
enum class TaskState { kPending, kReady, kRunning, kWaiting, kUncertain, kSucceeded, kFailed, kCancelled, kSkipped };

// An objective is `running` until every task is done; `uncertain` while any
// task waits for a human's resolution.
enum class ObjectiveState { kRunning, kUncertain, kSucceeded, kFailed, kCancelled };

// A step's journal entry: `started` is written before the effect, then
// `done` or `failed`; `retrying` means failed with another attempt scheduled.
enum class StepState { kStarted, kDone, kFailed, kRetrying };

enum class WaitKind { kNone, kTimer, kEvent, kLock, kChildren, kApproval };

std::string_view to_string(TaskState s);
std::string_view to_string(ObjectiveState s);
std::string_view to_string(StepState s);
std::string_view to_string(WaitKind s);
bool parse_task_state(std::string_view text, TaskState* out);
bool parse_objective_state(std::string_view text, ObjectiveState* out);
bool parse_step_state(std::string_view text, StepState* out);
bool parse_wait_kind(std::string_view text, WaitKind* out);
bool is_terminal(TaskState s);
bool is_terminal(ObjectiveState s);

struct ObjectiveRecord {
  std::string id;
  std::string title;
  std::string owner;        // "playbook:NAME", an agent name, or "planner"
  std::string source;       // "manual", "cron:PLAYBOOK#N", "event:EVENT_ID"
  std::string playbook;     // empty when not from a playbook
  Json inputs = Json::object();
  Json versions = Json::object();  // {"playbook:NAME": "<hash>"}
  ObjectiveState state = ObjectiveState::kRunning;
  std::string dedupe_key;   // empty or unique: a trigger fire creates one objective only
  int tasks_total = 0;
  int tasks_left = 0;       // tasks not yet succeeded or skipped
  std::string error;
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
  TimeMs finished_at = 0;   // 0 while running
};

struct TaskRecord {
  std::string id;
  std::string objective_id;
  std::string key;          // unique within the objective, e.g. the playbook step id
  std::string kind;         // the handler: "playbook_step", later "agent", ...
  std::string agent;        // empty when no agent owns it
  Json spec = Json::object();  // what the handler needs, fixed at creation
  TaskState state = TaskState::kPending;
  int deps_left = 0;
  TimeMs run_at = 0;        // when a claimer should next look (ready, timer, lease expiry); 0: never
  WaitKind wait_kind = WaitKind::kNone;
  std::string wait_key;     // event name or lock resource
  int wait_seq = 0;         // the step waiting for an event
  std::string lease_owner;
  int64_t fence = 0;        // grows on every claim
  int claims = 0;
  Json output;              // null until succeeded
  std::string error;
  TimeMs created_at = 0;
  TimeMs started_at = 0;
  TimeMs finished_at = 0;
};

struct StepRecord {
  std::string task_id;
  int seq = 0;              // 1-based position in the task's journal
  std::string name;
  std::string kind;         // "tool", "clock", "random", "wait", "emit", "lock", ...
  StepState state = StepState::kStarted;
  std::string idempotency_key;
  Json input;
  Json output;
  std::string error;        // "code: message" of the last failure
  int attempts = 0;
  Json attempt_log = Json::array();  // [{attempt, started_at, finished_at, error}]
  TimeMs started_at = 0;
  TimeMs finished_at = 0;
};

struct EventRecord {
  std::string id;
  std::string name;
  Json data = Json::object();
  std::string source;       // "cli", "step:TASK:SEQ", "webhook:NAME"
  TimeMs created_at = 0;
  bool processed = false;
  std::string error = {};   // set when a trigger could not start from it
};

struct DefinitionRecord {
  std::string hash;
  std::string kind;         // "playbook", later "agent", "policy"
  std::string name;
  Json body;
  TimeMs created_at = 0;
};

// A question to a human (DESIGN.md: approvals are a normal part of the flow).
// Kinds: "tool" and "model" (a policy rule asked), "plan" (the planner's plan
// before it runs), "budget" (an agent reached a budget; approving raises
// it), "uncertain" (a step was in flight at a crash: did it happen?).
// Answered exactly once: pending -> approved | rejected | expired.
enum class ApprovalState { kPending, kApproved, kRejected, kExpired };
std::string_view to_string(ApprovalState s);
bool parse_approval_state(std::string_view text, ApprovalState* out);

struct ApprovalRecord {
  std::string id;             // "apr_..."
  std::string kind;           // tool, model, plan, budget, uncertain
  ApprovalState state = ApprovalState::kPending;
  std::string objective_id;
  std::string task_id;        // the task that asked (budget: the first one)
  int step_seq = 0;           // its approval step (uncertain: the step in doubt)
  std::string agent;          // "" for playbooks and the kernel
  std::string title;          // what: "ops wants to call email.send"
  std::string reason;         // why it needs a human: the rule's reason
  std::string rule;           // the rule that asked ("" when none)
  Json request = Json::object();  // what is proposed: {tool, args} / {plan} / {scope, usd, tokens} / {step}
  Json context = Json::object();  // what led there: objective title, task text, the model's words
  Json schema;                // the JSON Schema edited arguments must pass (null: not editable)
  std::string timeout_action; // "approve" or "reject" when expires_at passes
  TimeMs expires_at = 0;      // 0: waits forever
  // The answer: {decision: approve|reject|redo, args?, reason?}
  Json answer;
  std::string answered_by;    // "operator:NAME", "timeout"
  TimeMs created_at = 0;
  TimeMs answered_at = 0;
};

// An answer to an approval. `decision`: "approve", "reject", or for an
// uncertain step also "redo" (run it again). `args` replaces the proposed
// arguments (edit-then-approve); the caller validates them first.
struct ApprovalAnswer {
  std::string decision;
  Json args;                  // null: as proposed
  std::string reason;         // shown to the agent on reject
  std::string by;             // who answered
};

// Kill switch: "*" (everything) or an agent's name.
struct PauseRecord {
  std::string target;
  std::string by;
  std::string reason;
  TimeMs at = 0;
};

// JSON views of the records, as shown by `--json` and the API. Times are
// milliseconds since the epoch plus an ISO text twin (`created` for `created_at`).
Json to_json(const ObjectiveRecord& o);
Json to_json(const TaskRecord& t);
Json to_json(const StepRecord& s);
Json to_json(const EventRecord& e);
Json to_json(const ApprovalRecord& a);
// What a task waiting for an approval receives: the answer {decision, args?,
// reason?} with approval_id, state, by and at.
Json approval_outcome(const ApprovalRecord& a);
// Why an answered item takes no other answer: "approval apr_... was already
// answered: approved by operator:ann at 2026-...Z".
std::string already_answered(const ApprovalRecord& a);

}  // namespace cadre
