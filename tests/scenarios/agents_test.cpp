// Agents, the model gateway and the planner, through the real `cadre`
// binary. The model providers are ScriptedModelServers on 127.0.0.1 that
// speak the real OpenAI and Anthropic wire formats; the binary reaches them
// through cadre.yaml like any provider. Each test reads as a specification:
//   - an agent calls a tool, gets its result back, and answers;
//   - an answer that fails its JSON Schema is asked again with the errors;
//   - a failing provider falls back to the next one, and the trace says so;
//   - a repeated request is answered from the response cache;
//   - a kill -9 between a model call and the next tool call never repeats
//     the model call, and `cadre ask` does not wait for the killed server;
//   - a recorded conversation replays without any provider, even when the
//     response cache answered while it was recorded;
//   - the planner re-asks for a plan with the errors, then runs its tasks
//     in order;
//   - configuration mistakes give errors that name the setting and never a
//     key;
//   - a failed check escalates to the large tier; a 429 is retried after its
//     Retry-After; tools outside the agent's list or with bad arguments are
//     refused to the model; a playbook step can hand its work to an agent.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "core/json.h"
#include "model_server.h"
#include "test_support.h"

namespace cadre {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::CommandResult;
using testing::contains;
using testing::eventually;
using testing::json_of;
using testing::kExitOk;
using testing::kExitRunFailed;
using testing::read_file;
using testing::run_cadre;
using testing::ScriptedModelServer;
using testing::ScriptedReply;
using testing::TempDir;
using testing::write_file;

// `cadre ask` and `objective add --wait` give up after this long, so a
// product bug fails the test instead of hanging it.
constexpr char kTimeout[] = "20";


std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

// A workspace with quick kernel settings and `models_yaml` as its models
// section (indented by two spaces under `models:`).
fs::path make_workspace(const fs::path& parent, const std::string& models_yaml,
                        const std::string& name = "ws") {
  fs::path ws = parent / name;
  CommandResult init = run_cadre({"init", ws.string()});
  EXPECT_EQ(init.exit_code, kExitOk) << init.err;
  write_file(ws / "cadre.yaml",
             "name: agents\n"
             "kernel: {workers: 4, lease: 3s, heartbeat: 1s, poll_interval: 50ms}\n"
             "models:\n" +
                 models_yaml);
  return ws;
}

std::string tier(const std::string& name, const std::string& provider, const std::string& model,
                 const ScriptedModelServer& server, const std::string& extra = "") {
  return "    " + name + ": {provider: " + provider + ", model: " + model + ", base_url: \"" +
         server.base_url() + "\"" + extra + "}\n";
}

void write_agent(const fs::path& ws, const std::string& name, const std::string& yaml) {
  write_file(ws / "agents" / (name + ".yaml"), yaml);
}

Json trace_of(const fs::path& ws, const std::string& id) {
  return json_of(run_cadre({"show", id, "--json"}, ws));
}

// The task with `key` in a trace (null if there is none).
Json task_of(const Json& trace, const std::string& key) {
  for (const auto& t : trace["tasks"]) {
    if (t["key"] == key) return t;
  }
  return Json();
}

// "name/kind" of every step of a task, in order, leaving out the journaled
// clock readings (kind "clock") that sit between them.
std::vector<std::string> step_names(const Json& task) {
  std::vector<std::string> names;
  for (const auto& s : task["steps"]) {
    if (s["kind"] == "clock") continue;
    names.push_back(s["name"].get<std::string>() + "/" + s["kind"].get<std::string>());
  }
  return names;
}

std::vector<Json> model_steps(const Json& task) {
  std::vector<Json> steps;
  for (const auto& s : task["steps"]) {
    if (s["kind"] == "model") steps.push_back(s);
  }
  return steps;
}

// The messages of an OpenAI chat request with `role`.
std::vector<Json> messages_with_role(const Json& body, const std::string& role) {
  std::vector<Json> found;
  for (const auto& m : body["messages"]) {
    if (m["role"] == role) found.push_back(m);
  }
  return found;
}

constexpr char kWriterAgent[] =
    "role: Note writer\n"
    "instructions: Write the note the user asks for with file.write, then say what you did.\n"
    "tools: [file.write]\n"
    "max_turns: 4\n";

TEST(AgentLoop, AToolCallRunsAndItsResultGoesBackToTheModelBeforeTheFinalAnswer) {
  TempDir dir;
  ScriptedModelServer server;
  auto ws = make_workspace(dir.path(), "  tiers:\n" + tier("small", "openai", "m-small", server));
  write_agent(ws, "writer", kWriterAgent);
  server.push(ScriptedReply::Tool(
      "file__write", Json{{"path", "notes/hello.txt"}, {"content", "hello from the agent"}}));
  server.push(ScriptedReply::Text("I wrote notes/hello.txt."));

  CommandResult ask = run_cadre({"ask", "writer", "Write a hello note", "--timeout", kTimeout}, ws);
  ASSERT_EQ(ask.exit_code, kExitOk) << ask.out << ask.err;
  EXPECT_TRUE(contains(ask.out, "I wrote notes/hello.txt.")) << ask.out;
  EXPECT_EQ(read_file(ws / "notes" / "hello.txt"), "hello from the agent");

  ASSERT_EQ(server.chat_requests(), 2);
  auto requests = server.received();
  // The first request offers the tool under its wire name.
  ASSERT_TRUE(requests[0].body.contains("tools")) << dump_json(requests[0].body);
  EXPECT_EQ(requests[0].body["tools"][0]["function"]["name"], "file__write");
  // The second carries the assistant's call and the tool's result, answering that call.
  auto assistant = messages_with_role(requests[1].body, "assistant");
  ASSERT_EQ(assistant.size(), 1u) << dump_json(requests[1].body);
  std::string call_id = assistant[0]["tool_calls"][0]["id"];
  auto tool = messages_with_role(requests[1].body, "tool");
  ASSERT_EQ(tool.size(), 1u) << dump_json(requests[1].body);
  EXPECT_EQ(tool[0]["tool_call_id"], call_id);
  Json result = Json::parse(tool[0]["content"].get<std::string>());
  EXPECT_EQ(result["ok"], true) << result;
  EXPECT_EQ(result["result"]["path"], "notes/hello.txt") << result;

  Json trace = trace_of(ws, first_line(ask.out));
  EXPECT_EQ(trace["objective"]["state"], "succeeded");
  Json task = task_of(trace, "writer");
  EXPECT_EQ(step_names(task), (std::vector<std::string>{"context/context", "model.small/model",
                                                        "file.write/tool", "model.small/model",
                                                        "memory.outcome/memory"}));
  // The journaled model answer is the call the tool result answered.
  auto models = model_steps(task);
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[0]["output"]["response"]["tool_calls"][0]["id"], call_id);
  EXPECT_EQ(models[0]["input"]["agent"], "writer");
  EXPECT_EQ(models[0]["input"]["tier"], "small");
  EXPECT_EQ(models[1]["output"]["call"]["provider"], "openai");
  EXPECT_EQ(models[1]["output"]["call"]["model"], "m-small");
  EXPECT_EQ(models[1]["output"]["response"]["content"], "I wrote notes/hello.txt.");
}

