// `cadre memory note | search | entity | compact | reindex`.
#include <fmt/format.h>

#include <iostream>

#include "agents/runtime.h"
#include "agents/workspace_secrets.h"
#include "cli/session.h"
#include "core/duration.h"
#include "core/id.h"
#include "memory/compaction.h"
#include "memory/memory.h"

namespace cadre {
namespace {

// The workspace's memory as `cadre serve` sees it (same embedder, same
// saved index), without starting a kernel.
struct MemorySession {
  Session session;
  std::unique_ptr<ModelGateway> gateway;
  std::unique_ptr<Memory> memory;
};

Result<MemorySession> open_memory_session(const GlobalOptions& global) {
  MemorySession m;
  CADRE_ASSIGN_OR_RETURN(m.session, open_session(global));
  const Workspace& ws = m.session.workspace;
  CADRE_RETURN_IF_ERROR(m.session.secrets_status);
  m.gateway = std::make_unique<ModelGateway>(ws.config.models, ws.root, m.session.store.get(),
                                             SystemClock::instance(), make_key_resolver(m.session.secrets));
  CADRE_RETURN_IF_ERROR(m.gateway->init().with_context("cadre.yaml models"));
  CADRE_ASSIGN_OR_RETURN(m.memory, open_memory(m.session.store->memory(), ws.config.memory, m.gateway.get(),
                                               workspace_state_dir(ws), SystemClock::instance()));
  return m;
}

// An ISO 8601 time, or a duration meaning that long ago ("30d").
Result<TimeMs> parse_when(const std::string& option, const std::string& text) {
  if (auto t = parse_time_utc(text); t.ok()) return *t;
  if (auto d = parse_duration(text); d.ok()) return now_ms() - *d;
  return Status::InvalidArgument(option + " '" + text +
                                 "' is neither a time (2026-11-01T09:00:00Z) nor a duration ago (30d)");
}

std::string joined(const Json& list) {
  std::string out;
  for (const auto& item : list) out += (out.empty() ? "" : " ") + item.get<std::string>();
  return out;
}

}  // namespace

int cmd_memory_note(const GlobalOptions& global, const MemoryNoteArgs& args) {
  auto m = open_memory_session(global);
  if (!m.ok()) return session_error(m.status());
  MemoryEvent event;
  event.text = args.text;
  event.entities = args.entities;
  event.scope = args.scope;
  event.type = args.type;
  event.actor = "operator";
  for (const auto& pair : args.facts) {
    auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) return usage_error("--fact '" + pair + "' must look like name=value");
    // A value that reads as JSON (5, true, {"a":1}) keeps its type; anything else is text.
    auto value = parse_json(pair.substr(eq + 1), "--fact");
    event.facts[pair.substr(0, eq)] = value.ok() ? *value : Json(pair.substr(eq + 1));
  }
  if (!args.at.empty()) {
    auto at = parse_when("--at", args.at);
    if (!at.ok()) return usage_error(at.status().message());
    event.at = *at;
  }
  auto recorded = m->memory->record({event});
  if (!recorded.ok()) return report_error(recorded.status());
  const MemoryEvent& e = recorded->at(0);
  if (args.json) {
    print_json(to_json(e));
  } else {
    std::cout << "noted " << e.id << " in scope " << e.scope
              << (e.entities.empty() ? "" : " about " + joined(Json(e.entities))) << "\n";
  }
  return 0;
}

int cmd_memory_search(const GlobalOptions& global, const MemorySearchArgs& args) {
  auto m = open_memory_session(global);
  if (!m.ok()) return session_error(m.status());
  SearchRequest request;
  request.query = args.query;
  request.limit = args.limit;
  request.prefer_summaries = !args.raw;
  request.filter.entities = args.entities;
  if (!args.scope.empty()) request.filter.scopes = {args.scope};
  if (!args.type.empty()) request.filter.types = {args.type};
  for (auto [option, text, out] : {std::tuple{"--since", &args.since, &request.filter.since},
                                   std::tuple{"--until", &args.until, &request.filter.until}}) {
    if (text->empty()) continue;
    auto t = parse_when(option, *text);
    if (!t.ok()) return usage_error(t.status().message());
    *out = *t;
  }
  auto found = m->memory->search(request);
  if (!found.ok()) return report_error(found.status());
  for (const auto& warning : found->warnings) std::cerr << "warning: " << warning << "\n";
  if (args.json) {
    Json hits = Json::array();
    for (const auto& hit : found->hits) hits.push_back(to_json(hit));
    print_json({{"query", args.query}, {"hits", hits}, {"warnings", found->warnings}});
    return 0;
  }
  if (found->hits.empty()) {
    std::cout << "nothing in memory matches\n";
    return 0;
  }
  int n = 0;
  for (const auto& hit : found->hits) {
    std::string matched;
    for (const auto& [retriever, rank] : hit.matched.items()) {
      if (retriever == "via") continue;
      matched += (matched.empty() ? "" : ", ") + retriever + " #" + std::to_string(rank.get<int>());
    }
    std::cout << fmt::format("{:>2}. {:.4f}  {:<8} {}  {}  {}\n", ++n, hit.score, hit.type, format_date_utc(hit.at),
                             hit.id, joined(Json(hit.entities)));
    std::cout << "    " << one_line(hit.text, 240) << "\n";
    std::cout << "    matched: " << matched;
    if (hit.matched.contains("via")) std::cout << "; summarizes " << joined(hit.matched["via"]);
    std::cout << "\n";
  }
  return 0;
}

