// Store: the durable state of a workspace, behind an interface the kernel
// can use without knowing the backend. Only store/ speaks SQL.
//
// Every kernel write is a *commit*: a list of transitions on one task,
// applied atomically and only if the caller still holds the task's lease
// fence (the epoch that grows on every claim). A worker presumed dead whose
// lease was reclaimed gets kConflict and must stop touching the task.
//
// Backends may batch the commits of many workers into one transaction
// (group commit); a commit returns only once it is durable to the level the
// configuration asks for. The SQLite backend does this with one writer
// thread; a PostgreSQL backend claims with FOR UPDATE SKIP LOCKED and wakes
// workers with LISTEN/NOTIFY behind the same calls.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/result.h"
#include "store/audit_store.h"
#include "store/memory_store.h"
#include "store/records.h"

namespace cadre {

struct TaskRef {
  std::string task_id;
  int64_t fence = 0;
};

// A task to create: in a new objective, or as a child of a running task.
struct NewTask {
  std::string id;
  std::string key;
  std::string kind;
  std::string agent;
  Json spec = Json::object();
  std::vector<std::string> needs;  // keys of tasks in the same objective
};

// --- transitions a worker commits for the task it holds ---

struct StepStarted {
  int seq = 0;
  std::string name;
  std::string kind;
  std::string idempotency_key;
  Json input;
  int attempt = 1;
  TimeMs at = 0;
};

struct StepFinished {
  int seq = 0;
  StepState state = StepState::kDone;  // done, failed or retrying
  Json output;
  std::string error;
  TimeMs at = 0;
};

// The task ends. Succeeded/skipped wake its dependents; failed fails the
// objective and cancels tasks that can no longer run; uncertain blocks the
// objective until an operator resolves it.
struct TaskFinished {
  TaskState state = TaskState::kSucceeded;
  Json output;
  std::string error;
  TimeMs at = 0;
  // Hand-off: when set and a dependent became ready, it is claimed for this
  // worker in the same transaction (CommitResult::next), so a chain of tasks
  // flows through one worker without a round trip through the dispatcher.
  std::string handoff_worker = {};
  int64_t handoff_lease_ms = 0;
  bool releases_locks = true;  // false: the task is known to hold none (saves a lookup)
};

// The task gives up its worker until `wake_at` (timer), an event named `key`
// arrives (event; `seq` is the step that receives the event), or the lock
// named `key` is released (lock).
struct TaskParked {
  WaitKind kind = WaitKind::kTimer;
  TimeMs wake_at = 0;
  std::string key;
  int seq = 0;
  TimeMs at = 0;
};

// Take the per-resource lock `resource` for the task, held until the task
// ends. If another task holds it, the task parks waiting for it instead and
// CommitResult::lock_busy is set.
struct LockAcquire {
  std::string resource;
  TimeMs at = 0;
};

// An event raised by a step, written in the same transaction as the step's
// result so it exists exactly once.
struct EventRaised {
  EventRecord event;
};

// Give the task back (shutdown): ready again for any worker, same journal.
struct TaskReleased {
  TimeMs at = 0;
};

// Fan-out: adds `children` to the task's objective, ready to run at once,
// and parks the task until every one of them has succeeded (a failed child
// fails the objective as any task does). Children are counted in the
// objective's totals.
struct ChildrenSpawned {
  std::vector<NewTask> children;
  TimeMs at = 0;
};

// An approval item, created with the step that waits for it (a TaskParked
// of kind approval, key = its id, wake_at = its expiry). Creating an id that
// exists does nothing, so tasks can share one item (a budget). If the item
// is already answered when the task parks on it, the task is ready at once.
struct ApprovalRequested {
  ApprovalRecord approval;
};

// An audit entry written in the same transaction as the task's other
// transitions (the decision or effect it records).
struct AuditAppended {
  AuditEntry entry;
};

using Transition = std::variant<StepStarted, StepFinished, TaskFinished, TaskParked, LockAcquire, EventRaised,
                                TaskReleased, ChildrenSpawned, ApprovalRequested, AuditAppended>;

struct CommitResult {
  bool lock_busy = false;   // a LockAcquire found the lock held; the task is parked
  int tasks_made_ready = 0; // dependents or waiters that became ready (not counting `next`)
  std::optional<TaskRecord> next;  // the dependent claimed by hand-off, if any
};

// --- objectives as created by the kernel ---


struct NewObjective {
  ObjectiveRecord objective;       // state, counters and times are filled by the store
  std::vector<NewTask> tasks;
};

struct ObjectiveFilter {
  std::optional<ObjectiveState> state;
  int limit = 100;
};

struct TaskFilter {
  std::string objective_id;        // empty: all
  std::optional<TaskState> state;
  std::string agent;               // empty: any
  int limit = 100;
};

// Most tasks of one agent that may run at once, by agent name.
using AgentLimits = std::map<std::string, int>;

struct ApprovalFilter {
  std::optional<ApprovalState> state;  // none: all
  std::string objective_id;            // "" : all
  std::string kind;                    // "" : all
  std::string agent;                   // "" : all
  int limit = 100;
};

// What an operator decides for a task left `uncertain`.
enum class Resolution { kDone, kRedo, kFail };

struct StoreOptions {
  std::string path;                 // database file (SQLite)
  bool synchronous_full = false;    // fsync every commit (FULL) or WAL-safe NORMAL
  int busy_timeout_ms = 5000;
  int max_batch = 512;              // commits per group transaction
};

struct StoreStats {
  int64_t transactions = 0;
  int64_t commits = 0;              // write operations inside them (commits, claims, ...)
};

// --- API tokens and sessions ---
// The workspace server's callers (server/auth.h). A token or a session id
// reaches the store only as its SHA-256 hash; no raw value is ever stored.

struct ApiTokenRecord {
  std::string name;        // [a-z0-9_.-]{1,64}
  std::string token_hash;  // SHA-256 hex of the token
  std::string created_by;  // "operator:USER"
  TimeMs created_at = 0;
  TimeMs last_used_at = 0;  // 0: never; written at most once a minute
  TimeMs revoked_at = 0;    // 0: active
};

// A browser session opened with a token; it ends when the token is revoked.
struct ApiSessionRecord {
  std::string session_hash;  // SHA-256 hex of the cookie's value
  std::string token_hash;    // the token that opened it
  std::string csrf_hash;     // SHA-256 hex of the session's CSRF token
  TimeMs created_at = 0;
  TimeMs expires_at = 0;
};

// A session as found, with the token it belongs to.
struct ApiSessionWithToken {
  ApiSessionRecord session;
  ApiTokenRecord token;
};
// --- end of API tokens and sessions ---

// --- metrics: manual work, outcome checks, aggregates ---
// What server/metrics.h computes the metrics that compound from. Every
// aggregate reads a window [from, to) through an index, never the history.
// Work Cadre does for itself is not the operator's work and is left out of
// every aggregate: objectives owned by "memory" (compaction) or by
// "revalidate:AGENT" (outcome checks).

// Work the operator did by hand (`cadre log-manual`, the workspace UI).
struct ManualWorkRecord {
  std::string id;             // "man_..."
  std::string description;
  std::string agent;          // the agent whose kind of work it is; "" for none
  int64_t minutes = 0;        // how long it took; 0: not said
  std::string logged_by;      // "operator:USER", "api:TOKEN"
  TimeMs at = 0;              // when the work was done
};

// Manual work in a window, by agent ("" for work of no agent).
struct ManualWorkTotals {
  std::string agent;
  int64_t entries = 0;
  int64_t minutes = 0;
};

// A re-validation of an agent's outcome `horizon` after it succeeded.
// States: pending, passed, failed (the check ran and the outcome no longer
// holds), error (the check could not run: the tool failed, a template broke).
struct OutcomeCheckRecord {
  std::string objective_id;   // the outcome re-validated
  std::string horizon;        // "30d"
  int64_t horizon_ms = 0;
  std::string agent;
  TimeMs due_at = 0;
  std::string state = "pending";
  TimeMs checked_at = 0;      // 0 while pending
  std::string detail;         // why it failed, or what the check saw
  std::string check_objective_id;  // the objective whose task runs the check
};

// Outcome checks by agent and horizon: those recorded in the window, and
// those still pending (whenever due).
struct OutcomeCheckCounts {
  std::string agent;
  std::string horizon;
  int64_t horizon_ms = 0;
  int64_t passed = 0;
  int64_t failed = 0;
  int64_t errors = 0;
  int64_t pending = 0;
};

// Objectives of one owner ("AGENT", "playbook:NAME", "planner") in a window.
struct OwnerOutcomes {
  std::string owner;
  int64_t started = 0;        // created in the window, in any state
  int64_t succeeded = 0;      // finished in the window, by final state
  int64_t failed = 0;
  int64_t cancelled = 0;
  // Time to complete (finished_at - created_at) of those that succeeded.
  int64_t duration_sum_ms = 0;
  int64_t duration_p50_ms = 0;  // nearest rank; 0 when none succeeded
  int64_t duration_p90_ms = 0;
  int64_t duration_max_ms = 0;
};

struct ObjectiveOutcomes {
  std::vector<OwnerOutcomes> owners;  // by owner
  OwnerOutcomes overall;              // all owners together (owner "")
};

// A human stepping in on one owner's work in a window. An approval item
// counts for its agent, or for its objective's owner when it has none.
struct OwnerInterventions {
  std::string owner;
  int64_t approvals = 0;      // items answered by a human (approve or reject) as proposed
  int64_t edits = 0;          // items approved with edited arguments
  int64_t resolutions = 0;    // uncertain steps decided (approve/redo/reject, `cadre resolve`)
  int64_t retries = 0;        // failed or cancelled runs retried
};

// What the objectives of one owner that finished in a window cost.
struct OwnerCosts {
  std::string owner;
  double model_usd = 0;       // call.cost_usd of their model steps
  int64_t model_calls = 0;
  int64_t journal_bytes = 0;  // inputs and outputs of all their steps
  std::map<std::string, int64_t> tool_calls;  // attempts of their tool steps, by tool name
};
// --- end of metrics ---

class Store {
 public:
  virtual ~Store() = default;