TEST(AgentLoop, OverTheAnthropicFormatTheToolResultAnswersItsToolUse) {
  TempDir dir;
  ScriptedModelServer server;
  auto ws =
      make_workspace(dir.path(), "  tiers:\n" + tier("large", "anthropic", "m-large", server));
  write_agent(ws, "writer", std::string(kWriterAgent) + "tier: large\n");
  server.push(ScriptedReply::Tool(
      "file__write", Json{{"path", "notes/claude.txt"}, {"content", "written via tool_use"}}));
  server.push(ScriptedReply::Text("Done: notes/claude.txt"));

  CommandResult ask = run_cadre({"ask", "writer", "Write a note", "--timeout", kTimeout}, ws);
  ASSERT_EQ(ask.exit_code, kExitOk) << ask.out << ask.err;
  EXPECT_TRUE(contains(ask.out, "Done: notes/claude.txt")) << ask.out;
  EXPECT_EQ(read_file(ws / "notes" / "claude.txt"), "written via tool_use");
  ASSERT_EQ(server.chat_requests(), 2);
  const Json second = server.received()[1].body;
  ASSERT_TRUE(second.contains("system")) << "the system prompt goes in the top-level field";
  // [user, assistant with tool_use, user with the tool_result answering it]
  const Json& messages = second["messages"];
  ASSERT_EQ(messages.size(), 3u) << dump_json(second);
  std::string use_id;
  for (const auto& block : messages[1]["content"]) {
    if (block["type"] == "tool_use") use_id = block["id"];
  }
  ASSERT_FALSE(use_id.empty()) << dump_json(messages[1]);
  const Json& result = messages[2]["content"][0];
  EXPECT_EQ(result["type"], "tool_result") << dump_json(messages[2]);
  EXPECT_EQ(result["tool_use_id"], use_id);
  EXPECT_TRUE(contains(dump_json(result), "notes/claude.txt")) << dump_json(result);
}

constexpr char kTitleSchema[] =
    "  schema:\n"
    "    type: object\n"
    "    required: [title]\n"
    "    properties: {title: {type: string}}\n";

TEST(AgentChecks, AnAnswerFailingItsSchemaIsAskedAgainWithTheErrors) {
  TempDir dir;
  ScriptedModelServer server;
  auto ws = make_workspace(dir.path(), "  tiers:\n" + tier("small", "openai", "m-small", server));
  write_agent(ws, "titler",
              std::string("instructions: Give the article a title.\nsuccess:\n") + kTitleSchema +
                  "  retries: 1\n");
  server.push(ScriptedReply::Text(R"({"name": "no title here"})"));
  server.push(ScriptedReply::Text(R"({"title": "Cadre ships"})"));

  CommandResult ask = run_cadre({"ask", "titler", "Title this", "--timeout", kTimeout}, ws);
  ASSERT_EQ(ask.exit_code, kExitOk) << ask.out << ask.err;
  EXPECT_TRUE(contains(ask.out, "Cadre ships")) << ask.out;

  ASSERT_EQ(server.chat_requests(), 2);
  auto second = server.received()[1].body;
  // The schema goes to the provider as a json_schema response format.
  EXPECT_EQ(second["response_format"]["type"], "json_schema") << dump_json(second);
  // The rejected answer, then a user message with what was wrong with it.
  const Json& messages = second["messages"];
  ASSERT_EQ(messages.size(), 4u) << dump_json(second);
  EXPECT_EQ(messages[2]["role"], "assistant");
  EXPECT_EQ(messages[2]["content"], R"({"name": "no title here"})");
  EXPECT_EQ(messages[3]["role"], "user");
  std::string feedback = messages[3]["content"];
  EXPECT_TRUE(contains(feedback, "did not pass its check")) << feedback;
  EXPECT_TRUE(contains(feedback, "title")) << feedback;

  Json trace = trace_of(ws, first_line(ask.out));
  Json task = task_of(trace, "titler");
  EXPECT_EQ(task["state"], "succeeded");
  EXPECT_EQ(task["output"]["answer"]["title"], "Cadre ships") << task["output"];
  EXPECT_EQ(task["output"]["turns"], 2);
}

TEST(AgentChecks, WithNoRetriesAnAnswerFailingItsSchemaFailsTheTaskNamingTheProblem) {
  TempDir dir;
  ScriptedModelServer server;
  auto ws = make_workspace(dir.path(), "  tiers:\n" + tier("small", "openai", "m-small", server));
  write_agent(ws, "titler",
              std::string("instructions: Give the article a title.\nsuccess:\n") + kTitleSchema +
                  "  retries: 0\n");
  server.push(ScriptedReply::Text(R"({"name": "no title here"})"));
  server.push(ScriptedReply::Text(R"({"title": "never asked for"})"));

  CommandResult ask = run_cadre({"ask", "titler", "Title this", "--timeout", kTimeout}, ws);
  EXPECT_EQ(ask.exit_code, kExitRunFailed) << ask.out << ask.err;
  EXPECT_EQ(server.chat_requests(), 1);
  Json trace = trace_of(ws, first_line(ask.out));
  EXPECT_EQ(trace["objective"]["state"], "failed");
  std::string error = task_of(trace, "titler")["error"];
  EXPECT_TRUE(contains(error, "failed its success check")) << error;
  EXPECT_TRUE(contains(error, "title")) << error;
  EXPECT_TRUE(contains(ask.out + ask.err, "title")) << ask.out << ask.err;
}

// The trace's last model step of the only agent task of objective `id`.
Json last_model_call(const fs::path& ws, const std::string& id, const std::string& key) {
  auto steps = model_steps(task_of(trace_of(ws, id), key));
  if (steps.empty()) return Json();
  return steps.back()["output"]["call"];
}

