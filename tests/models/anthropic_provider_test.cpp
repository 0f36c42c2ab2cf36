// The Anthropic Messages provider over real loopback HTTP: system text at
// the top level, tool calls and results as content blocks (all results of
// one turn in one user message), the schema as an instruction, and the
// error mapping, with 529 "overloaded" as a temporary failure.
#include <gtest/gtest.h>

#include <chrono>

#include "model_requests.h"
#include "model_server.h"
#include "models/provider.h"

namespace cadre {
namespace {

using testing::ScriptedModelServer;
using testing::ScriptedReply;

constexpr const char* kKey = "sk-ant-test-0123456789SECRET";

using testing::ask;
using testing::message;

ModelToolDef tool(std::string name) {
  ModelToolDef def;
  def.name = std::move(name);
  def.description = "Looks things up";
  def.parameters = Json::parse(R"({"type":"object","properties":{"q":{"type":"string"}}})");
  return def;
}

class AnthropicProviderTest : public ::testing::Test {
 protected:
  AnthropicProviderTest() {
    endpoint_.provider = "anthropic";
    endpoint_.model = "claude-sonnet-4-5";
    endpoint_.base_url = server_.base_url();
    endpoint_.timeout = 5000;
    endpoint_.max_tokens = 2048;
  }

  ScriptedModelServer server_;
  std::unique_ptr<ModelProvider> provider_ = make_anthropic_provider();
  ModelEndpoint endpoint_;
  DurationMs retry_after_ = 12345;
};

TEST_F(AnthropicProviderTest, ATextAnswerWithSystemTextAtTheTopLevel) {
  ScriptedReply reply = ScriptedReply::Text("Paris.");
  reply.input_tokens = 40;
  reply.output_tokens = 3;
  server_.push(reply);
  ChatRequest request = ask("Capital of France?");
  request.messages.insert(request.messages.begin() + 1, message("system", "Answer in English."));
  request.temperature = 0.5;

  auto answer = provider_->chat(endpoint_, kKey, request, &retry_after_);
  ASSERT_TRUE(answer.ok()) << answer.status().to_string();
  EXPECT_EQ(answer->content, "Paris.");
  EXPECT_EQ(answer->finish_reason, "stop");  // end_turn
  EXPECT_EQ(answer->usage.input_tokens, 40);
  EXPECT_EQ(answer->usage.output_tokens, 3);
  EXPECT_EQ(retry_after_, -1);

  auto received = server_.received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].path, "/v1/messages");
  EXPECT_EQ(received[0].headers.value("x-api-key", ""), kKey);
  EXPECT_EQ(received[0].headers.value("anthropic-version", ""), "2023-06-01");
  EXPECT_FALSE(received[0].headers.contains("authorization"));
  const Json& body = received[0].body;
  EXPECT_EQ(body["model"], "claude-sonnet-4-5");
  EXPECT_EQ(body["system"], "You are terse.\n\nAnswer in English.");
  EXPECT_EQ(body["messages"], Json::parse(R"([{"role":"user","content":"Capital of France?"}])"));
  EXPECT_EQ(body["max_tokens"], 2048);  // required: the endpoint's when the request sets none
  EXPECT_DOUBLE_EQ(body["temperature"].get<double>(), 0.5);
  EXPECT_FALSE(body.contains("tools"));
}

TEST_F(AnthropicProviderTest, TheRequestsMaxTokensWinsOverTheEndpoints) {
  server_.push(ScriptedReply::Text("ok"));
  ChatRequest request = ask("hi");
  request.max_tokens = 64;
  ASSERT_TRUE(provider_->chat(endpoint_, kKey, request, &retry_after_).ok());
  EXPECT_EQ(server_.received()[0].body["max_tokens"], 64);
}

