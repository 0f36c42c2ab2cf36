#include "policy/policy.h"

#include <fnmatch.h>

#include <algorithm>

#include "core/yaml_util.h"

namespace cadre {
namespace {

const std::vector<std::string> kOutcomes = {"allow", "deny", "require_approval"};
const std::vector<std::string> kOps = {"eq", "ne",     "gt",       "gte",     "lt",    "lte",
                                       "in", "not_in", "contains", "matches", "exists"};

bool parse_outcome(std::string_view text, PolicyOutcome* out) {
  if (text == "allow")
    *out = PolicyOutcome::kAllow;
  else if (text == "deny")
    *out = PolicyOutcome::kDeny;
  else if (text == "require_approval")
    *out = PolicyOutcome::kRequireApproval;
  else
    return false;
  return true;
}

bool glob_matches(const std::vector<std::string>& globs, const std::string& value) {
  if (globs.empty()) return true;
  return std::any_of(globs.begin(), globs.end(), [&](const std::string& g) {
    return fnmatch(g.c_str(), value.c_str(), 0) == 0;
  });
}

const Json* find_path(const Json& args, const std::string& path) {
  const Json* at = &args;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string key =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!at->is_object()) return nullptr;
    auto it = at->find(key);
    if (it == at->end()) return nullptr;
    at = &*it;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return at;
}

bool condition_holds(const ArgCondition& c, const Json* value) {
  if (c.op == "exists") return (value != nullptr) == c.value.get<bool>();
  if (value == nullptr) return c.op == "ne" || c.op == "not_in";
  if (c.op == "eq") return *value == c.value;
  if (c.op == "ne") return *value != c.value;
  if (c.op == "gt" || c.op == "gte" || c.op == "lt" || c.op == "lte") {
    if (!value->is_number()) return false;
    double v = value->get<double>(), limit = c.value.get<double>();
    if (c.op == "gt") return v > limit;
    if (c.op == "gte") return v >= limit;
    if (c.op == "lt") return v < limit;
    return v <= limit;
  }
  if (c.op == "in" || c.op == "not_in") {
    bool found = std::find(c.value.begin(), c.value.end(), *value) != c.value.end();
    return c.op == "in" ? found : !found;
  }
  if (c.op == "contains") {
    if (value->is_string() && c.value.is_string())
      return value->get<std::string>().find(c.value.get<std::string>()) != std::string::npos;
    if (value->is_array()) return std::find(value->begin(), value->end(), c.value) != value->end();
    return false;
  }
  if (c.op == "matches") {
    return value->is_string() &&
           fnmatch(c.value.get<std::string>().c_str(), value->get<std::string>().c_str(), 0) == 0;
  }
  return false;
}

bool args_hold(const std::vector<ArgCondition>& conditions, const Json& args) {
  return std::all_of(conditions.begin(), conditions.end(), [&](const ArgCondition& c) {
    return condition_holds(c, find_path(args, c.path));
  });
}

class PolicyParser {
 public:
  PolicyParser(const std::string& file, Diagnostics* diagnostics) : reader_(file, diagnostics) {}

  PolicyConfig parse(std::string_view text, Diagnostics* diagnostics) {
    auto root = parse_yaml(text, reader_.file(), diagnostics);
    if (!root || root->IsNull()) return config_;
    try {
      parse_root(*root);
    } catch (const std::exception& e) {
      reader_.error({0, 0}, "", std::string("internal YAML error: ") + e.what());
    }
    return config_;
  }

 private:
  void parse_root(const YAML::Node& root) {
    auto map =
        reader_.read_map(root, yaml_pos(root), "", {"defaults", "approvals", "plans", "rules"});
    if (!map) return;
    if (const auto* f = map->find("defaults")) read_defaults(*f);
    if (const auto* f = map->find("approvals")) {
      if (auto m = reader_.read_map(*f, {"timeout", "on_timeout"})) {
        if (const auto* t = m->find("timeout")) read_timeout(*t, &config_.approval_timeout);
        if (const auto* t = m->find("on_timeout")) read_on_timeout(*t, &config_.on_timeout);
      }
    }
    if (const auto* f = map->find("plans")) {
      if (auto m = reader_.read_map(*f, {"require_approval"})) {
        if (const auto* r = m->find("require_approval")) {
          if (auto v = reader_.as_bool(*r)) config_.plans_require_approval = *v;
        }
      }
    }
    if (const auto* f = map->find("rules")) {
      if (f->value.IsNull()) return;
      if (auto items = reader_.read_sequence(*f)) {
        for (const auto& item : *items) read_rule(item);
      }
    }
  }

