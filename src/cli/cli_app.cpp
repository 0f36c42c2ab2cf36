#include "cli/cli_app.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>

#include "cli/command_groups.h"
#include "cli/commands.h"
#include "core/redacting_sink.h"

namespace cadre {

namespace {

constexpr char kExitCodes[] =
    "Exit codes: 0 ok, 1 error, 2 bad usage, 3 not found, 4 workspace has errors, 5 run failed or cancelled,\n"
    "6 conflict or not allowed now, 7 database busy or unavailable, 8 run waits for an operator (uncertain).";

}  // namespace

int cli_main(int argc, char** argv) {
  CLI::App app{"cadre: a durable automation kernel for a one-person company", "cadre"};
  app.require_subcommand(1);
  app.footer(kExitCodes);
  GlobalOptions global;
  std::string log_level = std::getenv("CADRE_LOG") ? std::getenv("CADRE_LOG") : "warn";
  app.add_option("-w,--workspace", global.workspace, "workspace folder (default: search upward for cadre.yaml)");
  spdlog::set_level(spdlog::level::from_str(log_level));
  // Every log line passes the redactor: no loaded secret's value is ever printed.
  auto to_stderr = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  spdlog::set_default_logger(
      std::make_shared<spdlog::logger>("cadre", std::make_shared<RedactingSink>(to_stderr)));
  spdlog::set_level(spdlog::level::from_str(log_level));
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error (env CADRE_LOG)")
      ->each([](const std::string& level) { spdlog::set_level(spdlog::level::from_str(level)); });

  int code = 0;
  auto dispatch = [&](CLI::App* sub, auto fn) { sub->callback([&code, fn] { code = fn(); }); };

  std::string init_dir, example;
  auto* init = app.add_subcommand("init", "create a workspace (from a bundled example with --example)");
  init->add_option("dir", init_dir, "folder to create")->required();
  init->add_option("--example", example, "saas-founder, consultant or creator");
  dispatch(init, [&] { return cmd_init(init_dir, example); });

  bool json = false;
  auto* check = app.add_subcommand("check", "validate every file: file:line:col: field: what is wrong");
  check->add_flag("--json", json, "machine-readable output");
  dispatch(check, [&] { return cmd_check(global, json); });

  std::string playbook, inputs_json;
  std::vector<std::string> inputs;
  bool wait = false;
  double timeout_s = 0;
  auto* run = app.add_subcommand("run", "start a playbook now (`cadre serve` carries it out)");
  run->add_option("playbook", playbook, "playbook name")->required();
  run->add_option("-i,--input", inputs, "an input as key=value (repeatable)");
  run->add_option("--inputs-json", inputs_json, "all inputs as a JSON object");
  run->add_flag("--wait", wait, "wait until the run ends; exit 5 if it failed, 8 if it needs an operator");
  run->add_option("--timeout", timeout_s, "with --wait: give up after this many seconds (exit 1)");
  run->add_flag("--json", json, "machine-readable output");
  dispatch(run, [&] { return cmd_run(global, playbook, inputs, inputs_json, wait, timeout_s, json); });

  ObjectiveArgs objective_args;
  auto* objective = app.add_subcommand("objective", "objectives for agents and the planner");
  objective->require_subcommand(1);
  auto* objective_add = objective->add_subcommand("add", "give an objective to the planner or to one agent");
  objective_add->add_option("text", objective_args.text, "what is to be achieved")->required();
  objective_add->add_option("--owner", objective_args.owner, "an agent's name, or planner (the default)");
  objective_add->add_option("-i,--input", objective_args.inputs, "an input as key=value (repeatable)");
  objective_add->add_option("--deadline", objective_args.deadline, "due within this long, e.g. 4h");
  objective_add->add_option("--budget", objective_args.budget_usd, "at most this many US dollars of model calls");
  objective_add->add_flag("--wait", objective_args.wait,
                          "wait for the outcome (carried out here if no `cadre serve` runs)");
  objective_add->add_option("--timeout", objective_args.timeout_s, "with --wait: give up after this many seconds");
  objective_add->add_flag("--json", objective_args.json, "machine-readable output");
  dispatch(objective_add, [&] { return cmd_objective_add(global, objective_args); });

  std::string ask_agent, ask_text;
  std::vector<std::string> ask_inputs;
  double ask_timeout = 0;
  auto* ask = app.add_subcommand("ask", "one objective to one agent; waits and prints its answer");
  ask->add_option("agent", ask_agent, "the agent's name")->required();
  ask->add_option("text", ask_text, "what it should do")->required();
  ask->add_option("-i,--input", ask_inputs, "an input as key=value (repeatable)");
  ask->add_option("--timeout", ask_timeout, "give up after this many seconds (exit 1)");
  ask->add_flag("--json", json, "machine-readable output");
  dispatch(ask, [&] { return cmd_ask(global, ask_agent, ask_text, ask_inputs, ask_timeout, json); });

  auto* agents = app.add_subcommand("agents", "each agent: state, current work, spend today, last outcome");
  agents->add_flag("--json", json, "machine-readable output");
  dispatch(agents, [&] { return cmd_agents(global, json); });

  MemoryNoteArgs note_args;
  MemorySearchArgs search_args;
  std::string entity_key;
  double compact_timeout = 0;
  auto* memory = app.add_subcommand("memory", "the event log, entities, summaries and search");
  memory->require_subcommand(1);
  auto* memory_note = memory->add_subcommand("note", "record an event (a note, a fact) in memory");
  memory_note->add_option("text", note_args.text, "what to remember")->required();
  memory_note->add_option("--entity", note_args.entities, "an entity it is about, KIND:NAME (repeatable)");
  memory_note->add_option("--scope", note_args.scope, "the memory scope (default shared)");
  memory_note->add_option("--type", note_args.type, "the event type (default note)");
  memory_note->add_option("--fact", note_args.facts, "a fact about its entities, name=value (repeatable)");
  memory_note->add_option("--at", note_args.at, "when it happened: a UTC time, or a duration ago (3d)");
  memory_note->add_flag("--json", note_args.json, "machine-readable output");
  dispatch(memory_note, [&] { return cmd_memory_note(global, note_args); });
  auto* memory_search = memory->add_subcommand("search", "hybrid search: full text, meaning and entity keys");
  memory_search->add_option("query", search_args.query, "what to look for")->required();
  memory_search->add_option("--entity", search_args.entities, "only hits about this entity (repeatable)");
  memory_search->add_option("--scope", search_args.scope, "only this memory scope");
  memory_search->add_option("--type", search_args.type, "only events of this type (summary for summaries)");
  memory_search->add_option("--since", search_args.since, "not before this UTC time or duration ago");
  memory_search->add_option("--until", search_args.until, "before this UTC time or duration ago");
  memory_search->add_option("--limit", search_args.limit, "hits at most (default 10)");
  memory_search->add_flag("--raw", search_args.raw, "events even where a summary covers them");
  memory_search->add_flag("--json", search_args.json, "machine-readable output");
  dispatch(memory_search, [&] { return cmd_memory_search(global, search_args); });
  auto* entity = memory->add_subcommand("entity", "an entity's facts, recent events and summaries");
  entity->add_option("key", entity_key, "KIND:NAME, e.g. customer:acme")->required();
  entity->add_flag("--json", json, "machine-readable output");
  dispatch(entity, [&] { return cmd_memory_entity(global, entity_key, json); });
  auto* compact = memory->add_subcommand("compact", "summarize old events now (as the schedule would)");
  compact->add_option("--timeout", compact_timeout, "give up after this many seconds (exit 1)");
  compact->add_flag("--json", json, "machine-readable output");
  dispatch(compact, [&] { return cmd_memory_compact(global, compact_timeout, json); });
  auto* reindex = memory->add_subcommand("reindex", "rebuild entities, full text and vectors from the event log");
  reindex->add_flag("--json", json, "machine-readable output");
  dispatch(reindex, [&] { return cmd_memory_reindex(global, json); });

  std::string event_name, event_data;
  auto* emit = app.add_subcommand("emit", "raise an event; playbooks with a matching event trigger start");
  emit->add_option("event", event_name, "event name, e.g. invoice.paid")->required();
  emit->add_option("--data", event_data, "event data as a JSON object");
  emit->add_flag("--json", json, "machine-readable output");
  dispatch(emit, [&] { return cmd_emit(global, event_name, event_data, json); });

  auto* status = app.add_subcommand("status", "what is running, waiting, failed; workers alive");
  status->add_flag("--json", json, "machine-readable output");
  dispatch(status, [&] { return cmd_status(global, json); });

  std::string what, state;
  int limit = 50;
  auto* ls = app.add_subcommand("ls", "list objectives or tasks");
  ls->add_option("what", what, "objectives | tasks")->required()->check(CLI::IsMember({"objectives", "tasks"}));
  ls->add_option("--state", state, "only this state (e.g. running, failed, uncertain)");
  ls->add_option("--limit", limit, "at most this many (default 50)");
  ls->add_flag("--json", json, "machine-readable output");
  dispatch(ls, [&] { return cmd_ls(global, what, state, limit, json); });

  std::string id;
  auto* show = app.add_subcommand("show", "the trace of a run: every step with inputs, outputs, attempts, timings");
  show->add_option("id", id, "objective or task id")->required();
  show->add_flag("--json", json, "machine-readable output");
  dispatch(show, [&] { return cmd_show(global, id, json); });

  auto* cancel = app.add_subcommand("cancel", "cancel a run (an objective, or the objective of a task)");
  cancel->add_option("id", id, "objective or task id")->required();
  dispatch(cancel, [&] { return cmd_cancel(global, id); });

  auto* retry = app.add_subcommand("retry", "run the failed tasks of a failed run again");
  retry->add_option("id", id, "objective or task id")->required();
  dispatch(retry, [&] { return cmd_retry(global, id); });

  bool done = false, redo = false, fail = false;
  std::string note;
  auto* resolve = app.add_subcommand("resolve", "decide an uncertain step: it happened, do it again, or fail");
  resolve->add_option("id", id, "task id (or objective id with one uncertain task)")->required();
  auto* done_flag = resolve->add_flag("--done", done, "the step's effect happened; continue after it");
  auto* redo_flag = resolve->add_flag("--redo", redo, "the effect did not happen; run the step again");
  auto* fail_flag = resolve->add_flag("--fail", fail, "fail the task and its run");
  done_flag->excludes(redo_flag)->excludes(fail_flag);
  redo_flag->excludes(fail_flag);
  resolve->add_option("--note", note, "why (kept in the trace)");
  dispatch(resolve, [&] {
    if (!done && !redo && !fail) {
      return usage_error("resolve needs one of --done, --redo, --fail");
    }
    return cmd_resolve(global, id, done ? Resolution::kDone : redo ? Resolution::kRedo : Resolution::kFail, note);
  });

  add_policy_commands(app, global, code);
  add_connector_commands(app, global, code);
  add_metrics_commands(app, global, code);
  add_token_commands(app, global, code);
  add_audit_commands(app, global, code);
  add_secret_commands(app, global, code);

  ServeArgs serve_args;
  auto* serve = app.add_subcommand(
      "serve", "run the kernel, triggers and the workspace API and UI on one port, until SIGTERM");
  serve->add_option("--record", serve_args.record_models,
                    "append every model exchange to this file (JSON lines), for the replay provider");
  serve->add_option("--port", serve_args.port, "the API's port (default: server.port of cadre.yaml, 7400; 0: any)")
      ->check(CLI::Range(0, 65535));
  serve->add_option("--bind", serve_args.bind, "the address to listen on (default: server.bind, 127.0.0.1)");
  dispatch(serve, [&] { return cmd_serve(global, serve_args); });
  auto* worker = app.add_subcommand("worker", "run an extra worker process (no triggers, no API), until SIGTERM");
  dispatch(worker, [&] {
    ServeArgs worker_args;
    worker_args.worker = true;
    return cmd_serve(global, worker_args);
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return code;
}

}  // namespace cadre
