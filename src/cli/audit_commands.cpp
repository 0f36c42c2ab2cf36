// `cadre audit verify | head | log` and `cadre trace OBJECTIVE`: the
// tamper-evident audit log and the accountability trace of one run. The
// logic is in store/audit_chain.h and policy/trace.h; this file parses,
// prints for people, and prints --json for programs.
//
// `audit verify` exits 0 when the chain is intact and 1 when it is broken
// (the same "error" status as any failure: a damaged log is an error, and
// scripts need only test for non-zero); a database that cannot be read
// exits with its usual code (7 busy, ...).
#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "cli/command_groups.h"
#include "cli/session.h"
#include "policy/trace.h"
#include "store/audit_chain.h"

namespace cadre {
namespace {

constexpr int kExitAuditBroken = 1;

struct AuditArgs {
  std::string head;       // --head: a file, or the JSON itself
  std::string objective;  // --objective
  int64_t after = -1;     // --after; -1: the newest `limit`
  int limit = 50;
  std::string id;         // trace OBJECTIVE
  bool json = false;
};

// A hash as people compare it: its first 12 digits.
std::string short_hash(const std::string& hash) {
  return hash.size() > 12 ? hash.substr(0, 12) + "…" : hash;
}

bool looks_like_hash(const std::string& value) {
  return value.size() == 64 && value.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// `key=value ...` of an entry's data: hashes shortened, long values cut.
std::string data_summary(const Json& data) {
  if (!data.is_object()) return data.is_null() ? "" : short_json(data, 120);
  std::string out;
  for (const auto& [key, value] : data.items()) {
    std::string shown = value.is_string() ? value.get<std::string>() : dump_json(value);
    if (value.is_string() && looks_like_hash(shown)) shown = short_hash(shown);
    out += (out.empty() ? "" : " ") + key + "=" + one_line(shown, 40);
  }
  return one_line(out, 160);
}

std::string entry_line(const AuditEntry& e) {
  std::string line = fmt::format("#{} {} {} {} {}", e.seq, format_time_utc(e.at), e.actor, e.action, e.subject);
  std::string data = data_summary(e.data);
  return data.empty() ? line : line + "  " + data;
}

// --head: the JSON text itself, or a file holding it (`cadre audit head --json > head.json`).
Result<AuditHead> read_head_option(const std::string& value) {
  size_t first = value.find_first_not_of(" \t\r\n");
  std::string json_text = value;
  std::string what = "--head";
  if (first == std::string::npos || value[first] != '{') {
    std::ifstream file(value);
    if (!file) return Status::InvalidArgument("--head '" + value + "' is neither {seq, hash} JSON nor a readable file");
    std::stringstream buffer;
    buffer << file.rdbuf();
    json_text = buffer.str();
    what = "--head file " + value;
  }
  CADRE_ASSIGN_OR_RETURN(Json json, parse_json(json_text, what));
  auto head = audit_head_from_json(json);
  if (!head.ok()) return Status::InvalidArgument(what + ": " + head.status().message());
  return head;
}

int cmd_audit_verify(const GlobalOptions& global, const AuditArgs& args) {
  std::optional<AuditHead> expected;
  if (!args.head.empty()) {
    auto head = read_head_option(args.head);
    if (!head.ok()) return usage_error(head.status().message());
    expected = *head;
  }
  auto session = open_session(global);
  if (!session.ok()) return session_error(session.status());
  auto verified = verify_audit_chain(session->store->audit(), expected);
  if (!verified.ok()) return report_error(verified.status().with_context("reading the audit log"));
  const AuditVerification& v = *verified;
  if (args.json) {
    Json out = to_json(v);
    if (expected) out["expected_head"] = to_json(*expected);
    print_json(out);
  } else if (v.ok) {
    std::cout << fmt::format("audit log intact: {} entries, head #{} {}", v.entries, v.head_seq, v.head_hash);
    if (expected) std::cout << fmt::format("; it holds the exported head #{}", expected->seq);
    std::cout << "\n";
  } else {
    std::cout << fmt::format("audit log broken at #{}: {}\n", v.first_bad_seq, v.problem);
    if (v.head_seq > 0) std::cout << fmt::format("entries #1..#{} are intact\n", v.head_seq);
  }
  return v.ok ? 0 : kExitAuditBroken;
}

int cmd_audit_head(const GlobalOptions& global, bool json) {
  auto session = open_session(global);
  if (!session.ok()) return session_error(session.status());
  auto head = session->store->audit().head();
  if (!head.ok()) return report_error(head.status());
  AuditHead exported;
  TimeMs at = 0;
  if (head->has_value()) {
    exported = {(*head)->seq, (*head)->hash};
    at = (*head)->at;
  }
  if (json) {
    Json out = to_json(exported);
    out["at"] = at;
    out["time"] = at > 0 ? Json(format_time_utc(at)) : Json(nullptr);
    print_json(out);
  } else if (exported.seq == 0) {
    std::cout << "the audit log is empty\n";
  } else {
    std::cout << fmt::format("#{} {} {}\n", exported.seq, exported.hash, format_time_utc(at));
  }
  return 0;
}

// The entries `args` asks for: after --after oldest first, else the newest --limit.
Result<std::vector<AuditEntry>> select_entries(AuditStore& audit, const AuditArgs& args) {
  AuditFilter filter;
  filter.objective_id = args.objective;
  filter.limit = args.limit;
  if (args.after >= 0) {
    filter.after_seq = args.after;
    return audit.list(filter);
  }
  if (args.objective.empty()) {
    // seq has no gaps, so the newest N start right after head - N.
    CADRE_ASSIGN_OR_RETURN(auto head, audit.head());
    if (head.has_value()) filter.after_seq = std::max<int64_t>(0, head->seq - args.limit);
    return audit.list(filter);
  }
  // One objective's entries are interleaved with others': read them all, keep the newest.
  std::deque<AuditEntry> newest;
  filter.limit = 1000;
  while (true) {
    CADRE_ASSIGN_OR_RETURN(auto page, audit.list(filter));
    if (page.empty()) break;
    filter.after_seq = page.back().seq;
    for (auto& e : page) {
      newest.push_back(std::move(e));
      if (newest.size() > static_cast<size_t>(args.limit)) newest.pop_front();
    }
  }
  return std::vector<AuditEntry>(newest.begin(), newest.end());
}

int cmd_audit_log(const GlobalOptions& global, const AuditArgs& args) {
  if (args.limit < 1) return usage_error("--limit must be at least 1");
  auto session = open_session(global);
  if (!session.ok()) return session_error(session.status());
  auto entries = select_entries(session->store->audit(), args);
  if (!entries.ok()) return report_error(entries.status());
  if (args.json) {
    Json out = Json::array();
    for (const auto& e : *entries) out.push_back(to_json(e));
    print_json(out);
    return 0;
  }
  if (entries->empty()) std::cout << "no audit entries\n";
  for (const auto& e : *entries) std::cout << entry_line(e) << "\n";
  return 0;
}

// --- cadre trace ---

std::string decision_text(const std::string& decision) {
  if (decision == "allow") return "allowed";
  if (decision == "deny") return "denied";
  if (decision == "require_approval") return "needs approval";
  return decision;
}

std::string rule_text(const std::string& rule) { return rule.empty() ? "by default" : "by rule " + rule; }

std::string answer_text(const Json& event) {
  const Json& answer = json_field(event, "answer");
  std::string decision = json_text(answer, "decision");
  std::string verb = decision == "approve" ? "approved" : decision == "reject" ? "rejected" : decision;
  std::string out = verb + " by " + json_text(answer, "by");
  if (json_text(answer, "state") == "expired") out = "expired; " + out;
  if (json_field(event, "edited").is_boolean() && json_field(event, "edited").get<bool>()) out += " (edited args)";
  if (!json_text(answer, "reason").empty()) out += ": \"" + one_line(json_text(answer, "reason"), 120) + "\"";
  return out;
}

// How a tool or model call came to run: the approval it waited for, the rule that allowed it.
std::string allowed_text(const Json& event) {
  const Json& approval = json_field(event, "approval");
  const Json& policy = json_field(event, "policy");
  std::string out;
  if (approval.is_object()) {
    out = " — approved by " + json_text(approval, "by") + " in " + json_text(approval, "approval_id");
    if (json_field(approval, "edited").is_boolean() && json_field(approval, "edited").get<bool>()) out += " (edited args)";
    if (policy.is_object()) out += ", asked " + rule_text(json_text(policy, "rule"));
  } else if (policy.is_object()) {
    out = " — " + decision_text(json_text(policy, "decision")) + " " + rule_text(json_text(policy, "rule"));
  }
  return out;
}

std::string model_line(const Json& e) {
  const Json& prompt = json_field(e, "prompt");
  const Json& answer = json_field(e, "answer");
  const Json& call = json_field(e, "call");
  std::string line = fmt::format("{} by {}: prompt sha256:{} ({} chars) -> ", json_text(e, "name"), json_text(e, "actor"),
                                 short_hash(json_text(prompt, "sha256")), json_field(prompt, "chars").is_number()
                                                                         ? json_field(prompt, "chars").get<int64_t>()
                                                                         : 0);
  if (!answer.is_object()) return line + "(no answer; " + json_text(e, "state") + ")";
  std::string content = json_text(answer, "content");
  if (!content.empty()) {
    line += "\"" + one_line(content, 80) + "\"";
  } else {
    std::string calls;
    for (const auto& c : json_field(answer, "tool_calls")) calls += (calls.empty() ? "" : ", ") + json_text(c, "name");
    line += "calls " + (calls.empty() ? std::string("nothing") : calls);
  }
  if (call.is_object()) {
    double cost = json_field(call, "cost_usd").is_number() ? json_field(call, "cost_usd").get<double>() : 0.0;
    line += fmt::format(" (${:.4f}", cost);
    if (json_field(call, "cached").is_boolean() && json_field(call, "cached").get<bool>()) line += ", cached";
    line += ")";
  }
  return line + allowed_text(e);
}

std::string event_line(const Json& e) {
  std::string kind = json_text(e, "kind");
  if (kind == "context") {
    const Json& prompt = json_field(e, "prompt");
    size_t memory = json_field(e, "memory").is_array() ? json_field(e, "memory").size() : 0;
    return fmt::format("context: prompt sha256:{} ({} chars; {} memory items)", short_hash(json_text(prompt, "sha256")),
                       json_field(prompt, "chars").is_number() ? json_field(prompt, "chars").get<int64_t>() : 0, memory);
  }
  if (kind == "model") return model_line(e);
  if (kind == "tool") {
    return fmt::format("tool {} by {} args {}{}", json_text(e, "tool"), json_text(e, "actor"), short_json(json_field(e, "args"), 160),
                       allowed_text(e));
  }
  if (kind == "policy") {
    std::string line = fmt::format("policy {}: {} {}", json_text(e, "subject").empty() ? json_text(e, "name") : json_text(e, "subject"),
                                   decision_text(json_text(e, "decision")), rule_text(json_text(e, "rule")));
    if (!json_text(e, "reason").empty()) line += ": \"" + one_line(json_text(e, "reason"), 120) + "\"";
    return line;
  }
  if (kind == "approval") {
    std::string line = "approval " + json_text(e, "approval_id") + ": ";
    if (!json_field(e, "answer").is_object()) {
      return line + "waiting for an answer (" + one_line(json_text(json_field(e, "request"), "title"), 100) + ")";
    }
    return line + answer_text(e);
  }
  if (kind == "lock") return fmt::format("lock {} by {}", json_text(e, "resource"), json_text(e, "actor"));
  return fmt::format("{} ({}) in {} out {}", json_text(e, "name"), kind, short_json(json_field(e, "input"), 100),
                     short_json(json_field(e, "output"), 100));
}

void print_task(const Json& task) {
  std::cout << fmt::format("\ntask {} [{}] {} {}\n", json_text(task, "key"), json_text(task, "state"), json_text(task, "id"),
                           json_text(task, "actor"));
  if (!json_text(task, "error").empty()) std::cout << "  error: " << one_line(json_text(task, "error")) << "\n";
  for (const auto& e : json_field(task, "events")) {
    int seq = json_field(e, "seq").is_number_integer() ? json_field(e, "seq").get<int>() : 0;
    std::string state = json_text(e, "state");
    std::cout << fmt::format("  #{} {}{}\n", seq, event_line(e), state == "done" || state.empty() ? "" : " [" + state + "]");
    if (!json_text(e, "error").empty()) std::cout << "      error: " << one_line(json_text(e, "error")) << "\n";
  }
}

void print_objective_trace(const Json& trace) {
  const Json& o = json_field(trace, "objective");
  std::cout << fmt::format("objective {} [{}] {}\n", json_text(o, "id"), json_text(o, "state"), one_line(json_text(o, "title"), 120));
  std::string by = json_text(o, "playbook").empty() ? json_text(o, "owner") : "playbook " + json_text(o, "playbook");
  std::cout << fmt::format("  {} · source {} · created {}\n", by.empty() ? "-" : by, json_text(o, "source"),
                           json_text(o, "created").empty() ? "-" : json_text(o, "created"));
  for (const auto& task : json_field(trace, "tasks")) print_task(task);
  const Json& approvals = json_field(trace, "approvals");
  if (!approvals.empty()) {
    std::cout << "\napprovals\n";
    for (const auto& a : approvals) {
      std::string answered = json_text(a, "answered_by").empty()
                                 ? "not answered"
                                 : "answered by " + json_text(a, "answered_by") + " at " + json_text(a, "answered");
      std::cout << fmt::format("  {} {} [{}] \"{}\" {}; {}\n", json_text(a, "id"), json_text(a, "kind"), json_text(a, "state"),
                               one_line(json_text(a, "title"), 100), rule_text(json_text(a, "rule")), answered);
    }
  }
  const Json& audit = json_field(trace, "audit");
  std::cout << fmt::format("\naudit ({} entries)\n", audit.size());
  for (const auto& j : audit) {
    AuditEntry e{json_field(j, "seq").is_number_integer() ? json_field(j, "seq").get<int64_t>() : 0,
                 json_field(j, "at").is_number_integer() ? json_field(j, "at").get<TimeMs>() : 0,
                 json_text(j, "actor"), json_text(j, "action"), json_text(j, "subject"), "", "", json_field(j, "data"), "", ""};
    std::cout << "  " << entry_line(e) << "\n";
  }
}

int cmd_trace(const GlobalOptions& global, const AuditArgs& args) {
  auto session = open_session(global);
  if (!session.ok()) return session_error(session.status());
  auto trace = build_objective_trace(*session->store, args.id);
  if (!trace.ok()) return report_error(trace.status());
  if (args.json) {
    print_json(*trace);
  } else {
    print_objective_trace(*trace);
  }
  return 0;
}

}  // namespace

void add_audit_commands(CLI::App& app, const GlobalOptions& global, int& code) {
  // Parsed values live as long as the commands' callbacks.
  auto args = std::make_shared<AuditArgs>();
  auto dispatch = [&code, args](CLI::App* sub, auto fn) { sub->callback([&code, args, fn] { code = fn(*args); }); };

  auto* audit = app.add_subcommand("audit", "the tamper-evident audit log: verify it, export its head, read it");
  audit->require_subcommand(1);

  auto* verify = audit->add_subcommand("verify", "check the hash chain; exit 1 and name the first bad entry if broken");
  verify->add_option("--head", args->head,
                     "a head exported earlier ({seq, hash} JSON, or a file holding it): also catches a cut tail");
  verify->add_flag("--json", args->json, "machine-readable output");
  dispatch(verify, [&global](const AuditArgs& a) { return cmd_audit_verify(global, a); });

  auto* head = audit->add_subcommand("head", "the newest entry's seq and hash, to keep elsewhere for verify --head");
  head->add_flag("--json", args->json, "machine-readable output");
  dispatch(head, [&global](const AuditArgs& a) { return cmd_audit_head(global, a.json); });

  auto* log = audit->add_subcommand("log", "audit entries, one a line: #seq time actor action subject data");
  log->add_option("--objective", args->objective, "only the entries of this objective");
  log->add_option("--after", args->after, "entries after this seq, oldest first (default: the newest --limit)");
  log->add_option("--limit", args->limit, "entries at most (default 50)");
  log->add_flag("--json", args->json, "machine-readable output");
  dispatch(log, [&global](const AuditArgs& a) { return cmd_audit_log(global, a); });

  auto* trace = app.add_subcommand(
      "trace", "who did what in a run: prompts and answers, tools and their arguments, rules, approvals");
  trace->add_option("objective", args->id, "objective id (or a task id of it)")->required();
  trace->add_flag("--json", args->json, "machine-readable output");
  dispatch(trace, [&global](const AuditArgs& a) { return cmd_trace(global, a); });
}

}  // namespace cadre
