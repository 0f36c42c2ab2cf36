// The routes of /api/v1: thin adapters over the module calls the command
// line uses (operations.h, approvals.h, objectives.h, playbook_runner.h,
// memory, connectors, the audit chain), each turning a request into a call
// and a Result into JSON or an error.
//
// Thread-safety: handlers may run on several threads at once; everything
// they use is thread-safe (the store, memory's search, the workspace is
// immutable).
#pragma once

#include <vector>

#include "agents/workspace.h"
#include "core/references.h"
#include "memory/memory.h"
#include "server/api.h"
#include "store/store.h"

namespace cadre {

struct ApiContext {
  Store* store = nullptr;
  const Workspace* workspace = nullptr;
  Memory* memory = nullptr;  // null: memory search answers 503
  const Clock* clock = nullptr;
  SecretResolver secrets;    // inbound webhooks' keys
};

// Every /api/v1 route but the session's login and logout and the OpenAPI
// document, which the server adds itself.
std::vector<Route> api_routes(const ApiContext& context);

}  // namespace cadre
