#include "agents/playbook_parser.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "core/template.h"
#include "kernel/cron.h"
#include "kernel/retry_policy_yaml.h"

namespace cadre {
namespace {

constexpr size_t kMaxSteps = 1000;

const std::vector<std::string> kTemplateRoots = {"input", "steps",   "item",  "index", "run",
                                                 "task",  "trigger", "event", "idempotency_key"};
// In `compensate:`, `output` is the compensated step's own output too.
const std::vector<std::string> kCompensationRoots = [] {
  std::vector<std::string> roots = kTemplateRoots;
  roots.push_back("output");
  return roots;
}();
const std::vector<std::string> kInputTypes = {"string", "integer", "number", "boolean",
                                              "object", "array",   "any"};
const std::vector<std::string> kCatchups = {"none", "latest", "all"};

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_ident_char(char c) {
  return is_ident_start(c) || (c >= '0' && c <= '9');
}

// [a-z0-9][a-z0-9._-]*: playbook and agent names (they become file names).
bool is_valid_name(std::string_view s) {
  if (s.empty() || !is_lower_alnum(s[0])) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_lower_alnum(c) || c == '.' || c == '_' || c == '-'; });
}

// [a-z0-9_-]+
bool is_valid_step_id(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return is_lower_alnum(c) || c == '_' || c == '-';
  });
}

// [A-Za-z_][A-Za-z0-9_]*: inputs are read as `input.NAME` in templates.
bool is_valid_input_name(std::string_view s) {
  return !s.empty() && is_ident_start(s[0]) && std::all_of(s.begin(), s.end(), is_ident_char);
}

// [A-Za-z0-9_][A-Za-z0-9._:-]*
bool is_valid_event_name(std::string_view s) {
  if (s.empty() || !(is_ident_char(s[0]))) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_ident_char(c) || c == '.' || c == ':' || c == '-'; });
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

// " (did you mean 'x'?)" when one candidate is close, else " (use a, b or c)".
std::string hint_or_list(std::string_view word, const std::vector<std::string>& candidates) {
  std::string hint = did_you_mean(word, candidates);
  if (!hint.empty() || candidates.empty()) return hint;
  std::vector<std::string> head(candidates.begin(), candidates.end() - 1);
  return " (use " + join(head, ", ") + " or " + candidates.back() + ")";
}

bool matches_type(const Json& value, std::string_view type) {
  if (type == "string") return value.is_string();
  if (type == "integer") return value.is_number_integer();
  if (type == "number") return value.is_number();
  if (type == "boolean") return value.is_boolean();
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  return true;  // any
}

// The step names read as `steps.NAME` or `steps["NAME"]` inside the `{{ }}`
// of `text`. template_paths() gives only roots; references to steps need the
// next segment too. String literals inside expressions are skipped.
std::vector<std::string> step_references(std::string_view text) {
  std::vector<std::string> refs;
  auto add = [&](std::string ref) {
    if (!ref.empty() && std::find(refs.begin(), refs.end(), ref) == refs.end()) {
      refs.push_back(std::move(ref));
    }
  };
  size_t pos = 0;
  while ((pos = text.find("{{", pos)) != std::string_view::npos) {
    size_t start = pos + 2;
    size_t i = start;
    char quote = 0;
    for (; i < text.size(); ++i) {
      char c = text[i];
      if (quote != 0) {
        if (c == '\\') {
          ++i;
        } else if (c == quote) {
          quote = 0;
        }
        continue;
      }
      if (c == '"' || c == '\'') {
        quote = c;
        continue;
      }
      if (c == '}' && i + 1 < text.size() && text[i + 1] == '}') break;
      if (!is_ident_start(c) || (i > start && is_ident_char(text[i - 1]))) continue;
      size_t end = i;
      while (end < text.size() && is_ident_char(text[end])) ++end;
      std::string_view word = text.substr(i, end - i);
      size_t before = i;
      while (before > start && text[before - 1] == ' ') --before;
      bool is_member = before > start && text[before - 1] == '.';
      if (word == "steps" && !is_member && end < text.size()) {
        if (text[end] == '.') {
          size_t name_end = end + 1;
          while (name_end < text.size() && is_ident_char(text[name_end])) ++name_end;
          add(std::string(text.substr(end + 1, name_end - end - 1)));
        } else if (text[end] == '[' && end + 1 < text.size() &&
                   (text[end + 1] == '"' || text[end + 1] == '\'')) {
          size_t close = text.find(text[end + 1], end + 2);
          if (close != std::string_view::npos)
            add(std::string(text.substr(end + 2, close - end - 2)));
        }
      }
      i = end - 1;
    }
    pos = i + 2;
  }
  return refs;
}