// True once `cadre status` shows a live worker (a `cadre serve` that started).
bool wait_for_worker(const fs::path& ws) {
  return eventually([&] {
    return !json_of(run_cadre({"status", "--json"}, ws))["workers"].empty();
  });
}

TEST(AgentModelFallback, WhenThePrimaryAnswers500TheAnthropicFallbackAnswersAndTheTraceSaysSo) {
  TempDir dir;
  ScriptedModelServer primary;
  ScriptedModelServer fallback;
  auto ws = make_workspace(
      dir.path(),
      "  tiers:\n" + tier("small", "openai", "m-small", primary,
                          ", fallbacks: [{provider: anthropic, model: m-b, base_url: \"" +
                              fallback.base_url() + "\"}]"));
  write_agent(ws, "helper", "instructions: Help.\n");
  primary.push(ScriptedReply::Error(500));
  fallback.push(ScriptedReply::Text("answered by the fallback"));

  CommandResult ask = run_cadre({"ask", "helper", "Say hello", "--timeout", kTimeout}, ws);
  ASSERT_EQ(ask.exit_code, kExitOk) << ask.out << ask.err;
  EXPECT_TRUE(contains(ask.out, "answered by the fallback")) << ask.out;
  EXPECT_EQ(primary.chat_requests(), 1);
  ASSERT_EQ(fallback.chat_requests(), 1);
  EXPECT_EQ(fallback.received()[0].path, "/v1/messages");

  Json call = last_model_call(ws, first_line(ask.out), "helper");
  EXPECT_EQ(call["provider"], "anthropic") << call;
  EXPECT_EQ(call["model"], "m-b") << call;
  ASSERT_EQ(call["failures"].size(), 1u) << call;
  EXPECT_EQ(call["failures"][0]["provider"], "openai");
  EXPECT_EQ(call["failures"][0]["model"], "m-small");
  EXPECT_TRUE(contains(call["failures"][0]["error"], "500")) << call;
}

TEST(AgentModelFallback, WhenNothingListensOnThePrimaryPortTheFallbackAnswers) {
  TempDir dir;
  int dead_port = 0;
  {
    ScriptedModelServer closed;  // a port that was free a moment ago, and is again
    dead_port = closed.port();
  }
  ScriptedModelServer fallback;
  auto ws = make_workspace(dir.path(),
                           "  tiers:\n    small: {provider: openai, model: m-small, base_url: "
                           "\"http://127.0.0.1:" +
                               std::to_string(dead_port) +
                               "/v1\", fallbacks: [{provider: anthropic, model: m-b, base_url: \"" +
                               fallback.base_url() + "\"}]}\n");
  write_agent(ws, "helper", "instructions: Help.\n");
  fallback.push(ScriptedReply::Text("answered by the fallback"));

  CommandResult ask = run_cadre({"ask", "helper", "Say hello", "--timeout", kTimeout}, ws);
  ASSERT_EQ(ask.exit_code, kExitOk) << ask.out << ask.err;
  EXPECT_TRUE(contains(ask.out, "answered by the fallback")) << ask.out;
  Json call = last_model_call(ws, first_line(ask.out), "helper");
  EXPECT_EQ(call["provider"], "anthropic") << call;
  ASSERT_EQ(call["failures"].size(), 1u) << call;
  EXPECT_EQ(call["failures"][0]["provider"], "openai") << call;
}

// Memory adds nothing to prompts here: otherwise the first ask's outcome
// would open the second one's prompt, and the requests would differ.
std::string cached_models(const ScriptedModelServer& server) {
  return "  tiers:\n" + tier("small", "openai", "m-small", server) +
         "  prices: {m-small: {input_per_mtok: 1.0, output_per_mtok: 2.0}}\n"
         "  cache_ttl: 1h\n"
         "memory: {context: {tokens: 0}}\n";
}

TEST(AgentModelCache, TheSameAskTwiceReachesTheModelOnceAndTheSecondCostsNothing) {
  TempDir dir;
  ScriptedModelServer server;
  auto ws = make_workspace(dir.path(), cached_models(server));
  write_agent(ws, "helper", "instructions: Answer briefly.\n");
  server.push(ScriptedReply::Text("forty-two"));
  server.push(ScriptedReply::Text("a second, different answer"));

  CommandResult first =
      run_cadre({"ask", "helper", "What is the answer?", "--timeout", kTimeout}, ws);
  ASSERT_EQ(first.exit_code, kExitOk) << first.out << first.err;
  CommandResult second =
      run_cadre({"ask", "helper", "What is the answer?", "--timeout", kTimeout}, ws);
  ASSERT_EQ(second.exit_code, kExitOk) << second.out << second.err;
  EXPECT_TRUE(contains(second.out, "forty-two")) << second.out;
  EXPECT_EQ(server.chat_requests(), 1);

  Json paid = last_model_call(ws, first_line(first.out), "helper");
  EXPECT_EQ(paid["cached"], false) << paid;
  // 12 input tokens at $1/Mtok and 7 output tokens at $2/Mtok.
  EXPECT_NEAR(paid["cost_usd"].get<double>(), 26e-6, 1e-12) << paid;
  Json cached = last_model_call(ws, first_line(second.out), "helper");
  EXPECT_EQ(cached["cached"], true) << cached;
  EXPECT_EQ(cached["cost_usd"].get<double>(), 0.0) << cached;
  EXPECT_EQ(cached["provider"], "openai") << cached;

  // `cadre agents` counts both calls, one from the cache, and the one paid.
  Json agents = json_of(run_cadre({"agents", "--json"}, ws));
  ASSERT_EQ(agents.size(), 1u) << agents;
  EXPECT_EQ(agents[0]["name"], "helper");
  EXPECT_EQ(agents[0]["state"], "idle");
  EXPECT_EQ(agents[0]["last_outcome"]["state"], "succeeded") << agents[0];
  EXPECT_EQ(agents[0]["today"]["calls"], 2) << agents[0];
  EXPECT_EQ(agents[0]["today"]["cached"], 1) << agents[0];
  EXPECT_NEAR(agents[0]["today"]["cost_usd"].get<double>(), 26e-6, 1e-12) << agents[0];
  // The cached answer spent no tokens: only the live call counts.
  EXPECT_EQ(agents[0]["today"]["input_tokens"], 12) << agents[0];
  EXPECT_EQ(agents[0]["today"]["output_tokens"], 7) << agents[0];
}

