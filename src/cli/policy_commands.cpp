// `cadre approvals | approve | reject` (the approval inbox) and
// `cadre pause | resume` (the kill switch).
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/command_groups.h"
#include "cli/session.h"
#include "core/duration.h"
#include "policy/approvals.h"

namespace cadre {
namespace {

std::string when_due(const ApprovalRecord& a, TimeMs now) {
  if (a.expires_at == 0) return "waits until answered";
  if (a.expires_at <= now) return "timed out; " + a.timeout_action + " at the next look";
  return a.timeout_action + " in " + format_duration((a.expires_at - now) / 1000 * 1000) +
         " unless answered";
}

void print_item(const ApprovalRecord& a, TimeMs now) {
  std::cout << a.id << "  " << a.kind << "  " << to_string(a.state) << "  "
            << one_line(a.title, 120) << "\n";
  if (!a.reason.empty())
    std::cout << "    why:      " << one_line(a.reason, 160)
              << (a.rule.empty() ? "" : " (rule " + a.rule + ")") << "\n";
  if (a.request.contains("args"))
    std::cout << "    args:     " << short_json(a.request["args"], 300) << "\n";
  else if (a.request.contains("plan"))
    std::cout << "    plan:     " << short_json(a.request["plan"], 300) << "\n";
  else if (!a.request.empty())
    std::cout << "    request:  " << short_json(a.request, 300) << "\n";
  if (a.context.is_object()) {
    const std::pair<const char*, const char*> shown[] = {{"objective", "objective"},
                                                         {"task", "asked"},
                                                         {"model_said", "it said"},
                                                         {"playbook", "playbook"},
                                                         {"step", "step"}};
    for (const auto& [key, label] : shown) {
      if (a.context.contains(key) && !a.context[key].is_null()) {
        std::string text = a.context[key].is_string() ? a.context[key].get<std::string>()
                                                      : dump_json(a.context[key]);
        std::cout << "    " << label << ":"
                  << std::string(std::max<size_t>(1, 9 - std::string(label).size()), ' ')
                  << one_line(text, 160) << "\n";
      }
    }
  }
  std::cout << "    task:     " << a.task_id << " of " << a.objective_id
            << (a.agent.empty() ? "" : " (agent " + a.agent + ")") << "\n";
  if (a.state == ApprovalState::kPending) {
    std::cout << "    answer:   cadre approve " << a.id
              << (a.schema.is_null() ? "" : " [--edit FILE]")
              << (a.kind == "uncertain" ? " [--redo]" : "") << " | cadre reject " << a.id
              << " --reason \"...\"  (" << when_due(a, now) << ")\n";
  } else {
    std::cout << "    answered: " << a.answered_by << " at " << format_time_utc(a.answered_at)
              << " " << short_json(a.answer, 200) << "\n";
  }
}

int cmd_approvals(const GlobalOptions& global, bool all, bool json) {
  auto session = open_session(global);
  if (!session.ok()) return session_error(session.status());
  ApprovalFilter filter;
  if (!all) filter.state = ApprovalState::kPending;
  filter.limit = all ? 100 : 1000;
  auto items = session->store->list_approvals(filter);
  if (!items.ok()) return report_error(items.status());
  if (json) {
    Json out = Json::array();
    for (const auto& a : *items) out.push_back(to_json(a));
    print_json(out);
    return 0;
  }
  if (items->empty()) {
    std::cout << (all ? "No approval items yet.\n" : "Nothing waits for an answer.\n");
    return 0;
  }
  const TimeMs now = now_ms();
  for (const auto& a : *items) print_item(a, now);
  return 0;
}

Result<Json> read_edit(const std::string& path_or_json) {
  std::string text = path_or_json;
  if (!text.empty() && text.front() != '{' && text.front() != '[') {
    std::ifstream in(path_or_json);
    if (!in) return Status::NotFound("cannot read --edit file '" + path_or_json + "'");
    std::stringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
  }
  return parse_json(text, "--edit " + path_or_json);
}

int cmd_answer(const GlobalOptions& global, const std::string& id, ApprovalAnswer answer,
               const std::string& edit, bool json) {
  auto session = open_session(global);
  if (!session.ok()) return session_error(session.status());
  if (!edit.empty()) {
    auto args = read_edit(edit);
    if (!args.ok()) return report_error(args.status());
    answer.args = *args;
  }
  answer.by = operator_identity();
  auto answered = answer_approval(*session->store, id, answer, now_ms());
  if (!answered.ok()) return report_error(answered.status());
  if (json) {
    print_json(to_json(*answered));
    return 0;
  }
  std::cout << to_string(answered->state) << " " << id
            << (answer.args.is_null() ? "" : " with edited arguments") << "; task "
            << answered->task_id << " goes on"
            << (worker_alive(*session->store) ? "." : " when `cadre serve` runs.") << "\n";
  return 0;
}

int cmd_pause(const GlobalOptions& global, bool all, const std::string& agent, bool paused,
              const std::string& reason) {
  if (all == !agent.empty())
    return usage_error(std::string(paused ? "pause" : "resume") + " needs --all or --agent NAME");
  auto session = open_session(global);
  if (!session.ok()) return session_error(session.status());
  if (!agent.empty() && session->workspace.find_agent(agent) == nullptr) {
    return report_error(
        Status::NotFound("there is no agent '" + agent + "' (agents/" + agent + ".yaml)"));
  }
  const std::string target = all ? "*" : agent;
  Status s = set_pause(*session->store, target, paused, operator_identity(), reason, now_ms());
  if (!s.ok()) return report_error(s);
  std::string what = all ? "all work" : "agent " + agent;
  if (paused) {
    std::cout << "Paused " << what
              << ": running tasks stop before their next step and keep their state; "
              << "`cadre resume " << (all ? "--all" : "--agent " + agent) << "` carries on.\n";
  } else {
    std::cout << "Resumed " << what << ".\n";
  }
  return 0;
}

}  // namespace

void add_policy_commands(CLI::App& app, const GlobalOptions& global, int& code) {
  auto dispatch = [&code](CLI::App* sub, auto fn) { sub->callback([&code, fn] { code = fn(); }); };

  struct Args {
    bool all = false, json = false, redo = false;
    std::string id, edit, reason, agent;
  };
  auto args = std::make_shared<Args>();

  auto* approvals =
      app.add_subcommand("approvals", "the approval inbox: what waits for a human, and why");
  approvals->add_flag("--all", args->all, "answered items too (newest 100)");
  approvals->add_flag("--json", args->json, "machine-readable output");
  dispatch(approvals, [&global, args] { return cmd_approvals(global, args->all, args->json); });

  auto* approve = app.add_subcommand("approve", "approve an item; the waiting task goes on");
  approve->add_option("id", args->id, "the item's id (apr_...)")->required();
  approve->add_option("--edit", args->edit,
                      "approve these arguments instead: a JSON file, or JSON text");
  approve->add_flag("--redo", args->redo, "for an uncertain step: it did not happen; run it again");
  approve->add_option("--note", args->reason, "why (kept in the trace)");
  approve->add_flag("--json", args->json, "machine-readable output");
  dispatch(approve, [&global, args] {
    ApprovalAnswer answer{args->redo ? "redo" : "approve", nullptr, args->reason, ""};
    return cmd_answer(global, args->id, answer, args->edit, args->json);
  });

  auto* reject = app.add_subcommand("reject", "reject an item; the agent sees the reason");
  reject->add_option("id", args->id, "the item's id (apr_...)")->required();
  reject->add_option("--reason", args->reason, "why (the agent sees it)")->required();
  reject->add_flag("--json", args->json, "machine-readable output");
  dispatch(reject, [&global, args] {
    return cmd_answer(global, args->id, {"reject", nullptr, args->reason, ""}, "", args->json);
  });

  for (bool paused : {true, false}) {
    auto* sub =
        app.add_subcommand(paused ? "pause" : "resume",
                           paused ? "kill switch: stop all work or one agent's, keeping its state"
                                  : "lift the kill switch");
    sub->add_flag("--all", args->all, "everything");
    sub->add_option("--agent", args->agent, "one agent");
    if (paused) sub->add_option("--reason", args->reason, "why (kept in the audit log)");
    dispatch(sub, [&global, args, paused] {
      return cmd_pause(global, args->all, args->agent, paused, args->reason);
    });
  }
}

}  // namespace cadre
