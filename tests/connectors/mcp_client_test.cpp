// The MCP client against a real MCP server, the reference "everything" server
// from npm (tests/peers, installed by scripts/install-test-peers.sh), over
// stdio and over streamable HTTP on 127.0.0.1; against a scripted server that
// is this test program itself (CADRE_FAKE_MCP_SERVER set) for what a real
// server does not do on purpose: malformed JSON, exiting at once, crashing,
// asking the client things, paging; and against an in-process HTTP server for
// plain JSON answers, lost sessions and oversized answers.
#include "connectors/mcp/mcp_client.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "connectors/mcp/child_process.h"
#include "connectors/mcp/http_transport.h"
#include "connectors/mcp/json_rpc.h"
#include "connectors/mcp/mcp_tools.h"
#include "connectors/mcp/sse_parser.h"
#include "connectors/mcp/stdio_transport.h"
#include "core/clock.h"
#include "core/http_client.h"
#include "core/json_schema.h"
#include "test_support.h"

namespace cadre {
namespace {

namespace fs = std::filesystem;
using cadre::testing::eventually;
using cadre::testing::TempDir;

// ---------------------------------------------------------------------------
// The scripted MCP server: this program, started with CADRE_FAKE_MCP_SERVER=MODE.
//   exit           writes a line to stderr and exits with status 3 at once
//   garbage        answers initialize with a truncated JSON line
//   banner         prints a non-JSON line on stdout first, then as `scripted`
//   scripted       initialize (version from FAKE_MCP_VERSION), tools/list in two
//                  pages (FAKE_MCP_LOOP: a cursor that never ends), tools/call:
//                  echo, rpc-error, ask-client, malformed-result, bad-response,
//                  sleep (never answers), cancelled-count, env, crash
// ---------------------------------------------------------------------------

void send_line(const Json& message) {
  std::cout << dump_json(message) << "\n" << std::flush;
}

Json fake_result(const Json& id, const Json& result) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"result", result}};
}

Json text_content(const std::string& text) {
  return {{"content", {{{"type", "text"}, {"text", text}}}}};
}

Json fake_tools_page(const std::string& cursor) {
  auto tool = [](const std::string& name) {
    return Json{
        {"name", name},
        {"description", "scripted " + name},
        {"inputSchema", {{"type", "object"}, {"properties", {{"message", {{"type", "string"}}}}}}}};
  };
  if (std::getenv("FAKE_MCP_LOOP"))
    return {{"tools", {tool("t" + cursor)}}, {"nextCursor", "again"}};
  if (cursor.empty()) return {{"tools", {tool("echo"), tool("sleep")}}, {"nextCursor", "page-2"}};
  return {{"tools", {tool("crash")}}};
}