TEST(AgentModelCache, AnAgentWithCacheOffReachesTheModelEveryTime) {
  TempDir dir;
  ScriptedModelServer server;
  auto ws = make_workspace(dir.path(), cached_models(server));
  write_agent(ws, "helper", "instructions: Answer briefly.\ncache: false\n");
  server.push(ScriptedReply::Text("forty-two"));
  server.push(ScriptedReply::Text("forty-three"));

  CommandResult first =
      run_cadre({"ask", "helper", "What is the answer?", "--timeout", kTimeout}, ws);
  ASSERT_EQ(first.exit_code, kExitOk) << first.out << first.err;
  CommandResult second =
      run_cadre({"ask", "helper", "What is the answer?", "--timeout", kTimeout}, ws);
  ASSERT_EQ(second.exit_code, kExitOk) << second.out << second.err;
  EXPECT_TRUE(contains(second.out, "forty-three")) << second.out;
  EXPECT_EQ(server.chat_requests(), 2);
  EXPECT_EQ(last_model_call(ws, first_line(second.out), "helper")["cached"], false);
}

TEST(AgentCrash, AKillBetweenAModelCallAndTheNextToolCallNeverRepeatsTheModelCall) {
  TempDir dir;
  ScriptedModelServer server;
  auto ws = make_workspace(dir.path(), "  tiers:\n" + tier("small", "openai", "m-small", server));
  write_agent(ws, "waiter",
              "instructions: Wait as asked, then report.\ntools: [wait]\ncache: false\n");
  server.push(ScriptedReply::Tool("wait", Json{{"duration", "3s"}}));
  server.push(ScriptedReply::Text("waited and done"));

  auto log = dir.path() / "serve.log";
  int pid = testing::spawn_cadre({"serve"}, ws, log);
  ASSERT_GT(pid, 0);
  CommandResult add =
      run_cadre({"objective", "add", "Wait three seconds", "--owner", "waiter"}, ws);
  ASSERT_EQ(add.exit_code, kExitOk) << add.err;
  std::string id = first_line(add.out);

  auto task_state = [&] {
    Json task = task_of(trace_of(ws, id), "waiter");
    if (task.is_null()) return std::string("missing");
    return task["state"].get<std::string>() + "/" + task["wait_kind"].get<std::string>();
  };
  ASSERT_TRUE(eventually([&] {
    return server.chat_requests() == 1 && task_state() == "waiting/timer";
  })) << server.chat_requests()
      << " requests, task " << task_state() << "\n"
      << read_file(log.string() + ".err");
  EXPECT_EQ(testing::stop_process(pid, SIGKILL), 128 + SIGKILL);
  EXPECT_EQ(server.chat_requests(), 1);

  pid = testing::spawn_cadre({"serve"}, ws, log);
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(
      eventually([&] { return trace_of(ws, id)["objective"]["state"] == "succeeded"; }, 15s))
      << task_state() << "\n"
      << read_file(log.string() + ".err");
  EXPECT_EQ(testing::stop_process(pid, SIGTERM), 0);

  EXPECT_EQ(server.chat_requests(), 2) << "the first model call was repeated";
  ASSERT_EQ(server.received().size(), 2u);
  auto tool = messages_with_role(server.received()[1].body, "tool");
  ASSERT_EQ(tool.size(), 1u) << dump_json(server.received()[1].body);
  EXPECT_TRUE(contains(tool[0]["content"], "waited_until")) << tool[0];
  Json task = task_of(trace_of(ws, id), "waiter");
  EXPECT_EQ(step_names(task), (std::vector<std::string>{"context/context", "model.small/model",
                                                        "wait/wait", "model.small/model",
                                                        "memory.outcome/memory"}));
  EXPECT_EQ(task["output"]["text"], "waited and done");
}

// Without a parked task: a kill while the next model call is in flight.
// The finished call and the tool's effect stay journaled; only the call in
// flight is asked again, with the very same request.
TEST(AgentCrash, AKillDuringTheNextModelCallRepeatsOnlyThatCall) {
  TempDir dir;
  ScriptedModelServer server;
  auto ws = make_workspace(dir.path(), "  tiers:\n" + tier("small", "openai", "m-small", server));
  write_agent(ws, "writer", std::string(kWriterAgent) + "cache: false\n");
  server.push(ScriptedReply::Tool(
      "file__write", Json{{"path", "notes/crash.txt"}, {"content", "written before the kill"}}));
  ScriptedReply in_flight = ScriptedReply::Text("never delivered: the process is killed");
  in_flight.delay = 3s;
  server.push(in_flight);
  server.push(ScriptedReply::Text("answered after the restart"));

  auto log = dir.path() / "serve.log";
  int pid = testing::spawn_cadre({"serve"}, ws, log);
  ASSERT_GT(pid, 0);
  CommandResult add =
      run_cadre({"objective", "add", "Write the crash note", "--owner", "writer"}, ws);
  ASSERT_EQ(add.exit_code, kExitOk) << add.err;
  std::string id = first_line(add.out);
  ASSERT_TRUE(eventually([&] { return server.chat_requests() == 2; }))
      << server.chat_requests() << "\n"
      << read_file(log.string() + ".err");
  EXPECT_EQ(testing::stop_process(pid, SIGKILL), 128 + SIGKILL);
  EXPECT_EQ(read_file(ws / "notes" / "crash.txt"), "written before the kill");

  pid = testing::spawn_cadre({"serve"}, ws, log);
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(
      eventually([&] { return trace_of(ws, id)["objective"]["state"] == "succeeded"; }, 15s))
      << read_file(log.string() + ".err");
  EXPECT_EQ(testing::stop_process(pid, SIGTERM), 0);

  // The first call was not asked again; the one in flight was, unchanged.
  ASSERT_EQ(server.chat_requests(), 3);
  auto requests = server.received();
  EXPECT_EQ(requests[2].body, requests[1].body);
  Json task = task_of(trace_of(ws, id), "writer");
  EXPECT_EQ(task["output"]["text"], "answered after the restart");
  EXPECT_EQ(step_names(task), (std::vector<std::string>{"context/context", "model.small/model",
                                                        "file.write/tool", "model.small/model",
                                                        "memory.outcome/memory"}));
}

