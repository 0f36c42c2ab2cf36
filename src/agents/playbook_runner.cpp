#include "agents/playbook_runner.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <tuple>

#include "agents/agent_runner.h"
#include "agents/tool_step.h"
#include "core/id.h"
#include "core/template.h"

namespace cadre {
namespace {

Result<Json> convert_input(const InputDef& def, const Json& value) {
  const std::string& type = def.type;
  auto wrong = [&]() {
    return Status::InvalidArgument("input '" + def.name + "' must be of type " + type + ", got " +
                                   dump_json(value));
  };
  if (type == "any") return value;
  if (value.is_string() && type != "string") {
    const std::string text = value.get<std::string>();
    if (type == "integer") {
      int64_t n = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec != std::errc() || end != text.data() + text.size()) return wrong();
      return Json(n);
    }
    if (type == "boolean") {
      if (text == "true") return Json(true);
      if (text == "false") return Json(false);
      return wrong();
    }
    // number, object, array: JSON text
    auto parsed = parse_json(text, "input '" + def.name + "'");
    if (!parsed.ok()) return wrong();
    return convert_input(def, *parsed);
  }
  bool ok = (type == "string" && value.is_string()) ||
            (type == "integer" && value.is_number_integer()) ||
            (type == "number" && value.is_number()) || (type == "boolean" && value.is_boolean()) ||
            (type == "object" && value.is_object()) || (type == "array" && value.is_array());
  if (!ok) return wrong();
  return value;
}

// A failure that ends the task for good: not a park, a release or a retry
// backoff (suspended), nor a lease lost to another worker (conflict).
bool ends_the_task(const Status& status) {
  return !status.ok() && !status.is(StatusCode::kSuspended) && !status.is(StatusCode::kConflict);
}

// What the templates of a step's task read, but for `steps` and
// `idempotency_key`: the run's context, `run`, `task`, and `item`/`index`
// for an item of a foreach.
Json task_scope(const TaskRecord& task, const std::string& playbook) {
  Json scope = task.spec.value("scope", Json::object());
  scope["run"] = {{"id", task.objective_id},
                  {"playbook", playbook},
                  {"version", task.spec.value("version", "")}};
  scope["task"] = {{"id", task.id}, {"key", task.key}};
  if (task.kind == kPlaybookItemKind) {
    scope["item"] = task.spec.value("item", Json(nullptr));
    scope["index"] = task.spec.value("index", 0);
  }
  return scope;
}

}  // namespace

Result<Json> validate_inputs(const PlaybookDef& playbook, const Json& inputs) {
  if (!inputs.is_object()) return Status::InvalidArgument("inputs must be an object");
  Json out = Json::object();
  std::string problems;
  for (const auto& [name, value] : inputs.items()) {
    bool known = false;
    for (const auto& def : playbook.inputs) known = known || def.name == name;
    if (!known) {
      std::string declared;
      for (const auto& def : playbook.inputs) declared += (declared.empty() ? "" : ", ") + def.name;
      problems += "\n  input '" + name + "' is not declared by playbook '" + playbook.name + "'" +
                  (declared.empty() ? " (it declares none)" : " (it declares: " + declared + ")");
    }
  }
  for (const auto& def : playbook.inputs) {
    auto it = inputs.find(def.name);
    if (it == inputs.end() || it->is_null()) {
      if (!def.default_value.is_null()) {
        out[def.name] = def.default_value;
      } else if (def.required) {
        problems += "\n  input '" + def.name + "' is required" +
                    (def.description.empty() ? "" : " (" + def.description + ")");
      } else {
        out[def.name] = nullptr;
      }
      continue;
    }
    auto converted = convert_input(def, *it);
    if (!converted.ok()) {
      problems += "\n  " + converted.status().message();
      continue;
    }
    out[def.name] = std::move(converted).value();
  }
  if (!problems.empty())
    return Status::InvalidArgument("playbook '" + playbook.name + "':" + problems);
  return out;
}