// Sends a request to the client and returns its reply (the next line read).
Json ask_client(const std::string& id, const std::string& method) {
  send_line({{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", Json::object()}});
  std::string line;
  if (!std::getline(std::cin, line)) std::_Exit(0);
  return Json::parse(line, nullptr, false);
}

void fake_tool_call(const Json& id, const Json& params, int& cancelled) {
  const std::string name = json_text(params, "name");
  const Json& args = json_field(params, "arguments");
  if (name == "echo") {
    send_line(fake_result(id, text_content(json_text(args, "message"))));
  } else if (name == "rpc-error") {
    send_line(json_rpc_error_reply(id, kJsonRpcInvalidParams, "no such thing as that"));
  } else if (name == "ask-client") {
    Json ping = ask_client("srv-1", "ping");
    Json sampling = ask_client("srv-2", "sampling/createMessage");
    send_line(fake_result(
        id, text_content("ping:" + dump_json(json_field(ping, "result")) + " sampling:" +
                         dump_json(json_field(json_field(sampling, "error"), "code")))));
  } else if (name == "malformed-result") {
    send_line(fake_result(id, {{"content", "not a list"}}));
  } else if (name == "bad-response") {
    send_line({{"jsonrpc", "2.0"}, {"id", id}});
  } else if (name == "sleep") {
    // never answers
  } else if (name == "cancelled-count") {
    send_line(fake_result(id, text_content(std::to_string(cancelled))));
  } else if (name == "env") {
    const char* value = std::getenv(json_text(args, "name").c_str());
    send_line(fake_result(id, text_content(value ? value : "(unset)")));
  } else if (name == "crash") {
    std::cerr << "panic: something broke\n" << std::flush;
    std::_Exit(7);
  } else {
    send_line(fake_result(id, {{"content", {{{"type", "text"}, {"text", "unknown tool " + name}}}},
                               {"isError", true}}));
  }
}

int run_fake_server(const std::string& mode) {
  if (mode == "exit") {
    std::cerr << "fatal: no configuration found\n" << std::flush;
    return 3;
  }
  if (mode == "banner")
    std::cout << "Fake server starting (this line is not JSON-RPC)\n" << std::flush;
  const char* version = std::getenv("FAKE_MCP_VERSION");
  int cancelled = 0;
  std::string line;
  while (std::getline(std::cin, line)) {
    Json message = Json::parse(line, nullptr, false);
    const std::string method = json_text(message, "method");
    const Json& id = json_field(message, "id");
    if (mode == "garbage" && method == "initialize") {
      std::cout << R"({"jsonrpc":"2.0","id":1,"result":{"protocolVersion")"
                << "\n"
                << std::flush;
    } else if (method == "initialize") {
      send_line(fake_result(id, {{"protocolVersion", version ? version : "2025-06-18"},
                                 {"capabilities", {{"tools", Json::object()}}},
                                 {"serverInfo", {{"name", "fake"}, {"version", "1"}}}}));
    } else if (method == "notifications/cancelled") {
      ++cancelled;
    } else if (method == "tools/list") {
      send_line(
          fake_result(id, fake_tools_page(json_text(json_field(message, "params"), "cursor"))));
    } else if (method == "tools/call") {
      fake_tool_call(id, json_field(message, "params"), cancelled);
    } else if (!id.is_null()) {
      send_line(json_rpc_error_reply(id, kJsonRpcMethodNotFound, "no method " + method));
    }
  }
  return 0;
}

// Runs before GoogleTest's main when this program is started as the fake server.
const bool kRanAsFakeServer = [] {
  if (const char* mode = std::getenv("CADRE_FAKE_MCP_SERVER")) std::_Exit(run_fake_server(mode));
  return false;
}();

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fs::path peers_dir() {
  return cadre::testing::source_dir() / "tests" / "peers";
}

fs::path everything_entry() {
  return peers_dir() / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" /
         "index.js";
}

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    fs::path candidate = fs::path(dirs.substr(start, end - start)) / program;
    if (::access(candidate.c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

// Why the real server cannot run here ("" when it can). Missing peers fail the
// tests rather than skipping them: a green run must mean the real server was spoken to.
std::string everything_missing() {
  if (!on_path("node")) return "node is not on PATH: install Node.js 20 or newer";
  if (!fs::exists(everything_entry())) {
    return "the MCP test server is not installed (" + everything_entry().string() +
           " is missing): run scripts/install-test-peers.sh";
  }
  return "";
}

std::string self_program() {
  return fs::read_symlink("/proc/self/exe").string();
}

bool process_gone(pid_t pid) {
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

int64_t elapsed_ms(McpClock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(McpClock::now() - since).count();
}

std::string first_text(const McpToolResult& result) {
  return result.text();
}

const McpToolInfo* find_tool(const std::vector<McpToolInfo>& tools, const std::string& name) {
  for (const auto& tool : tools) {
    if (tool.name == name) return &tool;
  }
  return nullptr;
}

Result<std::unique_ptr<StdioTransport>> start_fake(const std::string& mode,
                                                   std::map<std::string, std::string> env = {}) {
  StdioServerOptions options;
  options.command = {self_program()};
  env["CADRE_FAKE_MCP_SERVER"] = mode;
  options.env = env;
  options.shutdown_grace = 500;
  return StdioTransport::start(options);
}

// An HTTP "everything" server started for one test, on 127.0.0.1 only.
class EverythingHttpPeer {
 public:
  std::string start(const fs::path& folder) {
    ChildProcessOptions options;
    options.argv = {"node", "--require", (peers_dir() / "loopback-only.cjs").string(),
                    everything_entry().string(), "streamableHttp"};
    const fs::path port_file = folder / "port";
    options.env = {
        "PATH=" + std::string(std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin"),
        "PORT=0", "CADRE_PEER_PORT_FILE=" + port_file.string()};
    if (const char* home = std::getenv("HOME")) options.env.push_back(std::string("HOME=") + home);
    options.output_file = folder / "everything-http.log";
    log_ = options.output_file;
    auto child = ChildProcess::spawn(options);
    if (!child.ok()) return child.status().to_string();
    child_ = std::move(*child);
    const bool listening =
        eventually([&] { return fs::exists(port_file) || child_->reap_if_exited(); },
                   std::chrono::seconds(30));
    if (!listening || !fs::exists(port_file)) {
      return "the HTTP MCP server did not start; its log: " + cadre::testing::read_file(log_);
    }
    url_ = "http://127.0.0.1:" + cadre::testing::read_file(port_file) + "/mcp";
    return "";
  }
  ~EverythingHttpPeer() {
    if (child_) child_->stop(300);  // it has no stdin to close: SIGTERM after a moment
  }
  const std::string& url() const { return url_; }
  ChildProcess& process() { return *child_; }

 private:
  std::unique_ptr<ChildProcess> child_;
  fs::path log_;
  std::string url_;
};

// ---------------------------------------------------------------------------
// The real server over both transports
// ---------------------------------------------------------------------------

class McpEverything : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string missing = everything_missing();
    ASSERT_EQ(missing, "") << missing;
    std::unique_ptr<McpTransport> transport;
    if (http()) {
      const std::string failed = peer_.start(dir_.path());
      ASSERT_EQ(failed, "") << failed;
      auto opened = HttpTransport::open({.url = peer_.url()});
      ASSERT_TRUE(opened.ok()) << opened.status().to_string();
      http_ = opened->get();
      transport = std::move(*opened);
    } else {
      StdioServerOptions options;
      options.command = {"node", everything_entry().string(), "stdio"};
      auto started = StdioTransport::start(options);
      ASSERT_TRUE(started.ok()) << started.status().to_string();
      stdio_ = started->get();
      server_pid_ = stdio_->pid();
      transport = std::move(*started);
    }
    client_ = std::make_shared<McpClient>(std::move(transport),
                                          McpClientOptions{.server_name = "everything"});
    auto info = client_->initialize(mcp_deadline_in(30000));
    ASSERT_TRUE(info.ok()) << info.status().to_string();
    if (http()) server_pid_ = peer_.process().pid();
  }

  bool http() const { return GetParam() == "http"; }

  TempDir dir_;
  EverythingHttpPeer peer_;
  StdioTransport* stdio_ = nullptr;
  HttpTransport* http_ = nullptr;
  pid_t server_pid_ = -1;
  std::shared_ptr<McpClient> client_;
};

INSTANTIATE_TEST_SUITE_P(Mcp, McpEverything, ::testing::Values("stdio", "http"),
                         [](const auto& info) { return info.param; });

TEST_P(McpEverything, InitializeAgreesOnTheNewestVersionAndNamesTheServer) {
  McpServerInfo info = client_->server_info();
  EXPECT_EQ(info.protocol_version, "2025-06-18");
  EXPECT_EQ(info.name, "mcp-servers/everything");
  EXPECT_TRUE(info.capabilities.contains("tools"));
  if (http()) {
    EXPECT_FALSE(http_->session_id().empty());
  }
}

TEST_P(McpEverything, ListsToolsWithTheirSchemasAndAnnotations) {
  auto tools = client_->list_tools(mcp_deadline_in(10000));
  ASSERT_TRUE(tools.ok()) << tools.status().to_string();
  const McpToolInfo* echo = find_tool(*tools, "echo");
  ASSERT_NE(echo, nullptr);
  EXPECT_EQ(echo->input_schema["type"], "object");
  EXPECT_EQ(echo->input_schema["properties"]["message"]["type"], "string");
  EXPECT_EQ(echo->input_schema["required"], Json::array({"message"}));
  EXPECT_EQ(echo->annotations["readOnlyHint"], true);
  EXPECT_FALSE(echo->description.empty());
  ASSERT_NE(find_tool(*tools, "get-sum"), nullptr);
  EXPECT_EQ(find_tool(*tools, "get-sum")->input_schema["properties"]["a"]["type"], "number");
}

TEST_P(McpEverything, CallsToolsAndReturnsTheirContent) {
  auto echo = client_->call_tool("echo", {{"message", "hello from cadre"}}, mcp_deadline_in(10000));
  ASSERT_TRUE(echo.ok()) << echo.status().to_string();
  EXPECT_FALSE(echo->is_error);
  EXPECT_EQ(echo->content[0]["type"], "text");
  EXPECT_EQ(first_text(*echo), "Echo: hello from cadre");

  auto sum = client_->call_tool("get-sum", {{"a", 2}, {"b", 40}}, mcp_deadline_in(10000));
  ASSERT_TRUE(sum.ok()) << sum.status().to_string();
  EXPECT_EQ(first_text(*sum), "The sum of 2 and 40 is 42.");
}

TEST_P(McpEverything, AToolThatFailsIsAResultNotAnError) {
  auto bad_args = client_->call_tool("get-sum", {{"a", "two"}, {"b", 40}}, mcp_deadline_in(10000));
  ASSERT_TRUE(bad_args.ok()) << bad_args.status().to_string();
  EXPECT_TRUE(bad_args->is_error);
  EXPECT_NE(first_text(*bad_args).find("validation"), std::string::npos) << first_text(*bad_args);

  // This server answers an unknown tool as a failed tool too (the SDK wraps it).
  auto unknown = client_->call_tool("no-such-tool", Json::object(), mcp_deadline_in(10000));
  ASSERT_TRUE(unknown.ok()) << unknown.status().to_string();
  EXPECT_TRUE(unknown->is_error);
  EXPECT_NE(first_text(*unknown).find("no-such-tool not found"), std::string::npos)
      << first_text(*unknown);
}

TEST_P(McpEverything, AnUnknownMethodIsAProtocolError) {
  auto answer = client_->request("no/such/method", Json::object(), mcp_deadline_in(10000));
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.status().code(), StatusCode::kFailedPrecondition) << answer.status().to_string();
  EXPECT_NE(answer.status().message().find("MCP server 'everything': no/such/method"),
            std::string::npos);
  EXPECT_NE(answer.status().message().find("-32601"), std::string::npos)
      << answer.status().to_string();
}

TEST_P(McpEverything, ArgumentsThatAreNotAnObjectAreRefusedBeforeSending) {
  auto answer = client_->call_tool("echo", Json::array({1, 2}), mcp_deadline_in(10000));
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(answer.status().message().find("must be an object, not array"), std::string::npos);
}

TEST_P(McpEverything, ADeadlineThatPassesIsDeadlineExceededAndTheClientGoesOn) {
  const auto started = McpClock::now();
  auto slow = client_->call_tool("trigger-long-running-operation", {{"duration", 5}, {"steps", 1}},
                                 mcp_deadline_in(400));
  ASSERT_FALSE(slow.ok());
  EXPECT_EQ(slow.status().code(), StatusCode::kDeadlineExceeded) << slow.status().to_string();
  EXPECT_NE(slow.status().message().find("within"), std::string::npos) << slow.status().to_string();
  EXPECT_LT(elapsed_ms(started), 3000);

  auto echo = client_->call_tool("echo", {{"message", "still here"}}, mcp_deadline_in(10000));
  ASSERT_TRUE(echo.ok()) << echo.status().to_string();
  EXPECT_EQ(first_text(*echo), "Echo: still here");
}

TEST_P(McpEverything, TheServerKilledMidCallFailsTheCallAsUnavailableWithoutHanging) {
  Result<McpToolResult> outcome = Status::Internal("not run");
  const auto started = McpClock::now();
  std::thread caller([&] {
    outcome = client_->call_tool("trigger-long-running-operation", {{"duration", 30}, {"steps", 1}},
                                 mcp_deadline_in(60000));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_EQ(::kill(server_pid_, SIGKILL), 0);
  caller.join();
  EXPECT_LT(elapsed_ms(started), 10000);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().code(), StatusCode::kUnavailable) << outcome.status().to_string();
  EXPECT_NE(outcome.status().message().find(
                "MCP server 'everything': tools/call 'trigger-long-running-operation'"),
            std::string::npos)
      << outcome.status().to_string();
  if (!http()) {
    EXPECT_NE(outcome.status().message().find("killed by signal 9"), std::string::npos)
        << outcome.status().to_string();
    EXPECT_NE(outcome.status().message().find("Starting default (STDIO) server"), std::string::npos)
        << "the message quotes the server's stderr: " << outcome.status().to_string();
    // Reaped as soon as it died: no zombie left behind.
    EXPECT_TRUE(eventually([&] { return process_gone(server_pid_); }, std::chrono::seconds(5)));
  }
  auto later = client_->call_tool("echo", {{"message", "anyone?"}}, mcp_deadline_in(5000));
  ASSERT_FALSE(later.ok());
  EXPECT_EQ(later.status().code(), StatusCode::kUnavailable) << later.status().to_string();
}

TEST_P(McpEverything, ConcurrentCallsFromManyThreadsEachGetTheirOwnAnswer) {
  constexpr int kThreads = 8;
  constexpr int kCallsEach = 10;
  std::atomic<int> right{0};
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCallsEach; ++i) {
        const std::string message = "thread " + std::to_string(t) + " call " + std::to_string(i);
        auto echo = client_->call_tool("echo", {{"message", message}}, mcp_deadline_in(30000));
        if (echo.ok() && first_text(*echo) == "Echo: " + message) {
          ++right;
        } else if (failures[t].empty()) {
          failures[t] = echo.ok() ? first_text(*echo) : echo.status().to_string();
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(right.load(), kThreads * kCallsEach);
  for (const auto& failure : failures) EXPECT_EQ(failure, "");
}

TEST_P(McpEverything, CloseEndsTheServerOrSessionAndLaterCallsAreRefused) {
  const std::string session = http() ? http_->session_id() : "";
  client_->close();
  auto after = client_->call_tool("echo", {{"message", "x"}}, mcp_deadline_in(5000));
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.status().code(), StatusCode::kFailedPrecondition) << after.status().to_string();
  if (http()) {
    // The session was deleted: the server no longer accepts its id.
    HttpRequest raw;
    raw.url = peer_.url();
    raw.headers = {{"Content-Type", "application/json"},
                   {"Accept", "application/json, text/event-stream"},
                   {"Mcp-Session-Id", session}};
    raw.body = R"({"jsonrpc":"2.0","id":9,"method":"tools/list"})";
    raw.timeout = 5000;
    auto answer = http_send(raw);
    ASSERT_TRUE(answer.ok()) << answer.status().to_string();
    EXPECT_TRUE(answer->status == 400 || answer->status == 404)
        << answer->status << " " << answer->body;
  } else {
    EXPECT_TRUE(process_gone(server_pid_)) << "the server process was stopped and reaped";
  }
}

TEST_P(McpEverything, ItsToolsBecomeCadreToolsThatCheckArgumentsAgainstTheirSchemas) {
  ToolRegistry registry;
  McpServerOptions options;
  options.name = "everything";
  options.tools["toggle-simulated-logging"].enabled = false;
  Status registered = register_mcp_tools(registry, client_, options);
  ASSERT_TRUE(registered.ok()) << registered.to_string();
  EXPECT_EQ(registry.find("everything.toggle-simulated-logging"), nullptr);

  auto echo = registry.find("everything.echo");
  ASSERT_NE(echo, nullptr);
  EXPECT_EQ(echo->spec().risk, RiskClass::kRead);
  EXPECT_TRUE(echo->spec().idempotent);
  EXPECT_EQ(echo->spec().description, "Echoes back the input string");
  const Json& schema = echo->spec().input_schema;
  EXPECT_TRUE(check_schema(schema).empty()) << describe(check_schema(schema));
  EXPECT_TRUE(validate_json(schema, {{"message", "hi"}}).empty());
  EXPECT_EQ(describe(validate_json(schema, Json::object())), "/message: is required");
  EXPECT_FALSE(validate_json(schema, {{"message", 5}}).empty());

  ToolCall call;
  call.args = {{"message", "through the registry"}};
  SystemClock clock;
  call.clock = &clock;
  call.deadline = clock.now_ms() + 10000;
  auto result = echo->invoke(call);
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  EXPECT_EQ((*result)["isError"], false);
  EXPECT_EQ((*result)["content"][0]["text"], "Echo: through the registry");

  auto sum = registry.find("everything.get-sum");
  ASSERT_NE(sum, nullptr);
  EXPECT_FALSE(validate_json(sum->spec().input_schema, {{"a", 1}}).empty());
  call.args = {{"a", "one"}, {"b", 2}};  // past the schema check: the tool itself fails
  auto failed = sum->invoke(call);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(failed.status().message().find("tool 'get-sum' reported an error"), std::string::npos)
      << failed.status().to_string();

  call.deadline = clock.now_ms() - 1;
  auto late = sum->invoke(call);
  EXPECT_EQ(late.status().code(), StatusCode::kDeadlineExceeded) << late.status().to_string();
}

// ---------------------------------------------------------------------------
// Tool specs from annotations and overrides
// ---------------------------------------------------------------------------

McpToolInfo annotated(Json annotations) {
  McpToolInfo tool;
  tool.name = "t";
  tool.annotations = std::move(annotations);
  return tool;
}

TEST(McpTools, RiskAndIdempotencyComeFromTheAnnotations) {
  McpServerOptions options;
  options.name = "srv";
  ToolSpec read =
      mcp_tool_spec(annotated({{"readOnlyHint", true}, {"destructiveHint", true}}), options);
  EXPECT_EQ(read.name, "srv.t");
  EXPECT_EQ(read.risk, RiskClass::kRead);
  EXPECT_TRUE(read.idempotent);
  EXPECT_EQ(read.retry.max_attempts, RetryPolicy().max_attempts);

  ToolSpec destructive = mcp_tool_spec(annotated({{"destructiveHint", true}}), options);
  EXPECT_EQ(destructive.risk, RiskClass::kIrreversible);
  EXPECT_FALSE(destructive.idempotent);
  EXPECT_EQ(destructive.retry.max_attempts, 1)
      << "a call that may have happened is not repeated unasked";

  ToolSpec plain = mcp_tool_spec(annotated(Json::object()), options);
  EXPECT_EQ(plain.risk, RiskClass::kWrite);
  EXPECT_FALSE(plain.idempotent);

  ToolSpec idempotent =
      mcp_tool_spec(annotated({{"idempotentHint", true}, {"readOnlyHint", "yes"}}), options);
  EXPECT_EQ(idempotent.risk, RiskClass::kWrite) << "a hint that is not true or false is ignored";
  EXPECT_TRUE(idempotent.idempotent);
}

TEST(McpTools, OverridesWinOverAnnotations) {
  McpServerOptions options;
  options.name = "srv";
  options.tools["t"].risk = RiskClass::kIrreversible;
  options.tools["t"].idempotent = false;
  ToolSpec spec = mcp_tool_spec(annotated({{"readOnlyHint", true}}), options);
  EXPECT_EQ(spec.risk, RiskClass::kIrreversible);
  EXPECT_FALSE(spec.idempotent);
  EXPECT_EQ(spec.retry.max_attempts, 1);

  RetryPolicy retry;
  retry.max_attempts = 7;
  options.tools["t"].retry = retry;
  EXPECT_EQ(mcp_tool_spec(annotated(Json::object()), options).retry.max_attempts, 7);
}

TEST(McpTools, BadNamesSchemasAndOverridesAreRefusedByName) {
  auto client = std::make_shared<McpClient>(nullptr);
  McpToolInfo good = annotated(Json::object());
  McpServerOptions options;
  options.name = "bad name";
  auto refused = make_mcp_tools(client, {good}, options);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("'bad name'"), std::string::npos);

  options.name = "srv";
  options.tools["typo"].risk = RiskClass::kRead;
  refused = make_mcp_tools(client, {good}, options);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("has no tool 'typo' to override (it lists: t)"),
            std::string::npos)
      << refused.status().to_string();

  options.tools.clear();
  McpToolInfo odd = annotated(Json::object());
  odd.name = "has space";
  refused = make_mcp_tools(client, {odd}, options);
  EXPECT_NE(refused.status().message().find("tool 'has space' has a name Cadre cannot use"),
            std::string::npos);
  options.tools["has space"].enabled = false;
  auto without = make_mcp_tools(client, {odd, good}, options);
  ASSERT_TRUE(without.ok()) << without.status().to_string();
  ASSERT_EQ(without->size(), 1u);
  EXPECT_EQ((*without)[0]->spec().name, "srv.t");

  McpToolInfo bad_schema = annotated(Json::object());
  bad_schema.input_schema = {{"type", "thing"}};
  refused = make_mcp_tools(client, {bad_schema}, McpServerOptions{.name = "srv"});
  EXPECT_NE(refused.status().message().find("has an inputSchema Cadre cannot check"),
            std::string::npos)
      << refused.status().to_string();
}

// ---------------------------------------------------------------------------
// The scripted server on stdio
// ---------------------------------------------------------------------------

std::unique_ptr<McpClient> fake_client(const std::string& mode,
                                       std::map<std::string, std::string> env = {},
                                       StdioTransport** raw = nullptr) {
  auto transport = start_fake(mode, std::move(env));
  EXPECT_TRUE(transport.ok()) << transport.status().to_string();
  if (!transport.ok()) return nullptr;
  if (raw) *raw = transport->get();
  return std::make_unique<McpClient>(std::move(*transport),
                                     McpClientOptions{.server_name = "fake"});
}

TEST(McpFakeServer, AServerThatExitsAtOnceIsUnavailableAndItsStderrIsQuoted) {
  auto client = fake_client("exit");
  const auto started = McpClock::now();
  auto info = client->initialize(mcp_deadline_in(20000));
  ASSERT_FALSE(info.ok());
  EXPECT_LT(elapsed_ms(started), 5000);
  EXPECT_EQ(info.status().code(), StatusCode::kUnavailable) << info.status().to_string();
  EXPECT_NE(info.status().message().find(
                "MCP server 'fake': initialize: the server process exited with status 3"),
            std::string::npos)
      << info.status().to_string();
  EXPECT_NE(info.status().message().find("fatal: no configuration found"), std::string::npos)
      << info.status().to_string();
}

TEST(McpFakeServer, AProgramThatCannotStartIsUnavailable) {
  StdioServerOptions options;
  options.command = {"/nonexistent/mcp-server"};
  auto started = StdioTransport::start(options);
  if (started.ok()) {
    // Where posix_spawn cannot report exec's failure (under valgrind, say), the
    // child exits with 127 and the first request says so.
    McpClient client(std::move(*started), McpClientOptions{.server_name = "missing"});
    auto info = client.initialize(mcp_deadline_in(10000));
    EXPECT_EQ(info.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(info.status().message().find("exited with status 127"), std::string::npos)
        << info.status().to_string();
  } else {
    EXPECT_EQ(started.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(started.status().message().find("cannot start '/nonexistent/mcp-server'"),
              std::string::npos)
        << started.status().to_string();
  }
  options.command = {self_program()};
  options.working_dir = "/nonexistent/folder";
  started = StdioTransport::start(options);
  EXPECT_EQ(started.status().code(), StatusCode::kInvalidArgument) << started.status().to_string();
}

TEST(McpFakeServer, MalformedJsonFailsTheRequestAsInternal) {
  auto client = fake_client("garbage");
  const auto started = McpClock::now();
  auto info = client->initialize(mcp_deadline_in(20000));
  ASSERT_FALSE(info.ok());
  EXPECT_LT(elapsed_ms(started), 5000) << "a damaged stream fails at once, not at the deadline";
  EXPECT_EQ(info.status().code(), StatusCode::kInternal) << info.status().to_string();
  EXPECT_NE(info.status().message().find("not valid JSON"), std::string::npos)
      << info.status().to_string();
}

TEST(McpFakeServer, MalformedResultsAndResponsesAreInternalNamingWhatIsWrong) {
  auto client = fake_client("scripted");
  ASSERT_TRUE(client->initialize(mcp_deadline_in(20000)).ok());
  auto result = client->call_tool("malformed-result", Json::object(), mcp_deadline_in(5000));
  EXPECT_EQ(result.status().code(), StatusCode::kInternal);
  EXPECT_NE(result.status().message().find("content is not a list"), std::string::npos)
      << result.status().to_string();
  auto response = client->call_tool("bad-response", Json::object(), mcp_deadline_in(5000));
  EXPECT_EQ(response.status().code(), StatusCode::kInternal);
  EXPECT_NE(response.status().message().find("neither 'result' nor 'error'"), std::string::npos)
      << response.status().to_string();
}

TEST(McpFakeServer, StrayOutputBeforeTheFirstMessageIsIgnored) {
  auto client = fake_client("banner");
  auto info = client->initialize(mcp_deadline_in(20000));
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(info->name, "fake");
}

TEST(McpFakeServer, ListingFollowsNextCursorAndStopsAServerThatNeverEnds) {
  auto client = fake_client("scripted");
  ASSERT_TRUE(client->initialize(mcp_deadline_in(20000)).ok());
  auto tools = client->list_tools(mcp_deadline_in(5000));
  ASSERT_TRUE(tools.ok()) << tools.status().to_string();
  ASSERT_EQ(tools->size(), 3u);
  EXPECT_EQ((*tools)[2].name, "crash");

  auto looping = fake_client("scripted", {{"FAKE_MCP_LOOP", "1"}});
  ASSERT_TRUE(looping->initialize(mcp_deadline_in(20000)).ok());
  auto endless = looping->list_tools(mcp_deadline_in(5000));
  EXPECT_EQ(endless.status().code(), StatusCode::kInternal);
  EXPECT_NE(endless.status().message().find("repeats cursor 'again'"), std::string::npos)
      << endless.status().to_string();
}

TEST(McpFakeServer, AJsonRpcErrorCarriesTheServersMessage) {
  auto client = fake_client("scripted");
  ASSERT_TRUE(client->initialize(mcp_deadline_in(20000)).ok());
  auto answer = client->call_tool("rpc-error", Json::object(), mcp_deadline_in(5000));
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(
      answer.status().message(),
      "MCP server 'fake': tools/call 'rpc-error': no such thing as that (JSON-RPC error -32602)");
}

TEST(McpFakeServer, TheServersOwnRequestsAreAnsweredPingWithAResultOthersWithMethodNotFound) {
  auto client = fake_client("scripted");
  ASSERT_TRUE(client->initialize(mcp_deadline_in(20000)).ok());
  auto answer = client->call_tool("ask-client", Json::object(), mcp_deadline_in(5000));
  ASSERT_TRUE(answer.ok()) << answer.status().to_string();
  EXPECT_EQ(first_text(*answer), "ping:{} sampling:-32601");
}

TEST(McpFakeServer, AnOlderVersionCadreSpeaksIsAcceptedAnUnknownOneIsRefused) {
  auto old_client = fake_client("scripted", {{"FAKE_MCP_VERSION", "2024-11-05"}});
  auto info = old_client->initialize(mcp_deadline_in(20000));
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(info->protocol_version, "2024-11-05");

  auto future_client = fake_client("scripted", {{"FAKE_MCP_VERSION", "2099-01-01"}});
  auto refused = future_client->initialize(mcp_deadline_in(20000));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find(
                "speaks protocol version '2099-01-01'; cadre speaks 2025-06-18"),
            std::string::npos)
      << refused.status().to_string();
  EXPECT_FALSE(future_client->initialized());
  auto before = future_client->list_tools(mcp_deadline_in(1000));
  EXPECT_EQ(before.status().code(), StatusCode::kFailedPrecondition);
}

TEST(McpFakeServer, ARequestPastItsDeadlineIsCancelledOnTheServer) {
  auto client = fake_client("scripted");
  ASSERT_TRUE(client->initialize(mcp_deadline_in(20000)).ok());
  auto slept = client->call_tool("sleep", Json::object(), mcp_deadline_in(200));
  EXPECT_EQ(slept.status().code(), StatusCode::kDeadlineExceeded) << slept.status().to_string();
  auto count = client->call_tool("cancelled-count", Json::object(), mcp_deadline_in(5000));
  ASSERT_TRUE(count.ok()) << count.status().to_string();
  EXPECT_EQ(first_text(*count), "1");
}

TEST(McpFakeServer, AServerThatCrashesMidCallIsUnavailableWithItsLastWords) {
  StdioTransport* raw = nullptr;
  auto client = fake_client("scripted", {}, &raw);
  ASSERT_TRUE(client->initialize(mcp_deadline_in(20000)).ok());
  const pid_t pid = raw->pid();
  auto crashed = client->call_tool("crash", Json::object(), mcp_deadline_in(20000));
  ASSERT_FALSE(crashed.ok());
  EXPECT_EQ(crashed.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(crashed.status().message().find("exited with status 7"), std::string::npos)
      << crashed.status().to_string();
  EXPECT_NE(crashed.status().message().find("panic: something broke"), std::string::npos)
      << crashed.status().to_string();
  EXPECT_TRUE(eventually([&] { return process_gone(pid); }, std::chrono::seconds(5)))
      << "reaped, no zombie";
}

TEST(McpFakeServer, TheServerSeesOnlyTheEnvironmentItIsGiven) {
  ::setenv("CADRE_TEST_SECRET_KEY", "do-not-leak", 1);
  auto client = fake_client("scripted", {{"GIVEN_TO_SERVER", "yes"}});
  ::unsetenv("CADRE_TEST_SECRET_KEY");
  ASSERT_TRUE(client->initialize(mcp_deadline_in(20000)).ok());
  auto secret =
      client->call_tool("env", {{"name", "CADRE_TEST_SECRET_KEY"}}, mcp_deadline_in(5000));
  ASSERT_TRUE(secret.ok()) << secret.status().to_string();
  EXPECT_EQ(first_text(*secret), "(unset)");
  auto given = client->call_tool("env", {{"name", "GIVEN_TO_SERVER"}}, mcp_deadline_in(5000));
  EXPECT_EQ(first_text(*given), "yes");
  auto path = client->call_tool("env", {{"name", "PATH"}}, mcp_deadline_in(5000));
  EXPECT_NE(first_text(*path), "(unset)") << "PATH is inherited";
}

// ---------------------------------------------------------------------------
// A scripted HTTP server in this process: plain JSON answers, lost sessions,
// oversized answers, event streams with the server's own requests.
// ---------------------------------------------------------------------------

class FakeHttpServer {
 public:
  // What the tools/call answer looks like.
  enum class Answer { kJson, kHuge, kHtml, kStreamWithRequest, kLate };

  FakeHttpServer() {
    http_.set_keep_alive_timeout(1);
    http_.Post("/mcp", [this](const httplib::Request& request, httplib::Response& response) {
      serve(request, response);
    });
    port_ = http_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { http_.listen_after_bind(); });
    eventually([this] { return http_.is_running(); });
  }
  ~FakeHttpServer() {
    http_.stop();
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/mcp"; }
  void forget_sessions() { ++session_; }

  std::atomic<Answer> answer{Answer::kJson};
  std::atomic<int> initializes{0};
  std::mutex mutex;
  std::vector<std::string> versions_seen;  // MCP-Protocol-Version of each tools/call
  std::vector<Json> replies_seen;          // the client's answers to our requests
  std::vector<std::string> notifications_seen;

 private:
  void serve(const httplib::Request& request, httplib::Response& response) {
    Json message = Json::parse(request.body, nullptr, false);
    const std::string method = json_text(message, "method");
    const std::string current = "session-" + std::to_string(session_.load());
    if (method == "initialize") {
      ++initializes;
      response.set_header("Mcp-Session-Id", current);
      response.set_content(
          dump_json(fake_result(message["id"], {{"protocolVersion", "2025-06-18"},
                                                {"capabilities", Json::object()},
                                                {"serverInfo", {{"name", "fake-http"}}}})),
          "application/json");
      return;
    }
    if (request.get_header_value("Mcp-Session-Id") != current) {
      response.status = 404;
      response.set_content(
          R"({"jsonrpc":"2.0","error":{"code":-32001,"message":"Session not found"},"id":null})",
          "application/json");
      return;
    }
    if (!message.contains("method")) {  // a reply from the client
      std::lock_guard<std::mutex> lock(mutex);
      replies_seen.push_back(message);
      response.status = 202;
      return;
    }
    if (!message.contains("id")) {  // a notification
      std::lock_guard<std::mutex> lock(mutex);
      notifications_seen.push_back(method);
      response.status = 202;
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex);
      versions_seen.push_back(request.get_header_value("MCP-Protocol-Version"));
    }
    const Json id = message["id"];
    switch (answer.load()) {
      case Answer::kJson:
        response.set_content(dump_json(fake_result(id, text_content("plain json"))),
                             "application/json");
        return;
      case Answer::kHuge:
        response.set_content(
            dump_json(fake_result(id, text_content(std::string(2 * 1024 * 1024, 'x')))),
            "application/json");
        return;
      case Answer::kLate:
        std::this_thread::sleep_for(std::chrono::milliseconds(800));
        response.set_content(dump_json(fake_result(id, text_content("too late"))),
                             "application/json");
        return;
      case Answer::kHtml:
        response.set_content("<html>hello</html>", "text/html");
        return;
      case Answer::kStreamWithRequest: {
        std::string stream = ": keep-alive comment\r\n\r\n";
        stream += "event: message\r\ndata: " +
                  dump_json({{"jsonrpc", "2.0"},
                             {"method", "notifications/message"},
                             {"params", Json::object()}}) +
                  "\r\n\r\n";
        stream +=
            "data: " + dump_json({{"jsonrpc", "2.0"}, {"id", "srv-1"}, {"method", "roots/list"}}) +
            "\n\n";
        const std::string result = dump_json(fake_result(id, text_content("from the stream")));
        stream += "data: " + result.substr(0, 1) + "\ndata: " + result.substr(1) +
                  "\n\n";  // one message, two data lines
        response.set_content(stream, "text/event-stream");
        return;
      }
    }
  }

  httplib::Server http_;
  int port_ = 0;
  std::atomic<int> session_{1};
  std::thread thread_;
};

std::unique_ptr<McpClient> http_client(const std::string& url,
                                       size_t max_response_bytes = 10 * 1024 * 1024) {
  auto transport = HttpTransport::open({.url = url, .max_response_bytes = max_response_bytes});
  EXPECT_TRUE(transport.ok()) << transport.status().to_string();
  if (!transport.ok()) return nullptr;
  return std::make_unique<McpClient>(std::move(*transport),
                                     McpClientOptions{.server_name = "fake-http"});
}

TEST(McpHttpFake, PlainJsonAnswersCarryTheSessionAndTheAgreedVersion) {
  FakeHttpServer server;
  auto client = http_client(server.url());
  ASSERT_TRUE(client->initialize(mcp_deadline_in(5000)).ok());
  auto answer = client->call_tool("any", Json::object(), mcp_deadline_in(5000));
  ASSERT_TRUE(answer.ok()) << answer.status().to_string();
  EXPECT_EQ(first_text(*answer), "plain json");
  std::lock_guard<std::mutex> lock(server.mutex);
  EXPECT_EQ(server.versions_seen, std::vector<std::string>{"2025-06-18"});
}

TEST(McpHttpFake, ASessionTheServerForgotIsInitializedAgainAndTheCallRepeated) {
  FakeHttpServer server;
  auto client = http_client(server.url());
  ASSERT_TRUE(client->initialize(mcp_deadline_in(5000)).ok());
  server.forget_sessions();
  auto answer = client->call_tool("any", Json::object(), mcp_deadline_in(5000));
  ASSERT_TRUE(answer.ok()) << answer.status().to_string();
  EXPECT_EQ(server.initializes.load(), 2);
}

TEST(McpHttpFake, AnEventStreamIsReadAndTheServersRequestAnswered) {
  FakeHttpServer server;
  server.answer = FakeHttpServer::Answer::kStreamWithRequest;
  auto client = http_client(server.url());
  ASSERT_TRUE(client->initialize(mcp_deadline_in(5000)).ok());
  auto answer = client->call_tool("any", Json::object(), mcp_deadline_in(5000));
  ASSERT_TRUE(answer.ok()) << answer.status().to_string();
  EXPECT_EQ(first_text(*answer), "from the stream");
  EXPECT_EQ(client->transport().notifications_received(), 1);
  std::lock_guard<std::mutex> lock(server.mutex);
  ASSERT_EQ(server.replies_seen.size(), 1u);
  EXPECT_EQ(server.replies_seen[0]["id"], "srv-1");
  EXPECT_EQ(server.replies_seen[0]["error"]["code"], kJsonRpcMethodNotFound);
}

TEST(McpHttpFake, ARequestPastItsDeadlineIsCancelledOnTheServer) {
  FakeHttpServer server;
  auto client = http_client(server.url());
  ASSERT_TRUE(client->initialize(mcp_deadline_in(5000)).ok());
  server.answer = FakeHttpServer::Answer::kLate;
  auto late = client->call_tool("any", Json::object(), mcp_deadline_in(200));
  EXPECT_EQ(late.status().code(), StatusCode::kDeadlineExceeded) << late.status().to_string();
  std::lock_guard<std::mutex> lock(server.mutex);
  EXPECT_EQ(server.notifications_seen,
            (std::vector<std::string>{"notifications/initialized", "notifications/cancelled"}));
}

TEST(McpHttpFake, OversizedAndForeignAnswersAreRefused) {
  FakeHttpServer server;
  auto client = http_client(server.url(), 1024 * 1024);
  ASSERT_TRUE(client->initialize(mcp_deadline_in(5000)).ok());
  server.answer = FakeHttpServer::Answer::kHuge;
  auto huge = client->call_tool("any", Json::object(), mcp_deadline_in(5000));
  EXPECT_EQ(huge.status().code(), StatusCode::kResourceExhausted) << huge.status().to_string();
  EXPECT_NE(huge.status().message().find("exceeded 1048576 bytes (max_response_bytes)"),
            std::string::npos);
  server.answer = FakeHttpServer::Answer::kHtml;
  auto html = client->call_tool("any", Json::object(), mcp_deadline_in(5000));
  EXPECT_EQ(html.status().code(), StatusCode::kInternal) << html.status().to_string();
  EXPECT_NE(html.status().message().find("content type 'text/html'"), std::string::npos);
}

TEST(McpHttpFake, NoServerIsUnavailableAndBadUrlsAreRefused) {
  int port;
  {
    FakeHttpServer gone;
    port = std::stoi(gone.url().substr(std::string("http://127.0.0.1:").size()));
  }
  auto client = http_client("http://127.0.0.1:" + std::to_string(port) + "/mcp");
  auto info = client->initialize(mcp_deadline_in(5000));
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kUnavailable) << info.status().to_string();
  EXPECT_NE(info.status().message().find("cannot connect to http://127.0.0.1:"), std::string::npos);

  auto ftp = HttpTransport::open({.url = "ftp://127.0.0.1/mcp"});
  EXPECT_EQ(ftp.status().code(), StatusCode::kInvalidArgument);
  auto header =
      HttpTransport::open({.url = "http://127.0.0.1/mcp", .headers = {{"X-Token", "a\r\nb"}}});
  EXPECT_EQ(header.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(header.status().message().find("a\r\nb"), std::string::npos)
      << "header values are never quoted";
}

// ---------------------------------------------------------------------------
// Pieces
// ---------------------------------------------------------------------------

TEST(McpSseParser, EventsSplitAnywhereWithAnyLineEnding) {
  const std::string stream =
      ": comment\r\nevent: message\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\nid: 7\rdata: two\r\rdata: "
      "three\n\n";
  for (size_t piece : {1, 2, 5, 1000}) {
    SseParser parser;
    std::vector<SseEvent> events;
    for (size_t at = 0; at < stream.size(); at += piece) {
      ASSERT_TRUE(parser.feed(std::string_view(stream).substr(at, piece),
                              [&](const SseEvent& e) { events.push_back(e); }));
    }
    ASSERT_EQ(events.size(), 3u) << "pieces of " << piece;
    EXPECT_EQ(events[0].data, "{\"a\":\n1}");
    EXPECT_EQ(events[1].data, "two");
    EXPECT_EQ(events[2].data, "three");
  }
}

TEST(McpSseParser, AnOverlongLineStopsTheStream) {
  SseParser parser(16);
  EXPECT_FALSE(parser.feed("data: " + std::string(100, 'x'), [](const SseEvent&) {}));
}

TEST(McpJsonRpc, MessagesAreClassifiedWithoutTrustingTheirShape) {
  EXPECT_EQ(classify_json_rpc(Json::parse(R"({"jsonrpc":"2.0","id":3,"result":{}})")).kind,
            JsonRpcKind::kResponse);
  EXPECT_EQ(classify_json_rpc(Json::parse(R"({"id":"x","method":"ping"})")).kind,
            JsonRpcKind::kRequest);
  EXPECT_EQ(classify_json_rpc(Json::parse(R"({"method":"notifications/x"})")).kind,
            JsonRpcKind::kNotification);
  JsonRpcMessage bad =
      classify_json_rpc(Json::parse(R"({"id":4,"error":{"code":"x","message":"m"}})"));
  EXPECT_EQ(bad.kind, JsonRpcKind::kInvalid);
  EXPECT_EQ(bad.id, 4);
  EXPECT_EQ(bad.problem, "the response's error has no integer 'code'");
  EXPECT_EQ(classify_json_rpc(Json::parse(R"({"method":5})")).kind, JsonRpcKind::kInvalid);
  EXPECT_EQ(classify_json_rpc(Json::array()).kind, JsonRpcKind::kInvalid);
}

}  // namespace
}  // namespace cadre