TEST_F(AnthropicProviderTest, ToolCallsAndAllTheirResultsInOneUserMessage) {
  ScriptedReply two_calls;
  two_calls.text = "Let me look.";
  two_calls.tool_calls = {{"search", Json{{"q", "cadre"}}}, {"lookup", Json{{"q", "kernel"}}}};
  server_.push(two_calls);
  ChatRequest request = ask("What is cadre's kernel?");
  request.tools = {tool("search"), tool("lookup")};

  auto first = provider_->chat(endpoint_, kKey, request, &retry_after_);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_EQ(first->finish_reason, "tool_calls");  // tool_use
  EXPECT_EQ(first->content, "Let me look.");
  ASSERT_EQ(first->tool_calls.size(), 2u);
  EXPECT_EQ(first->tool_calls[0].name, "search");
  EXPECT_EQ(first->tool_calls[0].arguments, (Json{{"q", "cadre"}}));
  EXPECT_EQ(first->tool_calls[1].name, "lookup");
  EXPECT_EQ(first->tool_calls[0].id.rfind("toolu_", 0), 0u) << first->tool_calls[0].id;
  EXPECT_EQ(server_.received()[0].body["tools"][0],
            (Json{{"name", "search"},
                  {"description", "Looks things up"},
                  {"input_schema", tool("search").parameters}}));

  ChatMessage asked = message("assistant", first->content);
  asked.tool_calls = first->tool_calls;
  request.messages.push_back(asked);
  for (const auto& call : first->tool_calls) {
    ChatMessage result = message("tool", "result of " + call.name);
    result.tool_call_id = call.id;
    request.messages.push_back(result);
  }
  server_.push(ScriptedReply::Text("The kernel runs tasks."));

  auto second = provider_->chat(endpoint_, kKey, request, &retry_after_);
  ASSERT_TRUE(second.ok()) << second.status().to_string();  // the server checks the pairing too
  const Json messages = server_.received()[1].body["messages"];
  ASSERT_EQ(messages.size(), 3u);
  const std::string& id0 = first->tool_calls[0].id;
  const std::string& id1 = first->tool_calls[1].id;
  EXPECT_EQ(messages[1],
            (Json{{"role", "assistant"},
                  {"content", Json::array({Json{{"type", "text"}, {"text", "Let me look."}},
                                           Json{{"type", "tool_use"},
                                                {"id", id0},
                                                {"name", "search"},
                                                {"input", Json{{"q", "cadre"}}}},
                                           Json{{"type", "tool_use"},
                                                {"id", id1},
                                                {"name", "lookup"},
                                                {"input", Json{{"q", "kernel"}}}}})}}));
  EXPECT_EQ(messages[2], (Json{{"role", "user"},
                               {"content", Json::array({Json{{"type", "tool_result"},
                                                             {"tool_use_id", id0},
                                                             {"content", "result of search"}},
                                                        Json{{"type", "tool_result"},
                                                             {"tool_use_id", id1},
                                                             {"content", "result of lookup"}}})}}));
}

TEST_F(AnthropicProviderTest, AnAssistantTurnWithOnlyToolCallsHasNoEmptyTextBlock) {
  ChatRequest request = ask("go");
  ChatMessage asked = message("assistant", "");
  asked.tool_calls.push_back(ModelToolCall{"toolu_1", "search", Json{{"q", "x"}}});
  request.messages.push_back(asked);
  ChatMessage result = message("tool", "nothing");
  result.tool_call_id = "toolu_1";
  request.messages.push_back(result);
  server_.push(ScriptedReply::Text("done"));
  auto answer = provider_->chat(endpoint_, kKey, request, &retry_after_);
  ASSERT_TRUE(answer.ok()) << answer.status().to_string();  // the API refuses empty text blocks
  EXPECT_EQ(server_.received()[0].body["messages"][1]["content"].size(), 1u);
}

TEST_F(AnthropicProviderTest, AResponseSchemaBecomesAnInstructionInTheSystemText) {
  Json schema = Json::parse(R"({"type":"object","properties":{"answer":{"type":"integer"}}})");
  // Without a JSON mode the model may fence its JSON; the fence is dropped.
  server_.push(ScriptedReply::Text("```json\n{\"answer\":42}\n```"));
  ChatRequest request = ask("6 times 7?");
  request.response_schema = schema;
  auto answer = provider_->chat(endpoint_, kKey, request, &retry_after_);
  ASSERT_TRUE(answer.ok()) << answer.status().to_string();
  EXPECT_EQ(answer->content, "{\"answer\":42}");
  const Json body = server_.received()[0].body;
  EXPECT_EQ(body["system"],
            "You are terse.\n\nAnswer with only a JSON value that matches this JSON Schema: " +
                dump_json(schema));
  EXPECT_FALSE(body.contains("response_format"));
}

