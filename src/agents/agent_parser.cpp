// Parsing agents/NAME.yaml into an AgentDef, with every problem reported.
#include <algorithm>
#include <limits>

#include "agents/agent.h"
#include "agents/playbook_parser.h"
#include "agents/workspace.h"
#include "core/json_schema.h"
#include "core/template.h"
#include "core/yaml_util.h"

namespace cadre {
namespace {

const std::vector<std::string> kChatTiers = {"small", "large"};

class AgentParser {
 public:
  AgentParser(const std::string& file, const LoadOptions& options, Diagnostics* diagnostics)
      : options_(options), reader_(file, diagnostics) {}

  AgentDef parse(std::string_view text, const std::string& name, Diagnostics* diagnostics) {
    agent_.name = name;
    agent_.file = reader_.file();
    auto root = parse_yaml(text, reader_.file(), diagnostics);
    if (!root) return agent_;
    try {
      parse_root(*root);
    } catch (const std::exception& e) {
      // yaml-cpp may throw on malformed nodes; never let it escape.
      reader_.error({0, 0}, "", std::string("internal YAML error: ") + e.what());
    }
    return agent_;
  }

 private:
  void parse_root(const YAML::Node& root) {
    if (root.IsNull()) {
      reader_.error({0, 0}, "", "the file is empty; an agent needs at least instructions");
      return;
    }
    auto map =
        reader_.read_map(root, yaml_pos(root), "",
                         {"role", "instructions", "tier", "escalate", "tools", "memory", "success",
                          "max_turns", "sla", "budget", "concurrency", "cache", "triggers"});
    if (!map) return;
    if (const auto* f = map->find("role")) {
      if (auto v = reader_.as_string(*f)) agent_.role = *v;
    }
    if (const auto* f = reader_.require(*map, "instructions")) {
      if (auto v = reader_.as_string(*f)) {
        if (v->empty()) reader_.error(*f, "must not be empty: it is the agent's system prompt");
        agent_.instructions = *v;
      }
    }
    if (const auto* f = map->find("tier")) read_tier(*f, &agent_.tier);
    if (const auto* f = map->find("escalate")) read_tier(*f, &agent_.escalate);
    if (const auto* f = map->find("tools")) read_tools(*f);
    if (const auto* f = map->find("memory")) read_memory(*f);
    if (const auto* f = map->find("success")) read_success(*f);
    if (const auto* f = map->find("max_turns")) {
      if (auto v = reader_.as_int(*f, 1, 100)) agent_.max_turns = static_cast<int>(*v);
    }
    if (const auto* f = map->find("sla")) {
      if (auto v = reader_.as_duration(*f, 1)) agent_.sla = *v;
    }
    if (const auto* f = map->find("budget")) read_budget(*f);
    if (const auto* f = map->find("concurrency")) {
      if (auto v = reader_.as_int(*f, 1, 1000)) agent_.concurrency = static_cast<int>(*v);
    }
    if (const auto* f = map->find("cache")) {
      if (auto v = reader_.as_bool(*f)) agent_.cache = *v;
    }
    if (const auto* f = map->find("triggers")) {
      if (auto items = reader_.read_sequence(*f)) {
        for (const auto& item : *items) read_trigger(item);
      }
    }
  }

  void read_tier(const YamlField& field, std::string* out) {
    auto v = reader_.as_string(field);
    if (!v) return;
    if (std::find(kChatTiers.begin(), kChatTiers.end(), *v) == kChatTiers.end()) {
      reader_.error(field,
                    "must be small or large, got '" + *v + "'" + did_you_mean(*v, kChatTiers));
      return;
    }
    *out = *v;
  }