  void read_defaults(const YamlField& field) {
    auto m = reader_.read_map(field, {"read", "write", "irreversible", "model"});
    if (!m) return;
    const std::pair<const char*, PolicyOutcome*> slots[] = {
        {"read", &config_.default_read},
        {"write", &config_.default_write},
        {"irreversible", &config_.default_irreversible},
        {"model", &config_.default_model}};
    for (const auto& [name, out] : slots) {
      if (const auto* f = m->find(name)) read_outcome(*f, out);
    }
  }

  void read_outcome(const YamlField& field, PolicyOutcome* out) {
    auto v = reader_.as_string(field);
    if (v && !parse_outcome(*v, out))
      reader_.error(field, "must be allow, deny or require_approval, not '" + *v + "'");
  }

  void read_timeout(const YamlField& field, DurationMs* out) {
    auto v = reader_.as_string(field);
    if (v && (*v == "none" || *v == "never")) {
      *out = 0;
      return;
    }
    if (auto d = reader_.as_duration(field, 1000)) *out = *d;
  }

  void read_on_timeout(const YamlField& field, std::string* out) {
    auto v = reader_.as_string(field);
    if (!v) return;
    if (*v != "approve" && *v != "reject") {
      reader_.error(field, "must be approve or reject, not '" + *v + "'");
      return;
    }
    *out = *v;
  }

  void read_rule(const YamlField& item) {
    auto m =
        reader_.read_map(item, {"name", "match", "decision", "reason", "timeout", "on_timeout"});
    if (!m) return;
    PolicyRule rule;
    rule.line = item.pos().line;
    rule.name = "rules[" + item.name + "]";
    if (const auto* f = m->find("name")) {
      if (auto v = reader_.as_string(*f)) {
        if (v->empty()) reader_.error(*f, "must not be empty");
        if (std::any_of(config_.rules.begin(), config_.rules.end(),
                        [&](const auto& r) { return r.name == *v; }))
          reader_.error(*f, "another rule is already named '" + *v + "'");
        rule.name = *v;
      }
    }
    if (const auto* f = reader_.require(*m, "decision")) read_outcome(*f, &rule.decision);
    if (const auto* f = m->find("reason")) {
      if (auto v = reader_.as_string(*f)) rule.reason = *v;
    }
    if (const auto* f = m->find("timeout")) read_timeout(*f, &rule.timeout);
    if (const auto* f = m->find("on_timeout")) read_on_timeout(*f, &rule.on_timeout);
    if ((m->find("timeout") || m->find("on_timeout")) &&
        rule.decision != PolicyOutcome::kRequireApproval) {
      reader_.error(*(m->find("timeout") ? m->find("timeout") : m->find("on_timeout")),
                    "only a require_approval rule has a timeout");
    }
    if (const auto* f = m->find("match")) read_match(*f, &rule);
    if (!rule.for_tools() && !rule.for_models()) {
      reader_.error(
          *m->find("match"),
          "a rule matches model calls (tier, cost_usd) or tool calls (tool, risk, args), not both");
    }
    config_.rules.push_back(std::move(rule));
  }

