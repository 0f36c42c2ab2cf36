// `cadre agents`, `cadre ask`, `cadre objective add`.
#include <fmt/format.h>

#include <algorithm>
#include <iostream>

#include "agents/agent.h"
#include "agents/objectives.h"
#include "agents/runtime.h"
#include "agents/workspace_status.h"
#include "cli/session.h"
#include "core/duration.h"

namespace cadre {
namespace {

// The result of an objective for people: the answer of each task, or why it failed.
void print_outcome(Store& store, const ObjectiveRecord& o) {
  if (o.state != ObjectiveState::kSucceeded) {
    std::cout << to_string(o.state) << (o.error.empty() ? "" : ": " + o.error) << "\n";
    return;
  }
  auto outputs = store.task_outputs(o.id);
  if (!outputs.ok()) {
    std::cout << "succeeded\n";
    return;
  }
  const Json* plan = outputs->contains("plan") ? &(*outputs)["plan"]["output"] : nullptr;
  if (plan != nullptr && plan->contains("results")) {
    for (const auto& [key, result] : (*plan)["results"].items()) {
      std::cout << key << ": "
                << (result.is_object() ? result.value("text", dump_json(result))
                                       : dump_json(result))
                << "\n";
    }
    return;
  }
  for (const auto& [key, task] : outputs->items()) {
    const Json& out = task["output"];
    std::cout << (out.is_object() && out.contains("text") ? out["text"].get<std::string>()
                                                          : dump_json(out))
              << "\n";
  }
}

}  // namespace

int cmd_agents(const GlobalOptions& global, bool json) {
  auto session = open_session(global);
  if (!session.ok()) return session_error(session.status());
  auto pauses = session->store->pauses();
  if (!pauses.ok()) return report_error(pauses.status());
  auto is_paused = [&](const std::string& name) {
    return std::any_of(pauses->begin(), pauses->end(),
                       [&](const PauseRecord& p) { return p.target == "*" || p.target == name; });
  };
  Json rows = Json::array();
  for (const auto& [name, agent] : session->workspace.agents) {
    rows.push_back(agent_summary(*session->store, *agent, is_paused(name), now_ms()));
  }
  if (json) {
    print_json(rows);
    return 0;
  }
  if (rows.empty()) {
    std::cout << "no agents (add one as agents/NAME.yaml)\n";
    return 0;
  }
  for (const auto& r : rows) {
    const Json& today = r["today"];
    std::string spend = today.is_object()
                            ? fmt::format("{} calls, {} tokens, ${:.4f}", today.value("calls", 0),
                                          today.value("input_tokens", int64_t{0}) +
                                              today.value("output_tokens", int64_t{0}),
                                          today.value("cost_usd", 0.0))
                            : "-";
    std::cout << fmt::format("{:<16} {:<10} tier {:<6} today: {}\n", r["name"].get<std::string>(),
                             r["state"].get<std::string>(), r["tier"].get<std::string>(), spend);
    if (!r["role"].get<std::string>().empty())
      std::cout << "  " << r["role"].get<std::string>() << "\n";
    for (const auto& id : r["budget_approvals"])
      std::cout << "  at its budget: cadre approvals shows " << id.get<std::string>() << "\n";
    for (const auto& c : r["current"]) {
      std::cout << fmt::format("  {} task {} of {}\n", c["state"].get<std::string>(),
                               c["task"].get<std::string>(), c["objective"].get<std::string>());
    }
    if (r["last_outcome"].is_object()) {
      const Json& l = r["last_outcome"];
      std::cout << fmt::format(
          "  last: {} {} at {}{}\n", l["state"].get<std::string>(),
          l["objective"].get<std::string>(), l["finished"].get<std::string>(),
          l["error"].get<std::string>().empty() ? "" : ": " + l["error"].get<std::string>());
    }
  }
  return 0;
}

int cmd_objective_add(const GlobalOptions& global, const ObjectiveArgs& args) {
  auto session = open_session(global);
  if (!session.ok()) return session_error(session.status());
  auto inputs = parse_run_inputs(args.inputs, "");
  if (!inputs.ok()) return report_error(inputs.status());
  ObjectiveRequest request;
  request.text = args.text;
  request.owner = args.owner.empty() ? "planner" : args.owner;
  request.inputs = *inputs;
  request.budget_usd = args.budget_usd;
  if (!args.deadline.empty()) {
    auto deadline = parse_duration(args.deadline);
    if (!deadline.ok()) return report_error(deadline.status().with_context("--deadline"));
    request.deadline = *deadline;
  }
  auto started = start_objective(*session->store, session->workspace, request, now_ms());
  if (!started.ok()) return report_error(started.status());
  const std::string id = started->objective_id;
  if (!args.wait) {
    if (args.json) {
      print_json({{"objective", id}});
    } else {
      std::cout << id << std::endl;
      if (!worker_alive(*session->store)) {
        std::cerr << "note: no worker is running; start `cadre serve` in this workspace to carry "
                     "it out\n";
      }
    }
    return 0;
  }
  if (!args.json) std::cout << id << std::endl;
  Store& store = *session->store;
  const bool json = args.json;
  return carry_out(
      *session, id, args.timeout_s, /*json=*/false, [&store, json](const ObjectiveRecord& o) {
        if (!json) return print_outcome(store, o);
        auto outputs = store.task_outputs(o.id);
        print_json({{"objective", to_json(o)}, {"outputs", outputs.ok() ? *outputs : Json()}});
      });
}

int cmd_ask(const GlobalOptions& global, const std::string& agent, const std::string& text,
            const std::vector<std::string>& inputs, double timeout_s, bool json) {
  ObjectiveArgs args;
  args.text = text;
  args.owner = agent;
  args.inputs = inputs;
  args.wait = true;
  args.timeout_s = timeout_s;
  args.json = json;
  if (agent == "planner" || agent.empty())
    return usage_error("cadre ask needs the name of an agent");
  return cmd_objective_add(global, args);
}

}  // namespace cadre