TEST(AgentCrash, AnAskRightAfterServeWasKilledRunsTheObjectiveItself) {
  TempDir dir;
  ScriptedModelServer server;
  auto ws = make_workspace(dir.path(), "  tiers:\n" + tier("small", "openai", "m-small", server));
  write_agent(ws, "helper", "instructions: Help.\n");
  server.push(ScriptedReply::Text("answered without serve"));
  auto log = dir.path() / "serve.log";
  int pid = testing::spawn_cadre({"serve"}, ws, log);
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(wait_for_worker(ws)) << read_file(log.string() + ".err");
  EXPECT_EQ(testing::stop_process(pid, SIGKILL), 128 + SIGKILL);

  // The dead worker's last heartbeat is recent, but its process is gone:
  // nobody would carry the objective out if ask waited for it.
  CommandResult ask = run_cadre({"ask", "helper", "Say hello", "--timeout", "8"}, ws);
  EXPECT_EQ(ask.exit_code, kExitOk) << ask.out << ask.err;
  EXPECT_TRUE(contains(ask.out, "answered without serve")) << ask.out;
  EXPECT_EQ(server.chat_requests(), 1);
}

TEST(AgentModelReplay, ARecordedConversationReplaysWithoutAnyProvider) {
  TempDir dir;
  auto recording = dir.path() / "models.jsonl";
  std::string recorded_answer;
  std::vector<std::string> recorded_steps;
  {
    ScriptedModelServer server;
    auto ws = make_workspace(dir.path(), "  tiers:\n" + tier("small", "openai", "m-small", server),
                             "recorded");
    write_agent(ws, "writer", kWriterAgent);
    server.push(ScriptedReply::Tool(
        "file__write", Json{{"path", "notes/replay.txt"}, {"content", "recorded content"}}));
    server.push(ScriptedReply::Text("Wrote notes/replay.txt for you."));
    auto log = dir.path() / "serve.log";
    int pid = testing::spawn_cadre({"serve", "--record", recording.string()}, ws, log);
    ASSERT_GT(pid, 0);
    // `cadre ask` waits for the serving worker rather than running the kernel itself.
    ASSERT_TRUE(wait_for_worker(ws)) << read_file(log.string() + ".err");
    CommandResult ask =
        run_cadre({"ask", "writer", "Write the replay note", "--timeout", kTimeout}, ws);
    EXPECT_EQ(testing::stop_process(pid, SIGTERM), 0);
    ASSERT_EQ(ask.exit_code, kExitOk) << ask.out << ask.err;
    ASSERT_EQ(server.chat_requests(), 2);
    recorded_answer = ask.out.substr(ask.out.find('\n') + 1);
    recorded_steps = step_names(task_of(trace_of(ws, first_line(ask.out)), "writer"));
  }
  ASSERT_TRUE(fs::exists(recording));
  EXPECT_EQ(recorded_answer, "Wrote notes/replay.txt for you.\n");

  // A fresh workspace answered from the recording alone: no server is left.
  auto ws = dir.path() / "replayed";
  ASSERT_EQ(run_cadre({"init", ws.string()}).exit_code, kExitOk);
  write_file(ws / "cadre.yaml",
             "name: replayed\nkernel: {poll_interval: 50ms}\nmodels:\n  tiers:\n"
             "    small: {provider: replay, recording: \"" +
                 recording.string() + "\"}\n");
  write_agent(ws, "writer", kWriterAgent);
  CommandResult replay =
      run_cadre({"ask", "writer", "Write the replay note", "--timeout", kTimeout}, ws);
  ASSERT_EQ(replay.exit_code, kExitOk) << replay.out << replay.err;
  EXPECT_EQ(replay.out.substr(replay.out.find('\n') + 1), recorded_answer);
  EXPECT_EQ(read_file(ws / "notes" / "replay.txt"), "recorded content");
  Json task = task_of(trace_of(ws, first_line(replay.out)), "writer");
  EXPECT_EQ(step_names(task), recorded_steps);
  EXPECT_EQ(step_names(task), (std::vector<std::string>{"context/context", "model.small/model",
                                                        "file.write/tool", "model.small/model",
                                                        "memory.outcome/memory"}));
  EXPECT_EQ(model_steps(task).back()["output"]["call"]["provider"], "replay");

  CommandResult unknown =
      run_cadre({"ask", "writer", "Something never recorded", "--timeout", kTimeout}, ws);
  EXPECT_EQ(unknown.exit_code, kExitRunFailed) << unknown.out << unknown.err;
  EXPECT_TRUE(contains(unknown.out + unknown.err, "not in the recording"))
      << unknown.out << unknown.err;
}

TEST(AgentModelReplay, AnswersTheCacheGaveAreRecordedTooSoTheRecordingIsComplete) {
  TempDir dir;
  auto recording = dir.path() / "models.jsonl";
  {
    ScriptedModelServer server;
    auto ws = make_workspace(dir.path(), cached_models(server), "recorded");
    write_agent(ws, "helper", "instructions: Answer briefly.\n");
    server.push(ScriptedReply::Text("answered once, then from the cache"));
    // The first ask fills the response cache; the recorded one is answered from it.
    CommandResult warm = run_cadre({"ask", "helper", "What is cached?", "--timeout", kTimeout}, ws);
    ASSERT_EQ(warm.exit_code, kExitOk) << warm.out << warm.err;
    auto log = dir.path() / "serve.log";
    int pid = testing::spawn_cadre({"serve", "--record", recording.string()}, ws, log);
    ASSERT_GT(pid, 0);
    ASSERT_TRUE(wait_for_worker(ws)) << read_file(log.string() + ".err");
    CommandResult ask = run_cadre({"ask", "helper", "What is cached?", "--timeout", kTimeout}, ws);
    EXPECT_EQ(testing::stop_process(pid, SIGTERM), 0);
    ASSERT_EQ(ask.exit_code, kExitOk) << ask.out << ask.err;
    EXPECT_EQ(last_model_call(ws, first_line(ask.out), "helper")["cached"], true);
    EXPECT_EQ(server.chat_requests(), 1);
  }
  auto ws = dir.path() / "replayed";
  ASSERT_EQ(run_cadre({"init", ws.string()}).exit_code, kExitOk);
  write_file(ws / "cadre.yaml",
             "name: replayed\nkernel: {poll_interval: 50ms}\nmodels:\n  tiers:\n"
             "    small: {provider: replay, recording: \"" +
                 recording.string() + "\"}\n");
  write_agent(ws, "helper", "instructions: Answer briefly.\n");
  CommandResult replay = run_cadre({"ask", "helper", "What is cached?", "--timeout", kTimeout}, ws);
  EXPECT_EQ(replay.exit_code, kExitOk) << replay.out << replay.err << read_file(recording);
  EXPECT_TRUE(contains(replay.out, "answered once, then from the cache")) << replay.out;
}