  void read_match(const YamlField& field, PolicyRule* rule) {
    auto m =
        reader_.read_map(field, {"agent", "tool", "tier", "risk", "args", "cost_usd", "objective"});
    if (!m) return;
    const std::pair<const char*, std::vector<std::string>*> lists[] = {
        {"agent", &rule->agents},
        {"tool", &rule->tools},
        {"tier", &rule->tiers},
        {"objective", &rule->objectives}};
    for (const auto& [name, out] : lists) {
      if (const auto* f = m->find(name)) {
        if (auto v = reader_.as_string_list(*f)) *out = *v;
      }
    }
    if (const auto* f = m->find("risk")) {
      std::vector<YamlField> elements;
      if (auto v = reader_.as_string_list(*f, &elements)) {
        for (size_t i = 0; i < v->size(); ++i) {
          const std::string& r = (*v)[i];
          if (r == "read")
            rule->risks.push_back(RiskClass::kRead);
          else if (r == "write")
            rule->risks.push_back(RiskClass::kWrite);
          else if (r == "irreversible")
            rule->risks.push_back(RiskClass::kIrreversible);
          else
            reader_.error(i < elements.size() ? elements[i] : *f,
                          "must be read, write or irreversible, not '" + r + "'");
        }
      }
    }
    if (const auto* f = m->find("args")) read_args(*f, rule);
    if (const auto* f = m->find("cost_usd")) {
      if (auto c = reader_.read_map(*f, {"gt", "lte"})) {
        if (const auto* g = c->find("gt")) rule->cost_above = reader_.as_number(*g, 0, 1e9);
        if (const auto* l = c->find("lte")) rule->cost_at_most = reader_.as_number(*l, 0, 1e9);
      }
    }
  }

  void read_args(const YamlField& field, PolicyRule* rule) {
    auto m = reader_.read_map(field, {});
    if (!m) return;
    for (const auto& arg : m->fields()) {
      if (!arg.value.IsMap()) {
        rule->args.push_back({arg.name, "eq", reader_.to_json(arg.value, arg.path)});
        continue;
      }
      auto ops = reader_.read_map(arg, kOps);
      if (!ops) continue;
      for (const auto& op : ops->fields()) {
        Json value = reader_.to_json(op.value, op.path);
        std::string problem;
        if ((op.name == "gt" || op.name == "gte" || op.name == "lt" || op.name == "lte") &&
            !value.is_number())
          problem = "must be a number";
        else if ((op.name == "in" || op.name == "not_in") && !value.is_array())
          problem = "must be a list";
        else if (op.name == "matches" && !value.is_string())
          problem = "must be a glob pattern (text)";
        else if (op.name == "exists" && !value.is_boolean())
          problem = "must be true or false";
        if (!problem.empty()) {
          reader_.error(op, problem);
          continue;
        }
        rule->args.push_back({arg.name, op.name, value});
      }
    }
  }

  YamlReader reader_;
  PolicyConfig config_;
};

}  // namespace

std::string_view to_string(PolicyOutcome outcome) {
  switch (outcome) {
    case PolicyOutcome::kAllow:
      return "allow";
    case PolicyOutcome::kRequireApproval:
      return "require_approval";
    case PolicyOutcome::kDeny:
      return "deny";
  }
  return "allow";
}

PolicyConfig parse_policies(std::string_view text, const std::string& file,
                            Diagnostics* diagnostics) {
  return PolicyParser(file, diagnostics).parse(text, diagnostics);
}

Json PolicyDecision::to_json() const {
  Json j = {{"decision", to_string(outcome)}, {"rule", rule}, {"reason", reason}};
  if (outcome == PolicyOutcome::kRequireApproval) {
    j["timeout_ms"] = timeout;
    j["on_timeout"] = on_timeout;
  }
  return j;
}

PolicyDecision PolicyDecision::from_json(const Json& j) {
  PolicyDecision d;
  if (!j.is_object()) return d;
  parse_outcome(j.value("decision", std::string("allow")), &d.outcome);
  d.rule = j.value("rule", std::string());
  d.reason = j.value("reason", std::string());
  d.timeout = j.value("timeout_ms", DurationMs{0});
  d.on_timeout = j.value("on_timeout", std::string("reject"));
  return d;
}

bool Policy::reads_objective_title() const {
  return std::any_of(config_.rules.begin(), config_.rules.end(),
                     [](const auto& r) { return !r.objectives.empty(); });
}

