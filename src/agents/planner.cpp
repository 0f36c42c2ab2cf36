#include "agents/planner.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>

#include "core/id.h"
#include "core/json_schema.h"
#include "core/yaml_util.h"
#include "policy/gate.h"

namespace cadre {
namespace {

bool is_plan_key(const std::string& key) {
  static const std::regex kKey("[a-z0-9][a-z0-9_-]{0,63}");
  return std::regex_match(key, kKey) && key != kPlanTaskKind;
}

std::string catalog(const Workspace& workspace) {
  std::string text;
  for (const auto& [name, agent] : workspace.agents) {
    if (name == "planner") continue;
    text += "- " + name + (agent->role.empty() ? "" : ": " + agent->role);
    if (!agent->tools.empty()) {
      text += " (tools:";
      for (const auto& t : agent->tools) text += " " + t;
      text += ")";
    }
    text += "\n";
  }
  return text.empty() ? "(no agents)\n" : text;
}

// Kahn's algorithm over the plan's edges; the keys left over are in a cycle.
std::vector<std::string> keys_in_cycles(
    const std::map<std::string, std::vector<std::string>>& needs) {
  std::map<std::string, int> waiting;
  std::map<std::string, std::vector<std::string>> dependents;
  for (const auto& [key, list] : needs) {
    waiting[key] += 0;
    for (const auto& n : list) {
      if (!needs.count(n)) continue;
      ++waiting[key];
      dependents[n].push_back(key);
    }
  }
  std::vector<std::string> ready;
  for (const auto& [key, count] : waiting) {
    if (count == 0) ready.push_back(key);
  }
  while (!ready.empty()) {
    std::string key = ready.back();
    ready.pop_back();
    waiting.erase(key);
    for (const auto& d : dependents[key]) {
      if (--waiting[d] == 0) ready.push_back(d);
    }
  }
  std::vector<std::string> left;
  for (const auto& [key, count] : waiting) left.push_back(key);
  return left;
}

}  // namespace

const Json& plan_schema() {
  static const Json schema = {
      {"type", "object"},
      {"required", {"tasks"}},
      {"properties",
       {{"tasks",
         {{"type", "array"},
          {"minItems", 1},
          {"items",
           {{"type", "object"},
            {"required", {"key", "agent", "instructions"}},
            {"properties",
             {{"key", {{"type", "string"}}},
              {"agent", {{"type", "string"}}},
              {"instructions", {{"type", "string"}}},
              {"inputs", {{"type", "object"}}},
              {"tools", {{"type", "array"}, {"items", {{"type", "string"}}}}},
              {"needs", {{"type", "array"}, {"items", {{"type", "string"}}}}}}}}}}}}}};
  return schema;
}

std::vector<std::string> validate_plan(const Json& plan, const Workspace& workspace,
                                       const PlanLimits& limits, double budget_usd) {
  std::vector<std::string> errors;
  for (const auto& e : validate_json(plan_schema(), plan)) {
    errors.push_back((e.path.empty() ? "the plan" : e.path) + ": " + e.message);
  }
  if (!errors.empty()) return errors;
  const Json& tasks = plan["tasks"];
  if (static_cast<int>(tasks.size()) > limits.max_tasks) {
    errors.push_back("the plan has " + std::to_string(tasks.size()) + " tasks; at most " +
                     std::to_string(limits.max_tasks) + " are allowed");
  }
  std::map<std::string, std::vector<std::string>> needs;
  double planned_budget = 0;
  std::vector<std::string> agents;
  for (const auto& [name, agent] : workspace.agents) {
    if (name != "planner") agents.push_back(name);
  }
  for (size_t i = 0; i < tasks.size(); ++i) {
    const Json& t = tasks[i];
    std::string where = "/tasks/" + std::to_string(i);
    std::string key = t["key"].get<std::string>();
    if (!is_plan_key(key)) {
      errors.push_back(where + "/key: '" + key +
                       "' is not a valid key (a-z, 0-9, '_', '-'; not 'plan')");
    } else if (needs.count(key)) {
      errors.push_back(where + "/key: '" + key + "' is used by another task");
    }
    std::string agent = t["agent"].get<std::string>();
    const AgentDef* def = agent == "planner" ? nullptr : workspace.find_agent(agent);
    if (def == nullptr) {
      errors.push_back(where + "/agent: unknown agent '" + agent + "'" +
                       did_you_mean(agent, agents));
    } else if (budget_usd > 0) {
      if (def->budget.usd_per_objective <= 0) {
        errors.push_back(where + "/agent: '" + agent +
                         "' has no budget.usd_per_objective, so its cost cannot be bounded by the "
                         "objective's budget");
      }
      planned_budget += def->budget.usd_per_objective;
    }
    if (def != nullptr) {
      // A task may narrow its agent's tools, never widen them.
      for (const auto& tool : t.value("tools", Json::array())) {
        const std::string name = tool.get<std::string>();
        if (std::find(def->tools.begin(), def->tools.end(), name) == def->tools.end()) {
          errors.push_back(where + "/tools: agent '" + agent + "' may not use '" + name + "'" +
                           did_you_mean(name, def->tools));
        }
      }
    }
    if (t["instructions"].get<std::string>().empty())
      errors.push_back(where + "/instructions: must not be empty");
    std::vector<std::string>& list = needs[key];
    for (const auto& n : t.value("needs", Json::array())) list.push_back(n.get<std::string>());
  }
  for (size_t i = 0; i < tasks.size(); ++i) {
    for (const auto& n : tasks[i].value("needs", Json::array())) {
      if (!needs.count(n.get<std::string>())) {
        errors.push_back("/tasks/" + std::to_string(i) + "/needs: no task has the key '" +
                         n.get<std::string>() + "'");
      }
    }
  }
  auto cycle = keys_in_cycles(needs);
  if (!cycle.empty()) {
    std::string keys;
    for (const auto& k : cycle) keys += (keys.empty() ? "" : ", ") + k;
    errors.push_back("the plan has a cycle among: " + keys);
  }
  if (budget_usd > 0 && planned_budget > budget_usd) {
    errors.push_back("the agents' budgets add up to $" + std::to_string(planned_budget) +
                     ", more than the objective's budget of $" + std::to_string(budget_usd));
  }
  return errors;
}

Result<Json> PlanHandler::make_plan(TaskContext& context, const AgentDef& planner,
                                    const std::string& objective, double budget_usd) {
  std::string system =
      planner.instructions + "\n\nAvailable agents:\n" + catalog(runner_.workspace()) +
      "\nAnswer with only a JSON object matching this JSON Schema:\n" + dump_json(plan_schema());
  ChatRequest request;
  request.messages = {{"system", system, {}, ""}, {"user", objective, {}, ""}};
  request.response_schema = plan_schema();
  std::string last_errors;
  for (int attempt = 1; attempt <= limits_.max_attempts; ++attempt) {
    CADRE_ASSIGN_OR_RETURN(Json out, runner_.call_model(context, planner, planner.tier, request));
    std::string text = out["response"].value("content", std::string());
    std::vector<std::string> errors;
    auto plan = parse_json_answer(text);
    if (!plan.ok()) {
      errors.push_back(plan.status().message());
    } else {
      errors = validate_plan(*plan, runner_.workspace(), limits_, budget_usd);
      if (errors.empty()) return *plan;
    }
    last_errors.clear();
    for (const auto& e : errors) last_errors += "\n- " + e;
    request.messages.push_back({"assistant", text, {}, ""});
    request.messages.push_back(
        {"user", "That plan cannot run:" + last_errors + "\nSend a corrected plan.", {}, ""});
  }
  return Status::FailedPrecondition("the planner gave no valid plan in " +
                                    std::to_string(limits_.max_attempts) +
                                    " attempts; the last one failed with:" + last_errors);
}

Result<Json> PlanHandler::approve_plan(TaskContext& context, Json plan, const std::string& objective,
                                       double budget_usd) {
  const PolicyConfig& config = runner_.policy().config();
  PolicyDecision decision{PolicyOutcome::kRequireApproval, "plans.require_approval",
                          "policies.yaml asks for every plan to be approved before it runs", config.approval_timeout,
                          config.on_timeout};
  ApprovalRecord draft = approval_for(context, decision, "plan",
                                      "the planner proposes " + std::to_string(plan["tasks"].size()) +
                                          " task(s) for: " + objective);
  draft.request = {{"plan", plan}};
  draft.schema = plan_schema();
  draft.context = {{"objective", objective}};
  CADRE_ASSIGN_OR_RETURN(Json answer, context.await_approval(std::move(draft)));
  if (!approved(answer)) return Status::FailedPrecondition("the plan was " + describe_refusal(answer));
  if (!answer.contains("args")) return plan;
  auto errors = validate_plan(answer["args"], runner_.workspace(), limits_, budget_usd);
  if (!errors.empty()) {
    std::string list;
    for (const auto& e : errors) list += "\n- " + e;
    return Status::FailedPrecondition("the edited plan cannot run:" + list);
  }
  return answer["args"];
}

Result<Json> PlanHandler::run(TaskContext& context) {
  const Json& spec = context.task().spec;
  const std::string objective = spec.value("objective", std::string());
  const double budget_usd = spec.value("budget_usd", 0.0);
  const TimeMs deadline_at = spec.value("deadline_at", TimeMs{0});
  std::shared_ptr<const AgentDef> planner;
  if (runner_.workspace().find_agent("planner") != nullptr) {
    CADRE_ASSIGN_OR_RETURN(planner, runner_.pinned(context, "planner"));
  } else {
    CADRE_ASSIGN_OR_RETURN(std::string version, runner_.remember(default_planner()));
    CADRE_ASSIGN_OR_RETURN(planner, runner_.definition(version));
  }
  CADRE_ASSIGN_OR_RETURN(Json plan, make_plan(context, *planner, objective, budget_usd));
  const StepRecord* next = context.next_journaled();
  if (next ? next->name == "approval.plan" : runner_.policy().config().plans_require_approval) {
    CADRE_ASSIGN_OR_RETURN(plan, approve_plan(context, std::move(plan), objective, budget_usd));
  }
  Status spawned = context.spawn_children("plan", [&] {
    std::vector<NewTask> children;
    TimeMs now = context.clock().now_ms();
    for (const auto& t : plan["tasks"]) {
      std::string agent = t["agent"].get<std::string>();
      const AgentDef* def = runner_.workspace().find_agent(agent);
      auto version = def ? runner_.remember(*def) : Result<std::string>(Status::NotFound(agent));
      Json child_spec = {{"agent", agent},
                         {"version", version.ok() ? *version : std::string()},
                         {"task", t["instructions"]},
                         {"inputs", t.value("inputs", Json::object())},
                         {"needs", t.value("needs", Json::array())},
                         {"tools", t.value("tools", Json())},
                         {"deadline_at", deadline_at}};
      std::vector<std::string> needs;
      for (const auto& n : t.value("needs", Json::array())) needs.push_back(n.get<std::string>());
      children.push_back({new_id("tsk", now), t["key"].get<std::string>(), kAgentTaskKind, agent,
                          std::move(child_spec), std::move(needs)});
    }
    std::string summary;
    for (const auto& child : children)
      summary += (summary.empty() ? "" : ", ") + child.key + " (" + child.agent + ")";
    spdlog::info("planner: objective {} gets a plan of {} task(s): {}", context.task().objective_id,
                 children.size(), summary);
    return children;
  });
  CADRE_RETURN_IF_ERROR(spawned);
  CADRE_ASSIGN_OR_RETURN(Json outputs, runner_.store().task_outputs(context.task().objective_id));
  Json results = Json::object();
  for (const auto& t : plan["tasks"]) {
    std::string key = t["key"].get<std::string>();
    results[key] = outputs.contains(key) ? outputs[key].value("output", Json()) : Json();
  }
  return Json{{"plan", plan}, {"results", results}};
}

}  // namespace cadre
