// Secrets through the real `cadre` binary. Each test reads as a
// specification:
//   - `cadre secret set NAME` takes the value on standard input and never
//     echoes it; `secret ls` shows names and times only; `secret rm` of a
//     missing secret exits 3; every change is in the audit log by name;
//   - a model endpoint with `api_key: ${secret:NAME}` sends the value to its
//     provider, and yet the value appears in no output of any command and in
//     no byte of any file under .cadre/ (database, WAL, vector index), even
//     when the model answers with it, a tool's arguments carry it, a tool
//     fails quoting it, a log line prints it and a provider's 401 answer
//     quotes it; the audit log records each process's first use by name;
//   - a secret that is not set is an error naming the secret and the field.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/json.h"
#include "model_server.h"
#include "test_support.h"

extern char** environ;

namespace cadre {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using testing::contains;
using testing::json_of;
using testing::kExitNotFound;
using testing::kExitOk;
using testing::kExitRunFailed;
using testing::read_file;
using testing::run_cadre;
using testing::run_cadre_with_input;
using testing::ScriptedModelServer;
using testing::ScriptedReply;
using testing::TempDir;
using testing::write_file;

constexpr char kTimeout[] = "20";
// The secret under test, and a distinctive part of it: a leak of half the
// value is still a leak.
constexpr char kKey[] = "sk-scenario-7c1e9a4b2d6f8e0a";
constexpr char kKeyTail[] = "7c1e9a4b2d6f8e0a";
constexpr char kMarker[] = "[secret:MODEL_KEY]";


std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}


