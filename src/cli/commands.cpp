#include "cli/commands.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "agents/playbook_runner.h"
#include "agents/runtime.h"
#include "agents/workspace_status.h"
#include "agents/workspace.h"
#include "cli/session.h"
#include "core/id.h"
#include "core/redact.h"
#include "kernel/operations.h"

namespace cadre {
namespace {

std::string duration_text(TimeMs from, TimeMs to) {
  if (from <= 0 || to <= 0) return "";
  TimeMs ms = to - from;
  if (ms < 1000) return fmt::format("{} ms", ms);
  if (ms < 60000) return fmt::format("{:.1f} s", static_cast<double>(ms) / 1000.0);
  return fmt::format("{}m{:02}s", ms / 60000, (ms / 1000) % 60);
}

// A model call: who answered, what it cost, what it was asked last and what it said.
void print_model_step(const Json& step) {
  const Json& input = step["input"];
  const Json& output = step["output"];
  if (output.is_object() && output.contains("call")) {
    const Json& call = output["call"];
    const Json& usage = output["response"].value("usage", Json::object());
    std::cout << fmt::format(
        "        model   {} {} · {} in / {} out tokens · ${:.6f} · {} ms · {}\n",
        call.value("provider", ""), call.value("model", ""), usage.value("input_tokens", 0),
        usage.value("output_tokens", 0), call.value("cost_usd", 0.0), call.value("latency_ms", 0),
        call.value("cached", false) ? "answered from cache" : "live");
    for (const auto& f : call.value("failures", Json::array())) {
      std::cout << fmt::format("        failed  {} {}: {}\n", f.value("provider", ""),
                               f.value("model", ""), one_line(f.value("error", "")));
    }
  }
  const Json& messages =
      input.is_object() ? input["request"].value("messages", Json::array()) : Json::array();
  if (!messages.empty()) {
    const Json& last = messages.back();
    std::cout << "        prompt  " << last.value("role", "") << ": "
              << one_line(last.value("content", "")) << "\n";
  }
  if (output.is_object() && output.contains("response")) {
    const Json& response = output["response"];
    for (const auto& call : response.value("tool_calls", Json::array())) {
      std::cout << "        calls   " << call.value("name", "") << " "
                << short_json(call.value("arguments", Json())) << "\n";
    }
    std::string content = response.value("content", "");
    if (!content.empty()) std::cout << "        answer  " << one_line(content) << "\n";
  }
}

// An agent's opening: what memory put in its prompt, each item with its source and why.
void print_context_step(const Json& step) {
  const Json& output = step["output"];
  if (!output.is_object()) return;
  if (!output.contains("memory")) {
    std::cout << "        memory  nothing bore on the task\n";
    return;
  }
  for (const auto& item : output["memory"]) {
    std::cout << fmt::format("        memory  {:<9} {}  ({}; {} tokens)\n", item.value("kind", ""),
                             item.value("source", ""), item.value("why", ""), item.value("tokens", 0));
  }
}

void print_trace(const Json& trace) {
  const Json& o = trace["objective"];
  std::cout << fmt::format("objective {}  {}\n", o["id"].get<std::string>(),
                           o["state"].get<std::string>());
  std::cout << fmt::format("  {}\n", o["title"].get<std::string>());
  std::string version;
  for (const auto& [name, v] : o["versions"].items())
    version += fmt::format(" {}@{}", name, v.get<std::string>());
  std::cout << fmt::format("  source {} · owner {} ·{}\n", o["source"].get<std::string>(),
                           o["owner"].get<std::string>(), version);
  std::cout << fmt::format("  created {}",
                           o["created"].is_string() ? o["created"].get<std::string>() : "-");
  if (o["finished_at"].get<TimeMs>() > 0) {
    std::cout << fmt::format(
        " · finished {} ({})", o["finished"].get<std::string>(),
        duration_text(o["created_at"].get<TimeMs>(), o["finished_at"].get<TimeMs>()));
  }
  std::cout << "\n  inputs " << short_json(o["inputs"], 400) << "\n";
  if (!o["error"].get<std::string>().empty())
    std::cout << "  error: " << o["error"].get<std::string>() << "\n";
  for (const auto& drift : trace["version_drift"]) {
    std::cout << fmt::format(
        "  note: {} changed since this run started (recorded {}, now {}); the run "
        "continues on the recorded version\n",
        drift["definition"].get<std::string>(), drift["recorded"].get<std::string>(),
        drift["current"].is_null() ? "removed" : drift["current"].get<std::string>());
  }
  for (const auto& t : trace["tasks"]) {
    std::string needs;
    for (const auto& n : t["needs"]) needs += (needs.empty() ? "" : ", ") + n.get<std::string>();
    std::cout << fmt::format("\n  task {} [{}] {}{}", t["key"].get<std::string>(),
                             t["state"].get<std::string>(), t["id"].get<std::string>(),
                             needs.empty() ? "" : "  needs " + needs);
    if (t.contains("item_of")) std::cout << "  item of " << t["item_of"].get<std::string>();
    if (t["claims"].get<int>() > 1)
      std::cout << fmt::format("  (claimed {} times)", t["claims"].get<int>());
    std::cout << "\n";
    if (t["state"] == "waiting") {
      std::cout << fmt::format("    waiting for {} {}\n", t["wait_kind"].get<std::string>(),
                               t["wait_kind"] == "timer"
                                   ? format_time_utc(t["run_at"].get<TimeMs>())
                                   : t["wait_key"].get<std::string>());
    }
    if (!t["error"].get<std::string>().empty())
      std::cout << "    " << t["error"].get<std::string>() << "\n";
    for (const auto& s : t["steps"]) {
      std::cout << fmt::format(
          "    {:>3} {:<14} {:<8} attempts {}  {}\n", s["seq"].get<int>(),
          s["name"].get<std::string>(), s["state"].get<std::string>(), s["attempts"].get<int>(),
          duration_text(s["started_at"].get<TimeMs>(), s["finished_at"].get<TimeMs>()));
      if (s["kind"] == "model") {
        print_model_step(s);
      } else if (s["kind"] == "context") {
        print_context_step(s);
      } else {
        if (!s["input"].is_null()) std::cout << "        in  " << short_json(s["input"]) << "\n";
        if (!s["output"].is_null()) std::cout << "        out " << short_json(s["output"]) << "\n";
      }
      if (!s["error"].get<std::string>().empty())
        std::cout << "        err " << s["error"].get<std::string>() << "\n";
      for (const auto& a : s["attempt_log"]) {
        if (a.contains("error") && a["error"].is_string() &&
            !a["error"].get<std::string>().empty() && s["attempt_log"].size() > 1) {
          std::cout << fmt::format("        attempt {} at {}: {}\n", a.value("attempt", 0),
                                   format_time_utc(a.value("started_at", TimeMs{0})),
                                   a["error"].get<std::string>());
        }
      }
    }
  }
}

}  // namespace

int exit_code_for(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return 0;
    case StatusCode::kNotFound:
      return 3;
    case StatusCode::kConflict:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kAlreadyExists:
      return 6;
    case StatusCode::kUnavailable:
      return 7;
    default:
      return 1;
  }
}