  void read_tools(const YamlField& field) {
    auto names = reader_.as_string_list(field);
    if (!names) return;
    auto items = reader_.read_sequence(field);
    for (size_t i = 0; i < names->size(); ++i) {
      const std::string& tool = (*names)[i];
      std::vector<std::string> known = builtin_tool_names();
      known.insert(known.end(), options_.known_tools.begin(), options_.known_tools.end());
      if (std::find(known.begin(), known.end(), tool) == known.end() && !is_known_tool(options_, tool)) {
        std::string message = "unknown tool '" + tool + "'" + did_you_mean(tool, known);
        if (items && i < items->size()) {
          reader_.error((*items)[i], message);
        } else {
          reader_.error(field, message);
        }
        continue;
      }
      if (std::find(agent_.tools.begin(), agent_.tools.end(), tool) == agent_.tools.end()) {
        agent_.tools.push_back(tool);
      }
    }
  }

  void read_memory(const YamlField& field) {
    auto map = reader_.read_map(field, {"scopes"});
    if (!map) return;
    if (const auto* f = map->find("scopes")) {
      if (auto v = reader_.as_string_list(*f)) agent_.memory_scopes = *v;
    }
  }

  void read_success(const YamlField& field) {
    auto map = reader_.read_map(field, {"schema", "judge", "retries", "revalidate"});
    if (!map) return;
    if (const auto* f = map->find("schema")) {
      Json schema = reader_.to_json(f->value, f->path);
      if (!schema.is_object()) {
        reader_.error(*f, "must be a JSON Schema (a mapping)");
      } else {
        for (const auto& problem : check_schema(schema)) {
          reader_.error(*f, "invalid JSON Schema at '" + problem.path + "': " + problem.message);
        }
        agent_.output_schema = std::move(schema);
      }
    }
    if (const auto* f = map->find("judge")) {
      auto judge = reader_.read_map(*f, {"prompt", "tier"});
      if (judge) {
        JudgeDef def;
        if (const auto* p = reader_.require(*judge, "prompt")) {
          if (auto v = reader_.as_string(*p)) def.prompt = *v;
        }
        if (const auto* t = judge->find("tier")) read_tier(*t, &def.tier);
        agent_.judge = def;
      }
    }
    if (const auto* f = map->find("retries")) {
      if (auto v = reader_.as_int(*f, 0, 10)) agent_.output_retries = static_cast<int>(*v);
    }
    if (const auto* f = map->find("revalidate")) read_revalidate(*f);
  }

  // `success.revalidate: {uses, with, expect, after}` (agents/revalidation.h).
  void read_revalidate(const YamlField& field) {
    auto map = reader_.read_map(field, {"uses", "with", "expect", "after"});
    if (!map) return;
    RevalidateDef def;
    if (const auto* f = reader_.require(*map, "uses")) {
      if (auto v = reader_.as_string(*f)) {
        std::vector<std::string> known = builtin_tool_names();
        known.insert(known.end(), options_.known_tools.begin(), options_.known_tools.end());
        if (*v == "wait" || v->rfind("agent.", 0) == 0) {
          reader_.error(*f, "must be a tool that looks at the outcome, not '" + *v + "'");
        } else if (std::find(known.begin(), known.end(), *v) == known.end() &&
                   !is_known_tool(options_, *v)) {
          reader_.error(*f, "unknown tool '" + *v + "'" + did_you_mean(*v, known));
        }
        def.uses = *v;
      }
    }
    if (const auto* f = map->find("with")) {
      const Json* schema = nullptr;
      if (auto it = options_.tool_schemas.find(def.uses); it != options_.tool_schemas.end())
        schema = &it->second;
      std::vector<std::string> arguments;  // what the tool accepts; empty: anything
      if (schema && schema->contains("properties")) {
        for (const auto& [name, property] : (*schema)["properties"].items())
          arguments.push_back(name);
      }
      if (auto with = reader_.read_map(*f, arguments)) {
        def.with = reader_.to_json(f->value, f->path);
        if (def.with.is_null()) def.with = Json::object();
        check_revalidate_templates(*f, def.with, {"answer", "text", "objective", "agent"});
        if (schema && schema->contains("required")) {
          for (const auto& required : (*schema)["required"]) {
            if (!required.is_string() || with->find(required.get<std::string>())) continue;
            reader_.error(
                *f, "tool " + def.uses + " needs argument '" + required.get<std::string>() + "'");
          }
        }
      }
    }
    if (const auto* f = reader_.require(*map, "expect")) {
      if (auto v = reader_.as_string(*f)) {
        def.expect = *v;
        if (v->empty()) {
          reader_.error(*f,
                        "must be a condition over result, e.g. \"{{ result.status == 'paid' }}\"");
        } else {
          check_revalidate_templates(*f, Json(*v),
                                     {"result", "answer", "text", "objective", "agent"});
        }
      }
    }
    if (const auto* f = map->find("after")) {
      if (auto items = reader_.read_sequence(*f)) {
        def.after.clear();
        if (items->empty() || items->size() > 4)
          reader_.error(*f, "must list 1 to 4 durations, e.g. [30d, 90d]");
        for (const auto& item : *items) {
          auto v = reader_.as_duration(item, 1000);
          if (!v) continue;
          if (!def.after.empty() && *v <= def.after.back()) {
            reader_.error(item, "must be later than the one before it (ascending, no repeats)");
            continue;
          }
          def.after.push_back(*v);
        }
      }
    }
    agent_.revalidate = std::move(def);
  }