// --- The planner ----------------------------------------------------------------

constexpr char kCyclePlan[] =
    R"({"tasks": [{"key": "a", "agent": "writer", "instructions": "Draft it", "needs": ["b"]},
                  {"key": "b", "agent": "reviewer", "instructions": "Review it", "needs": ["a"]}]})";
constexpr char kUnknownAgentPlan[] =
    R"({"tasks": [{"key": "a", "agent": "editor", "instructions": "Draft it"}]})";
constexpr char kValidPlan[] =
    R"({"tasks": [{"key": "a", "agent": "writer", "instructions": "Draft the announcement"},
                  {"key": "b", "agent": "reviewer", "instructions": "Review the draft", "needs": ["a"]}]})";

fs::path planner_workspace(const fs::path& parent, const ScriptedModelServer& agents,
                           const ScriptedModelServer& planner) {
  auto ws = make_workspace(parent, "  tiers:\n" + tier("small", "openai", "m-small", agents) +
                                       tier("large", "anthropic", "m-large", planner));
  write_agent(ws, "writer", "role: Writer\ninstructions: Write what is asked.\n");
  write_agent(ws, "reviewer", "role: Reviewer\ninstructions: Review what you are given.\n");
  return ws;
}

TEST(AgentPlanner, InvalidPlansAreSentBackWithTheirErrorsAndTheValidPlanRunsInOrder) {
  TempDir dir;
  ScriptedModelServer agents;
  ScriptedModelServer planner;
  auto ws = planner_workspace(dir.path(), agents, planner);
  planner.push(ScriptedReply::Text(kCyclePlan));
  planner.push(ScriptedReply::Text(kUnknownAgentPlan));
  planner.push(ScriptedReply::Text(kValidPlan));
  agents.push(ScriptedReply::Text("DRAFT: Cadre 1.0 is out"));
  agents.push(ScriptedReply::Text("Reviewed: looks good"));

  CommandResult add =
      run_cadre({"objective", "add", "Announce the release", "--wait", "--timeout", kTimeout}, ws);
  ASSERT_EQ(add.exit_code, kExitOk) << add.out << add.err;
  EXPECT_TRUE(contains(add.out, "a: DRAFT: Cadre 1.0 is out")) << add.out;
  EXPECT_TRUE(contains(add.out, "b: Reviewed: looks good")) << add.out;

  ASSERT_EQ(planner.chat_requests(), 3);
  auto plans = planner.received();
  EXPECT_EQ(plans[0].path, "/v1/messages");
  EXPECT_TRUE(contains(dump_json(plans[0].body), "Announce the release"));
  EXPECT_FALSE(contains(dump_json(plans[0].body), "cannot run"));
  std::string second = dump_json(plans[1].body);
  EXPECT_TRUE(contains(second, "cycle")) << second;
  std::string third = dump_json(plans[2].body);
  EXPECT_TRUE(contains(third, "unknown agent 'editor'")) << third;

  ASSERT_EQ(agents.chat_requests(), 2);
  auto runs = agents.received();
  std::string a_request = dump_json(runs[0].body);
  std::string b_request = dump_json(runs[1].body);
  EXPECT_TRUE(contains(a_request, "Draft the announcement")) << a_request;
  EXPECT_TRUE(contains(b_request, "Review the draft")) << b_request;
  EXPECT_TRUE(contains(b_request, "DRAFT: Cadre 1.0 is out"))
      << "b did not get a's result: " << b_request;

  Json trace = trace_of(ws, first_line(add.out));
  EXPECT_EQ(trace["objective"]["state"], "succeeded");
  Json plan = task_of(trace, "plan");
  EXPECT_EQ(model_steps(plan).size(), 3u) << "the rejected plans stay in the journal";
  Json a = task_of(trace, "a");
  Json b = task_of(trace, "b");
  EXPECT_EQ(a["agent"], "writer");
  EXPECT_EQ(b["agent"], "reviewer");
  EXPECT_EQ(a["state"], "succeeded");
  EXPECT_EQ(b["state"], "succeeded");
  EXPECT_EQ(b["needs"], Json::array({"a"}));
  EXPECT_LE(a["finished_at"].get<int64_t>(), b["started_at"].get<int64_t>());
}

TEST(AgentPlanner, ThreeInvalidPlansFailTheObjectiveWithTheReasons) {
  TempDir dir;
  ScriptedModelServer agents;
  ScriptedModelServer planner;
  auto ws = planner_workspace(dir.path(), agents, planner);
  planner.push(ScriptedReply::Text(kCyclePlan));
  planner.push(ScriptedReply::Text(kUnknownAgentPlan));
  planner.push(ScriptedReply::Text(kCyclePlan));
  planner.push(ScriptedReply::Text(kValidPlan));  // never asked for

  CommandResult add =
      run_cadre({"objective", "add", "Announce the release", "--wait", "--timeout", kTimeout}, ws);
  EXPECT_EQ(add.exit_code, kExitRunFailed) << add.out << add.err;
  EXPECT_EQ(planner.chat_requests(), 3);
  EXPECT_EQ(agents.chat_requests(), 0);
  Json trace = trace_of(ws, first_line(add.out));
  EXPECT_EQ(trace["objective"]["state"], "failed");
  std::string error = trace["objective"]["error"];
  EXPECT_TRUE(contains(error, "no valid plan in 3 attempts")) << error;
  EXPECT_TRUE(contains(error, "cycle")) << error;
  EXPECT_TRUE(contains(add.out + add.err, "no valid plan")) << add.out << add.err;
  EXPECT_EQ(task_of(trace, "a"), Json()) << "no task of an invalid plan may exist";
}

// --- Configuration mistakes -------------------------------------------------------

TEST(AgentConfig, AnAgentOnATierWithNoModelFailsNamingTheSetting) {
  TempDir dir;
  ScriptedModelServer server;
  auto ws = make_workspace(dir.path(), "  tiers:\n" + tier("small", "openai", "m-small", server));
  write_agent(ws, "thinker", "instructions: Think hard.\ntier: large\n");

  CommandResult ask = run_cadre({"ask", "thinker", "Think", "--timeout", kTimeout}, ws);
  EXPECT_EQ(ask.exit_code, kExitRunFailed) << ask.out << ask.err;
  EXPECT_TRUE(contains(ask.out + ask.err, "models.tiers.large")) << ask.out << ask.err;
  EXPECT_EQ(server.chat_requests(), 0);
  std::string error = task_of(trace_of(ws, first_line(ask.out)), "thinker")["error"];
  EXPECT_TRUE(contains(error, "models.tiers.large")) << error;
}