Result<RunStarted> start_playbook(Store& store, const Workspace& workspace,
                                  const RunRequest& request, TimeMs now) {
  auto it = workspace.playbooks.find(request.playbook);
  if (it == workspace.playbooks.end()) {
    std::string known;
    for (const auto& [name, pb] : workspace.playbooks) known += (known.empty() ? "" : ", ") + name;
    return Status::NotFound(
        "no playbook named '" + request.playbook + "'" +
        (known.empty() ? " (the workspace has none)" : " (known: " + known + ")"));
  }
  const PlaybookDef& playbook = it->second;
  CADRE_ASSIGN_OR_RETURN(Json inputs, validate_inputs(playbook, request.inputs));
  const std::string version = playbook.version();
  CADRE_RETURN_IF_ERROR(
      store.put_definition({version, "playbook", playbook.name, playbook.to_json(), now}));

  NewObjective n;
  ObjectiveRecord& o = n.objective;
  o.id = new_id("obj", now);
  o.title = playbook.description.empty() ? "playbook " + playbook.name : playbook.description;
  o.owner = "playbook:" + playbook.name;
  o.source = request.source;
  o.playbook = playbook.name;
  o.inputs = inputs;
  o.versions = {{"playbook:" + playbook.name, version}};
  o.dedupe_key = request.dedupe_key;
  Json scope = request.context.is_object() ? request.context : Json::object();
  scope["input"] = inputs;
  for (const auto& step : playbook.steps) {
    NewTask t;
    t.id = new_id("tsk", now);
    t.key = step.id;
    t.kind = kPlaybookStepKind;
    if (step.uses.rfind("agent.", 0) == 0)
      t.agent = step.uses.substr(6);  // counts toward its concurrency
    t.spec = {{"playbook", playbook.name},
              {"version", version},
              {"step", step.id},
              {"needs", step.needs},
              {"scope", scope}};
    t.needs = step.needs;
    n.tasks.push_back(std::move(t));
  }
  CADRE_ASSIGN_OR_RETURN(bool created, store.create_objective(n, now));
  if (!created) {
    // The trigger fired before (perhaps just before a crash): find its objective.
    return RunStarted{"", false};
  }
  return RunStarted{o.id, true};
}

PlaybookStepHandler::PlaybookStepHandler(Store& store, ToolStepContext tools, int max_foreach_items,
                                         AgentRunner* agents)
    : store_(store),
      tools_(std::move(tools)),
      max_foreach_items_(max_foreach_items),
      agents_(agents) {}

Result<std::shared_ptr<const PlaybookDef>> PlaybookStepHandler::definition(
    const std::string& version) {
  {
    std::lock_guard lock(cache_mutex_);
    auto it = cache_.find(version);
    if (it != cache_.end()) return it->second;
  }
  CADRE_ASSIGN_OR_RETURN(DefinitionRecord record, store_.get_definition(version));
  CADRE_ASSIGN_OR_RETURN(PlaybookDef def, PlaybookDef::from_json(record.body));
  auto shared = std::make_shared<const PlaybookDef>(std::move(def));
  std::lock_guard lock(cache_mutex_);
  cache_.emplace(version, shared);
  return shared;
}

Result<Json> PlaybookStepHandler::run(TaskContext& context) {
  const TaskRecord& task = context.task();
  const Json& spec = task.spec;
  CADRE_ASSIGN_OR_RETURN(auto playbook, definition(spec.value("version", "")));
  const StepDef* step = playbook->find_step(spec.value("step", ""));
  if (!step)
    return Status::Corruption("playbook version " + spec.value("version", "") + " has no step " +
                              task.key);
  if (!playbook->has_compensations()) return carry_out(context, *playbook, *step);

  CADRE_RETURN_IF_ERROR(refuse_if_compensated(context, *step));
  Result<Json> result = carry_out(context, *playbook, *step);
  if (result.ok() || !ends_the_task(result.status()) || context.settled()) return result;
  return compensate(context, *playbook, result.status());
}

