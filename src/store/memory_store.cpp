#include "store/memory_store.h"

namespace cadre {
namespace {

Json time_json(TimeMs t) {
  return t > 0 ? Json(format_time_utc(t)) : Json(nullptr);
}

}  // namespace

Json to_json(const MemoryEvent& e) {
  return {
      {"seq", e.seq},          {"id", e.id},        {"type", e.type},     {"text", e.text},
      {"data", e.data},        {"facts", e.facts},  {"scope", e.scope},   {"entities", e.entities},
      {"at", time_json(e.at)}, {"task", e.task_id}, {"step", e.step_seq}, {"actor", e.actor}};
}

Json to_json(const EntityRecord& entity) {
  Json facts = Json::array();
  for (const auto& f : entity.facts)
    facts.push_back(
        {{"name", f.name}, {"value", f.value}, {"event", f.event_id}, {"at", time_json(f.at)}});
  return {{"key", entity.key},
          {"kind", entity.kind},
          {"slug", entity.slug},
          {"first_at", time_json(entity.first_at)},
          {"last_at", time_json(entity.last_at)},
          {"events", entity.events},
          {"facts", std::move(facts)}};
}

Json to_json(const MemorySummary& s) {
  return {{"seq", s.seq},
          {"id", s.id},
          {"subject", s.subject},
          {"scope", s.scope},
          {"period_start", time_json(s.period_start)},
          {"period_end", time_json(s.period_end)},
          {"text", s.text},
          {"sources", s.sources},
          {"method", s.method},
          {"task", s.task_id},
          {"created_at", time_json(s.created_at)}};
}

}  // namespace cadre