// A templated string found while reading, checked once the step graph is known.
struct TemplateSite {
  std::string text;
  YamlPos pos;
  std::string path;
  int step = -1;              // index into steps; -1 for trigger inputs
  bool condition = false;     // `if:`: a bare expression is allowed
  bool foreach_expr = false;  // the `foreach:` expression itself
  bool compensation = false;  // inside `compensate:`: `output` and the step's own id are defined
};

struct StepInfo {
  std::string path;  // "steps[2]"
  YamlPos pos;       // the step's mapping
  bool needs_explicit = false;
  YamlPos needs_pos;
  std::vector<YamlPos> need_pos;  // per entry of an explicit needs
  bool has_foreach = false;
  std::vector<size_t> edges;  // indices of the steps it needs
  std::set<size_t> upstream;  // transitive needs
};

}  // namespace

TriggerDef read_trigger_schedule(YamlReader& reader, const YamlMap& map, const YamlField& item) {
  TriggerDef trigger;
  trigger.pos = {item.pos().line, item.pos().column};
  const YamlField* cron = map.find("cron");
  const YamlField* event = map.find("event");
  if (cron != nullptr && event != nullptr) {
    reader.error(*event, "a trigger has either cron or event, not both");
  } else if (cron == nullptr && event == nullptr) {
    reader.error(item.pos(), item.path, "a trigger needs cron or event");
  }
  if (cron != nullptr) {
    trigger.kind = TriggerDef::Kind::kCron;
    if (auto v = reader.as_string(*cron)) {
      trigger.cron = *v;
      auto schedule = CronSchedule::parse(*v, "UTC");
      if (!schedule.ok()) {
        reader.error(*cron, "invalid cron schedule: " + schedule.status().message());
      }
    }
  } else if (event != nullptr) {
    trigger.kind = TriggerDef::Kind::kEvent;
    if (auto v = reader.as_string(*event)) {
      trigger.event = *v;
      if (!is_valid_event_name(*v)) {
        reader.error(*event, "'" + *v +
                                  "' is not a valid event name (letters, digits, '.', '_', "
                                  "':' and '-')");
      }
    }
  }
  if (const auto* f = map.find("timezone")) {
    if (event != nullptr && cron == nullptr) {
      reader.error(*f, "only cron triggers have a timezone");
    } else if (auto v = reader.as_string(*f)) {
      trigger.time_zone = *v;
      // Checked with a schedule known to be valid, so a bad zone is reported here
      // and a bad expression at cron:, independently.
      auto schedule = CronSchedule::parse("* * * * *", *v);
      if (!schedule.ok()) {
        reader.error(*f, schedule.status().message());
      }
    }
  }
  if (const auto* f = map.find("catchup")) {
    if (event != nullptr && cron == nullptr) {
      reader.error(*f, "only cron triggers have catchup");
    } else if (auto v = reader.as_string(*f)) {
      if (*v == "none") {
        trigger.catchup = Catchup::kNone;
      } else if (*v == "latest") {
        trigger.catchup = Catchup::kLatest;
      } else if (*v == "all") {
        trigger.catchup = Catchup::kAll;
      } else {
        reader.error(
            *f, "must be none, latest or all, got '" + *v + "'" + did_you_mean(*v, kCatchups));
      }
    }
  }
  return trigger;
}