  // Every template in `value` must parse and read only the roots in `roots`.
  void check_revalidate_templates(const YamlField& field, const Json& value,
                                  const std::vector<std::string>& roots) {
    if (value.is_object() || value.is_array()) {
      for (const auto& item : value) check_revalidate_templates(field, item, roots);
      return;
    }
    if (!value.is_string()) return;
    const std::string text = value.get<std::string>();
    Status syntax = check_template(text);
    if (!syntax.ok()) {
      reader_.error(field, syntax.message());
      return;
    }
    auto paths = template_paths(text);
    if (!paths.ok()) return;
    for (const auto& root : *paths) {
      if (std::find(roots.begin(), roots.end(), root) != roots.end()) continue;
      std::string list;
      for (const auto& r : roots) list += (list.empty() ? "" : ", ") + r;
      reader_.error(field, "'" + root + "' is not known here; a re-validation can read " + list);
    }
  }

  void read_budget(const YamlField& field) {
    auto map = reader_.read_map(
        field, {"tokens_per_day", "usd_per_day", "tokens_per_objective", "usd_per_objective"});
    if (!map) return;
    constexpr int64_t kMaxTokens = std::numeric_limits<int64_t>::max() / 2;
    if (const auto* f = map->find("tokens_per_day")) {
      if (auto v = reader_.as_int(*f, 1, kMaxTokens)) agent_.budget.tokens_per_day = *v;
    }
    if (const auto* f = map->find("tokens_per_objective")) {
      if (auto v = reader_.as_int(*f, 1, kMaxTokens)) agent_.budget.tokens_per_objective = *v;
    }
    if (const auto* f = map->find("usd_per_day")) {
      if (auto v = reader_.as_number(*f, 0, 1e9)) agent_.budget.usd_per_day = *v;
    }
    if (const auto* f = map->find("usd_per_objective")) {
      if (auto v = reader_.as_number(*f, 0, 1e9)) agent_.budget.usd_per_objective = *v;
    }
  }

  void read_trigger(const YamlField& item) {
    auto map = reader_.read_map(item, {"cron", "timezone", "catchup", "event", "objective"});
    if (!map) return;
    AgentTrigger trigger{read_trigger_schedule(reader_, *map, item), ""};
    if (const auto* f = reader_.require(*map, "objective")) {
      if (auto v = reader_.as_string(*f)) {
        if (v->empty()) reader_.error(*f, "must say what the agent should do");
        trigger.objective = *v;
      }
    }
    agent_.triggers.push_back(std::move(trigger));
  }

  const LoadOptions& options_;
  YamlReader reader_;
  AgentDef agent_;
};

}  // namespace

AgentDef parse_agent(std::string_view yaml_text, const std::string& file, const std::string& name,
                     const LoadOptions& options, Diagnostics* diagnostics) {
  return AgentParser(file, options, diagnostics).parse(yaml_text, name, diagnostics);
}

}  // namespace cadre
