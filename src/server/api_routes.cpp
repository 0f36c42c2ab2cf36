#include "server/api_routes.h"

#include "agents/objectives.h"
#include "agents/playbook_runner.h"
#include "agents/workspace_status.h"
#include "connectors/connector_hub.h"
#include "kernel/operations.h"
#include "policy/approvals.h"
#include "server/metrics.h"
#include "store/audit_chain.h"

namespace cadre {
namespace {

ApiResponse ok(Json body) { return {200, std::move(body)}; }

// A Result as the answer, or its error.
ApiResponse answer(Result<Json> result) {
  if (!result.ok()) return error_response(result.status());
  return ok(std::move(*result));
}

// ?limit=N within [1, max]; `fallback` when absent.
Result<int> limit_of(const ApiRequest& request, int fallback, int max) {
  auto it = request.query.find("limit");
  if (it == request.query.end()) return fallback;
  char* end = nullptr;
  const long value = std::strtol(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0' || value < 1 || value > max) {
    return Status::InvalidArgument("limit: must be a whole number from 1 to " + std::to_string(max) + ", got '" +
                                   it->second + "'");
  }
  return static_cast<int>(value);
}

std::string query_of(const ApiRequest& request, const std::string& name) {
  auto it = request.query.find(name);
  return it == request.query.end() ? "" : it->second;
}

Json string_property(const std::string& description) {
  return {{"type", "string"}, {"description", description}};
}

Json object_schema(Json properties, std::vector<std::string> required = {}) {
  Json schema = {{"type", "object"}, {"properties", std::move(properties)}, {"additionalProperties", false}};
  if (!required.empty()) schema["required"] = required;
  return schema;
}

class Routes {
 public:
  explicit Routes(const ApiContext& context) : c_(context) {}