namespace {

class PlaybookParser {
 public:
  PlaybookParser(const std::string& file, const LoadOptions& options, PlaybookContext* context,
                 Diagnostics* diagnostics)
      : file_(file), options_(options), context_(context), reader_(file, diagnostics) {}

  PlaybookDef parse(std::string_view text, Diagnostics* diagnostics) {
    playbook_.file = file_;
    auto root = parse_yaml(text, file_, diagnostics);
    if (!root) {
      default_name();
      return playbook_;
    }
    try {
      parse_root(*root);
    } catch (const std::exception& e) {
      // yaml-cpp may throw on malformed nodes; never let it escape.
      reader_.error({0, 0}, "", std::string("internal YAML error: ") + e.what());
    }
    return playbook_;
  }

 private:
  void parse_root(const YAML::Node& root) {
    if (root.IsNull()) {
      default_name();
      reader_.error({0, 0}, "", "the file is empty; a playbook needs at least steps");
      return;
    }
    auto map = reader_.read_map(root, yaml_pos(root), "",
                                {"name", "description", "inputs", "triggers", "steps"});
    if (!map) {
      default_name();
      return;
    }
    parse_name(*map);
    if (const auto* f = map->find("description")) {
      if (auto v = reader_.as_string(*f)) playbook_.description = *v;
    }
    if (const auto* f = map->find("inputs")) parse_inputs(*f);
    if (const auto* f = map->find("triggers")) {
      if (auto items = reader_.read_sequence(*f)) {
        for (const auto& item : *items) parse_trigger(item);
      }
    }
    if (const auto* f = reader_.require(*map, "steps")) {
      if (auto items = reader_.read_sequence(*f)) {
        if (items->empty()) reader_.error(*f, "a playbook needs at least one step");
        if (items->size() > kMaxSteps) {
          reader_.error(*f, "a playbook has at most " + std::to_string(kMaxSteps) + " steps");
          items->resize(kMaxSteps);
        }
        for (const auto& item : *items) parse_step(item);
      }
    }
    check_graph();
    for (const auto& site : sites_) check_template_site(site);
  }

  void default_name() {
    if (!playbook_.name.empty()) return;
    std::string stem = std::filesystem::path(file_).stem().string();
    if (is_valid_name(stem)) {
      playbook_.name = stem;
    } else if (!file_.empty()) {
      reader_.error({0, 0}, "name",
                    "the file name '" + stem +
                        "' is not a valid playbook name (use a-z, 0-9, '.', '_' and '-', "
                        "starting with a letter or digit); rename the file or set name:");
    }
  }

  void parse_name(const YamlMap& map) {
    const YamlField* f = map.find("name");
    if (f == nullptr) {
      default_name();
      return;
    }
    context_->name_pos = f->pos();
    auto v = reader_.as_string(*f);
    if (!v) return;
    if (!is_valid_name(*v)) {
      reader_.error(*f, "'" + *v +
                            "' is not a valid playbook name (use a-z, 0-9, '.', '_' and '-', "
                            "starting with a letter or digit)");
      return;
    }
    playbook_.name = *v;
  }