Result<Json> PlaybookStepHandler::carry_out(TaskContext& context, const PlaybookDef& playbook,
                                            const StepDef& step_def) {
  const StepDef* step = &step_def;
  const TaskRecord& task = context.task();
  Json scope = task_scope(task, playbook.name);
  if (!step->needs.empty()) {
    CADRE_ASSIGN_OR_RETURN(Json outputs, store_.task_outputs(task.objective_id));
    scope["steps"] = std::move(outputs);
  } else {
    scope["steps"] = Json::object();
  }

  if (task.kind == kPlaybookItemKind) return call_tool(context, *step, scope);
  if (!step->if_condition.empty()) {
    auto condition = evaluate_condition(step->if_condition, scope);
    if (!condition.ok()) return condition.status().with_context("step '" + step->id + "' if");
    if (!*condition) {
      context.mark_skipped();
      return Json(nullptr);
    }
  }
  if (!step->lock.empty()) {
    CADRE_ASSIGN_OR_RETURN(Json resource, render_template(Json(step->lock), scope));
    std::string name = resource.is_string() ? resource.get<std::string>() : dump_json(resource);
    if (name.empty())
      return Status::InvalidArgument("step '" + step->id + "' lock rendered to an empty name");
    CADRE_RETURN_IF_ERROR(context.lock(name));
  }
  if (step->foreach.empty()) return call_tool(context, *step, scope);
  return fan_out(context, *step, std::move(scope));
}

Result<Json> PlaybookStepHandler::fan_out(TaskContext& context, const StepDef& step_def,
                                          Json scope) {
  const StepDef* step = &step_def;
  const TaskRecord& task = context.task();
  CADRE_ASSIGN_OR_RETURN(Json items, render_template(Json(step->foreach), scope));
  if (!items.is_array())
    return Status::InvalidArgument("step '" + step->id + "' foreach must give an array, got " +
                                   dump_json(items));
  if (static_cast<int>(items.size()) > max_foreach_items_) {
    return Status::ResourceExhausted("step '" + step->id + "' foreach has " +
                                     std::to_string(items.size()) + " items; the limit is " +
                                     std::to_string(max_foreach_items_) +
                                     " (kernel.max_foreach_items)");
  }
  auto item_key = [&](size_t i) { return step->id + "[" + std::to_string(i) + "]"; };
  CADRE_RETURN_IF_ERROR(context.spawn_children("foreach", [&] {
    std::vector<NewTask> children;
    TimeMs now = context.clock().now_ms();
    for (size_t i = 0; i < items.size(); ++i) {
      Json spec = task.spec;
      spec["item"] = items[i];
      spec["index"] = i;
      spec["needs"] = Json::array();
      spec["item_of"] = step->id;
      children.push_back(
          {new_id("tsk", now), item_key(i), kPlaybookItemKind, "", std::move(spec), {}});
    }
    return children;
  }));
  // Woken: every item succeeded. Their outputs, in item order.
  CADRE_ASSIGN_OR_RETURN(Json done, store_.task_outputs(task.objective_id));
  Json outputs = Json::array();
  for (size_t i = 0; i < items.size(); ++i) {
    auto it = done.find(item_key(i));
    outputs.push_back(it == done.end() ? Json(nullptr) : it->value("output", Json(nullptr)));
  }
  return outputs;
}

