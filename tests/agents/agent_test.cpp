// Agent definitions and plans as the operator writes and the planner
// produces them: what a valid file gives, every mistake it reports, the
// snapshot a task replays against, and what makes a plan unrunnable.
#include "agents/agent.h"

#include <gtest/gtest.h>

#include <sstream>

#include "agents/agent_runner.h"
#include "agents/planner.h"

namespace cadre {
namespace {

std::vector<std::string> lines_of(const Diagnostics& diagnostics) {
  std::vector<std::string> lines;
  std::istringstream in(diagnostics.to_string());
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

AgentDef parse(std::string_view text, Diagnostics* diagnostics) {
  return parse_agent(text, "agents/writer.yaml", "writer", LoadOptions{}, diagnostics);
}

constexpr std::string_view kFullAgent = R"yaml(
role: Writer
instructions: |
  Write short notes.
tier: small
escalate: large
tools: [file.write, log]
memory: {scopes: [customers, shared]}
success:
  schema: {type: object, required: [summary], properties: {summary: {type: string}}}
  judge: {prompt: "Is it short?", tier: large}
  retries: 3
max_turns: 5
sla: 2h
budget: {tokens_per_day: 1000, usd_per_day: 1.5, tokens_per_objective: 200, usd_per_objective: 0.25}
concurrency: 3
cache: false
triggers:
  - cron: "0 9 * * 1-5"
    timezone: Europe/Paris
    catchup: latest
    objective: "Morning notes"
  - event: note.requested
    objective: "Note about {{ event.data.topic }}"
)yaml";

TEST(AgentTest, AFullFileGivesEveryField) {
  Diagnostics diagnostics;
  AgentDef a = parse(kFullAgent, &diagnostics);
  ASSERT_TRUE(diagnostics.empty()) << diagnostics.to_string();
  EXPECT_EQ(a.name, "writer");
  EXPECT_EQ(a.role, "Writer");
  EXPECT_EQ(a.instructions, "Write short notes.\n");
  EXPECT_EQ(a.tier, "small");
  EXPECT_EQ(a.escalate, "large");
  EXPECT_EQ(a.tools, (std::vector<std::string>{"file.write", "log"}));
  EXPECT_EQ(a.memory_scopes, (std::vector<std::string>{"customers", "shared"}));
  EXPECT_EQ(a.output_schema["required"], Json::array({"summary"}));
  ASSERT_TRUE(a.judge.has_value());
  EXPECT_EQ(a.judge->prompt, "Is it short?");
  EXPECT_EQ(a.judge->tier, "large");
  EXPECT_EQ(a.output_retries, 3);
  EXPECT_EQ(a.max_turns, 5);
  EXPECT_EQ(a.sla, 2 * 3600 * 1000);
  EXPECT_EQ(a.budget.tokens_per_day, 1000);
  EXPECT_DOUBLE_EQ(a.budget.usd_per_day, 1.5);
  EXPECT_EQ(a.budget.tokens_per_objective, 200);
  EXPECT_DOUBLE_EQ(a.budget.usd_per_objective, 0.25);
  EXPECT_EQ(a.concurrency, 3);
  EXPECT_FALSE(a.cache);
  ASSERT_EQ(a.triggers.size(), 2u);
  EXPECT_EQ(a.triggers[0].when.cron, "0 9 * * 1-5");
  EXPECT_EQ(a.triggers[0].when.time_zone, "Europe/Paris");
  EXPECT_EQ(a.triggers[0].when.catchup, Catchup::kLatest);
  EXPECT_EQ(a.triggers[0].objective, "Morning notes");
  EXPECT_EQ(a.triggers[1].when.kind, TriggerDef::Kind::kEvent);
  EXPECT_EQ(a.triggers[1].when.event, "note.requested");
}

TEST(AgentTest, DefaultsAreSmallTierOneAtATimeWithTheCache) {
  Diagnostics diagnostics;
  AgentDef a = parse("instructions: Do it.\n", &diagnostics);
  ASSERT_TRUE(diagnostics.empty()) << diagnostics.to_string();
  EXPECT_EQ(a.tier, "small");
  EXPECT_EQ(a.escalate, "");
  EXPECT_TRUE(a.tools.empty());
  EXPECT_TRUE(a.output_schema.is_null());
  EXPECT_FALSE(a.judge.has_value());
  EXPECT_EQ(a.output_retries, 2);
  EXPECT_EQ(a.max_turns, 8);
  EXPECT_EQ(a.concurrency, 1);
  EXPECT_TRUE(a.cache);
}

TEST(AgentTest, EveryMistakeIsReportedWithItsPlace) {
  Diagnostics diagnostics;
  parse(R"yaml(role: Writer
tier: medium
escalate: huge
tools: [file.wrte, log]
success:
  schema: {type: thing}
  judge: {tier: small}
  retries: 11
max_turns: 0
budget: {usd_per_day: -1, tokens: 5}
concurrency: many
triggers:
  - cron: "61 * * * *"
  - event: x.y
colour: blue
)yaml",
        &diagnostics);
  std::vector<std::string> lines = lines_of(diagnostics);
  auto has = [&](const std::string& text) {
    for (const auto& l : lines) {
      if (l.find(text) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("agents/writer.yaml:1:1: instructions: required field is missing")) << diagnostics.to_string();
  EXPECT_TRUE(has("agents/writer.yaml:2:7: tier: must be small or large, got 'medium'")) << diagnostics.to_string();
  EXPECT_TRUE(has("agents/writer.yaml:3:11: escalate: must be small or large")) << diagnostics.to_string();
  EXPECT_TRUE(has("agents/writer.yaml:4:9: tools[0]: unknown tool 'file.wrte' (did you mean 'file.write'?)"))
      << diagnostics.to_string();
  EXPECT_TRUE(has("success.schema: invalid JSON Schema")) << diagnostics.to_string();
  EXPECT_TRUE(has("success.judge: prompt: required field is missing") || has("success.judge.prompt"))
      << diagnostics.to_string();
  EXPECT_TRUE(has("success.retries")) << diagnostics.to_string();
  EXPECT_TRUE(has("max_turns")) << diagnostics.to_string();
  EXPECT_TRUE(has("budget.usd_per_day")) << diagnostics.to_string();
  EXPECT_TRUE(has("budget.tokens")) << diagnostics.to_string();
  EXPECT_TRUE(has("concurrency")) << diagnostics.to_string();
  EXPECT_TRUE(has("triggers[0].cron: invalid cron schedule")) << diagnostics.to_string();
  EXPECT_TRUE(has("triggers[1].objective: required field is missing") || has("triggers[1]: objective"))
      << diagnostics.to_string();
  EXPECT_TRUE(has("colour")) << diagnostics.to_string();
  EXPECT_GE(lines.size(), 14u) << diagnostics.to_string();
}

TEST(AgentTest, AnEmptyFileOrAListIsRefused) {
  Diagnostics empty;
  parse("", &empty);
  EXPECT_EQ(lines_of(empty), (std::vector<std::string>{
                                 "agents/writer.yaml:0:0: the file is empty; an agent needs at least instructions"}));
  Diagnostics list;
  parse("- a\n- b\n", &list);
  EXPECT_EQ(lines_of(list), (std::vector<std::string>{"agents/writer.yaml:1:1: expected a mapping, got a sequence"}));
}

TEST(AgentTest, TheSnapshotRoundTripsAndTheVersionFollowsTheContent) {
  Diagnostics diagnostics;
  AgentDef a = parse(kFullAgent, &diagnostics);
  ASSERT_TRUE(diagnostics.empty()) << diagnostics.to_string();
  auto back = AgentDef::from_json(a.to_json());
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->to_json(), a.to_json());
  EXPECT_EQ(back->version(), a.version());
  EXPECT_EQ(a.version().size(), 16u);

  AgentDef changed = a;
  changed.instructions += "Be brief.\n";
  EXPECT_NE(changed.version(), a.version());
  AgentDef moved = a;
  moved.file = "agents/elsewhere.yaml";  // where it was read is not what it does
  EXPECT_EQ(moved.version(), a.version());

  Json broken = a.to_json();
  broken.erase("tools");
  auto corrupt = AgentDef::from_json(broken);
  EXPECT_TRUE(corrupt.status().is(StatusCode::kCorruption)) << corrupt.status().to_string();
  broken = a.to_json();
  broken["triggers"][0]["catchup"] = "sometimes";
  EXPECT_TRUE(AgentDef::from_json(broken).status().is(StatusCode::kCorruption));
}

TEST(AgentTest, ToolNamesOnTheWireAndAnswersAsJson) {
  EXPECT_EQ(wire_tool_name("file.write"), "file__write");
  EXPECT_EQ(wire_tool_name("log"), "log");
  EXPECT_EQ(*parse_json_answer("{\"a\": 1}"), (Json{{"a", 1}}));
  EXPECT_EQ(*parse_json_answer("Here it is:\n```json\n{\"a\": 2}\n```\n"), (Json{{"a", 2}}));
  EXPECT_TRUE(parse_json_answer("no json here").status().is(StatusCode::kInvalidArgument));
}

// --- plans ----------------------------------------------------------------

Workspace two_agents() {
  Workspace w;
  AgentDef writer;
  writer.name = "writer";
  writer.budget.usd_per_objective = 0.5;
  AgentDef reviewer;
  reviewer.name = "reviewer";
  w.agents["writer"] = std::make_shared<const AgentDef>(writer);
  w.agents["reviewer"] = std::make_shared<const AgentDef>(reviewer);
  return w;
}

Json task(const std::string& key, const std::string& agent, std::vector<std::string> needs = {}) {
  return {{"key", key}, {"agent", agent}, {"instructions", "do " + key}, {"needs", needs}};
}

bool mentions(const std::vector<std::string>& errors, const std::string& text) {
  for (const auto& e : errors) {
    if (e.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(PlanTest, AValidPlanHasNoErrors) {
  Json plan = {{"tasks", {task("draft", "writer"), task("review", "reviewer", {"draft"})}}};
  EXPECT_TRUE(validate_plan(plan, two_agents(), {}, 0).empty());
}

TEST(PlanTest, EachWayAPlanCannotRunIsNamed) {
  Workspace w = two_agents();
  auto errors = validate_plan({{"tasks", {task("a", "writer", {"b"}), task("b", "reviewer", {"a"})}}}, w, {}, 0);
  EXPECT_TRUE(mentions(errors, "the plan has a cycle among: a, b")) << ::testing::PrintToString(errors);

  errors = validate_plan({{"tasks", {task("a", "writr")}}}, w, {}, 0);
  EXPECT_TRUE(mentions(errors, "/tasks/0/agent: unknown agent 'writr' (did you mean 'writer'?)"))
      << ::testing::PrintToString(errors);

  errors = validate_plan({{"tasks", {task("a", "writer"), task("a", "reviewer")}}}, w, {}, 0);
  EXPECT_TRUE(mentions(errors, "/tasks/1/key: 'a' is used by another task")) << ::testing::PrintToString(errors);

  errors = validate_plan({{"tasks", {task("a", "writer", {"ghost"})}}}, w, {}, 0);
  EXPECT_TRUE(mentions(errors, "/tasks/0/needs: no task has the key 'ghost'")) << ::testing::PrintToString(errors);

  errors = validate_plan({{"tasks", {task("Bad Key", "writer"), task("plan", "writer")}}}, w, {}, 0);
  EXPECT_TRUE(mentions(errors, "/tasks/0/key: 'Bad Key' is not a valid key")) << ::testing::PrintToString(errors);
  EXPECT_TRUE(mentions(errors, "/tasks/1/key: 'plan' is not a valid key")) << ::testing::PrintToString(errors);

  errors = validate_plan({{"tasks", {task("a", "planner")}}}, w, {}, 0);
  EXPECT_TRUE(mentions(errors, "unknown agent 'planner'")) << ::testing::PrintToString(errors);

  errors = validate_plan({{"steps", Json::array()}}, w, {}, 0);
  EXPECT_TRUE(mentions(errors, "tasks")) << ::testing::PrintToString(errors);
  EXPECT_FALSE(validate_plan(Json("not an object"), w, {}, 0).empty());
}

TEST(PlanTest, ATaskMayNarrowItsAgentsToolsButNotWidenThem) {
  Workspace w;
  AgentDef writer;
  writer.name = "writer";
  writer.tools = {"file.write", "log"};
  w.agents["writer"] = std::make_shared<const AgentDef>(writer);
  Json narrow = task("a", "writer");
  narrow["tools"] = {"log"};
  EXPECT_TRUE(validate_plan({{"tasks", {narrow}}}, w, {}, 0).empty());
  Json wide = task("a", "writer");
  wide["tools"] = {"log", "file.append"};
  auto errors = validate_plan({{"tasks", {wide}}}, w, {}, 0);
  EXPECT_TRUE(mentions(errors, "/tasks/0/tools: agent 'writer' may not use 'file.append'"))
      << ::testing::PrintToString(errors);
}

TEST(PlanTest, SizeAndBudgetLimits) {
  Workspace w = two_agents();
  Json many = {{"tasks", Json::array()}};
  for (int i = 0; i < 4; ++i) many["tasks"].push_back(task("t" + std::to_string(i), "writer"));
  PlanLimits limits;
  limits.max_tasks = 3;
  EXPECT_TRUE(mentions(validate_plan(many, w, limits, 0), "the plan has 4 tasks; at most 3 are allowed"));

  Json two_writers = {{"tasks", {task("a", "writer"), task("b", "writer")}}};
  EXPECT_TRUE(validate_plan(two_writers, w, {}, 1.0).empty());  // 2 x $0.50 fits $1
  EXPECT_TRUE(mentions(validate_plan(two_writers, w, {}, 0.75), "more than the objective's budget of $0.75"))
      << ::testing::PrintToString(validate_plan(two_writers, w, {}, 0.75));
  // An agent without a per-objective budget cannot be bounded by one.
  EXPECT_TRUE(mentions(validate_plan({{"tasks", {task("r", "reviewer")}}}, w, {}, 1.0),
                       "'reviewer' has no budget.usd_per_objective"));
}

}  // namespace
}  // namespace cadre