// An OpenAI-format endpoint that refuses every key with 401 and, like some
// real APIs, quotes the key it was sent in its error message.
class KeyEchoingServer {
 public:
  KeyEchoingServer() {
    server_.Post("/v1/chat/completions", [this](const httplib::Request& request,
                                                httplib::Response& response) {
      std::string auth = request.get_header_value("Authorization");
      std::string key = auth.starts_with("Bearer ") ? auth.substr(7) : auth;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        keys_.push_back(key);
      }
      response.status = 401;
      Json body{{"error",
                 {{"message", "Incorrect API key provided: " + key + ". You can find your key."},
                  {"type", "invalid_request_error"},
                  {"code", "invalid_api_key"}}}};
      response.set_content(body.dump(), "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // Bound already, so connections queue; wait until they are served.
    for (int i = 0; i < 500 && !server_.is_running(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ~KeyEchoingServer() {
    server_.stop();
    thread_.join();
  }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  std::vector<std::string> keys() {
    std::lock_guard<std::mutex> lock(mutex_);
    return keys_;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mutex_;
  std::vector<std::string> keys_;
};

// A workspace whose small tier is `small` and large tier `large`, both
// with api_key ${secret:MODEL_KEY}.
fs::path make_workspace(const fs::path& parent, const std::string& small_url,
                        const std::string& large_url) {
  fs::path ws = parent / "ws";
  CommandResult init = run_cadre({"init", ws.string()});
  EXPECT_EQ(init.exit_code, kExitOk) << init.err;
  auto endpoint = [](const std::string& model, const std::string& url) {
    return "{provider: openai, model: " + model + ", base_url: \"" + url +
           "\", api_key: \"${secret:MODEL_KEY}\"}\n";
  };
  write_file(ws / "cadre.yaml",
             "name: secrets\n"
             "kernel: {workers: 2, lease: 3s, heartbeat: 1s, poll_interval: 50ms}\n"
             "models:\n"
             "  tiers:\n"
             "    small: " +
                 endpoint("m-small", small_url) + "    large: " + endpoint("m-large", large_url));
  write_file(ws / "agents" / "helper.yaml",
             "role: Helper\n"
             "instructions: Do what is asked with your tools, then answer.\n"
             "tools: [log, memory.note, file.write]\n"
             "max_turns: 6\n");
  write_file(ws / "agents" / "unlucky.yaml", "instructions: Answer.\ntier: large\n");
  return ws;
}

// Every file under `root` whose bytes hold `needle`.
std::vector<std::string> files_holding(const fs::path& root, const std::string& needle) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_regular_file() && contains(read_file(entry.path()), needle))
      found.push_back(entry.path().string());
  }
  return found;
}

TEST(Secrets, AKeyReferencedAsASecretIsSentToTheModelButNeverPrintedOrStored) {
  ::setenv("CADRE_LOG", "info", 1);  // more log lines, more chances to leak
  TempDir dir;
  ScriptedModelServer model;
  KeyEchoingServer refusing;
  fs::path ws = make_workspace(dir.path(), model.base_url(), refusing.base_url());
  std::vector<std::pair<std::string, CommandResult>> outputs;
  auto record = [&](const std::string& label, CommandResult result) {
    outputs.emplace_back(label, result);
    return result;
  };

  CommandResult set = record("secret set", run_cadre_with_input({"secret", "set", "MODEL_KEY"}, ws,
                                                                std::string(kKey) + "\n"));
  ASSERT_EQ(set.exit_code, kExitOk) << set.out << set.err;
  EXPECT_TRUE(contains(set.out, "Secret MODEL_KEY set")) << set.out;

  // The model calls tools whose arguments carry the key (one of them fails
  // quoting it), then answers with the key in its text.
  model.push(ScriptedReply::Tool(
      "log", Json{{"message", std::string("the key is ") + kKey}, {"level", "error"}}));
  model.push(ScriptedReply::Tool(
      "memory__note",
      Json{{"text", std::string("The CRM API key is ") + kKey}, {"entities", {"service:crm"}}}));
  model.push(ScriptedReply::Tool(
      "file__write", Json{{"path", std::string("../") + kKey + ".txt"}, {"content", kKey}}));
  model.push(ScriptedReply::Text(std::string("Done. Your key is ") + kKey + ", keep it safe."));
  CommandResult ask = record(
      "ask helper", run_cadre({"ask", "helper", "Store the CRM key", "--timeout", kTimeout}, ws));
  ASSERT_EQ(ask.exit_code, kExitOk) << ask.out << ask.err;
  EXPECT_TRUE(contains(ask.out, std::string("Done. Your key is ") + kMarker)) << ask.out;
  const std::string helper_run = first_line(ask.out);

  // The key was really sent, on every request.
  auto requests = model.received();
  ASSERT_EQ(requests.size(), 4u);
  for (const auto& request : requests)
    EXPECT_EQ(request.headers.value("authorization", ""), std::string("Bearer ") + kKey);

  // A provider refusing the key with 401 and quoting it.
  CommandResult refused =
      record("ask unlucky", run_cadre({"ask", "unlucky", "Say hi", "--timeout", kTimeout}, ws));
  EXPECT_EQ(refused.exit_code, kExitRunFailed) << refused.out << refused.err;
  EXPECT_TRUE(contains(refused.out + refused.err, "API key was refused"))
      << refused.out << refused.err;
  ASSERT_FALSE(refusing.keys().empty());
  EXPECT_EQ(refusing.keys()[0], kKey);
  const std::string refused_run = first_line(refused.out);

  // Everything an operator can look at.
  for (const auto& run : {helper_run, refused_run}) {
    record("show " + run, run_cadre({"show", run}, ws));
    record("show --json " + run, run_cadre({"show", run, "--json"}, ws));
    record("trace " + run, run_cadre({"trace", run}, ws));
    record("trace --json " + run, run_cadre({"trace", run, "--json"}, ws));
  }
  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{"secret", "ls"},
                                             {"secret", "ls", "--json"},
                                             {"agents"},
                                             {"agents", "--json"},
                                             {"memory", "search", "CRM API key"},
                                             {"memory", "search", "CRM API key", "--json"},
                                             {"memory", "entity", "service:crm", "--json"},
                                             {"ls"},
                                             {"ls", "tasks", "--json"},
                                             {"status"},
                                             {"audit", "log"},
                                             {"audit", "log", "--json"},
                                             {"check"}}) {
    std::string label;
    for (const auto& a : args) label += a + " ";
    record(label, run_cadre(args, ws));
  }

  // The values were there to leak: each place shows the marker instead.
  Json trace = json_of(run_cadre({"show", helper_run, "--json"}, ws));
  EXPECT_TRUE(contains(dump_json(trace), kMarker)) << dump_json(trace);
  CommandResult search = run_cadre({"memory", "search", "CRM API key"}, ws);
  EXPECT_TRUE(contains(search.out, std::string("The CRM API key is ") + kMarker)) << search.out;
  EXPECT_TRUE(contains(ask.err, kMarker)) << "the log tool's line, redacted: " << ask.err;

  // The audit log: set once, used once by each of the two `ask` processes
  // (not on each of their model calls), never the value; the chain holds.
  Json audit = json_of(run_cadre({"audit", "log", "--json"}, ws));
  int sets = 0, uses = 0;
  for (const auto& entry : audit) {
    if (entry["action"] == "secret.set") ++sets;
    if (entry["action"] == "secret.used") ++uses;
    if (entry["action"] == "secret.set" || entry["action"] == "secret.used") {
      EXPECT_EQ(entry["subject"], "MODEL_KEY") << entry;
    }
  }
  EXPECT_EQ(sets, 1) << audit;
  EXPECT_EQ(uses, 2) << audit;
  CommandResult verify = record("audit verify", run_cadre({"audit", "verify"}, ws));
  EXPECT_EQ(verify.exit_code, kExitOk) << verify.out << verify.err;

  // Not in any output, not in any file of the workspace (the database, its
  // WAL, the vector index, the encrypted store and the key file included).
  for (const auto& [label, result] : outputs) {
    for (const char* needle : {kKey, kKeyTail}) {
      EXPECT_FALSE(contains(result.out, needle)) << label << " printed it:\n" << result.out;
      EXPECT_FALSE(contains(result.err, needle)) << label << " printed it:\n" << result.err;
    }
  }
  EXPECT_GE(outputs.size(), 20u);
  EXPECT_TRUE(fs::exists(ws / ".cadre" / "cadre.db"));
  for (const char* needle : {kKey, kKeyTail}) {
    EXPECT_EQ(files_holding(ws, needle), std::vector<std::string>{}) << needle;
  }
  ::unsetenv("CADRE_LOG");
}

TEST(Secrets, SetListAndRemoveAreByNameAndAudited) {
  TempDir dir;
  ScriptedModelServer model;
  fs::path ws = make_workspace(dir.path(), model.base_url(), model.base_url());

  CommandResult set =
      run_cadre_with_input({"secret", "set", "CRM_TOKEN"}, ws, "crm-token-value-1\r\n");
  ASSERT_EQ(set.exit_code, kExitOk) << set.err;
  CommandResult again =
      run_cadre_with_input({"secret", "set", "CRM_TOKEN"}, ws, "crm-token-value-2");
  ASSERT_EQ(again.exit_code, kExitOk) << again.err;
  EXPECT_TRUE(contains(again.out, "Secret CRM_TOKEN replaced")) << again.out;
  EXPECT_FALSE(contains(set.out + set.err + again.out + again.err, "crm-token-value"));

  CommandResult empty = run_cadre_with_input({"secret", "set", "EMPTY"}, ws, "\n");
  EXPECT_NE(empty.exit_code, kExitOk);
  EXPECT_TRUE(contains(empty.err, "the value is empty")) << empty.err;
  CommandResult bad_name = run_cadre_with_input({"secret", "set", "9lives"}, ws, "value-xyz");
  EXPECT_EQ(bad_name.exit_code, testing::kExitBadUsage) << bad_name.err;

  Json listed = json_of(run_cadre({"secret", "ls", "--json"}, ws));
  ASSERT_EQ(listed["secrets"].size(), 1u) << listed;
  EXPECT_EQ(listed["secrets"][0]["name"], "CRM_TOKEN");
  EXPECT_GT(listed["secrets"][0]["updated_at"].get<int64_t>(), 0);
  EXPECT_FALSE(contains(listed.dump(), "crm-token-value"));

  EXPECT_EQ(run_cadre({"secret", "rm", "CRM_TOKEN"}, ws).exit_code, kExitOk);
  CommandResult missing = run_cadre({"secret", "rm", "CRM_TOKEN"}, ws);
  EXPECT_EQ(missing.exit_code, kExitNotFound);
  EXPECT_TRUE(contains(missing.err, "secret CRM_TOKEN is not set")) << missing.err;
  CommandResult none = run_cadre({"secret", "ls"}, ws);
  EXPECT_TRUE(contains(none.out, "No secrets")) << none.out;

  std::vector<std::string> actions;
  for (const auto& entry : json_of(run_cadre({"audit", "log", "--json"}, ws))) {
    if (entry["subject"] == "CRM_TOKEN") actions.push_back(entry["action"]);
    EXPECT_TRUE(contains(entry["actor"].get<std::string>(), "operator:")) << entry;
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"secret.set", "secret.set", "secret.removed"}));
}