Result<Json> PlaybookStepHandler::call_tool(TaskContext& context, const StepDef& step,
                                            const Json& base_scope) {
  Json scope = base_scope;
  scope["idempotency_key"] = context.idempotency_key(context.next_seq());
  auto rendered = render_template(step.with, scope);
  if (!rendered.ok()) return rendered.status().with_context("step '" + step.id + "' with");
  Json args = std::move(rendered).value();

  if (step.uses.rfind("agent.", 0) == 0) {
    if (agents_ == nullptr) {
      return Status::FailedPrecondition("step '" + step.id + "' uses " + step.uses +
                                        ", but no agents run here");
    }
    CADRE_ASSIGN_OR_RETURN(auto agent, agents_->pinned(context, step.uses.substr(6)));
    AgentJob job;
    job.inputs = args.is_object() ? args : Json{{"value", args}};
    job.task =
        job.inputs.value("task", "Carry out step '" + step.id + "' of playbook " +
                                     context.task().spec.value("playbook", std::string()) + ".");
    job.inputs.erase("task");
    return agents_->run(context, *agent, job);
  }
  ToolStepOptions options;
  options.retry = step.retry;
  options.timeout = step.timeout.value_or(0);
  options.label = "step '" + step.id + "'";
  options.playbook = context.task().spec.value("playbook", std::string());
  options.why = {{"playbook", options.playbook}, {"step", step.id}};
  return run_tool_step(context, tools_, step.uses, args, options);
}

// --- compensation ---------------------------------------------------------

namespace {

// Journal entries of a compensation, besides its tool steps: the plan and
// the outcome (whose presence means the task failed after compensating).
constexpr char kCompensationKind[] = "compensation";
constexpr char kPlanStep[] = "compensate";
constexpr char kOutcomeStep[] = "compensated";

// A task that has something to undo: it succeeded, for a step with
// `compensate`. A foreach step is undone item by item, not as a whole.
bool has_something_to_undo(const TaskRecord& task, const PlaybookDef& playbook) {
  if (task.state != TaskState::kSucceeded) return false;
  const StepDef* step = playbook.find_step(task.spec.value("step", ""));
  if (step == nullptr || !step->compensate) return false;
  return step->foreach.empty() ? task.kind == kPlaybookStepKind : task.kind == kPlaybookItemKind;
}

size_t step_position(const PlaybookDef& playbook, const std::string& id) {
  for (size_t i = 0; i < playbook.steps.size(); ++i) {
    if (playbook.steps[i].id == id) return i;
  }
  return playbook.steps.size();
}

// [{step, key, task}], newest completion first. Completions in the same
// millisecond are ordered by their place in the playbook, then item index,
// so a chain of quick steps is still undone last-first.
Json plan_compensations(const PlaybookDef& playbook, const std::vector<TaskRecord>& tasks) {
  std::vector<const TaskRecord*> done;
  for (const auto& task : tasks) {
    if (has_something_to_undo(task, playbook)) done.push_back(&task);
  }
  auto completion = [&](const TaskRecord* task) {
    return std::make_tuple(task->finished_at, step_position(playbook, task->spec.value("step", "")),
                           task->spec.value("index", 0));
  };
  std::sort(done.begin(), done.end(), [&](const TaskRecord* a, const TaskRecord* b) {
    return completion(a) > completion(b);
  });
  Json plan = Json::array();
  for (const TaskRecord* task : done) {
    plan.push_back(
        {{"step", task->spec.value("step", "")}, {"key", task->key}, {"task", task->id}});
  }
  return plan;
}

// `failure` with `more` appended to its message, same code.
Status with_note(const Status& failure, const std::string& more) {
  return status_from_journal(failure.to_string() + "; " + more);
}

// "ran 2 compensation(s), newest completion first: charge, reserve" and the failures.
std::string describe_outcome(const std::vector<std::string>& keys,
                             const std::vector<std::string>& failures) {
  std::string text =
      "ran " + std::to_string(keys.size()) + " compensation(s), newest completion first:";
  for (size_t i = 0; i < keys.size(); ++i) text += (i == 0 ? " " : ", ") + keys[i];
  if (!failures.empty()) {
    text += "; " + std::to_string(failures.size()) + " of them failed:";
    for (const auto& failure : failures) text += " [" + failure + "]";
  }
  return text;
}

}  // namespace

