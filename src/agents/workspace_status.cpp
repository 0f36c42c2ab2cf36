#include "agents/workspace_status.h"

namespace cadre {

Json definition_versions(const Workspace& workspace) {
  Json versions = Json::object();
  for (const auto& [name, playbook] : workspace.playbooks)
    versions["playbook:" + name] = playbook.version();
  for (const auto& [name, agent] : workspace.agents) versions["agent:" + name] = agent->version();
  return versions;
}

Json agent_summary(Store& store, const AgentDef& agent, bool paused, TimeMs now) {
  Json row = {{"name", agent.name},
              {"role", agent.role},
              {"tier", agent.tier},
              {"tools", agent.tools},
              {"concurrency", agent.concurrency},
              {"state", "idle"},
              {"current", Json::array()},
              {"last_outcome", nullptr}};
  TaskFilter filter;
  filter.agent = agent.name;
  filter.limit = 50;
  auto tasks = store.list_tasks(filter);
  if (tasks.ok()) {
    for (const auto& t : *tasks) {
      if (t.state == TaskState::kRunning || t.state == TaskState::kWaiting ||
          t.state == TaskState::kReady) {
        row["current"].push_back(
            {{"task", t.id}, {"objective", t.objective_id}, {"state", to_string(t.state)}});
        if (t.state == TaskState::kRunning) row["state"] = "working";
        if (t.state != TaskState::kRunning && row["state"] == "idle")
          row["state"] = t.wait_kind == WaitKind::kApproval ? "awaiting approval" : to_string(t.state);
      } else if (is_terminal(t.state) && row["last_outcome"].is_null()) {
        row["last_outcome"] = {{"task", t.id},
                               {"objective", t.objective_id},
                               {"state", to_string(t.state)},
                               {"finished", format_time_utc(t.finished_at)},
                               {"error", t.error}};
      }
    }
  }
  auto today = store.model_usage(utc_day_start(now), agent.name);
  row["today"] = today.ok() ? *today : Json();
  ApprovalFilter raises;
  raises.state = ApprovalState::kPending;
  raises.kind = "budget";
  raises.agent = agent.name;
  auto waiting = store.list_approvals(raises);
  row["budget_approvals"] = Json::array();
  if (waiting.ok()) {
    for (const auto& a : *waiting) row["budget_approvals"].push_back(a.id);
    if (!waiting->empty()) row["state"] = "over budget";
  }
  row["paused"] = paused;
  if (paused) row["state"] = "paused";
  return row;
}

}  // namespace cadre
