#include "policy/trace.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "core/hash.h"
#include "kernel/operations.h"
#include "store/audit_chain.h"

namespace cadre {
namespace {

double number(const Json& j, const char* key) {
  const Json& v = json_field(j, key);
  return v.is_number() ? v.get<double>() : 0.0;
}

int64_t integer(const Json& j, const char* key) {
  const Json& v = json_field(j, key);
  return v.is_number_integer() ? v.get<int64_t>() : 0;
}

Json common_fields(const Json& step) {
  Json event = Json::object();
  for (const char* key : {"seq", "name", "kind", "state", "attempts", "error", "started", "finished", "duration_ms"})
    event[key] = json_field(step, key);
  return event;
}

// An agent's opening prompt (the `context` step): its hash covers the
// system and user text as sent.
void add_context(Json& event, const Json& step) {
  const Json& out = json_field(step, "output");
  std::string system = json_text(out, "system");
  std::string user = json_text(out, "user");
  event["prompt"] = {{"system", system},
                     {"user", user},
                     {"sha256", sha256_hex(system + "\n" + user)},
                     {"chars", system.size() + user.size()}};
  const Json& memory = json_field(out, "memory");
  event["memory"] = memory.is_array() ? memory : Json::array();
}

// The prompt's hash is SHA-256 of the canonical request: the gateway's
// request key, the one the model cache and recordings use.
Json prompt_of(const Json& request) {
  const Json& messages = json_field(request, "messages");
  size_t chars = 0;
  if (messages.is_array()) {
    for (const auto& m : messages) chars += json_text(m, "content").size();
  }
  return {{"sha256", request.is_null() ? "" : sha256_hex(dump_json(request))},
          {"chars", chars},
          {"messages", messages.is_array() ? messages.size() : 0},
          {"request", request}};
}

Json answer_of(const Json& response) {
  if (!response.is_object()) return nullptr;
  std::string content = json_text(response, "content");
  const Json& calls = json_field(response, "tool_calls");
  return {{"content", content},
          {"sha256", sha256_hex(content)},
          {"chars", content.size()},
          {"tool_calls", calls.is_array() ? calls : Json::array()},
          {"finish_reason", json_text(response, "finish_reason")}};
}

Json call_of(const Json& call, const Json& response) {
  if (!call.is_object()) return nullptr;
  const Json& usage = json_field(response, "usage");
  return {{"provider", json_text(call, "provider")},
          {"model", json_text(call, "model")},
          {"cost_usd", number(call, "cost_usd")},
          {"input_tokens", integer(usage, "input_tokens")},
          {"output_tokens", integer(usage, "output_tokens")},
          {"cached", json_field(call, "cached").is_boolean() && json_field(call, "cached").get<bool>()},
          {"latency_ms", integer(call, "latency_ms")}};
}

void add_model(Json& event, const Json& step, const std::string& actor) {
  const Json& in = json_field(step, "input");
  const Json& out = json_field(step, "output");
  std::string agent = json_text(in, "agent");
  event["actor"] = agent.empty() ? actor : "agent:" + agent;
  event["tier"] = json_text(in, "tier");
  event["prompt"] = prompt_of(json_field(in, "request"));
  event["answer"] = answer_of(json_field(out, "response"));
  event["call"] = call_of(json_field(out, "call"), json_field(out, "response"));
}

// What a policy step decided about: the step's name after "policy.", or a
// tool or tier its output names.
std::string policy_subject(const Json& step) {
  const Json& out = json_field(step, "output");
  for (const char* key : {"tool", "tier", "subject"}) {
    if (!json_text(out, key).empty()) return json_text(out, key);
  }
  std::string name = json_text(step, "name");
  const std::string prefix = "policy.";
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : "";
}

// Whether a decision about `subject` is about this tool or model event.
bool decision_fits(const std::string& subject, const Json& event) {
  if (subject.empty()) return true;
  std::string name = json_text(event, "name");
  std::string tier = json_text(event, "tier");
  return subject == name || (!tier.empty() && (subject == tier || subject == "model." + tier)) ||
         "model." + subject == name;
}

std::string approval_id_of(const Json& step) {
  std::string id = json_text(json_field(step, "input"), "id");
  return id.empty() ? json_text(json_field(step, "output"), "approval_id") : id;
}

// The decisions and answers seen in the journal that have not yet been
// matched to the effect they let happen.
struct Pending {
  std::optional<Json> policy;
  std::optional<Json> approval;
  const Json* audit_decisions = nullptr;  // policy.decision entries of the task, by seq
  size_t next_audit = 0;

