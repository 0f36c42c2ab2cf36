#include "memory/memory_tools.h"

#include <algorithm>
#include <functional>

#include "core/hash.h"

namespace cadre {
namespace {

constexpr int kMaxToolHits = 20;

using Invoke = std::function<Result<Json>(Memory&, const ToolCall&)>;

class MemoryTool final : public Tool {
 public:
  MemoryTool(ToolSpec spec, Memory* memory, Invoke invoke)
      : spec_(std::move(spec)), memory_(memory), invoke_(std::move(invoke)) {}
  const ToolSpec& spec() const override { return spec_; }
  Result<Json> invoke(const ToolCall& call) override {
    if (memory_ == nullptr) return Status::FailedPrecondition(spec_.name + ": memory is not open in this process");
    if (!call.args.is_object()) return Status::InvalidArgument(spec_.name + ": arguments must be an object");
    return invoke_(*memory_, call);
  }

 private:
  ToolSpec spec_;
  Memory* memory_;
  Invoke invoke_;
};

ToolSpec spec(std::string name, std::string description, RiskClass risk, const char* schema) {
  ToolSpec s;
  s.name = std::move(name);
  s.description = std::move(description);
  s.risk = risk;
  s.idempotent = true;
  s.input_schema = Json::parse(schema);
  return s;
}

// The scopes an agent's call is confined to, for reading and writing;
// empty for a playbook step (reads any scope, writes "shared" by default).
std::vector<std::string> confined_scopes(const ToolCall& call) {
  return call.caller.agent.empty() ? std::vector<std::string>{} : call.caller.memory_scopes;
}

Result<Json> search(Memory& memory, const ToolCall& call) {
  SearchRequest request;
  request.query = call.args.value("query", std::string());
  if (request.query.empty()) return Status::InvalidArgument("memory.search: 'query' must not be empty");
  request.limit = std::clamp(call.args.value("limit", 5), 1, kMaxToolHits);
  request.filter.scopes = confined_scopes(call);
  if (call.args.contains("entity")) request.filter.entities = {call.args["entity"].get<std::string>()};
  if (call.args.contains("type")) request.filter.types = {call.args["type"].get<std::string>()};
  CADRE_ASSIGN_OR_RETURN(SearchResult found, memory.search(request));
  Json hits = Json::array();
  for (const auto& hit : found.hits) {
    hits.push_back({{"id", hit.id},
                    {"kind", hit.kind},
                    {"text", hit.text},
                    {"at", format_time_utc(hit.at)},
                    {"entities", hit.entities},
                    {"score", hit.score}});
  }
  return Json{{"hits", hits}};
}

Result<Json> note(Memory& memory, const ToolCall& call) {
  MemoryEvent event;
  // From the step's key: a retried or replayed step records the same event once.
  event.id = "mem_" + sha256_hex(call.idempotency_key).substr(0, 26);
  event.text = call.args.value("text", std::string());
  event.type = call.args.value("type", std::string("note"));
  if (call.args.contains("entities")) event.entities = call.args["entities"].get<std::vector<std::string>>();
  event.facts = call.args.value("facts", Json::object());
  std::vector<std::string> writable = confined_scopes(call);
  event.scope = call.args.value("scope", writable.empty() ? std::string("shared") : writable.front());
  if (!writable.empty() && std::find(writable.begin(), writable.end(), event.scope) == writable.end()) {
    std::string list;
    for (const auto& s : writable) list += (list.empty() ? "" : ", ") + s;
    return Status::FailedPrecondition("memory.note: scope '" + event.scope + "' is not one of this agent's (" +
                                      list + ")");
  }
  event.task_id = call.caller.task_id;
  event.step_seq = call.caller.step_seq;
  event.actor = call.caller.agent.empty() ? "playbook" : "agent:" + call.caller.agent;
  if (call.clock != nullptr) event.at = call.clock->now_ms();
  auto recorded = memory.record({event});
  if (!recorded.ok()) return recorded.status().with_context("memory.note");
  return Json{{"id", recorded->at(0).id}, {"scope", recorded->at(0).scope}};
}

Result<Json> entity(Memory& memory, const ToolCall& call) {
  std::string key = call.args.value("key", std::string());
  auto found = memory.entity(key, 10);
  if (found.status().is(StatusCode::kNotFound)) return Json{{"key", key}, {"known", false}};
  CADRE_RETURN_IF_ERROR(found.status());
  Json out = *found;
  std::vector<std::string> scopes = confined_scopes(call);
  if (!scopes.empty()) {  // an agent sees recent events of its own scopes only
    Json visible = Json::array();
    for (const auto& e : out["recent"]) {
      if (std::find(scopes.begin(), scopes.end(), e.value("scope", std::string())) != scopes.end()) {
        visible.push_back(e);
      }
    }
    out["recent"] = visible;
  }
  out["known"] = true;
  return out;
}

}  // namespace

Status register_memory_tools(ToolRegistry& registry, Memory* memory) {
  CADRE_RETURN_IF_ERROR(registry.add(std::make_shared<MemoryTool>(
      spec("memory.search",
           "Search the workspace's memory (events, notes, summaries) by meaning and keywords. "
           "Returns the best hits first.",
           RiskClass::kRead,
           R"({"type":"object","required":["query"],"additionalProperties":false,"properties":{
                "query":{"type":"string","minLength":1},
                "entity":{"type":"string","description":"only hits about this entity, e.g. customer:acme"},
                "type":{"type":"string"},
                "limit":{"type":"integer","minimum":1,"maximum":20}}})"),
      memory, search)));
  CADRE_RETURN_IF_ERROR(registry.add(std::make_shared<MemoryTool>(
      spec("memory.note",
           "Record a fact or event in memory so later tasks know it. Name the entities it is about "
           "(KIND:NAME, e.g. customer:acme) and, optionally, facts about them.",
           RiskClass::kWrite,
           R"({"type":"object","required":["text"],"additionalProperties":false,"properties":{
                "text":{"type":"string","minLength":1},
                "entities":{"type":"array","items":{"type":"string"}},
                "facts":{"type":"object"},
                "type":{"type":"string"},
                "scope":{"type":"string"}}})"),
      memory, note)));
  CADRE_RETURN_IF_ERROR(registry.add(std::make_shared<MemoryTool>(
      spec("memory.entity", "What memory knows of one entity: its facts and recent events.", RiskClass::kRead,
           R"({"type":"object","required":["key"],"additionalProperties":false,"properties":{
                "key":{"type":"string","description":"KIND:NAME, e.g. customer:acme"}}})"),
      memory, entity)));
  return Status::Ok();
}

}  // namespace cadre