  void parse_inputs(const YamlField& field) {
    auto map = reader_.read_map(field, {});
    if (!map) return;
    for (const auto& entry : map->fields()) {
      InputDef input;
      input.name = entry.name;
      if (!is_valid_input_name(entry.name)) {
        reader_.error(entry.key_pos, entry.path,
                      "input names are identifiers (letters, digits and '_', not starting with "
                      "a digit)");
      }
      auto spec = reader_.read_map(entry, {"type", "required", "default", "description"});
      if (!spec) continue;
      bool type_ok = true;
      if (const auto* f = spec->find("type")) {
        if (auto v = reader_.as_string(*f)) {
          if (std::find(kInputTypes.begin(), kInputTypes.end(), *v) == kInputTypes.end()) {
            reader_.error(*f, "unknown type '" + *v + "'" + hint_or_list(*v, kInputTypes));
            type_ok = false;
          } else {
            input.type = *v;
          }
        }
      }
      if (const auto* f = spec->find("required")) {
        if (auto v = reader_.as_bool(*f)) input.required = *v;
      }
      if (const auto* f = spec->find("default")) {
        input.default_value = reader_.to_json(f->value, f->path);
        if (type_ok && !input.default_value.is_null() &&
            !matches_type(input.default_value, input.type)) {
          reader_.error(
              *f, "default " + dump_json(input.default_value) + " is not of type " + input.type);
        }
      }
      if (const auto* f = spec->find("description")) {
        if (auto v = reader_.as_string(*f)) input.description = *v;
      }
      playbook_.inputs.push_back(std::move(input));
    }
  }

  void parse_trigger(const YamlField& item) {
    auto map = reader_.read_map(item, {"cron", "timezone", "catchup", "event", "inputs"});
    if (!map) return;
    TriggerDef trigger = read_trigger_schedule(reader_, *map, item);
    std::vector<std::string> declared;
    for (const auto& input : playbook_.inputs) declared.push_back(input.name);
    const YamlField* inputs_field = map->find("inputs");
    if (inputs_field != nullptr) {
      if (auto inputs = reader_.read_map(*inputs_field, {})) {
        for (const auto& entry : inputs->fields()) {
          if (std::find(declared.begin(), declared.end(), entry.name) == declared.end()) {
            reader_.error(entry.key_pos, entry.path,
                          "the playbook declares no input '" + entry.name + "'" +
                              did_you_mean(entry.name, declared));
          }
          trigger.inputs[entry.name] = reader_.to_json(entry.value, entry.path);
          collect_templates(entry.value, entry.path, -1);
        }
      }
    }
    for (const auto& input : playbook_.inputs) {
      if (!input.required || !input.default_value.is_null() ||
          trigger.inputs.contains(input.name)) {
        continue;
      }
      if (inputs_field != nullptr) {
        reader_.error(*inputs_field, "required input '" + input.name + "' is not given");
      } else {
        reader_.error(item.pos(), field_path(item.path, "inputs"),
                      "required input '" + input.name + "' is not given");
      }
    }
    playbook_.triggers.push_back(std::move(trigger));
  }