TEST(AgentConfig, AnUnsetKeyVariableIsNamedAndNoKeyValueIsEverPrinted) {
  constexpr char kSecret[] = "sk-test-SECRET-value-4242";
  ASSERT_EQ(setenv("CADRE_AGENTS_TEST_KEY", kSecret, 1), 0);
  ASSERT_EQ(unsetenv("CADRE_AGENTS_TEST_UNSET_KEY"), 0);
  TempDir dir;
  ScriptedModelServer primary;
  ScriptedModelServer fallback;
  // The primary refuses the (set) key; the fallback's variable is not set.
  auto ws = make_workspace(
      dir.path(),
      "  tiers:\n" +
          tier("small", "openai", "m-small", primary,
               ", api_key: \"${env:CADRE_AGENTS_TEST_KEY}\", fallbacks: [{provider: anthropic, "
               "model: m-b, base_url: \"" +
                   fallback.base_url() + "\", api_key: \"${env:CADRE_AGENTS_TEST_UNSET_KEY}\"}]"));
  write_agent(ws, "helper", "instructions: Help.\n");
  primary.push(ScriptedReply::Error(401));
  fallback.push(ScriptedReply::Text("never sent"));

  CommandResult ask = run_cadre({"ask", "helper", "Say hello", "--timeout", kTimeout}, ws);
  unsetenv("CADRE_AGENTS_TEST_KEY");
  EXPECT_EQ(ask.exit_code, kExitRunFailed) << ask.out << ask.err;
  std::string printed = ask.out + ask.err;
  EXPECT_TRUE(contains(printed, "CADRE_AGENTS_TEST_UNSET_KEY is not set")) << printed;
  EXPECT_FALSE(contains(printed, kSecret)) << printed;
  // The set key was really sent, and only to its own endpoint.
  ASSERT_EQ(primary.chat_requests(), 1);
  EXPECT_EQ(primary.received()[0].headers["authorization"], std::string("Bearer ") + kSecret);
  EXPECT_EQ(fallback.chat_requests(), 0);

  std::string trace = dump_json(trace_of(ws, first_line(ask.out)));
  EXPECT_TRUE(contains(trace, "CADRE_AGENTS_TEST_UNSET_KEY")) << trace;
  EXPECT_FALSE(contains(trace, kSecret)) << "the trace holds the key";
  EXPECT_FALSE(contains(read_file(ws / "cadre.yaml"), kSecret));
}

}  // namespace
}  // namespace cadre

namespace cadre {
namespace {

// After a failed check, an agent with `escalate: large` asks the large tier.
TEST(AgentChecks, AFailedCheckEscalatesToTheLargeTier) {
  TempDir dir;
  ScriptedModelServer small_server;
  ScriptedModelServer large_server;
  auto ws = make_workspace(dir.path(), "  tiers:\n" + tier("small", "openai", "m-small", small_server) +
                                           tier("large", "openai", "m-large", large_server));
  write_agent(ws, "titler",
              "instructions: Give a title.\n"
              "escalate: large\n"
              "success:\n"
              "  schema: {type: object, required: [title], properties: {title: {type: string}}}\n");
  small_server.push(ScriptedReply::Text("A title, surely"));
  large_server.push(ScriptedReply::Text("{\"title\": \"Spring launch\"}"));

  CommandResult ask = run_cadre({"ask", "titler", "Title the launch post", "--timeout", kTimeout}, ws);
  ASSERT_EQ(ask.exit_code, kExitOk) << ask.out << ask.err;
  EXPECT_EQ(small_server.chat_requests(), 1);
  ASSERT_EQ(large_server.chat_requests(), 1);
  EXPECT_EQ(large_server.received()[0].body["model"], "m-large");
  Json answer = task_of(trace_of(ws, first_line(ask.out)), "titler")["output"];
  EXPECT_EQ(answer["tier"], "large") << answer;
  EXPECT_EQ(answer["answer"]["title"], "Spring launch") << answer;
}

// A 429 with Retry-After is retried by the kernel as a timer, no sooner
// than the provider asked.
TEST(AgentModelRetry, ARateLimitedCallIsTriedAgainAfterItsRetryAfter) {
  TempDir dir;
  ScriptedModelServer server;
  auto ws = make_workspace(dir.path(), "  tiers:\n" + tier("small", "openai", "m-small", server));
  write_agent(ws, "helper", "instructions: Answer briefly.\n");
  server.push(ScriptedReply::Error(429, 1));
  server.push(ScriptedReply::Text("Done."));

  CommandResult ask = run_cadre({"ask", "helper", "Say done", "--timeout", kTimeout}, ws);
  ASSERT_EQ(ask.exit_code, kExitOk) << ask.out << ask.err;
  EXPECT_EQ(server.chat_requests(), 2);
  std::vector<Json> calls = model_steps(task_of(trace_of(ws, first_line(ask.out)), "helper"));
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0]["attempts"], 2) << calls[0];
  const Json& log = calls[0]["attempt_log"];
  ASSERT_EQ(log.size(), 2u) << log;
  EXPECT_TRUE(contains(log[0]["error"].get<std::string>(), "rate limited")) << log;
  EXPECT_GE(log[1]["started_at"].get<int64_t>() - log[0]["finished_at"].get<int64_t>(), 1000) << log;
}