  std::vector<Route> all() {
    std::vector<Route> routes;
    auto add = [&](std::string method, std::string path, std::string summary, bool changes, Json schema,
                   ApiHandler handler) {
      routes.push_back({std::move(method), "/api/v1" + path, std::move(summary), true, changes, std::move(schema),
                        std::move(handler)});
    };
    add("GET", "/status", "What runs, waits and failed; workers, pauses, approvals", false, nullptr,
        [this](const ApiRequest& r) { return status(r); });
    add("GET", "/objectives", "Objectives, newest first (?state=, ?limit=)", false, nullptr,
        [this](const ApiRequest& r) { return objectives(r); });
    add("POST", "/objectives", "Give an objective to an agent or the planner", true,
        object_schema({{"text", string_property("what is to be achieved")},
                       {"owner", string_property("an agent's name, or planner (the default)")},
                       {"inputs", {{"type", "object"}}},
                       {"budget_usd", {{"type", "number"}, {"minimum", 0}}}},
                      {"text"}),
        [this](const ApiRequest& r) { return add_objective(r); });
    add("GET", "/objectives/{id}", "One objective (or task) with its plan, tasks, steps and trace", false, nullptr,
        [this](const ApiRequest& r) { return answer(build_trace(*c_.store, r.params.at("id"), definition_versions(*c_.workspace))); });
    add("POST", "/objectives/{id}/cancel", "Cancel a run", true, nullptr, [this](const ApiRequest& r) {
      return done(cancel_run(*c_.store, r.params.at("id"), r.now), {{"cancelled", r.params.at("id")}});
    });
    add("POST", "/objectives/{id}/retry", "Retry a failed run from its failed tasks", true, nullptr,
        [this](const ApiRequest& r) {
          return done(retry_run(*c_.store, r.params.at("id"), r.now), {{"retried", r.params.at("id")}});
        });
    add("GET", "/tasks", "Tasks, newest first (?state=, ?objective=, ?agent=, ?limit=)", false, nullptr,
        [this](const ApiRequest& r) { return tasks(r); });
    add("GET", "/agents", "Agents: role, state, current work, spend today, last outcome", false, nullptr,
        [this](const ApiRequest& r) { return agents(r); });
    add("POST", "/agents/{name}/pause", "Pause one agent (the kill switch)", true,
        object_schema({{"reason", string_property("why")}}), [this](const ApiRequest& r) { return pause(r, true); });
    add("POST", "/agents/{name}/resume", "Resume one agent", true, nullptr,
        [this](const ApiRequest& r) { return pause(r, false); });
    add("POST", "/pause", "Pause all work (the kill switch)", true, object_schema({{"reason", string_property("why")}}),
        [this](const ApiRequest& r) { return pause(r, true); });
    add("POST", "/resume", "Resume all work", true, nullptr, [this](const ApiRequest& r) { return pause(r, false); });
    add("GET", "/playbooks", "Playbooks: description, inputs, steps, triggers, version", false, nullptr,
        [this](const ApiRequest&) { return playbooks(); });
    add("POST", "/playbooks/{name}/runs", "Start a playbook", true,
        object_schema({{"inputs", {{"type", "object"}}}}), [this](const ApiRequest& r) { return run_playbook(r); });
    add("GET", "/approvals", "The approval inbox (?all=true for answered items too)", false, nullptr,
        [this](const ApiRequest& r) { return approvals(r); });
    add("POST", "/approvals/{id}/approve", "Approve, optionally with edited arguments (args) or redo", true,
        object_schema({{"args", {{"description", "edited arguments, checked against the item's schema"}}},
                       {"redo", {{"type", "boolean"}}},
                       {"note", string_property("why")}}),
        [this](const ApiRequest& r) { return answer_item(r, true); });
    add("POST", "/approvals/{id}/reject", "Reject, with the reason the agent sees", true,
        object_schema({{"reason", string_property("why; shown to the agent")}}, {"reason"}),
        [this](const ApiRequest& r) { return answer_item(r, false); });
    add("GET", "/memory/search", "Hybrid search of memory (?q=, ?entity=, ?limit=)", false, nullptr,
        [this](const ApiRequest& r) { return search(r); });
    add("GET", "/memory/entities/{key}", "One entity: facts with their sources, recent events, summaries", false,
        nullptr, [this](const ApiRequest& r) { return entity(r); });
    add("GET", "/connectors", "Connectors, their tools and health", false, nullptr,
        [this](const ApiRequest&) { return connectors(); });
    add("GET", "/policies", "The policy rules and defaults in force", false, nullptr,
        [this](const ApiRequest&) { return ok(to_json(c_.workspace->policies)); });
    add("GET", "/audit", "Audit entries in order (?after=SEQ, ?objective=, ?limit=)", false, nullptr,
        [this](const ApiRequest& r) { return audit(r); });
    add("GET", "/audit/verify", "Verify the hash chain of the audit log", false, nullptr,
        [this](const ApiRequest&) { return verify(); });
    add("GET", "/metrics", "The metrics that compound, per agent and overall, with drift alerts (?days=)", false,
        nullptr, [this](const ApiRequest& r) { return metrics(r); });
    add("POST", "/manual-work", "Log work done by hand (automation coverage counts it)", true,
        object_schema({{"description", string_property("what was done")},
                       {"agent", string_property("the agent whose kind of work it is")},
                       {"minutes", {{"type", "integer"}, {"minimum", 0}}},
                       {"at", string_property("when it was done (ISO 8601); default now")}},
                      {"description"}),
        [this](const ApiRequest& r) { return manual_work(r); });
    return routes;
  }

 private:
  static ApiResponse done(const Status& status, Json body) {
    if (!status.ok()) return error_response(status);
    return ok(std::move(body));
  }

  ApiResponse status(const ApiRequest& r) { return answer(kernel_status(*c_.store, r.now)); }

  ApiResponse objectives(const ApiRequest& r) {
    ObjectiveFilter filter;
    auto limit = limit_of(r, 100, 1000);
    if (!limit.ok()) return error_response(limit.status(), "limit");
    filter.limit = *limit;
    const std::string state = query_of(r, "state");
    if (!state.empty()) {
      ObjectiveState parsed;
      if (!parse_objective_state(state, &parsed)) {
        return error_response(Status::InvalidArgument("state: not an objective state: '" + state + "'"), "state");
      }
      filter.state = parsed;
    }
    auto list = c_.store->list_objectives(filter);
    if (!list.ok()) return error_response(list.status());
    Json out = Json::array();
    for (const auto& o : *list) out.push_back(to_json(o));
    return ok(out);
  }

