#include "agents/revalidation.h"

#include <spdlog/spdlog.h>

#include "core/duration.h"
#include "core/id.h"
#include "core/json_schema.h"
#include "core/template.h"

namespace cadre {
namespace {

std::string clip(const std::string& text, size_t max) {
  return text.size() <= max ? text : text.substr(0, max) + "...";
}

// A failure that ends the handler's turn rather than the check: a park, a
// release or a retry backoff (suspended), a lease lost (conflict), or a task
// the kernel already ended (uncertain).
bool ends_the_turn(const Status& status, const TaskContext& context) {
  return status.is(StatusCode::kSuspended) || status.is(StatusCode::kConflict) || context.settled();
}

struct Verdict {
  std::string state;  // passed, failed, error
  std::string detail;
  Json result;  // the tool's output (null when it did not answer)
};

// Renders the arguments, calls the tool as the agent, and judges its result.
Result<Verdict> judge(TaskContext& context, const ToolStepContext& tools, const AgentDef& agent,
                      const RevalidateDef& check, Json scope, const std::string& objective_id) {
  auto args = render_template(check.with, scope);
  if (!args.ok())
    return Verdict{"error", "success.revalidate.with: " + args.status().message(), Json()};
  if (auto tool = tools.tools->find(check.uses)) {
    auto errors = validate_json(tool->spec().input_schema, *args);
    if (!errors.empty()) {
      return Verdict{
          "error", "success.revalidate.with: arguments of " + check.uses + ": " + describe(errors),
          Json()};
    }
  }
  ToolStepOptions options;
  options.label = "re-validation of " + objective_id;
  options.agent = agent.name;
  options.memory_scopes = agent.memory_scopes;
  options.why = {{"revalidating", objective_id},
                 {"objective", scope["objective"].value("title", "")}};
  Result<Json> result = run_tool_step(context, tools, check.uses, *args, options);
  if (!result.ok()) {
    if (ends_the_turn(result.status(), context)) return result.status();
    return Verdict{"error", check.uses + " failed: " + result.status().to_string(), Json()};
  }
  scope["result"] = *result;
  auto held = evaluate_condition(check.expect, scope);
  if (!held.ok())
    return Verdict{"error", "success.revalidate.expect: " + held.status().message(), *result};
  if (*held) return Verdict{"passed", "", *result};
  return Verdict{"failed",
                 "expect was false; " + check.uses + " answered " + clip(dump_json(*result), 300),
                 *result};
}

}  // namespace

std::string horizon_label(DurationMs horizon) {
  return format_duration(horizon);
}

Result<Json> schedule_revalidation(Store& store, const AgentDef& agent, const std::string& version,
                                   const ObjectiveRecord& outcome, const Json& result,
                                   TimeMs succeeded_at) {
  if (!agent.revalidate)
    return Status::InvalidArgument("agent " + agent.name + " declares no success.revalidate");
  const RevalidateDef& check = *agent.revalidate;
  const Json answer = result.is_object() ? result.value("answer", Json()) : Json();
  const Json scope = {{"answer", answer},
                      {"text", result.is_object() ? result.value("text", "") : ""},
                      {"objective",
                       {{"id", outcome.id},
                        {"title", outcome.title},
                        {"inputs", outcome.inputs},
                        {"succeeded_at", format_time_utc(succeeded_at)}}},
                      {"agent", agent.name}};
  // The rows first, naming the objective that will run them; a second call
  // (a replayed step) keeps the first rows and so finds the same objective.
  std::vector<OutcomeCheckRecord> rows;
  const std::string check_objective = new_id("obj", succeeded_at);
  for (DurationMs horizon : check.after) {
    OutcomeCheckRecord row;
    row.objective_id = outcome.id;
    row.horizon = horizon_label(horizon);
    row.horizon_ms = horizon;
    row.agent = agent.name;
    row.due_at = succeeded_at + horizon;
    row.check_objective_id = check_objective;
    rows.push_back(row);
  }
  CADRE_RETURN_IF_ERROR(store.schedule_outcome_checks(rows));
  CADRE_ASSIGN_OR_RETURN(std::vector<OutcomeCheckRecord> scheduled,
                         store.outcome_checks(outcome.id));
  if (scheduled.empty())
    return Status::Internal("outcome checks of " + outcome.id + " were not stored");

  NewObjective n;
  n.objective.id = scheduled.front().check_objective_id;
  n.objective.title = "Re-validate " + outcome.id + ": " + clip(outcome.title, 200);
  n.objective.owner = "revalidate:" + agent.name;
  n.objective.source = "outcome:" + outcome.id;
  n.objective.inputs = {{"objective", outcome.id}};
  n.objective.versions = {{"agent:" + agent.name, version}};
  n.objective.dedupe_key = "revalidate:" + outcome.id;
  Json checks = Json::array();
  for (const auto& row : scheduled) {
    NewTask task;
    task.id = new_id("tsk", succeeded_at);
    task.key = row.horizon;
    task.kind = kOutcomeCheckKind;
    task.agent = agent.name;
    task.needs = {};
    task.spec = {{"objective_id", outcome.id}, {"agent", agent.name},  {"version", version},
                 {"horizon", row.horizon},     {"due_at", row.due_at}, {"scope", scope}};
    n.tasks.push_back(std::move(task));
    checks.push_back({{"horizon", row.horizon}, {"due_at", format_time_utc(row.due_at)}});
  }
  CADRE_RETURN_IF_ERROR(store.create_objective(n, succeeded_at).status());
  return Json{{"objective", n.objective.id}, {"checks", checks}};
}

Result<Json> OutcomeCheckHandler::run(TaskContext& context) {
  const Json& spec = context.task().spec;
  const std::string objective_id = spec.value("objective_id", "");
  const std::string horizon = spec.value("horizon", "");
  CADRE_RETURN_IF_ERROR(context.sleep_until(spec.value("due_at", TimeMs{0}), "wait " + horizon));
  CADRE_ASSIGN_OR_RETURN(std::shared_ptr<const AgentDef> agent,
                         agents_.definition(spec.value("version", "")));
  if (!agent->revalidate) {
    return Status::Corruption("agent version " + spec.value("version", "") +
                              " declares no success.revalidate");
  }
  CADRE_ASSIGN_OR_RETURN(Verdict verdict, judge(context, tools_, *agent, *agent->revalidate,
                                                spec.value("scope", Json::object()), objective_id));
  StepOptions step;
  step.name = "outcome.record";
  step.kind = "outcome";
  step.idempotent = true;  // recording the same result twice changes nothing
  Json input = {{"objective", objective_id}, {"horizon", horizon}, {"state", verdict.state}};
  CADRE_ASSIGN_OR_RETURN(
      Json recorded, context.run_step(step, input, [&](StepCall&) -> Result<Json> {
        const TimeMs at = context.clock().now_ms();
        CADRE_RETURN_IF_ERROR(agents_.store().record_outcome_check(
            objective_id, horizon, verdict.state, verdict.detail, at));
        return Json{{"state", verdict.state}, {"checked_at", format_time_utc(at)}};
      }));
  return Json{{"objective", objective_id}, {"horizon", horizon},
              {"state", verdict.state},    {"detail", verdict.detail},
              {"result", verdict.result},  {"checked_at", recorded.value("checked_at", "")}};
}

Result<Json> RevalidatingAgentTaskHandler::run(TaskContext& context) {
  CADRE_ASSIGN_OR_RETURN(Json result, inner_.run(context));
  const Json& spec = context.task().spec;
  const std::string version = spec.value("version", "");
  CADRE_ASSIGN_OR_RETURN(std::shared_ptr<const AgentDef> agent, agents_.definition(version));
  if (!agent->revalidate) return result;
  // Only an objective the agent owns is its outcome; a task of a plan is not.
  CADRE_ASSIGN_OR_RETURN(ObjectiveRecord objective,
                         agents_.store().get_objective(context.task().objective_id));
  if (objective.owner != agent->name || objective.tasks_total != 1) return result;
  StepOptions step;
  step.name = "outcome.schedule";
  step.kind = "outcome";
  step.idempotent = true;  // rows and objective are keyed by the outcome
  Json input = {{"agent", agent->name}, {"objective", objective.id}};
  Result<Json> scheduled = context.run_step(step, input, [&](StepCall&) -> Result<Json> {
    return schedule_revalidation(agents_.store(), *agent, version, objective, result,
                                 context.clock().now_ms());
  });
  if (!scheduled.ok()) {
    if (ends_the_turn(scheduled.status(), context)) return scheduled.status();
    // The outcome stands; the failed step in the journal says why it will not be re-checked.
    spdlog::warn("objective {}: re-validation not scheduled: {}", objective.id,
                 scheduled.status().to_string());
  }
  return result;
}

}  // namespace cadre