  // Creates or upgrades the schema; refuses a database newer than this build.
  virtual Status migrate() = 0;

  // --- definitions (content-addressed snapshots runs replay against) ---
  virtual Status put_definition(const DefinitionRecord& def) = 0;
  virtual Result<DefinitionRecord> get_definition(const std::string& hash) = 0;

  // --- objectives and tasks ---
  // Returns false (and creates nothing) when objective.dedupe_key is taken.
  virtual Result<bool> create_objective(const NewObjective& objective, TimeMs now) = 0;
  virtual Result<ObjectiveRecord> get_objective(const std::string& id) = 0;
  virtual Result<std::vector<ObjectiveRecord>> list_objectives(const ObjectiveFilter& filter) = 0;
  virtual Result<TaskRecord> get_task(const std::string& id) = 0;
  virtual Result<std::vector<TaskRecord>> list_tasks(const TaskFilter& filter) = 0;
  virtual Result<std::vector<StepRecord>> get_steps(const std::string& task_id) = 0;
  // Outputs of the succeeded tasks of an objective, by task key.
  virtual Result<Json> task_outputs(const std::string& objective_id) = 0;
  // Counts of tasks by state, and of objectives by state.
  virtual Result<Json> counts() = 0;

  // --- the kernel's transitions ---
  // Claims up to `max` tasks that need a worker now: ready ones whose time
  // has come, timers that are due, and running ones whose lease expired.
  // Each claim increments the fence and leases the task to `worker` until
  // now + lease_ms.
  // `agent_limits` caps the tasks of an agent running at once across all
  // workers (agents not named are unlimited).
  virtual Result<std::vector<TaskRecord>> claim_tasks(const std::string& worker, int max, TimeMs now,
                                                      int64_t lease_ms, const AgentLimits& agent_limits = {}) = 0;
  virtual Result<CommitResult> commit(const TaskRef& task, std::vector<Transition> transitions) = 0;
  // Extends the leases of tasks this worker still holds; returns the ids whose
  // lease was lost (fence moved on).
  virtual Result<std::vector<std::string>> renew_leases(const std::string& worker,
                                                        const std::vector<TaskRef>& tasks, TimeMs expires) = 0;
  // Workers that hold leases on running tasks, and making a dead one's leases
  // expire now so any worker can claim its tasks without waiting.
  virtual Result<std::vector<std::string>> lease_owners() = 0;
  virtual Status expire_leases(const std::string& worker, TimeMs now) = 0;
  // The earliest time after `after` any task will need a claimer (0 when
  // none is scheduled). Tasks due at or before `after` that a claim left
  // (paused or at their agent's limit) do not count: they wait for a change.
  virtual Result<TimeMs> next_wake_time(TimeMs after = 0) = 0;

