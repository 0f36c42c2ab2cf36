// Operator-facing kernel operations, shared by the command line and the HTTP
// API: what is running (status), one run's trace, and the overrides cancel,
// retry and resolve. Ids may be objective ids ("obj_...") or task ids
// ("tsk_..."); an operation on the other kind is mapped where it makes sense
// (cancelling a task cancels its objective).
//
// Thread-safety: free functions over a thread-safe Store.
#pragma once

#include <string>

#include "core/json.h"
#include "core/result.h"
#include "store/store.h"

namespace cadre {

// Workers with a heartbeat of the last 30 s, less those of this host whose
// process is gone (a process killed with SIGKILL leaves a fresh heartbeat).
Result<Json> live_workers(Store& store, TimeMs now);

// Workers alive, objectives and tasks by state, what waits on a human
// (uncertain tasks) and recent failures.
Result<Json> kernel_status(Store& store, TimeMs now);

// One objective with its tasks (plan order, with `needs`) and every journaled
// step: inputs, outputs, attempts, timings. `id` may name a task of it.
// `current_versions` maps "playbook:NAME" to the workspace's version now;
// any difference is reported under "version_drift".
Result<Json> build_trace(Store& store, const std::string& id, const Json& current_versions);

Status cancel_run(Store& store, const std::string& id, TimeMs now);
// Retries the failed tasks of the objective (or the given task's objective).
Status retry_run(Store& store, const std::string& id, TimeMs now);
Status resolve_uncertain(Store& store, const std::string& task_id, Resolution resolution, const std::string& note,
                         TimeMs now);

}  // namespace cadre
