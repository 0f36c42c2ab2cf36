// The command implementations behind `cadre`: each opens what it needs,
// calls the modules, prints for people or as JSON, and returns the exit
// code (cli_app.h lists them).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "store/store.h"

namespace cadre {

struct GlobalOptions {
  std::string workspace;   // -w DIR; empty: search from the current directory
};

int exit_code_for(const Status& status);
// Prints "error: ..." to stderr and returns its exit code.
int report_error(const Status& status);
// A wrong invocation found after parsing: prints it and returns 2 (bad usage).
int usage_error(const std::string& message);

int cmd_init(const std::string& dir, const std::string& example);
int cmd_check(const GlobalOptions& global, bool json);
int cmd_run(const GlobalOptions& global, const std::string& playbook, const std::vector<std::string>& inputs,
            const std::string& inputs_json, bool wait, double timeout_s, bool json);
int cmd_emit(const GlobalOptions& global, const std::string& name, const std::string& data, bool json);
int cmd_status(const GlobalOptions& global, bool json);
int cmd_ls(const GlobalOptions& global, const std::string& what, const std::string& state, int limit, bool json);
int cmd_show(const GlobalOptions& global, const std::string& id, bool json);
int cmd_cancel(const GlobalOptions& global, const std::string& id);
int cmd_retry(const GlobalOptions& global, const std::string& id);
int cmd_resolve(const GlobalOptions& global, const std::string& id, Resolution resolution, const std::string& note);
// `record_models`: append every model exchange to this file (for replay).
struct ServeArgs {
  bool worker = false;        // `cadre worker`: no triggers, no API
  std::string record_models;
  int port = -1;              // -1: server.port of cadre.yaml
  std::string bind;           // "": server.bind
};
int cmd_serve(const GlobalOptions& global, const ServeArgs& args);

struct ObjectiveArgs {
  std::string text;
  std::string owner;                 // agent name; "" or "planner": the planner
  std::vector<std::string> inputs;   // key=value
  std::string deadline;              // a duration ("2h"); "": the agent's SLA
  double budget_usd = 0;
  bool wait = false;                 // wait for the outcome (runs it here if no server runs)
  double timeout_s = 0;
  bool json = false;
};
int cmd_objective_add(const GlobalOptions& global, const ObjectiveArgs& args);
int cmd_ask(const GlobalOptions& global, const std::string& agent, const std::string& text,
            const std::vector<std::string>& inputs, double timeout_s, bool json);
int cmd_agents(const GlobalOptions& global, bool json);

struct MemoryNoteArgs {
  std::string text;
  std::vector<std::string> entities;  // KIND:NAME
  std::string scope = "shared";
  std::string type = "note";
  std::vector<std::string> facts;     // name=value
  std::string at;                     // when it happened: a time, or a duration ago; "": now
  bool json = false;
};
struct MemorySearchArgs {
  std::string query;
  std::vector<std::string> entities;
  std::string scope, type, since, until;
  int limit = 10;
  bool raw = false;                   // events even where a summary covers them
  bool json = false;
};
int cmd_memory_note(const GlobalOptions& global, const MemoryNoteArgs& args);
int cmd_memory_search(const GlobalOptions& global, const MemorySearchArgs& args);
int cmd_memory_entity(const GlobalOptions& global, const std::string& key, bool json);
int cmd_memory_compact(const GlobalOptions& global, double timeout_s, bool json);
int cmd_memory_reindex(const GlobalOptions& global, bool json);

}  // namespace cadre