  // --- events ---
  // Records an event and wakes tasks waiting for its name. Idempotent by id.
  virtual Status emit_event(const EventRecord& event) = 0;
  virtual Result<std::vector<EventRecord>> unprocessed_events(int limit) = 0;
  // Marks the event handled; a non-empty `error` records why a trigger
  // could not start from it (shown by `cadre status`).
  virtual Status mark_event_processed(const std::string& id, const std::string& error = "") = 0;
  virtual Result<std::vector<EventRecord>> rejected_events(int limit) = 0;

  // --- operator overrides (any state changes are applied atomically) ---
  virtual Status cancel_objective(const std::string& id, TimeMs now) = 0;
  // A failed or cancelled task (and the objective) runs again from its journal;
  // failed steps get fresh attempts.
  virtual Status retry_task(const std::string& task_id, TimeMs now) = 0;
  virtual Status resolve_task(const std::string& task_id, Resolution resolution, const std::string& note,
                              TimeMs now) = 0;

  // --- approvals (records.h) ---
  virtual Result<ApprovalRecord> get_approval(const std::string& id) = 0;
  // Newest first.
  virtual Result<std::vector<ApprovalRecord>> list_approvals(const ApprovalFilter& filter) = 0;
  // Answers a pending item exactly once, and in the same transaction: wakes
  // every task waiting for it (their approval step is done with the
  // answer), resolves the task of an "uncertain" item (approve: done, redo,
  // reject: fail), and appends `audit` when given. kConflict, naming who
  // answered and how, when the item is no longer pending.
  virtual Result<ApprovalRecord> answer_approval(const std::string& id, const ApprovalAnswer& answer, TimeMs now,
                                                 const AuditEntry* audit = nullptr) = 0;
  // Extra budget granted by approved "budget" items of `agent` for `scope`
  // ("day:YYYY-MM-DD" or "objective:ID"): {usd, tokens}.
  virtual Result<Json> budget_grants(const std::string& agent, const std::string& scope) = 0;

