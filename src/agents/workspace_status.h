// What the command line and the API show of a workspace's definitions
// and agents, computed from the store.
//
// Thread-safety: free functions; the store is thread-safe.
#pragma once

#include "agents/agent.h"
#include "agents/workspace.h"
#include "store/store.h"

namespace cadre {

// {"playbook:NAME": version, "agent:NAME": version}: what traces compare a
// run's pinned versions with.
Json definition_versions(const Workspace& workspace);

// One agent: role, tier, tools, state (idle, working, awaiting approval,
// over budget, paused), current tasks, last outcome, today's model use.
Json agent_summary(Store& store, const AgentDef& agent, bool paused, TimeMs now);

}  // namespace cadre