  ApiResponse add_objective(const ApiRequest& r) {
    ObjectiveRequest request;
    request.text = r.body.value("text", "");
    request.owner = r.body.value("owner", "planner");
    request.inputs = r.body.value("inputs", Json::object());
    request.budget_usd = r.body.value("budget_usd", 0.0);
    request.source = r.actor;
    auto started = start_objective(*c_.store, *c_.workspace, request, r.now);
    if (!started.ok()) return error_response(started.status());
    return {201, {{"objective", started->objective_id}, {"created", started->created}}};
  }

  ApiResponse tasks(const ApiRequest& r) {
    TaskFilter filter;
    auto limit = limit_of(r, 100, 1000);
    if (!limit.ok()) return error_response(limit.status(), "limit");
    filter.limit = *limit;
    filter.objective_id = query_of(r, "objective");
    filter.agent = query_of(r, "agent");
    const std::string state = query_of(r, "state");
    if (!state.empty()) {
      TaskState parsed;
      if (!parse_task_state(state, &parsed)) {
        return error_response(Status::InvalidArgument("state: not a task state: '" + state + "'"), "state");
      }
      filter.state = parsed;
    }
    auto list = c_.store->list_tasks(filter);
    if (!list.ok()) return error_response(list.status());
    Json out = Json::array();
    for (const auto& t : *list) out.push_back(to_json(t));
    return ok(out);
  }

  ApiResponse agents(const ApiRequest& r) {
    auto pauses = c_.store->pauses();
    if (!pauses.ok()) return error_response(pauses.status());
    Json out = Json::array();
    for (const auto& [name, agent] : c_.workspace->agents) {
      const bool paused = std::any_of(pauses->begin(), pauses->end(), [&](const PauseRecord& p) {
        return p.target == "*" || p.target == name;
      });
      out.push_back(agent_summary(*c_.store, *agent, paused, r.now));
    }
    return ok(out);
  }

  ApiResponse pause(const ApiRequest& r, bool paused) {
    std::string target = "*";
    if (auto it = r.params.find("name"); it != r.params.end()) {
      target = it->second;
      if (c_.workspace->find_agent(target) == nullptr) {
        return error_response(Status::NotFound("there is no agent '" + target + "'"));
      }
    }
    const std::string reason = r.body.is_object() ? r.body.value("reason", "") : "";
    return done(set_pause(*c_.store, target, paused, r.actor, reason, r.now),
                {{"target", target}, {"paused", paused}});
  }

  ApiResponse playbooks() {
    Json out = Json::array();
    for (const auto& [name, playbook] : c_.workspace->playbooks) {
      Json row = playbook.to_json();
      row["version"] = playbook.version();
      row["file"] = playbook.file;
      out.push_back(std::move(row));
    }
    return ok(out);
  }

  ApiResponse run_playbook(const ApiRequest& r) {
    RunRequest request;
    request.playbook = r.params.at("name");
    if (c_.workspace->playbooks.count(request.playbook) == 0) {
      return error_response(Status::NotFound("there is no playbook '" + request.playbook + "'"));
    }
    request.inputs = r.body.is_object() ? r.body.value("inputs", Json::object()) : Json::object();
    request.source = r.actor;
    auto started = start_playbook(*c_.store, *c_.workspace, request, r.now);
    if (!started.ok()) return error_response(started.status(), "inputs");
    return {201, {{"objective", started->objective_id}}};
  }

  ApiResponse approvals(const ApiRequest& r) {
    ApprovalFilter filter;
    const bool all = query_of(r, "all") == "true";
    if (!all) filter.state = ApprovalState::kPending;
    filter.limit = all ? 100 : 1000;
    auto items = c_.store->list_approvals(filter);
    if (!items.ok()) return error_response(items.status());
    Json out = Json::array();
    for (const auto& a : *items) out.push_back(to_json(a));
    return ok(out);
  }

  ApiResponse answer_item(const ApiRequest& r, bool approve) {
    const Json body = r.body.is_object() ? r.body : Json::object();
    ApprovalAnswer reply;
    reply.decision = approve ? (body.value("redo", false) ? "redo" : "approve") : "reject";
    reply.args = approve ? body.value("args", Json()) : Json();
    reply.reason = approve ? body.value("note", "") : body.value("reason", "");
    reply.by = r.actor;
    auto answered = answer_approval(*c_.store, r.params.at("id"), reply, r.now);
    if (!answered.ok()) return error_response(answered.status(), reply.args.is_null() ? "" : "args");
    return ok(to_json(*answered));
  }