  // The journaled decision, else the next audited one about this subject.
  Json take_policy(const Json& event) {
    if (policy && decision_fits(json_text(*policy, "subject"), event)) {
      Json taken = std::move(*policy);
      policy.reset();
      return taken;
    }
    if (audit_decisions == nullptr || !audit_decisions->is_array()) return nullptr;
    for (size_t i = next_audit; i < audit_decisions->size(); ++i) {
      const Json& entry = (*audit_decisions)[i];
      const Json& data = json_field(entry, "data");
      if (json_text(data, "decision") == "deny" || !decision_fits(json_text(entry, "subject"), event)) continue;
      next_audit = i + 1;
      return {{"decision", json_text(data, "decision")},
              {"rule", json_text(data, "rule")},
              {"reason", json_text(data, "reason")},
              {"from", "audit #" + std::to_string(integer(entry, "seq"))}};
    }
    return nullptr;
  }

  Json take_approval(const Json& event) {
    if (!approval) return nullptr;
    // An approved tool call belongs to that tool's next call, not to a model call between.
    std::string tool = json_text(*approval, "tool");
    if (!tool.empty() && (json_text(event, "kind") != "tool" || tool != json_text(event, "name"))) return nullptr;
    Json taken = std::move(*approval);
    approval.reset();
    return taken;
  }
};

void link_decisions(Json& event, Pending& pending) {
  Json policy = pending.take_policy(event);
  if (!policy.is_null()) event["policy"] = std::move(policy);
  Json approval = pending.take_approval(event);
  if (!approval.is_null()) event["approval"] = std::move(approval);
}

void add_policy(Json& event, const Json& step, Pending& pending) {
  const Json& out = json_field(step, "output");
  event["subject"] = policy_subject(step);
  event["decision"] = json_text(out, "decision");
  event["rule"] = json_text(out, "rule");
  event["reason"] = json_text(out, "reason");
  pending.policy.reset();
  // A denial let nothing happen; anything else is what the next effect ran under.
  if (json_text(out, "decision") != "deny") {
    pending.policy = Json{{"subject", event["subject"]},
                          {"decision", event["decision"]},
                          {"rule", event["rule"]},
                          {"reason", event["reason"]},
                          {"from", "step #" + std::to_string(integer(step, "seq"))}};
  }
}

void add_approval(Json& event, const Json& step, const Json& approvals_by_id, Pending& pending) {
  const Json& in = json_field(step, "input");
  const Json& out = json_field(step, "output");
  std::string id = approval_id_of(step);
  bool answered = out.is_object();
  bool edited = answered && !json_field(out, "args").is_null();
  event["approval_id"] = id;
  event["request"] = in;
  event["answer"] = answered ? out : Json(nullptr);
  event["decision"] = json_text(out, "decision");
  event["by"] = json_text(out, "by");
  event["edited"] = edited;
  if (const Json& record = json_field(approvals_by_id, id.c_str()); !record.is_null()) event["record"] = record;
  pending.approval.reset();
  if (answered && json_text(out, "decision") == "approve") {
    pending.approval = Json{{"approval_id", id},
                            {"decision", "approve"},
                            {"by", json_text(out, "by")},
                            {"edited", edited},
                            {"tool", json_text(json_field(in, "request"), "tool")}};
  }
}

std::string actor_of(const Json& task, const Json& objective) {
  if (!json_text(task, "agent").empty()) return "agent:" + json_text(task, "agent");
  if (!json_text(objective, "playbook").empty()) return "playbook:" + json_text(objective, "playbook");
  return json_text(task, "kind");
}

Result<Json> objective_approvals(Store& store, const std::string& objective_id) {
  ApprovalFilter filter;
  filter.objective_id = objective_id;
  filter.limit = 100000;
  CADRE_ASSIGN_OR_RETURN(auto approvals, store.list_approvals(filter));
  std::reverse(approvals.begin(), approvals.end());  // oldest first, like the journal
  Json out = Json::array();
  for (const auto& a : approvals) out.push_back(to_json(a));
  return out;
}

Result<std::vector<AuditEntry>> objective_audit(Store& store, const std::string& objective_id) {
  std::vector<AuditEntry> all;
  AuditFilter filter;
  filter.objective_id = objective_id;
  filter.limit = 1000;
  while (true) {
    CADRE_ASSIGN_OR_RETURN(auto page, store.audit().list(filter));
    if (page.empty()) break;
    filter.after_seq = page.back().seq;
    all.insert(all.end(), std::make_move_iterator(page.begin()), std::make_move_iterator(page.end()));
  }
  return all;
}

Json policy_decisions_of(const std::vector<AuditEntry>& audit, const std::string& task_id) {
  Json out = Json::array();
  for (const auto& e : audit) {
    if (e.task_id == task_id && e.action == "policy.decision") out.push_back(to_json(e));
  }
  return out;
}

}  // namespace

Json trace_events(const Json& steps, const std::string& actor, const Json& approvals_by_id,
                  const Json& audit_decisions) {
  Json events = Json::array();
  if (!steps.is_array()) return events;
  Pending pending;
  pending.audit_decisions = &audit_decisions;
  for (const auto& step : steps) {
    Json event = common_fields(step);
    std::string kind = json_text(step, "kind");
    if (kind == "context") {
      add_context(event, step);
    } else if (kind == "model") {
      add_model(event, step, actor);
      link_decisions(event, pending);
    } else if (kind == "tool") {
      event["tool"] = json_text(step, "name");
      event["actor"] = actor;
      event["args"] = json_field(step, "input");
      event["result"] = json_field(step, "output");
      link_decisions(event, pending);
    } else if (kind == "policy") {
      add_policy(event, step, pending);
    } else if (kind == "approval") {
      add_approval(event, step, approvals_by_id, pending);
    } else if (kind == "lock") {
      event["resource"] = json_text(json_field(step, "input"), "resource");
      event["actor"] = actor;
    } else {
      event["input"] = json_field(step, "input");
      event["output"] = json_field(step, "output");
    }
    events.push_back(std::move(event));
  }
  return events;
}

Result<Json> build_objective_trace(Store& store, const std::string& id) {
  // No workspace here: version drift is `cadre show`'s business.
  CADRE_ASSIGN_OR_RETURN(Json trace, build_trace(store, id, Json::object()));
  trace.erase("version_drift");
  const Json objective = trace["objective"];
  const std::string objective_id = json_text(objective, "id");
  CADRE_ASSIGN_OR_RETURN(Json approvals, objective_approvals(store, objective_id));
  CADRE_ASSIGN_OR_RETURN(std::vector<AuditEntry> audit, objective_audit(store, objective_id));
  Json approvals_by_id = Json::object();
  for (const auto& a : approvals) approvals_by_id[json_text(a, "id")] = a;
  for (Json& task : trace["tasks"]) {
    std::string actor = actor_of(task, objective);
    task["actor"] = actor;
    task["events"] = trace_events(json_field(task, "steps"), actor, approvals_by_id,
                                  policy_decisions_of(audit, json_text(task, "id")));
    task.erase("steps");
  }
  trace["approvals"] = std::move(approvals);
  trace["audit"] = Json::array();
  for (const auto& e : audit) trace["audit"].push_back(to_json(e));
  return trace;
}

}  // namespace cadre