  // --- kill switch: "*" or an agent's name (appends `audit` in the same transaction) ---
  virtual Status set_paused(const PauseRecord& pause, bool paused, const AuditEntry* audit = nullptr) = 0;
  virtual Result<std::vector<PauseRecord>> pauses() = 0;

  // --- connectors: small JSON values by connector and key (health, cursors) ---
  virtual Status put_connector_state(const std::string& connector, const std::string& key, const Json& value,
                                     TimeMs at) = 0;
  // Null when there is none.
  virtual Result<Json> connector_state(const std::string& connector, const std::string& key) = 0;
  // Every connector's value of `key`, by connector name.
  virtual Result<std::map<std::string, Json>> connector_states(const std::string& key) = 0;

  // --- triggers: last fire time per trigger id ---
  virtual Result<TimeMs> trigger_last_fire(const std::string& trigger_id) = 0;  // 0: never
  virtual Status set_trigger_last_fire(const std::string& trigger_id, TimeMs t) = 0;

  // --- worker registry (who is alive; for `cadre status`) ---
  virtual Status heartbeat_worker(const std::string& worker, const Json& info, TimeMs now) = 0;
  virtual Status remove_worker(const std::string& worker) = 0;
  virtual Result<Json> live_workers(TimeMs now, int64_t max_age_ms) = 0;

  // --- model response cache (exact match; see models/gateway.h) ---
  // The value stored under `key` unless it expired by `now`; null if none.
  virtual Result<Json> cache_get(const std::string& key, TimeMs now) = 0;
  virtual Status cache_put(const std::string& key, const Json& value, TimeMs now, TimeMs expires_at) = 0;

  // Model calls journaled since `since`: {calls, cached, input_tokens,
  // output_tokens, cost_usd}, optionally for one agent's tasks only. Tokens
  // of answers the cache gave are not counted (nothing was spent on them).
  virtual Result<Json> model_usage(TimeMs since, const std::string& agent = "") = 0;

  // --- memory: the event log, entities, summaries, indexes (memory_store.h) ---
  virtual MemoryStore& memory() = 0;

