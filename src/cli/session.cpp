#include "cli/session.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "agents/runtime.h"
#include "agents/workspace_secrets.h"
#include "kernel/operations.h"

namespace cadre {

Result<Workspace> load_workspace(const GlobalOptions& global, Diagnostics* diagnostics) {
  CADRE_ASSIGN_OR_RETURN(auto root, Workspace::locate(global.workspace));
  CADRE_ASSIGN_OR_RETURN(auto tools, make_tool_registry());
  return Workspace::load(root, load_options_for(*tools), diagnostics);
}

Result<Session> open_session(const GlobalOptions& global) {
  Diagnostics diagnostics;
  auto workspace = load_workspace(global, &diagnostics);
  if (!workspace.ok()) return workspace.status();
  Session session{std::move(workspace).value(), nullptr};
  CADRE_ASSIGN_OR_RETURN(session.store, open_workspace_store(session.workspace));
  // Loading the secrets registers their values with the redactor, so a value
  // typed into this command (`run -i`, `emit --data`) is not stored as typed.
  // Commands that need a secret report a missing key themselves.
  auto secrets = load_workspace_secrets(session.workspace, *session.store, SystemClock::instance());
  if (secrets.ok()) {
    session.secrets = std::move(secrets).value();
  } else {
    session.secrets_status = secrets.status();
    spdlog::debug("secrets not loaded: {}", secrets.status().to_string());
  }
  return session;
}

int session_error(const Status& status) {
  int code = report_error(status);
  return status.is(StatusCode::kInvalidArgument) ? 4 : code;
}

TimeMs now_ms() {
  return SystemClock::instance().now_ms();
}

void print_json(const Json& value) {
  std::cout << value.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
}

std::string one_line(std::string text, size_t max) {
  for (char& c : text) {
    if (c == '\n') c = ' ';
  }
  if (text.size() > max) text = text.substr(0, max - 3) + "...";
  return text;
}

std::string short_json(const Json& value, size_t max) {
  if (value.is_null()) return "-";
  std::string text = dump_json(value);
  if (text.size() > max) text = text.substr(0, max - 3) + "...";
  return text;
}

bool worker_alive(Store& store) {
  auto workers = live_workers(store, now_ms());
  return workers.ok() && !workers->empty();
}

Result<Json> parse_run_inputs(const std::vector<std::string>& pairs,
                              const std::string& inputs_json) {
  Json inputs = Json::object();
  if (!inputs_json.empty()) {
    CADRE_ASSIGN_OR_RETURN(inputs, parse_json(inputs_json, "--inputs-json"));
    if (!inputs.is_object()) return Status::InvalidArgument("--inputs-json must be a JSON object");
  }
  for (const auto& pair : pairs) {
    auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::InvalidArgument("--input '" + pair + "' must look like key=value");
    }
    inputs[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  return inputs;
}

int wait_for_objective(Store& store, const std::string& id, double timeout_s, bool json,
                       const std::function<void(const ObjectiveRecord&)>& print) {
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  while (true) {
    auto objective = store.get_objective(id);
    if (!objective.ok()) return report_error(objective.status());
    if (is_terminal(objective->state) || objective->state == ObjectiveState::kUncertain) {
      if (json) {
        print_json(to_json(*objective));
      } else {
        print(*objective);
      }
      switch (objective->state) {
        case ObjectiveState::kSucceeded:
          return 0;
        case ObjectiveState::kUncertain:
          return 8;
        default:
          return 5;
      }
    }
    if (timeout_s > 0 && std::chrono::steady_clock::now() > deadline) {
      std::cerr << "error: timed out waiting for " << id << " (still "
                << to_string(objective->state) << ")\n";
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

namespace {

// Runs the workspace in this process until objective `id` ends, for when
// no `cadre serve` is running.
int run_until_done(Session& session, const std::string& id, double timeout_s, bool json,
                   const std::function<void(const ObjectiveRecord&)>& print) {
  RuntimeOptions options;
  options.triggers = false;
  if (session.secrets_status.ok()) options.secrets = &session.secrets;
  auto runtime = Runtime::open(session.workspace, options);
  if (!runtime.ok()) return report_error(runtime.status());
  Status started = (*runtime)->start();
  if (!started.ok()) return report_error(started);
  int code = wait_for_objective((*runtime)->store(), id, timeout_s, json, print);
  (*runtime)->stop();
  return code;
}

}  // namespace

int carry_out(Session& session, const std::string& id, double timeout_s, bool json,
              const std::function<void(const ObjectiveRecord&)>& print) {
  if (worker_alive(*session.store))
    return wait_for_objective(*session.store, id, timeout_s, json, print);
  return run_until_done(session, id, timeout_s, json, print);
}

}  // namespace cadre