  ApiResponse search(const ApiRequest& r) {
    if (c_.memory == nullptr) return error_response(Status::Unavailable("memory is not open in this process"));
    SearchRequest request;
    request.query = query_of(r, "q");
    if (request.query.empty()) return error_response(Status::InvalidArgument("q: give the words to search for"), "q");
    if (const std::string entity = query_of(r, "entity"); !entity.empty()) request.filter.entities = {entity};
    auto limit = limit_of(r, 10, 100);
    if (!limit.ok()) return error_response(limit.status(), "limit");
    request.limit = *limit;
    auto found = c_.memory->search(request);
    if (!found.ok()) return error_response(found.status());
    Json hits = Json::array();
    for (const auto& hit : found->hits) hits.push_back(to_json(hit));
    return ok({{"hits", hits}, {"warnings", found->warnings}});
  }

  ApiResponse entity(const ApiRequest& r) {
    if (c_.memory == nullptr) return error_response(Status::Unavailable("memory is not open in this process"));
    return answer(c_.memory->entity(r.params.at("key"), 20));
  }

  ApiResponse connectors() {
    auto health = c_.store->connector_states("health");
    if (!health.ok()) return error_response(health.status());
    Json out = Json::array();
    for (const auto& def : c_.workspace->connectors) {
      auto it = health->find(def.name);
      out.push_back(connector_status(def, it == health->end() ? Json() : it->second));
    }
    return ok(out);
  }

  ApiResponse audit(const ApiRequest& r) {
    AuditFilter filter;
    auto limit = limit_of(r, 100, 1000);
    if (!limit.ok()) return error_response(limit.status(), "limit");
    filter.limit = *limit;
    filter.objective_id = query_of(r, "objective");
    if (const std::string after = query_of(r, "after"); !after.empty()) {
      char* end = nullptr;
      filter.after_seq = std::strtoll(after.c_str(), &end, 10);
      if (*end != '\0' || filter.after_seq < 0) {
        return error_response(Status::InvalidArgument("after: must be a sequence number, got '" + after + "'"),
                              "after");
      }
    }
    auto entries = c_.store->audit().list(filter);
    if (!entries.ok()) return error_response(entries.status());
    Json out = Json::array();
    for (const auto& e : *entries) out.push_back(to_json(e));
    return ok(out);
  }

  ApiResponse metrics(const ApiRequest& r) {
    MetricsOptions options = metrics_options(*c_.workspace);
    if (const std::string days = query_of(r, "days"); !days.empty()) {
      char* end = nullptr;
      options.days = static_cast<int>(std::strtol(days.c_str(), &end, 10));
      if (*end != '\0') return error_response(Status::InvalidArgument("days: must be a whole number"), "days");
    }
    auto figures = compute_metrics(*c_.store, *c_.workspace, r.now, options);
    if (!figures.ok()) return error_response(figures.status(), "days");
    return ok(std::move(*figures));
  }

  ApiResponse manual_work(const ApiRequest& r) {
    ManualWorkRequest request;
    request.description = r.body.value("description", "");
    request.agent = r.body.value("agent", "");
    request.minutes = r.body.value("minutes", int64_t{0});
    if (const std::string at = r.body.value("at", ""); !at.empty()) {
      auto parsed = parse_time_utc(at);
      if (!parsed.ok()) return error_response(Status::InvalidArgument("at: " + parsed.status().message()), "/at");
      request.at = *parsed;
    }
    auto logged = record_manual_work(*c_.store, *c_.workspace, request, r.actor, r.now);
    if (!logged.ok()) return error_response(logged.status());
    return {201, to_json(*logged)};
  }

  ApiResponse verify() {
    auto verified = verify_audit_chain(c_.store->audit());
    if (!verified.ok()) return error_response(verified.status());
    return ok(to_json(*verified));
  }

  ApiContext c_;
};

}  // namespace

std::vector<Route> api_routes(const ApiContext& context) {
  // The handlers call into `routes`; each keeps it alive.
  auto routes = std::make_shared<Routes>(context);
  std::vector<Route> all = routes->all();
  for (auto& route : all) {
    route.handler = [routes, handler = std::move(route.handler)](const ApiRequest& r) { return handler(r); };
  }
  return all;
}

}  // namespace cadre
