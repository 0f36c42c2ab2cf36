// TaskContext: what a task handler uses to act durably. Every operation is a
// journaled step, numbered in the order the handler performs it. A handler
// that runs again after a crash or a wait (replay) gets the journaled result
// of every step already done, so it must be deterministic given those
// results: time, randomness and I/O all go through this context.
//
// Intent first: before a step's effect runs, its `started` record (with its
// inputs) is committed; `done`/`failed` is written after, batched with the
// next commit. A step found `started` on replay was in flight when the last
// worker stopped: an idempotent one runs again with the same key; any other
// makes the task `uncertain` and it waits for an operator.
//
// When an operation cannot complete now (a timer, a retry backoff, a busy
// lock, an event) it parks the task and returns Status::Suspended; the
// handler must return that status at once. The worker thread is then free.
//
// Thread-safety: one TaskContext belongs to one worker thread.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "core/config.h"
#include "kernel/retry_policy.h"
#include "kernel/tool.h"
#include "store/store.h"

namespace cadre {

class RateLimiter;

struct StepOptions {
  std::string name;           // shown in traces, e.g. the tool name
  std::string kind = "tool";
  bool idempotent = false;
  RetryPolicy retry;
  DurationMs timeout = 0;     // 0: none
  std::string rate_limit_key; // empty: none; else the RateLimiter bucket
  // Commit the result at once instead of with the next step: for effects
  // that are costly to repeat (a model call), so a crash right after cannot
  // lose what was paid for.
  bool commit_result = false;
  // Append an audit entry ("tool.effect" / "model.call" by kind) with the
  // step's result: hashes of its input and output, never their text.
  bool audit = false;
};

// Handed to a step's effect.
struct StepCall {
  int seq = 0;                  // the step's place in the task's journal
  std::string idempotency_key;
  int attempt = 1;
  TimeMs deadline = 0;
  DurationMs retry_after = -1;  // the effect may set it when failing
};

struct TaskEnvironment {
  Store* store = nullptr;
  const Clock* clock = nullptr;
  const KernelConfig* limits = nullptr;
  RateLimiter* rate_limiter = nullptr;       // may be null
  const std::atomic<bool>* stopping = nullptr;  // shutdown: release instead of starting new steps
  std::function<double()> random;            // [0,1); jitter
  std::string worker_id = {};                // non-empty: take a ready dependent on finishing (hand-off)
  int64_t lease_ms = 0;
  // The kill switch: true when this task must not take another step now
  // (it is released, keeping its journal, and resumes where it was).
  std::function<bool(const TaskRecord&)> paused = {};
};

class TaskContext {
 public:
  TaskContext(TaskEnvironment env, TaskRecord task, std::vector<StepRecord> journal);

  const TaskRecord& task() const { return task_; }
  TaskRef ref() const { return {task_.id, task_.fence}; }
  const Clock& clock() const { return *env_.clock; }
  // The sequence number the next step will have.
  int next_seq() const { return cursor_ + 1; }
  // True while the next step is already in the journal (the handler is
  // replaying what an earlier run did rather than acting anew).
  bool replaying() const { return journaled(next_seq()) != nullptr; }
  // The journal's record of the next step, if it has one.
  const StepRecord* next_journaled() const { return journaled(next_seq()); }
  // Who acts in this task, for audit entries: "agent:NAME", "playbook:NAME" or the task kind.
  std::string actor() const;

  // Runs `effect` as the next step, or returns its journaled result.
  Result<Json> run_step(const StepOptions& options, const Json& input,
                        const std::function<Result<Json>(StepCall&)>& effect);

  // The current time, journaled so replay sees the same value.
  Result<TimeMs> now();
  // A uniform number in [0,1), journaled.
  Result<double> random();
  // Parks the task until `until` (no worker is held while it waits).
  Status sleep_until(TimeMs until, const std::string& name = "wait");
  // Journals `make()` as a step named `name` of kind `kind`, once; replay
  // returns the journaled value (a decision, a plan, a clock reading).
  Result<Json> record(const std::string& name, const std::string& kind, const std::function<Json()>& make);
  // Asks a human: creates the approval item `draft` (its id, task, step and
  // times are filled in) and parks until it is answered or expires; returns
  // the answer {decision, args?, reason?, by, at, state, approval_id}. An
  // item whose expiry passed is answered with its timeout_action by
  // "timeout". Items with the same id are shared: every task waiting for
  // one is woken by its answer.
  Result<Json> await_approval(ApprovalRecord draft);
  // Appends an audit entry with the task's next commit (actor, task,
  // objective and time filled in when empty).
  void audit(AuditEntry entry);
  // Parks until an event named `name` is emitted; returns the event.
  Result<Json> wait_event(const std::string& name);
  // Holds the lock on `resource` until the task ends; parks while another task holds it.
  Status lock(const std::string& resource);
  // Raises an event, exactly once, atomically with this step's record.
  Result<Json> emit(const std::string& name, const Json& data);
  // Fan-out: creates `children` (run in parallel by any workers) and parks
  // until all have succeeded; Ok once they have (on the replay that follows).
  // `make_children` is called only the first time.
  Status spawn_children(const std::string& name, const std::function<std::vector<NewTask>()>& make_children);

  // The handler decided not to run (its condition was false).
  void mark_skipped() { skipped_ = true; }
  bool skipped() const { return skipped_; }

  // Ends the task with `result` (called by the worker when the handler returns).
  // Writes nothing when the handler already parked or ended the task.
  Status finish(const Result<Json>& result);

  // The idempotency key of step `seq`: stable for (task, step).
  std::string idempotency_key(int seq) const;

  // Set once the task was parked, released or ended through this context.
  bool settled() const { return settled_; }

  // The dependent claimed for this worker when the task finished, if any.
  std::optional<TaskRecord> take_handoff() { return std::exchange(handoff_, std::nullopt); }

 private:
  Status flush(std::vector<Transition> extra);
  Result<CommitResult> commit_now(std::vector<Transition> extra);
  Status park(TaskParked parked);
  const StepRecord* journaled(int seq) const;
  Status check_limits(int64_t input_size);
  Result<Json> journal_value(const std::string& kind, const std::function<Json()>& make) {
    return record(kind, kind, make);
  }
  Status release(const std::string& why);
  Result<Json> deliver_approval(int seq, const ApprovalRecord& approval);

  TaskEnvironment env_;
  TaskRecord task_;
  std::map<int, StepRecord> journal_;
  int cursor_ = 0;                       // seq of the last step reached
  std::vector<Transition> pending_;      // written with the next commit
  int64_t journal_bytes_ = 0;
  bool skipped_ = false;
  bool settled_ = false;
  bool holds_locks_ = false;  // a lock step was taken (now or in the journal)
  std::optional<TaskRecord> handoff_;
};

// "unavailable: connection reset" -> Status::Unavailable("connection reset").
Status status_from_journal(const std::string& text);

}  // namespace cadre