  void parse_step(const YamlField& item) {
    StepDef step;
    StepInfo info;
    info.path = item.path;
    info.pos = item.pos();
    step.pos = {info.pos.line, info.pos.column};
    auto map = reader_.read_map(item, {"id", "uses", "with", "needs", "if", "foreach", "retry",
                                       "timeout", "lock", "compensate"});
    if (!map) {
      add_step(std::move(step), std::move(info));
      return;
    }
    int index = static_cast<int>(playbook_.steps.size());
    if (const auto* f = reader_.require(*map, "id")) {
      if (auto v = reader_.as_string(*f)) {
        if (!is_valid_step_id(*v)) {
          reader_.error(*f, "'" + *v + "' is not a valid step id (use a-z, 0-9, '_' and '-')");
        } else if (auto first = step_index_.find(*v); first != step_index_.end()) {
          const StepInfo& other = infos_[first->second];
          reader_.error(*f, "duplicate step id '" + *v + "' (first used by " + other.path +
                                " at line " + std::to_string(other.pos.line) + ")");
        } else {
          step.id = *v;
          step_index_[*v] = static_cast<size_t>(index);
        }
      }
    }
    if (const auto* f = reader_.require(*map, "uses")) {
      if (auto v = reader_.as_string(*f)) {
        step.uses = *v;
        check_uses(*f, *v);
      }
    }
    step.with = read_arguments(*map, item, step.uses, index, false);
    if (const auto* f = map->find("needs")) {
      info.needs_explicit = true;
      info.needs_pos = f->pos();
      std::vector<YamlField> elements;
      if (auto needs = reader_.as_string_list(*f, &elements)) {
        step.needs = *needs;
        for (const auto& element : elements) info.need_pos.push_back(element.pos());
      }
    }
    if (const auto* f = map->find("if")) {
      if (auto v = reader_.as_string(*f)) {
        if (v->empty()) {
          reader_.error(*f, "must not be empty (leave if: out to always run the step)");
        } else {
          step.if_condition = *v;
          sites_.push_back({*v, f->pos(), f->path, index, true, false});
        }
      }
    }
    if (const auto* f = map->find("foreach")) {
      if (auto v = reader_.as_string(*f)) {
        if (v->find("{{") == std::string::npos) {
          reader_.error(*f, "must be a template yielding an array, such as \"{{ input.items }}\"");
        } else {
          step.foreach = *v;
          info.has_foreach = true;
          sites_.push_back({*v, f->pos(), f->path, index, false, true});
        }
      }
    }
    if (const auto* f = map->find("retry")) step.retry = read_retry_policy(reader_, *f);
    if (const auto* f = map->find("timeout")) {
      if (auto v = reader_.as_duration(*f, 1)) step.timeout = *v;
    }
    if (const auto* f = map->find("lock")) {
      if (auto v = reader_.as_string(*f)) {
        if (v->empty()) {
          reader_.error(*f, "must not be empty (leave lock: out for no lock)");
        } else {
          step.lock = *v;
          sites_.push_back({*v, f->pos(), f->path, index, false, false});
        }
      }
    }
    if (const auto* f = map->find("compensate")) step.compensate = parse_compensation(*f, index);
    add_step(std::move(step), std::move(info));
  }

  // `with` of a tool call (a step's or its compensation's) under `owner`:
  // only the arguments of the tool's schema and all its required ones.
  // Its strings are collected as templates of step `index`.
  Json read_arguments(const YamlMap& owner_map, const YamlField& owner, const std::string& uses,
                      int index, bool compensation) {
    const Json* schema = nullptr;
    if (auto it = options_.tool_schemas.find(uses); it != options_.tool_schemas.end())
      schema = &it->second;
    std::vector<std::string> arguments;  // what the tool accepts; empty: anything
    if (schema && schema->contains("properties")) {
      for (const auto& [name, property] : (*schema)["properties"].items())
        arguments.push_back(name);
    }
    Json out = Json::object();
    const auto* with_field = owner_map.find("with");
    std::optional<YamlMap> with;
    if (with_field) {
      with = reader_.read_map(*with_field, arguments);
      if (with) {
        out = reader_.to_json(with_field->value, with_field->path);
        if (out.is_null()) out = Json::object();
        collect_templates(with_field->value, with_field->path, index, compensation);
      }
    }
    if (schema && schema->contains("required") && (!with_field || with)) {
      for (const auto& required : (*schema)["required"]) {
        const std::string name = required.get<std::string>();
        if (with && with->find(name)) continue;
        if (with_field) {
          reader_.error(*with_field, "tool " + uses + " needs argument '" + name + "'");
        } else {
          reader_.error(
              owner.pos(), owner.path,
              "tool " + uses + " needs argument '" + name + "' (add with: {" + name + ": ...})");
        }
      }
    }
    return out;
  }

  // `compensate: {uses, with}`: a tool call checked like a step's own.
  std::optional<CompensationDef> parse_compensation(const YamlField& field, int index) {
    auto map = reader_.read_map(field, {"uses", "with"});
    if (!map) return std::nullopt;
    CompensationDef compensation;
    compensation.pos = {field.pos().line, field.pos().column};
    if (const auto* f = reader_.require(*map, "uses")) {
      if (auto v = reader_.as_string(*f)) {
        compensation.uses = *v;
        check_compensation_tool(*f, *v);
      }
    }
    compensation.with = read_arguments(*map, field, compensation.uses, index, true);
    return compensation;
  }