PolicyDecision Policy::combine(const std::vector<const PolicyRule*>& matched,
                               PolicyOutcome fallback, const std::string& fallback_reason) const {
  PolicyDecision d;
  if (matched.empty()) {
    d.outcome = fallback;
    d.reason = fallback_reason;
  } else {
    const PolicyRule* winner = matched.front();
    for (const PolicyRule* r : matched) {
      if (r->decision > winner->decision) winner = r;  // first of the most restrictive
    }
    d.outcome = winner->decision;
    d.rule = winner->name;
    d.reason = winner->reason.empty() ? "rule '" + winner->name + "'" : winner->reason;
    if (winner->timeout >= 0)
      d.timeout = winner->timeout;
    else
      d.timeout = config_.approval_timeout;
    d.on_timeout = winner->on_timeout.empty() ? config_.on_timeout : winner->on_timeout;
    return d;
  }
  d.timeout = config_.approval_timeout;
  d.on_timeout = config_.on_timeout;
  return d;
}

PolicyDecision Policy::check_tool(const ToolCallRequest& request) const {
  std::vector<const PolicyRule*> matched;
  const std::string who = request.agent.empty() ? "playbook:" + request.playbook : request.agent;
  for (const auto& rule : config_.rules) {
    if (!rule.for_tools()) continue;
    if (!glob_matches(rule.agents, who) &&
        !(request.agent.empty() && glob_matches(rule.agents, request.playbook)))
      continue;
    if (!glob_matches(rule.tools, request.tool)) continue;
    if (!rule.risks.empty() &&
        std::find(rule.risks.begin(), rule.risks.end(), request.risk) == rule.risks.end())
      continue;
    if (!glob_matches(rule.objectives, request.objective_title)) continue;
    if (!args_hold(rule.args, request.args)) continue;
    matched.push_back(&rule);
  }
  PolicyOutcome fallback = request.risk == RiskClass::kRead    ? config_.default_read
                           : request.risk == RiskClass::kWrite ? config_.default_write
                                                               : config_.default_irreversible;
  return combine(matched, fallback,
                 "the default for " + std::string(to_string(request.risk)) + " tools");
}

PolicyDecision Policy::check_model(const ModelCallRequest& request) const {
  std::vector<const PolicyRule*> matched;
  for (const auto& rule : config_.rules) {
    if (!rule.for_models()) continue;
    if (!glob_matches(rule.agents, request.agent)) continue;
    if (!glob_matches(rule.tiers, request.tier)) continue;
    if (!glob_matches(rule.objectives, request.objective_title)) continue;
    if (rule.cost_above && !(request.estimated_cost_usd > *rule.cost_above)) continue;
    if (rule.cost_at_most && !(request.estimated_cost_usd <= *rule.cost_at_most)) continue;
    matched.push_back(&rule);
  }
  return combine(matched, config_.default_model, "the default for model calls");
}

Json to_json(const PolicyConfig& config) {
  auto name = [](PolicyOutcome outcome) { return std::string(to_string(outcome)); };
  Json rules = Json::array();
  for (const auto& rule : config.rules) {
    Json match = Json::object();
    auto list = [&](const char* key, const std::vector<std::string>& values) {
      if (!values.empty()) match[key] = values;
    };
    list("agent", rule.agents);
    list("tool", rule.tools);
    list("tier", rule.tiers);
    list("objective", rule.objectives);
    if (!rule.risks.empty()) {
      Json risks = Json::array();
      for (RiskClass risk : rule.risks) risks.push_back(std::string(to_string(risk)));
      match["risk"] = risks;
    }
    for (const auto& condition : rule.args) match["args"][condition.path][condition.op] = condition.value;
    if (rule.cost_above) match["cost_usd"]["gt"] = *rule.cost_above;
    if (rule.cost_at_most) match["cost_usd"]["lte"] = *rule.cost_at_most;
    Json out = {{"name", rule.name}, {"line", rule.line}, {"match", match}, {"decision", name(rule.decision)},
                {"reason", rule.reason}};
    if (rule.timeout >= 0) out["timeout_ms"] = rule.timeout;
    if (!rule.on_timeout.empty()) out["on_timeout"] = rule.on_timeout;
    rules.push_back(std::move(out));
  }
  return {{"defaults",
           {{"read", name(config.default_read)},
            {"write", name(config.default_write)},
            {"irreversible", name(config.default_irreversible)},
            {"model", name(config.default_model)}}},
          {"approvals", {{"timeout_ms", config.approval_timeout}, {"on_timeout", config.on_timeout}}},
          {"plans", {{"require_approval", config.plans_require_approval}}},
          {"rules", rules}};
}

}  // namespace cadre
