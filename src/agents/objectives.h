// Objectives given to agents: to one named agent (`cadre ask`, `cadre
// objective add --owner AGENT`, an agent's trigger), or to the planner
// (`cadre objective add`), which plans the tasks. Both store the
// definitions they start with, so the run replays against them even if the
// files change.
//
// Thread-safety: free functions; the store is thread-safe.
#pragma once

#include <string>

#include "agents/agent.h"
#include "agents/playbook_runner.h"
#include "agents/workspace.h"
#include "store/store.h"

namespace cadre {

struct ObjectiveRequest {
  std::string text;               // what is to be achieved
  std::string owner = "planner";  // an agent's name, or "planner"
  Json inputs = Json::object();
  std::string source = "manual";
  std::string dedupe_key;   // a trigger fire: one objective per key
  DurationMs deadline = 0;  // from now; 0: the owner agent's SLA, if any
  double budget_usd = 0;    // 0: none (agents' own budgets still apply)
};

Result<RunStarted> start_objective(Store& store, const Workspace& workspace,
                                   const ObjectiveRequest& request, TimeMs now);

}  // namespace cadre