TEST(Secrets, AValueTypedIntoAnotherCommandIsNotStoredAsTyped) {
  TempDir dir;
  ScriptedModelServer model;
  fs::path ws = make_workspace(dir.path(), model.base_url(), model.base_url());
  const std::string value = "typed-by-hand-3f9a7c21";
  ASSERT_EQ(run_cadre_with_input({"secret", "set", "CRM_TOKEN"}, ws, value).exit_code, kExitOk);
  CommandResult run = run_cadre({"run", "hello", "--input", "name=" + value}, ws);
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  CommandResult emit = run_cadre({"emit", "crm.sync", "--data", "{\"token\": \"" + value + "\"}"}, ws);
  ASSERT_EQ(emit.exit_code, kExitOk) << emit.err;
  CommandResult listed = run_cadre({"ls", "objectives", "--json"}, ws);
  EXPECT_TRUE(contains(listed.out, "[secret:CRM_TOKEN]")) << listed.out;
  for (const auto& r : {run, emit, listed}) EXPECT_FALSE(contains(r.out + r.err, value));
  EXPECT_EQ(files_holding(ws / ".cadre", value), std::vector<std::string>{});
}

TEST(Secrets, ASecretThatIsNotSetIsNamedWithTheFieldAndNothingIsSent) {
  TempDir dir;
  ScriptedModelServer model;
  fs::path ws = make_workspace(dir.path(), model.base_url(), model.base_url());
  model.push(ScriptedReply::Text("never sent"));
  CommandResult ask = run_cadre({"ask", "unlucky", "Say hi", "--timeout", kTimeout}, ws);
  EXPECT_EQ(ask.exit_code, kExitRunFailed) << ask.out << ask.err;
  std::string printed = ask.out + ask.err;
  EXPECT_TRUE(contains(printed, "api_key: secret MODEL_KEY is not set")) << printed;
  EXPECT_EQ(model.chat_requests(), 0);

  // A malformed reference is a configuration error `cadre check` names.
  std::string yaml = read_file(ws / "cadre.yaml");
  yaml.replace(yaml.find("${secret:MODEL_KEY}"), 19, "${secret:not a name}");
  write_file(ws / "cadre.yaml", yaml);
  CommandResult check = run_cadre({"check"}, ws);
  EXPECT_EQ(check.exit_code, testing::kExitWorkspaceErrors) << check.out << check.err;
  EXPECT_TRUE(contains(check.err, "api_key: ${secret:NAME} needs a secret name")) << check.err;
}

}  // namespace
}  // namespace cadre