int report_error(const Status& status) {
  // Redacted: an error may quote an API's answer or a tool's input that held a secret.
  std::cerr << "error: " << redact(status.message()) << "\n";
  return exit_code_for(status);
}

int usage_error(const std::string& message) {
  std::cerr << "error: " << message << "\n";
  return 2;
}

int cmd_init(const std::string& dir, const std::string& example) {
  Status s = init_workspace(dir, example);
  if (!s.ok()) return report_error(s);
  std::cout << "Created workspace " << dir << (example.empty() ? "" : " from example " + example)
            << ".\n"
            << "Next: cd " << dir << " && cadre check && cadre serve\n";
  return 0;
}

int cmd_check(const GlobalOptions& global, bool json) {
  Diagnostics diagnostics;
  auto workspace = load_workspace(global, &diagnostics);
  if (diagnostics.empty() && !workspace.ok()) return report_error(workspace.status());
  if (json) {
    Json out = {{"ok", diagnostics.empty()}, {"problems", Json::array()}};
    for (const auto& d : diagnostics.items()) {
      out["problems"].push_back({{"file", d.file},
                                 {"line", d.line},
                                 {"column", d.column},
                                 {"field", d.field},
                                 {"message", d.message}});
    }
    if (workspace.ok()) out["playbooks"] = workspace->playbooks.size();
    print_json(out);
  } else if (diagnostics.empty()) {
    std::cout << "ok: " << workspace->playbooks.size() << " playbook(s), "
              << workspace->agents.size() << " agent(s); no problems\n";
  } else {
    std::cerr << diagnostics.to_string();
    std::cerr << diagnostics.size() << " problem(s)\n";
  }
  return diagnostics.empty() ? 0 : 4;
}

