#include "agents/playbook_runner.h"

#include <charconv>

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

  Json scope = spec.value("scope", Json::object());
  scope["run"] = {{"id", task.objective_id},
                  {"playbook", playbook->name},
                  {"version", spec.value("version", "")}};
  scope["task"] = {{"id", task.id}, {"key", task.key}};
  if (!step->needs.empty()) {
    CADRE_ASSIGN_OR_RETURN(Json outputs, store_.task_outputs(task.objective_id));
    scope["steps"] = std::move(outputs);
  } else {
    scope["steps"] = Json::object();
  }

  if (task.kind == kPlaybookItemKind) {
    scope["item"] = spec.value("item", Json(nullptr));
    scope["index"] = spec.value("index", 0);
    return call_tool(context, *step, scope);
  }
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

}  // namespace cadre
