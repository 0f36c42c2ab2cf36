#include "memory/context.h"

#include <set>

namespace cadre {
namespace {

constexpr size_t kMaxItemChars = 600;

std::string clip(const std::string& text) {
  if (text.size() <= kMaxItemChars) return text;
  size_t cut = kMaxItemChars;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // keep UTF-8 whole
  return text.substr(0, cut) + "…";
}

std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

std::string event_line(const std::string& id, TimeMs at, const std::string& type,
                       const std::vector<std::string>& entities, const std::string& text) {
  std::string tags = id + " " + format_date_utc(at) + " " + type;
  for (const auto& e : entities) tags += " " + e;
  return "[" + tags + "] " + one_line(clip(text));
}

std::string matched_why(const Json& matched) {
  std::string why;
  for (const char* retriever : {"lexical", "vector", "key"}) {
    if (!matched.contains(retriever)) continue;
    if (!why.empty()) why += ", ";
    why += std::string(retriever) + " #" + std::to_string(matched[retriever].get<int>());
  }
  if (matched.contains("via")) why += (why.empty() ? "" : ", ") + std::string("summarizes a matching event");
  return why;
}

}  // namespace

Json to_json(const ContextItem& item) {
  return {{"kind", item.kind}, {"source", item.source}, {"why", item.why}, {"tokens", item.tokens},
          {"text", item.text}};
}

int estimate_tokens(std::string_view text) { return static_cast<int>((text.size() + 3) / 4); }

Result<std::vector<ContextItem>> assemble_context(Memory& memory, const ContextRequest& request) {
  std::vector<ContextItem> items;
  if (request.token_budget <= 0) return items;
  int left = request.token_budget;
  std::set<std::string> included;
  auto offer = [&](ContextItem item) {
    if (included.count(item.source)) return;
    item.tokens = estimate_tokens(item.text);
    if (item.tokens > left) return;
    left -= item.tokens;
    included.insert(item.source);
    items.push_back(std::move(item));
  };

  CADRE_ASSIGN_OR_RETURN(auto named, memory.entities_named_in(request.text));
  for (const auto& key : named) {
    CADRE_ASSIGN_OR_RETURN(auto entity, memory.store().get_entity(key));
    if (!entity || entity->facts.empty()) continue;
    std::string text = key + ":";
    for (const auto& fact : entity->facts) {
      std::string value = fact.value.is_string() ? fact.value.get<std::string>() : dump_json(fact.value);
      text += " " + fact.name + "=" + one_line(clip(value)) + " (" + fact.event_id + ", " + format_date_utc(fact.at) + ");";
    }
    text.pop_back();
    offer({"fact", key, text, "named in the task"});
  }

  if (request.recent > 0) {
    MemoryFilter filter;
    filter.scopes = request.scopes;
    CADRE_ASSIGN_OR_RETURN(auto recent, memory.store().recent_events(filter, request.recent));
    for (const auto& e : recent) {
      offer({"recent", e.id, event_line(e.id, e.at, e.type, e.entities, e.text), "recent in scope " + e.scope});
    }
  }

  if (request.retrieved > 0 && !request.text.empty()) {
    SearchRequest search;
    search.query = request.text;
    search.filter.scopes = request.scopes;
    search.limit = request.retrieved;
    CADRE_ASSIGN_OR_RETURN(SearchResult found, memory.search(search));
    for (const auto& hit : found.hits) {
      std::string line = hit.kind == "summary"
                             ? "[" + hit.id + " summary of " + hit.source.value("subject", std::string()) +
                                   ", week of " + hit.source["period"][0].get<std::string>().substr(0, 10) + "] " + one_line(clip(hit.text))
                             : event_line(hit.id, hit.at, hit.type, hit.entities, hit.text);
      offer({"retrieved", hit.id, line, matched_why(hit.matched)});
    }
  }
  return items;
}

std::string render_context(const std::vector<ContextItem>& items) {
  if (items.empty()) return "";
  std::string out = "What memory holds that bears on this task (each line names its source):\n";
  const char* headings[][2] = {{"fact", "Facts of entities the task names:"},
                               {"recent", "Recent in your memory scopes:"},
                               {"retrieved", "Found by searching memory for the task:"}};
  for (const auto& [kind, heading] : headings) {
    bool any = false;
    for (const auto& item : items) {
      if (item.kind != kind) continue;
      if (!any) out += std::string(heading) + "\n";
      any = true;
      out += "- " + item.text + "\n";
    }
  }
  return out;
}

}  // namespace cadre