  // A compensation runs while its run fails: a tool call that acts now.
  void check_compensation_tool(const YamlField& field, const std::string& uses) {
    if (uses.rfind("agent.", 0) == 0) {
      reader_.error(field, "a compensation is a tool call; '" + uses +
                               "' is an agent (use a tool, e.g. emit an event that starts "
                               "a playbook)");
    } else if (uses == "wait") {
      reader_.error(field,
                    "wait cannot compensate: a failing run does not park to undo (emit an "
                    "event instead and let another playbook wait)");
    } else {
      check_tool(field, uses, /*suggest_agents=*/false);
    }
  }

  void add_step(StepDef step, StepInfo info) {
    playbook_.steps.push_back(std::move(step));
    infos_.push_back(std::move(info));
  }

  void check_uses(const YamlField& field, const std::string& uses) {
    if (uses.rfind("agent.", 0) != 0) {
      check_tool(field, uses, /*suggest_agents=*/true);
      return;
    }
    std::string agent = uses.substr(6);
    if (!is_valid_name(agent)) {
      reader_.error(field, "'" + agent + "' is not a valid agent name");
      return;
    }
    const auto* agents = context_->agent_names;
    if (agents != nullptr && std::find(agents->begin(), agents->end(), agent) == agents->end()) {
      reader_.error(field, "unknown agent '" + agent + "': there is no agents/" + agent + ".yaml" +
                               did_you_mean(agent, *agents));
    }
  }

  // A built-in or known tool; else a diagnostic with the closest name.
  void check_tool(const YamlField& field, const std::string& uses, bool suggest_agents) {
    const auto& builtins = builtin_tool_names();
    const auto& known = options_.known_tools;
    if (std::find(builtins.begin(), builtins.end(), uses) != builtins.end() ||
        is_known_tool(options_, uses)) {
      return;
    }
    std::vector<std::string> candidates = builtins;
    candidates.insert(candidates.end(), known.begin(), known.end());
    if (suggest_agents && context_->agent_names != nullptr) {
      for (const auto& agent : *context_->agent_names) candidates.push_back("agent." + agent);
    }
    reader_.error(field, "unknown tool '" + uses + "'" + did_you_mean(uses, candidates));
  }

  // Every string inside `node` (a `with` or trigger-input value) is a template.
  void collect_templates(const YAML::Node& node, const std::string& path, int step,
                         bool compensation = false) {
    if (node.IsScalar()) {
      Json value = yaml_scalar_to_json(node);
      if (value.is_string()) {
        sites_.push_back(
            {value.get<std::string>(), yaml_pos(node), path, step, false, false, compensation});
      }
    } else if (node.IsSequence()) {
      size_t index = 0;
      for (auto it = node.begin(); it != node.end(); ++it, ++index) {
        collect_templates(*it, index_path(path, index), step, compensation);
      }
    } else if (node.IsMap()) {
      for (auto it = node.begin(); it != node.end(); ++it) {
        if (it->first.IsScalar()) {
          collect_templates(it->second, field_path(path, it->first.Scalar()), step, compensation);
        }
      }
    }
  }

