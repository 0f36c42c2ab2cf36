#include "agents/objectives.h"

#include "agents/agent_runner.h"
#include "agents/planner.h"
#include "core/id.h"
#include "core/yaml_util.h"

namespace cadre {

Result<RunStarted> start_objective(Store& store, const Workspace& workspace,
                                   const ObjectiveRequest& request, TimeMs now) {
  if (request.text.empty())
    return Status::InvalidArgument("an objective needs a text saying what to achieve");
  if (request.budget_usd < 0) return Status::InvalidArgument("budget must not be negative");
  NewObjective n;
  ObjectiveRecord& o = n.objective;
  o.id = new_id("obj", now);
  o.title = request.text;
  o.owner = request.owner;
  o.source = request.source;
  o.inputs = request.inputs;
  o.dedupe_key = request.dedupe_key;
  NewTask task;
  task.id = new_id("tsk", now);
  if (request.owner == "planner") {
    TimeMs deadline_at = request.deadline > 0 ? now + request.deadline : 0;
    task.key = kPlanTaskKind;
    task.kind = kPlanTaskKind;
    task.spec = {{"objective", request.text},
                 {"budget_usd", request.budget_usd},
                 {"deadline_at", deadline_at}};
    if (const AgentDef* planner = workspace.find_agent("planner")) {
      o.versions = {{"agent:planner", planner->version()}};
    }
  } else {
    const AgentDef* agent = workspace.find_agent(request.owner);
    if (agent == nullptr) {
      std::vector<std::string> names;
      for (const auto& [name, def] : workspace.agents) names.push_back(name);
      return Status::NotFound("no agent named '" + request.owner + "'" +
                              did_you_mean(request.owner, names) +
                              (names.empty() ? " (the workspace has no agents/)" : ""));
    }
    const std::string version = agent->version();
    CADRE_RETURN_IF_ERROR(
        store.put_definition({version, "agent", agent->name, agent->to_json(), now}));
    DurationMs deadline = request.deadline > 0 ? request.deadline : agent->sla;
    task.key = agent->name;
    task.kind = kAgentTaskKind;
    task.agent = agent->name;
    task.spec = {{"agent", agent->name},
                 {"version", version},
                 {"task", request.text},
                 {"inputs", request.inputs},
                 {"deadline_at", deadline > 0 ? now + deadline : 0}};
    o.versions = {{"agent:" + agent->name, version}};
  }
  n.tasks.push_back(std::move(task));
  CADRE_ASSIGN_OR_RETURN(bool created, store.create_objective(n, now));
  if (!created) return RunStarted{"", false};
  return RunStarted{o.id, true};
}

}  // namespace cadre
