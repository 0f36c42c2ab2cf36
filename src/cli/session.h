// What the command implementations share: opening the workspace and its
// store, printing, and waiting for an objective to end.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agents/workspace.h"
#include "cli/commands.h"
#include "core/references.h"
#include "store/store.h"

namespace cadre {

// What most commands need: the loaded workspace and its store.
struct Session {
  Workspace workspace;
  std::unique_ptr<Store> store;
  // The workspace's secrets (their values are redacted from what this
  // process stores and prints); `secrets_status` says why they did not load.
  SecretResolver secrets;
  Status secrets_status;
};

Result<Workspace> load_workspace(const GlobalOptions& global, Diagnostics* diagnostics);
Result<Session> open_session(const GlobalOptions& global);
// A workspace that does not load is exit code 4, like `cadre check`.
int session_error(const Status& status);

TimeMs now_ms();
void print_json(const Json& value);
std::string short_json(const Json& value, size_t max = 160);
// Text on one line (newlines as spaces), cut to `max` with "...".
std::string one_line(std::string text, size_t max = 200);
// A live `serve`/`worker` would carry out new work (dead local processes do not count).
bool worker_alive(Store& store);
// `--input k=v` pairs over an optional `--inputs-json` object.
Result<Json> parse_run_inputs(const std::vector<std::string>& pairs,
                              const std::string& inputs_json);

// Waits until objective `id` ends (or needs an operator), then prints it
// (`print` for people, the record with --json) and returns the exit code:
// 0 succeeded, 5 failed or cancelled, 8 uncertain, 1 on timeout.
int wait_for_objective(Store& store, const std::string& id, double timeout_s, bool json,
                       const std::function<void(const ObjectiveRecord&)>& print);

// Sees objective `id` through: waits for the running server, or, when no
// `cadre serve` or `cadre worker` is alive, runs the workspace in this
// process until the objective ends. Returns like wait_for_objective.
int carry_out(Session& session, const std::string& id, double timeout_s, bool json,
              const std::function<void(const ObjectiveRecord&)>& print);

}  // namespace cadre
