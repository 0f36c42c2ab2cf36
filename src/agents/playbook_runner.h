// Running playbooks on the kernel.
//
// start_playbook() turns a playbook and its inputs into an objective whose
// plan has one task per step (edges from `needs`), after storing the
// playbook's definition snapshot under its version hash; tasks record that
// version and always replay against it, even if the file changes later.
//
// PlaybookStepHandler carries out one step's task: evaluate `if` (skipped
// when false), take the `lock`, then call the tool once; a `foreach` step
// instead fans out one child task per item (run in parallel by any workers,
// under the step's lock) and succeeds with their outputs in item order once
// all have succeeded. `wait` and `emit` are carried out through the
// TaskContext (timer or event park, exactly-once event). The same handler
// runs the item tasks.
//
// Compensation (saga-style undo). When a step's task fails for good (its
// final failure: not a retry backoff, a park, or a lost lease), and the
// playbook declares `compensate:` on some step, the same handler, before
// returning the failure, undoes the objective's steps that succeeded:
//   - the plan (which tasks, newest completion first; a `foreach` step's
//     items one by one) is journaled once as a `compensate` step, so replay
//     after a crash follows it even if other tasks finished meanwhile;
//   - each compensation is a tool step of this task (run_tool_step: policy
//     gate, idempotency key, retries, audit), so a crash mid-way resumes by
//     replay and none runs twice;
//   - a compensation that fails is reported and the others still run; a
//     `compensated` step journals the outcome and the task fails with the
//     original error, which names what ran and what failed.
// Steps that were skipped, never ran, or are still running when the plan is
// made have nothing undone. `cadre cancel` runs no compensations (and stops
// one in progress: the lease is void). A retried task whose run was
// compensated fails again at once: a compensated run is not resumed.
//
// Thread-safety: the handler is called concurrently from worker threads;
// its definition cache is synchronized.
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <string>

#include "agents/playbook.h"
#include "agents/tool_step.h"
#include "agents/workspace.h"
#include "kernel/task_handler.h"
#include "kernel/tool.h"
#include "store/store.h"

namespace cadre {

class AgentRunner;

inline constexpr char kPlaybookStepKind[] = "playbook_step";
// One item of a `foreach` step: a child task of the step's task.
inline constexpr char kPlaybookItemKind[] = "playbook_item";

struct RunRequest {
  std::string playbook;
  Json inputs = Json::object();   // values may be strings (from the command line); they are converted
  std::string source = "manual";
  std::string dedupe_key;         // a trigger fire: one objective per key
  Json context = Json::object();  // {"trigger": {...}} or {"event": {...}} for templates
};

struct RunStarted {
  std::string objective_id;
  bool created = true;            // false when dedupe_key already had an objective
};

Result<RunStarted> start_playbook(Store& store, const Workspace& workspace, const RunRequest& request, TimeMs now);

// Checks inputs against the playbook's declarations: unknown names, missing
// required ones, types (strings are converted to the declared type), and
// fills defaults. Errors name the input.
Result<Json> validate_inputs(const PlaybookDef& playbook, const Json& inputs);

class PlaybookStepHandler final : public TaskHandler {
 public:
  // `agents` runs steps that use `agent.NAME`; null: such steps fail.
  PlaybookStepHandler(Store& store, ToolStepContext tools, int max_foreach_items, AgentRunner* agents = nullptr);
  Result<Json> run(TaskContext& context) override;

 private:
  Result<std::shared_ptr<const PlaybookDef>> definition(const std::string& version);
  // The step's work: `if`, lock, then one tool call or a fan-out.
  Result<Json> carry_out(TaskContext& context, const PlaybookDef& playbook, const StepDef& step);
  Result<Json> call_tool(TaskContext& context, const StepDef& step, const Json& scope);
  // Runs the compensations for `failure` (see above); returns the failure,
  // told what was undone.
  Status compensate(TaskContext& context, const PlaybookDef& playbook, const Status& failure);
  // One compensation: `done`'s step's `compensate` as a tool step of this task.
  Status run_compensation(TaskContext& context, const PlaybookDef& playbook, const TaskRecord& done,
                          const Json& outputs);
  // Fails a task whose journal says its run was compensated already.
  Status refuse_if_compensated(TaskContext& context, const StepDef& step);
  Result<Json> fan_out(TaskContext& context, const StepDef& step, Json scope);

  Store& store_;
  const ToolStepContext tools_;
  const int max_foreach_items_;
  AgentRunner* agents_;
  std::mutex cache_mutex_;
  std::map<std::string, std::shared_ptr<const PlaybookDef>> cache_;
};

}  // namespace cadre