int cmd_memory_entity(const GlobalOptions& global, const std::string& key, bool json) {
  auto m = open_memory_session(global);
  if (!m.ok()) return session_error(m.status());
  auto entity = m->memory->entity(key, 20);
  if (!entity.ok()) return report_error(entity.status());
  if (json) {
    print_json(*entity);
    return 0;
  }
  const Json& e = *entity;
  std::cout << e.value("key", key) << "  (" << e.value("events", 0) << " events, "
            << e.value("first_at", std::string()).substr(0, 10) << " .. "
            << e.value("last_at", std::string()).substr(0, 10) << ")\n";
  std::cout << "facts:\n";
  if (e["facts"].empty()) std::cout << "  (none)\n";
  for (const auto& fact : e["facts"]) {
    std::cout << fmt::format("  {} = {}   (from {}, {})\n", fact.value("name", ""),
                             fact["value"].is_string() ? fact["value"].get<std::string>() : dump_json(fact["value"]),
                             fact.value("event", ""), fact.value("at", std::string()).substr(0, 10));
  }
  std::cout << "recent events:\n";
  for (const auto& ev : e["recent"]) {
    std::cout << fmt::format("  {}  {:<8} {}  {}\n", ev.value("at", std::string()).substr(0, 10),
                             ev.value("type", ""), ev.value("id", ""), one_line(ev.value("text", ""), 160));
  }
  if (!e["summaries"].empty()) {
    std::cout << "summaries:\n";
    for (const auto& s : e["summaries"]) {
      std::cout << fmt::format("  {}  {}  ({} events)\n", s.value("period_start", std::string()).substr(0, 10),
                               s.value("id", ""), s["sources"].size());
    }
  }
  return 0;
}

int cmd_memory_compact(const GlobalOptions& global, double timeout_s, bool json) {
  auto session = open_session(global);
  if (!session.ok()) return session_error(session.status());
  TimeMs now = now_ms();
  std::string id = new_id("obj", now);
  auto created = start_compaction(*session->store, id, "manual", "", now);
  if (!created.ok()) return report_error(created.status());
  if (!json) std::cout << "compaction " << id << " started\n";
  return carry_out(*session, id, timeout_s, json, [&](const ObjectiveRecord& o) {
    if (o.state != ObjectiveState::kSucceeded) {
      std::cout << to_string(o.state) << (o.error.empty() ? "" : ": " + o.error) << "\n";
      return;
    }
    auto outputs = session->store->task_outputs(o.id);
    Json summaries = outputs.ok() ? (*outputs)["compact"]["output"].value("summaries", Json::array()) : Json();
    std::cout << "wrote " << summaries.size() << (summaries.size() == 1 ? " summary" : " summaries") << "\n";
    for (const auto& s : summaries) {
      std::cout << "  " << s.value("id", "") << "  " << s.value("subject", "") << "  ("
                << s.value("events", 0) << " events, " << s.value("method", "") << ")\n";
    }
  });
}

int cmd_memory_reindex(const GlobalOptions& global, bool json) {
  auto m = open_memory_session(global);
  if (!m.ok()) return session_error(m.status());
  Status s = m->memory->reindex();
  if (!s.ok()) return report_error(s);
  auto events = m->memory->store().event_count();
  if (!events.ok()) return report_error(events.status());
  if (json) {
    print_json({{"events", *events}, {"embedder", m->memory->embedder_id()}});
  } else {
    std::cout << "reindexed " << *events << " events (entities, facts, full text, vectors by "
              << m->memory->embedder_id() << ")\n";
  }
  return 0;
}

}  // namespace cadre