int cmd_run(const GlobalOptions& global, const std::string& playbook,
            const std::vector<std::string>& pairs, const std::string& inputs_json, bool wait,
            double timeout_s, bool json) {
  auto session = open_session(global);
  if (!session.ok()) return session_error(session.status());
  auto inputs = parse_run_inputs(pairs, inputs_json);
  if (!inputs.ok()) return report_error(inputs.status());
  RunRequest request{playbook, *inputs, "manual", "", Json::object()};
  auto started = start_playbook(*session->store, session->workspace, request, now_ms());
  if (!started.ok()) return report_error(started.status());
  const std::string id = started->objective_id;
  if (!json) std::cout << id << std::endl;  // flushed: a script may read it while we wait
  if (!worker_alive(*session->store)) {
    std::cerr
        << "note: no worker is running; start `cadre serve` in this workspace to carry it out\n";
  }
  if (!wait) {
    if (json) print_json({{"objective", id}});
    return 0;
  }
  return wait_for_objective(*session->store, id, timeout_s, json, [](const ObjectiveRecord& o) {
    std::cout << to_string(o.state) << (o.error.empty() ? "" : ": " + o.error) << "\n";
  });
}

int cmd_emit(const GlobalOptions& global, const std::string& name, const std::string& data,
             bool json) {
  auto session = open_session(global);
  if (!session.ok()) return session_error(session.status());
  Json payload = Json::object();
  if (!data.empty()) {
    auto parsed = parse_json(data, "--data");
    if (!parsed.ok()) return report_error(parsed.status());
    payload = *parsed;
  }
  if (name.empty()) return report_error(Status::InvalidArgument("the event name is empty"));
  TimeMs now = now_ms();
  EventRecord event{new_id("evt", now), name, payload, "cli", now, false};
  Status s = session->store->emit_event(event);
  if (!s.ok()) return report_error(s);
  if (json) {
    print_json(to_json(event));
  } else {
    std::cout << event.id << "\n";
  }
  return 0;
}

int cmd_status(const GlobalOptions& global, bool json) {
  auto session = open_session(global);
  if (!session.ok()) return session_error(session.status());
  auto status = kernel_status(*session->store, now_ms());
  if (!status.ok()) return report_error(status.status());
  if (json) {
    print_json(*status);
    return 0;
  }
  const Json& s = *status;
  std::cout << "workspace " << session->workspace.config.name << " ("
            << session->workspace.root.string() << ")\n";
  std::cout << "workers   " << s["workers"].size() << " alive\n";
  auto counts = [](const Json& by_state) {
    std::string text;
    for (const auto& [state, n] : by_state.items())
      text += fmt::format("{} {}  ", n.get<int64_t>(), state);
    return text.empty() ? std::string("none") : text;
  };
  std::cout << "objectives " << counts(s["objectives"]) << "\n";
  std::cout << "tasks      " << counts(s["tasks"]) << "\n";
  for (const auto& p : s["paused"]) {
    std::string target = p["target"] == "*" ? "all work" : "agent " + p["target"].get<std::string>();
    std::cout << "paused:    " << target << " by " << p["by"].get<std::string>()
              << (p["reason"].get<std::string>().empty() ? "" : ": " + p["reason"].get<std::string>()) << "\n";
  }
  for (const auto& a : s["approvals"]) {
    std::cout << "needs you: " << a["id"].get<std::string>() << " (" << a["kind"].get<std::string>()
              << "): " << a["title"].get<std::string>() << "  -> cadre approvals\n";
  }
  for (const auto& item : s["needs_attention"]) {
    std::cout << "needs you: task " << item["task"].get<std::string>() << " ("
              << item["key"].get<std::string>() << "): " << item["why"].get<std::string>() << "\n";
  }
  const Json& m = s["models_24h"];
  if (m.value("calls", int64_t{0}) > 0) {
    std::cout << fmt::format(
        "models     {} calls in 24 h, {} tokens, ${:.4f}, cache answered {:.0f}%\n",
        m["calls"].get<int64_t>(),
        m["input_tokens"].get<int64_t>() + m["output_tokens"].get<int64_t>(),
        m["cost_usd"].get<double>(), 100.0 * m["cache_hit_rate"].get<double>());
  }
  for (const auto& e : s["rejected_events"]) {
    std::cout << "rejected:  event " << e["id"].get<std::string>() << " ("
              << e["name"].get<std::string>() << "): " << e["error"].get<std::string>() << "\n";
  }
  for (const auto& item : s["recent_failures"]) {
    std::cout << "failed:    " << item["objective"].get<std::string>() << " "
              << item["error"].get<std::string>() << "\n";
  }
  return 0;
}

