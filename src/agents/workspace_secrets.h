// A workspace's secrets in a process that runs it (serve, worker, ask,
// memory commands): the values are loaded from the workspace's state folder
// and registered with the redactor, and each secret's first use in the
// process is written to the audit log by name ("secret.used").
//
// Thread-safety: the returned resolver may be called from any thread.
#pragma once

#include "agents/workspace.h"
#include "core/clock.h"
#include "core/references.h"
#include "store/store.h"

namespace cadre {

// The secrets of `workspace` (none when it has no secrets file). `store`
// receives the audit entries and must outlive the resolver. Fails when a
// secret does not open (wrong or missing key, a damaged file).
Result<SecretResolver> load_workspace_secrets(const Workspace& workspace, Store& store,
                                              const Clock& clock);

}  // namespace cadre