// A call to a tool the agent does not have, or with arguments its schema
// refuses, runs nothing; the refusal goes back to the model.
TEST(AgentLoop, ToolsOutsideTheAgentsListOrWithBadArgumentsAreRefusedToTheModel) {
  TempDir dir;
  ScriptedModelServer server;
  auto ws = make_workspace(dir.path(), "  tiers:\n" + tier("small", "openai", "m-small", server));
  write_agent(ws, "reader", "instructions: Only log.\ntools: [log]\n");
  server.push(ScriptedReply::Tool("file__write", Json{{"path", "x.txt"}, {"content", "nope"}}));
  server.push(ScriptedReply::Tool("log", Json{{"nonsense", true}}));
  server.push(ScriptedReply::Text("I could not write."));

  CommandResult ask = run_cadre({"ask", "reader", "Write x.txt", "--timeout", kTimeout}, ws);
  ASSERT_EQ(ask.exit_code, kExitOk) << ask.out << ask.err;
  EXPECT_FALSE(fs::exists(ws / "x.txt"));
  auto received = server.received();
  ASSERT_EQ(received.size(), 3u);
  std::vector<Json> results = messages_with_role(received[2].body, "tool");
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(contains(results[0]["content"].get<std::string>(), "there is no tool 'file__write' for this agent"))
      << results[0];
  EXPECT_TRUE(contains(results[1]["content"].get<std::string>(), "invalid arguments for log")) << results[1];
  std::vector<std::string> names = step_names(task_of(trace_of(ws, first_line(ask.out)), "reader"));
  EXPECT_EQ(names, (std::vector<std::string>{"context/context", "model.small/model", "model.small/model",
                                             "model.small/model", "memory.outcome/memory"}));
}

// A playbook step can hand its work to an agent: `with` gives its inputs and
// `task` the instruction; the step's output is the agent's answer.
TEST(AgentPlaybook, AStepUsingAnAgentRunsItAndPassesItsAnswerOn) {
  TempDir dir;
  ScriptedModelServer server;
  auto ws = make_workspace(dir.path(), "  tiers:\n" + tier("small", "openai", "m-small", server));
  write_agent(ws, "writer", kWriterAgent);
  write_file(ws / "playbooks" / "note.yaml",
             "name: note\n"
             "inputs: {topic: {type: string, required: true}}\n"
             "steps:\n"
             "  - id: draft\n"
             "    uses: agent.writer\n"
             "    with: {task: \"Write a note about {{ input.topic }}\", topic: \"{{ input.topic }}\"}\n"
             "  - id: record\n"
             "    uses: file.write\n"
             "    with: {path: out/answer.txt, content: \"{{ steps.draft.output.text }}\"}\n");
  server.push(ScriptedReply::Text("Pricing is simple."));

  int serve = testing::spawn_cadre({"serve"}, ws, dir.path() / "serve.log");
  CommandResult run = run_cadre({"run", "note", "--input", "topic=pricing", "--wait", "--timeout", kTimeout}, ws);
  testing::stop_process(serve, SIGTERM);
  ASSERT_EQ(run.exit_code, kExitOk) << run.out << run.err << read_file(dir.path() / "serve.log");
  EXPECT_EQ(read_file(ws / "out" / "answer.txt"), "Pricing is simple.");
  auto received = server.received();
  ASSERT_EQ(received.size(), 1u);
  std::vector<Json> users = messages_with_role(received[0].body, "user");
  ASSERT_EQ(users.size(), 1u);
  EXPECT_TRUE(contains(users[0]["content"].get<std::string>(), "Write a note about pricing")) << users[0];
  EXPECT_TRUE(contains(users[0]["content"].get<std::string>(), "\"topic\":\"pricing\"")) << users[0];
}

}  // namespace
}  // namespace cadre

namespace cadre {
namespace {

// An agent's event trigger gives it an objective whose text is rendered
// from the event, once per event even across a restart of the server.
TEST(AgentTriggers, AnEventStartsOneObjectiveForTheAgentWithItsTextRendered) {
  TempDir dir;
  ScriptedModelServer server;
  auto ws = make_workspace(dir.path(), "  tiers:\n" + tier("small", "openai", "m-small", server));
  write_agent(ws, "greeter",
              "instructions: Greet new customers.\n"
              "triggers:\n"
              "  - event: customer.signup\n"
              "    objective: \"Welcome {{ event.data.name }}\"\n");
  server.push(ScriptedReply::Text("Welcome aboard, Ada!"));
  CommandResult emit = run_cadre({"emit", "customer.signup", "--data", "{\"name\": \"Ada\"}"}, ws);
  ASSERT_EQ(emit.exit_code, kExitOk) << emit.err;

  int serve = testing::spawn_cadre({"serve"}, ws, dir.path() / "serve.log");
  bool done = eventually(
      [&] {
        Json rows = json_of(run_cadre({"ls", "objectives", "--json"}, ws));
        return rows.size() == 1 && rows[0]["state"] == "succeeded";
      },
      15s);
  testing::stop_process(serve, SIGTERM);
  ASSERT_TRUE(done) << read_file(dir.path() / "serve.log");
  serve = testing::spawn_cadre({"serve"}, ws, dir.path() / "serve2.log");
  std::this_thread::sleep_for(1500ms);  // a trigger pass that must start nothing new
  testing::stop_process(serve, SIGTERM);

  Json rows = json_of(run_cadre({"ls", "objectives", "--json"}, ws));
  ASSERT_EQ(rows.size(), 1u) << rows;
  EXPECT_EQ(rows[0]["title"], "Welcome Ada");
  EXPECT_EQ(rows[0]["owner"], "greeter");
  EXPECT_EQ(server.chat_requests(), 1);
  std::vector<Json> users = messages_with_role(server.received()[0].body, "user");
  ASSERT_EQ(users.size(), 1u);
  EXPECT_TRUE(contains(users[0]["content"].get<std::string>(), "Welcome Ada")) << users[0];
}

}  // namespace
}  // namespace cadre

namespace cadre {
namespace {

// A plan task may narrow its agent's tools: the model is offered only those.
TEST(AgentPlanner, APlanTaskOffersItsAgentOnlyTheToolsThePlanGaveIt) {
  TempDir dir;
  ScriptedModelServer agents;
  ScriptedModelServer planner;
  auto ws = planner_workspace(dir.path(), agents, planner);
  write_agent(ws, "writer", "role: Writer\ninstructions: Write what is asked.\ntools: [file.write, log]\n");
  planner.push(ScriptedReply::Text(
      R"({"tasks": [{"key": "a", "agent": "writer", "instructions": "Only log it", "tools": ["log"]}]})"));
  agents.push(ScriptedReply::Text("Logged."));

  CommandResult add = run_cadre({"objective", "add", "Log the release", "--wait", "--timeout", kTimeout}, ws);
  ASSERT_EQ(add.exit_code, kExitOk) << add.out << add.err;
  ASSERT_EQ(agents.chat_requests(), 1);
  const Json tools = agents.received()[0].body["tools"];
  ASSERT_EQ(tools.size(), 1u) << tools;
  EXPECT_EQ(tools[0]["function"]["name"], "log") << tools;
}

}  // namespace
}  // namespace cadre
