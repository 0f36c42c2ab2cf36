#include "agents/agent.h"

#include "core/hash.h"

namespace cadre {
namespace {

Json trigger_json(const AgentTrigger& t) {
  bool cron = t.when.kind == TriggerDef::Kind::kCron;
  return {{"kind", cron ? "cron" : "event"}, {"cron", t.when.cron},
          {"time_zone", t.when.time_zone},   {"catchup", catchup_name(t.when.catchup)},
          {"event", t.when.event},           {"objective", t.objective}};
}

AgentTrigger trigger_from(const Json& j) {
  AgentTrigger t;
  t.when.kind = j.at("kind").get<std::string>() == "cron" ? TriggerDef::Kind::kCron
                                                          : TriggerDef::Kind::kEvent;
  t.when.cron = j.at("cron").get<std::string>();
  t.when.time_zone = j.at("time_zone").get<std::string>();
  std::string catchup = j.at("catchup").get<std::string>();
  t.when.catchup = catchup == "latest" ? Catchup::kLatest
                   : catchup == "all"  ? Catchup::kAll
                                       : Catchup::kNone;
  t.when.event = j.at("event").get<std::string>();
  t.objective = j.at("objective").get<std::string>();
  return t;
}

// `success.revalidate`, written only when declared so that the versions of
// agents without it stay what they were before it existed.
Json revalidate_json(const RevalidateDef& r) {
  return {{"uses", r.uses}, {"with", r.with}, {"expect", r.expect}, {"after_ms", r.after}};
}

RevalidateDef revalidate_from(const Json& j) {
  RevalidateDef r;
  r.uses = j.at("uses").get<std::string>();
  r.with = j.at("with");
  r.expect = j.at("expect").get<std::string>();
  r.after = j.at("after_ms").get<std::vector<DurationMs>>();
  return r;
}

}  // namespace

// The canonical JSON leaves out `file`: where a definition was read is not
// what it does.
Json AgentDef::to_json() const {
  Json triggers_json = Json::array();
  for (const auto& t : triggers) triggers_json.push_back(trigger_json(t));
  Json judge_json = judge ? Json{{"prompt", judge->prompt}, {"tier", judge->tier}} : Json();
  Json out = {{"name", name},
              {"role", role},
              {"instructions", instructions},
              {"tier", tier},
              {"escalate", escalate},
              {"tools", tools},
              {"memory_scopes", memory_scopes},
              {"output_schema", output_schema},
              {"judge", judge_json},
              {"output_retries", output_retries},
              {"max_turns", max_turns},
              {"sla_ms", sla},
              {"budget",
               {{"tokens_per_day", budget.tokens_per_day},
                {"usd_per_day", budget.usd_per_day},
                {"tokens_per_objective", budget.tokens_per_objective},
                {"usd_per_objective", budget.usd_per_objective}}},
              {"concurrency", concurrency},
              {"cache", cache},
              {"triggers", triggers_json}};
  if (revalidate) out["revalidate"] = revalidate_json(*revalidate);
  return out;
}

Result<AgentDef> AgentDef::from_json(const Json& j) {
  // A snapshot is written by to_json; any other shape is corruption, and
  // nlohmann's typed access reports it by throwing, caught right here.
  try {
    AgentDef a;
    a.name = j.at("name").get<std::string>();
    a.role = j.at("role").get<std::string>();
    a.instructions = j.at("instructions").get<std::string>();
    a.tier = j.at("tier").get<std::string>();
    a.escalate = j.at("escalate").get<std::string>();
    a.tools = j.at("tools").get<std::vector<std::string>>();
    a.memory_scopes = j.at("memory_scopes").get<std::vector<std::string>>();
    a.output_schema = j.at("output_schema");
    const Json& judge = j.at("judge");
    if (!judge.is_null())
      a.judge =
          JudgeDef{judge.at("prompt").get<std::string>(), judge.at("tier").get<std::string>()};
    a.output_retries = j.at("output_retries").get<int>();
    a.max_turns = j.at("max_turns").get<int>();
    a.sla = j.at("sla_ms").get<DurationMs>();
    const Json& budget = j.at("budget");
    a.budget.tokens_per_day = budget.at("tokens_per_day").get<int64_t>();
    a.budget.usd_per_day = budget.at("usd_per_day").get<double>();
    a.budget.tokens_per_objective = budget.at("tokens_per_objective").get<int64_t>();
    a.budget.usd_per_objective = budget.at("usd_per_objective").get<double>();
    a.concurrency = j.at("concurrency").get<int>();
    a.cache = j.at("cache").get<bool>();
    if (j.contains("revalidate")) a.revalidate = revalidate_from(j.at("revalidate"));
    for (const auto& t : j.at("triggers")) {
      a.triggers.push_back(trigger_from(t));
      if (!parse_catchup(t.at("catchup").get<std::string>(), &a.triggers.back().when.catchup)) {
        return Status::Corruption("agent snapshot: unknown catchup '" + t.at("catchup").get<std::string>() + "'");
      }
    }
    return a;
  } catch (const Json::exception& e) {
    return Status::Corruption(std::string("agent snapshot: ") + e.what());
  }
}

std::string AgentDef::version() const {
  return sha256_hex(dump_json(to_json())).substr(0, 16);
}

AgentDef default_planner() {
  AgentDef planner;
  planner.name = "planner";
  planner.role = "Planner";
  planner.instructions =
      "You turn an objective into a plan: a small set of tasks, each for one of the available "
      "agents, "
      "with the instructions that agent needs and the tasks it must wait for. Use as few tasks as "
      "the "
      "objective needs; give each a short unique key; only name agents from the list.";
  planner.tier = "large";
  planner.max_turns = 4;
  planner.concurrency = 4;
  return planner;
}

}  // namespace cadre