int cmd_ls(const GlobalOptions& global, const std::string& what, const std::string& state,
           int limit, bool json) {
  auto session = open_session(global);
  if (!session.ok()) return session_error(session.status());
  Json rows = Json::array();
  if (what == "objectives") {
    ObjectiveFilter filter;
    filter.limit = limit;
    if (!state.empty()) {
      ObjectiveState s;
      if (!parse_objective_state(state, &s))
        return usage_error(
            "--state '" + state +
            "' is not an objective state (running, uncertain, succeeded, failed, cancelled)");
      filter.state = s;
    }
    auto list = session->store->list_objectives(filter);
    if (!list.ok()) return report_error(list.status());
    for (const auto& o : *list) rows.push_back(to_json(o));
    if (!json) {
      for (const auto& o : *list) {
        std::cout << fmt::format("{}  {:<10} {:>3}/{:<3} {}  {}\n", o.id, to_string(o.state),
                                 o.tasks_total - o.tasks_left, o.tasks_total,
                                 format_time_utc(o.created_at), o.title);
      }
    }
  } else {
    TaskFilter filter;
    filter.limit = limit;
    if (!state.empty()) {
      TaskState s;
      if (!parse_task_state(state, &s))
        return usage_error("--state '" + state +
                           "' is not a task state (pending, ready, running, waiting, uncertain, "
                           "succeeded, failed, "
                           "cancelled, skipped)");
      filter.state = s;
    }
    auto list = session->store->list_tasks(filter);
    if (!list.ok()) return report_error(list.status());
    for (const auto& t : *list) rows.push_back(to_json(t));
    if (!json) {
      for (const auto& t : *list) {
        std::cout << fmt::format("{}  {:<10} {:<20} {}{}\n", t.id, to_string(t.state), t.key,
                                 t.objective_id,
                                 t.error.empty() ? "" : "  " + t.error.substr(0, 100));
      }
    }
  }
  if (json) print_json(rows);
  return 0;
}

int cmd_show(const GlobalOptions& global, const std::string& id, bool json) {
  auto session = open_session(global);
  if (!session.ok()) return session_error(session.status());
  auto trace = build_trace(*session->store, id, definition_versions(session->workspace));
  if (!trace.ok()) return report_error(trace.status());
  if (json) {
    print_json(*trace);
  } else {
    print_trace(*trace);
  }
  return 0;
}

int cmd_cancel(const GlobalOptions& global, const std::string& id) {
  auto session = open_session(global);
  if (!session.ok()) return session_error(session.status());
  Status s = cancel_run(*session->store, id, now_ms());
  if (!s.ok()) return report_error(s);
  std::cout << "cancelled " << id << "\n";
  return 0;
}

int cmd_retry(const GlobalOptions& global, const std::string& id) {
  auto session = open_session(global);
  if (!session.ok()) return session_error(session.status());
  Status s = retry_run(*session->store, id, now_ms());
  if (!s.ok()) return report_error(s);
  std::cout << "retrying " << id << "\n";
  return 0;
}

int cmd_resolve(const GlobalOptions& global, const std::string& id, Resolution resolution,
                const std::string& note) {
  auto session = open_session(global);
  if (!session.ok()) return session_error(session.status());
  Status s = resolve_uncertain(*session->store, id, resolution, note, now_ms());
  if (!s.ok()) return report_error(s);
  std::cout << "resolved " << id << "\n";
  return 0;
}

}  // namespace cadre