  // Applies the default needs, reports unknown and self needs, names every
  // cycle, and computes each step's upstream set.
  void check_graph() {
    auto& steps = playbook_.steps;
    for (size_t i = 0; i < steps.size(); ++i) {
      StepInfo& info = infos_[i];
      if (!info.needs_explicit) {
        if (i > 0 && !steps[i - 1].id.empty()) {
          steps[i].needs = {steps[i - 1].id};
          info.edges = {i - 1};
        }
        continue;
      }
      std::set<std::string> seen;
      for (size_t k = 0; k < steps[i].needs.size(); ++k) {
        const std::string& need = steps[i].needs[k];
        YamlPos pos = k < info.need_pos.size() ? info.need_pos[k] : info.needs_pos;
        std::string path = index_path(field_path(info.path, "needs"), k);
        if (!seen.insert(need).second) {
          reader_.error(pos, path, "step '" + need + "' is listed twice");
          continue;
        }
        if (need == steps[i].id) {
          reader_.error(pos, path, "a step cannot need itself");
          continue;
        }
        auto target = step_index_.find(need);
        if (target == step_index_.end()) {
          reader_.error(pos, path, "unknown step '" + need + "'" + did_you_mean(need, step_ids()));
          continue;
        }
        info.edges.push_back(target->second);
      }
    }
    find_cycles();
    for (size_t i = 0; i < steps.size(); ++i) {
      std::vector<size_t> todo = infos_[i].edges;
      auto& upstream = infos_[i].upstream;
      while (!todo.empty()) {
        size_t next = todo.back();
        todo.pop_back();
        if (!upstream.insert(next).second) continue;
        for (size_t e : infos_[next].edges) todo.push_back(e);
      }
    }
  }

  void find_cycles() {
    enum Color { kWhite, kGray, kBlack };
    std::vector<Color> color(infos_.size(), kWhite);
    std::vector<size_t> stack;
    std::set<std::set<size_t>> reported;
    // Depth-first with an explicit stack of (step, next edge to follow).
    for (size_t start = 0; start < infos_.size(); ++start) {
      if (color[start] != kWhite) continue;
      std::vector<std::pair<size_t, size_t>> frames = {{start, 0}};
      color[start] = kGray;
      stack.push_back(start);
      while (!frames.empty()) {
        auto& [node, edge] = frames.back();
        if (edge == infos_[node].edges.size()) {
          color[node] = kBlack;
          stack.pop_back();
          frames.pop_back();
          continue;
        }
        size_t from = node;
        size_t edge_index = edge++;
        size_t to = infos_[from].edges[edge_index];
        if (color[to] == kGray) {
          auto begin = std::find(stack.begin(), stack.end(), to);
          std::vector<size_t> cycle(begin, stack.end());
          std::set<size_t> members(cycle.begin(), cycle.end());
          if (reported.insert(members).second) report_cycle(cycle, from, to);
        } else if (color[to] == kWhite) {
          color[to] = kGray;
          stack.push_back(to);
          frames.emplace_back(to, 0);
        }
      }
    }
  }

  // `cycle` lists steps each needing the next; the last one needs the first
  // (the edge from -> to closes it and is where it is reported).
  void report_cycle(const std::vector<size_t>& cycle, size_t from, size_t to) {
    std::string names;
    for (size_t i : cycle) names += playbook_.steps[i].id + " -> ";
    names += playbook_.steps[to].id;
    const StepInfo& info = infos_[from];
    const auto& needs = playbook_.steps[from].needs;
    YamlPos pos = info.pos;
    std::string path = field_path(info.path, "needs");
    if (info.needs_explicit) {
      auto it = std::find(needs.begin(), needs.end(), playbook_.steps[to].id);
      size_t k = static_cast<size_t>(it - needs.begin());
      if (k < info.need_pos.size()) pos = info.need_pos[k];
      path = index_path(path, k);
    }
    reader_.error(pos, path, "dependency cycle: " + names + " (each step needs the next)");
  }

  std::vector<std::string> step_ids() const {
    std::vector<std::string> ids;
    for (const auto& step : playbook_.steps) {
      if (!step.id.empty()) ids.push_back(step.id);
    }
    return ids;
  }