TEST_F(AnthropicProviderTest, WithoutASchemaTheTextIsLeftAsItCame) {
  server_.push(ScriptedReply::Text("```json\n{}\n```"));
  auto answer = provider_->chat(endpoint_, kKey, ask("show me a fence"), &retry_after_);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->content, "```json\n{}\n```");
}

struct ErrorCase {
  int status;
  int retry_after_s;
  StatusCode code;
  const char* says;
};

TEST_F(AnthropicProviderTest, HttpErrorsMapToStatusCodesWithoutTheKey) {
  const std::vector<ErrorCase> cases = {
      {400, -1, StatusCode::kInvalidArgument, "HTTP 400: invalid_request_error"},
      {401, -1, StatusCode::kFailedPrecondition,
       "the API key was refused (HTTP 401): authentication_error"},
      {429, 20, StatusCode::kResourceExhausted, "rate limited (HTTP 429): rate_limit_error"},
      {500, -1, StatusCode::kUnavailable, "HTTP 500: api_error"},
      {529, 5, StatusCode::kUnavailable, "overloaded (HTTP 529): overloaded_error: Overloaded"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.status);
    server_.push(ScriptedReply::Error(c.status, c.retry_after_s));
    retry_after_ = 12345;
    auto answer = provider_->chat(endpoint_, kKey, ask("hi"), &retry_after_);
    ASSERT_FALSE(answer.ok());
    EXPECT_EQ(answer.status().code(), c.code) << answer.status().to_string();
    EXPECT_NE(answer.status().message().find(c.says), std::string::npos)
        << answer.status().message();
    EXPECT_NE(answer.status().message().find("claude-sonnet-4-5"), std::string::npos);
    EXPECT_EQ(answer.status().message().find(kKey), std::string::npos);
    EXPECT_EQ(retry_after_, c.retry_after_s < 0 ? -1 : c.retry_after_s * 1000);
  }
}

TEST_F(AnthropicProviderTest, ARequestTheApiRefusesCarriesTheApisOwnMessage) {
  ChatRequest only_system;
  only_system.messages.push_back(message("system", "nobody speaks"));
  auto answer = provider_->chat(endpoint_, kKey, only_system, &retry_after_);
  ASSERT_FALSE(answer.ok());
  EXPECT_TRUE(answer.status().is(StatusCode::kInvalidArgument)) << answer.status().to_string();
  EXPECT_NE(answer.status().message().find("at least one message is required"), std::string::npos)
      << answer.status().message();
}

TEST_F(AnthropicProviderTest, NoAnswerInTimeIsDeadlineExceeded) {
  ScriptedReply slow = ScriptedReply::Text("late");
  slow.delay = std::chrono::milliseconds(3000);
  server_.push(slow);
  endpoint_.timeout = 300;
  auto started = std::chrono::steady_clock::now();
  auto answer = provider_->chat(endpoint_, kKey, ask("hi"), &retry_after_);
  ASSERT_FALSE(answer.ok());
  EXPECT_TRUE(answer.status().is(StatusCode::kDeadlineExceeded)) << answer.status().to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(2500));
  EXPECT_EQ(answer.status().message().find(kKey), std::string::npos);
}

TEST_F(AnthropicProviderTest, AServerThatIsNotThereIsUnavailable) {
  int port = 0;
  {
    ScriptedModelServer gone;
    port = gone.port();
  }
  endpoint_.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  auto answer = provider_->chat(endpoint_, kKey, ask("hi"), &retry_after_);
  ASSERT_FALSE(answer.ok());
  EXPECT_TRUE(answer.status().is(StatusCode::kUnavailable)) << answer.status().to_string();
  EXPECT_EQ(answer.status().message().find(kKey), std::string::npos);
}

TEST_F(AnthropicProviderTest, ThereAreNoEmbeddings) {
  auto answer = provider_->embed(endpoint_, kKey, {"a"}, &retry_after_);
  ASSERT_FALSE(answer.ok());
  EXPECT_TRUE(answer.status().is(StatusCode::kFailedPrecondition)) << answer.status().to_string();
  EXPECT_EQ(server_.received().size(), 0u);
}

}  // namespace
}  // namespace cadre