Status PlaybookStepHandler::refuse_if_compensated(TaskContext& context, const StepDef& step) {
  if (!context.replaying()) return Status::Ok();  // a first run has no journal to look at
  CADRE_ASSIGN_OR_RETURN(std::vector<StepRecord> journal, store_.get_steps(context.task().id));
  for (const auto& entry : journal) {
    if (entry.kind != kCompensationKind || entry.name != kOutcomeStep) continue;
    // Its effects were undone: running the rest now would act on a state
    // that no longer holds, and the undone steps would not run again.
    return Status::FailedPrecondition("step '" + step.id +
                                      "' failed and its run was compensated (step " +
                                      std::to_string(entry.seq) + " of task " + context.task().id +
                                      "); a compensated run is not resumed: start a new run");
  }
  return Status::Ok();
}

Status PlaybookStepHandler::compensate(TaskContext& context, const PlaybookDef& playbook,
                                       const Status& failure) {
  const TaskRecord& task = context.task();
  TaskFilter filter;
  filter.objective_id = task.objective_id;
  filter.limit = std::numeric_limits<int>::max();
  auto tasks = store_.list_tasks(filter);
  if (!tasks.ok())
    return with_note(failure, "compensations not run: " + tasks.status().to_string());
  // The plan is made once and journaled: on replay the record returns it,
  // whatever finished since.
  const bool planned_before = context.replaying();
  Json fresh = planned_before ? Json::array() : plan_compensations(playbook, *tasks);
  if (!planned_before && fresh.empty()) return failure;  // nothing completed declares compensate
  auto plan = context.record(kPlanStep, kCompensationKind, [&] { return fresh; });
  if (!plan.ok()) return with_note(failure, "compensations not run: " + plan.status().to_string());
  auto outputs = store_.task_outputs(task.objective_id);
  if (!outputs.ok())
    return with_note(failure, "compensations not run: " + outputs.status().to_string());

  std::map<std::string, const TaskRecord*> by_id;
  for (const auto& t : *tasks) by_id[t.id] = &t;
  std::vector<std::string> keys, failures;
  for (const auto& entry : *plan) {
    const std::string key = entry.value("key", "");
    auto it = by_id.find(entry.value("task", ""));
    Status undone = it == by_id.end()
                        ? Status::Corruption("the objective has no task " + entry.value("task", ""))
                        : run_compensation(context, playbook, *it->second, *outputs);
    // A park (retry backoff, approval, rate limit, shutdown) resumes here by
    // replay; a lost lease (cancel) stops here.
    if (undone.is(StatusCode::kSuspended) || undone.is(StatusCode::kConflict)) return undone;
    keys.push_back(key);
    if (!undone.ok()) failures.push_back(key + ": " + undone.to_string());
  }
  Json outcome = {{"compensated", keys}, {"failed", failures}};
  auto recorded = context.record(kOutcomeStep, kCompensationKind, [&] { return outcome; });
  if (!recorded.ok()) return with_note(failure, recorded.status().to_string());
  return with_note(failure, describe_outcome(keys, failures));
}

Status PlaybookStepHandler::run_compensation(TaskContext& context, const PlaybookDef& playbook,
                                             const TaskRecord& done, const Json& outputs) {
  const std::string step_id = done.spec.value("step", "");
  const StepDef* step = playbook.find_step(step_id);
  if (step == nullptr || !step->compensate)
    return Status::Corruption("step '" + step_id + "' declares no compensate");
  // The scope the step had, plus its own result.
  Json scope = task_scope(done, playbook.name);
  scope["steps"] = outputs;
  scope["output"] = done.output;
  scope["idempotency_key"] = context.idempotency_key(context.next_seq());
  auto args = render_template(step->compensate->with, scope);
  if (!args.ok()) return args.status().with_context("compensate of step '" + done.key + "' with");
  ToolStepOptions options;
  options.label = "compensation of step '" + done.key + "'";
  options.playbook = playbook.name;
  options.why = {{"playbook", playbook.name}, {"step", done.key}, {"compensation", true}};
  return run_tool_step(context, tools_, step->compensate->uses, *args, options).status();
}

}  // namespace cadre