  void check_template_site(const TemplateSite& site) {
    std::string text = site.text;
    if (site.condition && text.find("{{") == std::string::npos) text = "{{ " + text + " }}";
    Status syntax = check_template(text);
    if (!syntax.ok()) {
      reader_.error(site.pos, site.path, "template error: " + syntax.message());
      return;
    }
    auto roots = template_paths(text);
    if (!roots.ok()) {
      reader_.error(site.pos, site.path, "template error: " + roots.status().message());
      return;
    }
    const StepInfo* info = site.step >= 0 ? &infos_[static_cast<size_t>(site.step)] : nullptr;
    const auto& known_roots = site.compensation ? kCompensationRoots : kTemplateRoots;
    for (const auto& root : *roots) {
      if (root == "output" && !site.compensation) {
        reader_.error(site.pos, site.path,
                      "'output' is only defined in compensate (the step's own output); read "
                      "other steps as steps.ID.output");
      } else if (std::find(known_roots.begin(), known_roots.end(), root) == known_roots.end()) {
        reader_.error(site.pos, site.path,
                      "unknown name '" + root + "' in template" + hint_or_list(root, known_roots));
      } else if ((root == "item" || root == "index") &&
                 (info == nullptr || !info->has_foreach || site.foreach_expr)) {
        reader_.error(site.pos, site.path,
                      site.foreach_expr ? "'item' is not defined in the foreach expression itself"
                                        : "'item' is only defined in a step with foreach");
      } else if (root == "steps" && info == nullptr) {
        reader_.error(site.pos, site.path, "trigger inputs cannot use steps (no step has run yet)");
      }
    }
    if (info == nullptr) return;
    const StepDef& step = playbook_.steps[static_cast<size_t>(site.step)];
    for (const auto& ref : step_references(text)) {
      auto target = step_index_.find(ref);
      if (target == step_index_.end()) {
        reader_.error(site.pos, site.path,
                      "unknown step '" + ref + "' in template" + did_you_mean(ref, step_ids()));
      } else if (ref == step.id) {
        check_own_reference(site, *info, ref);
      } else if (info->upstream.count(target->second) == 0) {
        reader_.error(site.pos, site.path,
                      "step '" + ref + "' is not upstream of step '" + step.id +
                          "'; add it to needs (directly or through a step it needs)");
      }
    }
  }

  // `steps.ID` of the step itself: done by the time it is compensated,
  // except in a foreach, whose items are compensated one by one.
  void check_own_reference(const TemplateSite& site, const StepInfo& info, const std::string& id) {
    if (!site.compensation) {
      reader_.error(site.pos, site.path, "a step cannot use its own output ('steps." + id + "')");
    } else if (info.has_foreach) {
      std::string message = "a foreach step's compensate undoes one item: read its output as ";
      message += "'output', not 'steps." + id + "'";
      reader_.error(site.pos, site.path, message);
    }
  }

  std::string file_;
  const LoadOptions& options_;
  PlaybookContext* context_;
  YamlReader reader_;
  PlaybookDef playbook_;
  std::vector<StepInfo> infos_;               // parallel to playbook_.steps
  std::map<std::string, size_t> step_index_;  // id -> first step with it
  std::vector<TemplateSite> sites_;
};

}  // namespace

const std::vector<std::string>& builtin_tool_names() {
  static const std::vector<std::string> kNames = {"log",           "file.write",  "file.append",  "wait",
                                                  "emit",          "memory.note", "memory.search",
                                                  "memory.entity"};
  return kNames;
}

PlaybookDef parse_playbook_in_context(std::string_view yaml_text, const std::string& file,
                                      const LoadOptions& options, PlaybookContext* context,
                                      Diagnostics* diagnostics) {
  Diagnostics local;
  if (diagnostics == nullptr) diagnostics = &local;
  PlaybookContext no_context;
  if (context == nullptr) context = &no_context;
  PlaybookParser parser(file, options, context, diagnostics);
  return parser.parse(yaml_text, diagnostics);
}

PlaybookDef parse_playbook(std::string_view yaml_text, const std::string& file,
                           const LoadOptions& options, Diagnostics* diagnostics) {
  return parse_playbook_in_context(yaml_text, file, options, nullptr, diagnostics);
}

}  // namespace cadre