  // --- the hash-chained audit log (audit_store.h) ---
  virtual AuditStore& audit() = 0;

  // --- API tokens and sessions (server/auth.h; hashes only, never values) ---
  // Each write appends `audit`, when given, in the same transaction.
  // Adds a token; a revoked token of the same name is replaced.
  // kAlreadyExists when an active token has that name.
  virtual Status put_api_token(const ApiTokenRecord& token, const AuditEntry* audit = nullptr) = 0;
  // The token with this hash (active or revoked), if any.
  virtual Result<std::optional<ApiTokenRecord>> api_token_by_hash(
      const std::string& token_hash) = 0;
  // Every token, active and revoked, by name.
  virtual Result<std::vector<ApiTokenRecord>> api_tokens() = 0;
  // Revokes the active token `name` and deletes its sessions; returns how
  // many sessions ended. kNotFound when no active token has that name.
  virtual Result<int> revoke_api_token(const std::string& name, TimeMs now,
                                       const AuditEntry* audit = nullptr) = 0;
  // Sets the token's last_used_at to `at` unless it is newer than `at - min_interval_ms`.
  virtual Status touch_api_token(const std::string& token_hash, TimeMs at,
                                 int64_t min_interval_ms) = 0;
  // Adds a session for its token, if that token is still active
  // (kFailedPrecondition otherwise); deletes sessions expired by its
  // created_at, and the token's oldest beyond `max_per_token`.
  virtual Status put_api_session(const ApiSessionRecord& session, int max_per_token,
                                 const AuditEntry* audit = nullptr) = 0;
  // The session with this hash and its token, if both exist and the token
  // is active (the caller checks expires_at).
  virtual Result<std::optional<ApiSessionWithToken>> api_session(
      const std::string& session_hash) = 0;
  // Replaces a session's CSRF hash; false when the session is gone.
  virtual Result<bool> set_api_session_csrf(const std::string& session_hash,
                                            const std::string& csrf_hash) = 0;
  // Deletes a session; false when there was none (then nothing is audited).
  virtual Result<bool> delete_api_session(const std::string& session_hash,
                                          const AuditEntry* audit = nullptr) = 0;
  // Deletes every session expired by `now`; returns how many.
  virtual Result<int> delete_expired_api_sessions(TimeMs now) = 0;
  // --- end of API tokens and sessions ---

  // --- metrics: manual work, outcome checks, aggregates (see the records above) ---
  // Records manual work, appending `audit` in the same transaction.
  virtual Status log_manual_work(const ManualWorkRecord& work, const AuditEntry* audit = nullptr) = 0;
  // Manual work done in [from, to), newest first.
  virtual Result<std::vector<ManualWorkRecord>> list_manual_work(TimeMs from, TimeMs to, int limit) = 0;
  virtual Result<std::vector<ManualWorkTotals>> manual_work_totals(TimeMs from, TimeMs to) = 0;
  // Adds checks that do not exist yet (by objective and horizon); existing ones are kept.
  virtual Status schedule_outcome_checks(const std::vector<OutcomeCheckRecord>& checks) = 0;
  // Records a check's result (passed, failed or error). Recording the same
  // result again changes nothing; kNotFound when the check was never scheduled.
  virtual Status record_outcome_check(const std::string& objective_id, const std::string& horizon,
                                      const std::string& state, const std::string& detail, TimeMs at) = 0;
  // The checks of one objective, by due time.
  virtual Result<std::vector<OutcomeCheckRecord>> outcome_checks(const std::string& objective_id) = 0;
  virtual Result<std::vector<OutcomeCheckCounts>> outcome_check_counts(TimeMs from, TimeMs to) = 0;
  virtual Result<ObjectiveOutcomes> objective_outcomes(TimeMs from, TimeMs to) = 0;
  virtual Result<std::vector<OwnerInterventions>> interventions(TimeMs from, TimeMs to) = 0;
  virtual Result<std::vector<OwnerCosts>> outcome_costs(TimeMs from, TimeMs to) = 0;
  // --- end of metrics ---

  virtual StoreStats stats() const = 0;
};

// Opens the SQLite backend at options.path (creating the file), runs
// migrations, and starts its writer.
Result<std::unique_ptr<Store>> open_sqlite_store(const StoreOptions& options);

}  // namespace cadre
