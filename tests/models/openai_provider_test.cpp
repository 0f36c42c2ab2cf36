// The OpenAI-compatible provider over real loopback HTTP: what goes on the
// wire (checked in the bodies the scripted server received, and by the
// server's own validation of the format), what comes back, and how every
// kind of failure maps to a Status that never shows the key.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <thread>

#include "model_requests.h"
#include "model_server.h"
#include "models/provider.h"

namespace cadre {
namespace {

using testing::ScriptedModelServer;
using testing::ScriptedReply;

constexpr const char* kKey = "sk-test-0123456789SECRET";

ModelEndpoint endpoint_at(const std::string& base_url) {
  ModelEndpoint endpoint;
  endpoint.provider = "openai";
  endpoint.model = "gpt-4o-mini";
  endpoint.base_url = base_url;
  endpoint.timeout = 5000;
  endpoint.max_tokens = 1024;
  return endpoint;
}

using testing::ask;
using testing::message;

ModelToolDef search_tool() {
  ModelToolDef tool;
  tool.name = "search";
  tool.description = "Searches the notes";
  tool.parameters =
      Json::parse(R"({"type":"object","properties":{"q":{"type":"string"}},"required":["q"]})");
  return tool;
}

// A port nothing listens on: a server's, after it stopped.
int closed_port() {
  ScriptedModelServer server;
  return server.port();
}

// One fixed answer for every request: the wire quirks of other
// OpenAI-compatible servers, which the scripted server never produces.
class FixedAnswerServer {
 public:
  FixedAnswerServer(int status, std::string body) : status_(status), body_(std::move(body)) {
    server_.Post(".*", [this](const httplib::Request&, httplib::Response& response) {
      response.status = status_;
      response.set_content(body_, "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FixedAnswerServer() {
    server_.stop();
    thread_.join();
  }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }

 private:
  int status_;
  std::string body_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

class OpenAiProviderTest : public ::testing::Test {
 protected:
  ScriptedModelServer server_;
  std::unique_ptr<ModelProvider> provider_ = make_openai_provider();
  ModelEndpoint endpoint_ = endpoint_at(server_.base_url());
  DurationMs retry_after_ = 12345;
};

TEST_F(OpenAiProviderTest, ATextAnswerWithItsUsage) {
  ScriptedReply reply = ScriptedReply::Text("Paris.");
  reply.input_tokens = 31;
  reply.output_tokens = 2;
  server_.push(reply);
  ChatRequest request = ask("Capital of France?");
  request.temperature = 0.25;

  auto answer = provider_->chat(endpoint_, kKey, request, &retry_after_);
  ASSERT_TRUE(answer.ok()) << answer.status().to_string();
  EXPECT_EQ(answer->content, "Paris.");
  EXPECT_TRUE(answer->tool_calls.empty());
  EXPECT_EQ(answer->finish_reason, "stop");
  EXPECT_EQ(answer->usage.input_tokens, 31);
  EXPECT_EQ(answer->usage.output_tokens, 2);
  EXPECT_EQ(retry_after_, -1);

  auto received = server_.received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].path, "/v1/chat/completions");
  EXPECT_EQ(received[0].headers.value("authorization", ""), std::string("Bearer ") + kKey);
  EXPECT_EQ(received[0].headers.value("content-type", ""), "application/json");
  const Json& body = received[0].body;
  EXPECT_EQ(body["model"], "gpt-4o-mini");
  EXPECT_EQ(body["messages"], Json::parse(R"([{"role":"system","content":"You are terse."},
                                              {"role":"user","content":"Capital of France?"}])"));
  EXPECT_EQ(body["max_tokens"], 1024);  // the endpoint's, as the request set none
  EXPECT_DOUBLE_EQ(body["temperature"].get<double>(), 0.25);
  EXPECT_FALSE(body.contains("tools"));
  EXPECT_FALSE(body.contains("response_format"));
}

TEST_F(OpenAiProviderTest, TheRequestsMaxTokensWinsOverTheEndpoints) {
  server_.push(ScriptedReply::Text("ok"));
  ChatRequest request = ask("hi");
  request.max_tokens = 77;
  ASSERT_TRUE(provider_->chat(endpoint_, kKey, request, &retry_after_).ok());
  EXPECT_EQ(server_.received()[0].body["max_tokens"], 77);
}

TEST_F(OpenAiProviderTest, WithoutAKeyNoAuthorizationHeaderIsSent) {
  // Ollama and llama.cpp's server take no key.
  server_.push(ScriptedReply::Text("ok"));
  ASSERT_TRUE(provider_->chat(endpoint_, "", ask("hi"), &retry_after_).ok());
  EXPECT_FALSE(server_.received()[0].headers.contains("authorization"));
}

TEST_F(OpenAiProviderTest, AToolCallAnswerAndTheResultsSentBackInTheNextTurn) {
  server_.push(ScriptedReply::Tool("search", Json{{"q", "cadre"}}));
  ChatRequest request = ask("Find notes about cadre");
  request.tools.push_back(search_tool());

  auto first = provider_->chat(endpoint_, kKey, request, &retry_after_);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_EQ(first->finish_reason, "tool_calls");
  ASSERT_EQ(first->tool_calls.size(), 1u);
  const ModelToolCall& call = first->tool_calls[0];
  EXPECT_EQ(call.name, "search");
  EXPECT_EQ(call.arguments, (Json{{"q", "cadre"}}));  // parsed from the wire's JSON string
  EXPECT_EQ(call.id.rfind("call_", 0), 0u) << call.id;
  EXPECT_EQ(server_.received()[0].body["tools"],
            Json::array({Json{{"type", "function"},
                              {"function", Json{{"name", "search"},
                                                {"description", "Searches the notes"},
                                                {"parameters", search_tool().parameters}}}}}));

  ChatMessage asked;
  asked.role = "assistant";
  asked.tool_calls = first->tool_calls;
  request.messages.push_back(asked);
  ChatMessage result = message("tool", "3 notes found");
  result.tool_call_id = call.id;
  request.messages.push_back(result);
  server_.push(ScriptedReply::Text("There are 3 notes."));

  auto second = provider_->chat(endpoint_, kKey, request, &retry_after_);
  ASSERT_TRUE(second.ok()) << second.status().to_string();  // the server checks the pairing too
  EXPECT_EQ(second->content, "There are 3 notes.");
  const Json messages = server_.received()[1].body["messages"];
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_EQ(messages[2],
            (Json{{"role", "assistant"},
                  {"content", nullptr},
                  {"tool_calls",
                   Json::array({Json{{"id", call.id},
                                     {"type", "function"},
                                     {"function", Json{{"name", "search"},
                                                       {"arguments", "{\"q\":\"cadre\"}"}}}}})}}));
  EXPECT_EQ(messages[3],
            (Json{{"role", "tool"}, {"tool_call_id", call.id}, {"content", "3 notes found"}}));
}

TEST_F(OpenAiProviderTest, ArgumentsTheModelGarbledAreSentBackAsItWroteThem) {
  ChatRequest request = ask("go");
  ChatMessage asked;
  asked.role = "assistant";
  asked.tool_calls.push_back(
      ModelToolCall{"call_1", "search", Json{{"_raw", "{\"q\": unquoted}"}}});
  request.messages.push_back(asked);
  ChatMessage result = message("tool", "error: arguments are not JSON");
  result.tool_call_id = "call_1";
  request.messages.push_back(result);
  server_.push(ScriptedReply::Text("retrying"));
  ASSERT_TRUE(provider_->chat(endpoint_, kKey, request, &retry_after_).ok());
  EXPECT_EQ(server_.received()[0].body["messages"][2]["tool_calls"][0]["function"]["arguments"],
            "{\"q\": unquoted}");
}

TEST_F(OpenAiProviderTest, AResponseSchemaBecomesAJsonSchemaResponseFormat) {
  Json schema = Json::parse(
      R"({"type":"object","properties":{"answer":{"type":"integer"}},"required":["answer"]})");
  server_.push(ScriptedReply::Text(R"({"answer":42})"));
  ChatRequest request = ask("6 times 7?");
  request.response_schema = schema;
  auto answer = provider_->chat(endpoint_, kKey, request, &retry_after_);
  ASSERT_TRUE(answer.ok()) << answer.status().to_string();
  EXPECT_EQ(answer->content, R"({"answer":42})");
  EXPECT_EQ(server_.received()[0].body["response_format"],
            (Json{{"type", "json_schema"},
                  {"json_schema", Json{{"name", "output"}, {"schema", schema}}}}));
}

TEST_F(OpenAiProviderTest, EmbeddingsComeBackOnePerTextInOrder) {
  std::vector<std::string> texts = {"alpha beta", "gamma", "alpha beta"};
  endpoint_.model = "text-embedding-3-small";
  auto answer = provider_->embed(endpoint_, kKey, texts, &retry_after_);
  ASSERT_TRUE(answer.ok()) << answer.status().to_string();
  ASSERT_EQ(answer->vectors.size(), 3u);
  EXPECT_EQ(answer->vectors[0].size(), 16u);
  EXPECT_EQ(answer->vectors[0], answer->vectors[2]);
  EXPECT_NE(answer->vectors[0], answer->vectors[1]);
  EXPECT_GT(answer->usage.input_tokens, 0);
  auto received = server_.received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].path, "/v1/embeddings");
  EXPECT_EQ(received[0].body, (Json{{"model", "text-embedding-3-small"}, {"input", texts}}));
  EXPECT_EQ(received[0].headers.value("authorization", ""), std::string("Bearer ") + kKey);
}

TEST(OpenAiProviderWireTest, EmbeddingsAreOrderedByTheirIndexNotTheirPlace) {
  FixedAnswerServer server(200, R"({"object":"list","data":[
      {"object":"embedding","index":1,"embedding":[0.0,1.0]},
      {"object":"embedding","index":0,"embedding":[1.0,0.0]}],
      "model":"m","usage":{"prompt_tokens":4,"total_tokens":4}})");
  auto answer = make_openai_provider()->embed(endpoint_at(server.base_url()), "",
                                              {"first", "second"}, nullptr);
  ASSERT_TRUE(answer.ok()) << answer.status().to_string();
  EXPECT_EQ(answer->vectors[0], (std::vector<float>{1.0f, 0.0f}));
  EXPECT_EQ(answer->vectors[1], (std::vector<float>{0.0f, 1.0f}));
  EXPECT_EQ(answer->usage.input_tokens, 4);
}

TEST(OpenAiProviderWireTest, UnparsableArgumentsAreKeptAsRawText) {
  FixedAnswerServer server(200, R"({"choices":[{"index":0,"finish_reason":"stop","message":{
      "role":"assistant","content":null,"tool_calls":[
        {"id":"call_a","type":"function","function":{"name":"search","arguments":"{\"q\": unquoted"}},
        {"id":"call_b","type":"function","function":{"name":"list","arguments":{"all":true}}},
        {"id":"call_c","type":"function","function":{"name":"now","arguments":""}}]}}]})");
  auto answer =
      make_openai_provider()->chat(endpoint_at(server.base_url()), "", ask("go"), nullptr);
  ASSERT_TRUE(answer.ok()) << answer.status().to_string();
  ASSERT_EQ(answer->tool_calls.size(), 3u);
  EXPECT_EQ(answer->tool_calls[0].arguments, (Json{{"_raw", "{\"q\": unquoted"}}));
  EXPECT_EQ(answer->tool_calls[1].arguments, (Json{{"all", true}}));  // Ollama sends an object
  EXPECT_EQ(answer->tool_calls[2].arguments, Json::object());         // no arguments at all
  EXPECT_EQ(answer->finish_reason, "tool_calls");  // consistent even when the server said "stop"
  EXPECT_EQ(answer->usage.input_tokens, 0);        // no usage block: zero, not an error
}

TEST(OpenAiProviderWireTest, AnAnswerThatIsNotTheExpectedJsonIsInternal) {
  FixedAnswerServer not_json(200, "<html>gateway</html>");
  auto answer =
      make_openai_provider()->chat(endpoint_at(not_json.base_url()), "", ask("go"), nullptr);
  ASSERT_FALSE(answer.ok());
  EXPECT_TRUE(answer.status().is(StatusCode::kInternal)) << answer.status().to_string();

  FixedAnswerServer no_choices(200, R"({"choices":[]})");
  answer = make_openai_provider()->chat(endpoint_at(no_choices.base_url()), "", ask("go"), nullptr);
  ASSERT_FALSE(answer.ok());
  EXPECT_TRUE(answer.status().is(StatusCode::kInternal));
  EXPECT_NE(answer.status().message().find("choices"), std::string::npos)
      << answer.status().message();
}

TEST(OpenAiProviderWireTest, AKeyTheApiEchoesIsRedacted) {
  FixedAnswerServer server(
      401, std::string(R"({"error":{"message":"Incorrect API key provided: )") + kKey +
               R"(.","type":"invalid_request_error"}})");
  auto answer =
      make_openai_provider()->chat(endpoint_at(server.base_url()), kKey, ask("go"), nullptr);
  ASSERT_FALSE(answer.ok());
  EXPECT_TRUE(answer.status().is(StatusCode::kFailedPrecondition));
  EXPECT_EQ(answer.status().message().find(kKey), std::string::npos) << answer.status().message();
  EXPECT_NE(answer.status().message().find("Incorrect API key provided: [redacted]"),
            std::string::npos)
      << answer.status().message();
}

struct ErrorCase {
  int status;
  int retry_after_s;
  StatusCode code;
  const char* says;
};

TEST_F(OpenAiProviderTest, HttpErrorsMapToStatusCodesWithoutTheKey) {
  const std::vector<ErrorCase> cases = {
      {400, -1, StatusCode::kInvalidArgument, "HTTP 400: scripted error (HTTP 400)"},
      {401, -1, StatusCode::kFailedPrecondition, "the API key was refused (HTTP 401)"},
      {403, -1, StatusCode::kFailedPrecondition, "the API key was refused (HTTP 403)"},
      {429, 7, StatusCode::kResourceExhausted, "rate limited (HTTP 429): Rate limit reached"},
      {500, -1, StatusCode::kUnavailable, "HTTP 500"},
      {503, 2, StatusCode::kUnavailable, "HTTP 503: The engine is currently overloaded"},
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
    EXPECT_NE(answer.status().message().find("gpt-4o-mini"), std::string::npos);
    EXPECT_EQ(answer.status().message().find(kKey), std::string::npos);
    EXPECT_EQ(retry_after_, c.retry_after_s < 0 ? -1 : c.retry_after_s * 1000);
  }
}

TEST_F(OpenAiProviderTest, ARequestTheApiRefusesCarriesTheApisOwnMessage) {
  ChatRequest empty;  // no messages: the API says why
  auto answer = provider_->chat(endpoint_, kKey, empty, &retry_after_);
  ASSERT_FALSE(answer.ok());
  EXPECT_TRUE(answer.status().is(StatusCode::kInvalidArgument)) << answer.status().to_string();
  EXPECT_NE(answer.status().message().find("Invalid 'messages': empty array"), std::string::npos)
      << answer.status().message();
}

TEST_F(OpenAiProviderTest, NoAnswerInTimeIsDeadlineExceeded) {
  ScriptedReply slow = ScriptedReply::Text("late");
  slow.delay = std::chrono::milliseconds(3000);
  server_.push(slow);
  endpoint_.timeout = 300;
  auto started = std::chrono::steady_clock::now();
  auto answer = provider_->chat(endpoint_, kKey, ask("hi"), &retry_after_);
  auto waited = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(answer.ok());
  EXPECT_TRUE(answer.status().is(StatusCode::kDeadlineExceeded)) << answer.status().to_string();
  EXPECT_LT(waited, std::chrono::milliseconds(2500));
  EXPECT_EQ(answer.status().message().find(kKey), std::string::npos);
}

TEST(OpenAiProviderWireTest, AServerThatIsNotThereIsUnavailable) {
  ModelEndpoint endpoint = endpoint_at("http://127.0.0.1:" + std::to_string(closed_port()) + "/v1");
  DurationMs retry_after = 12345;
  auto answer = make_openai_provider()->chat(endpoint, kKey, ask("hi"), &retry_after);
  ASSERT_FALSE(answer.ok());
  EXPECT_TRUE(answer.status().is(StatusCode::kUnavailable)) << answer.status().to_string();
  EXPECT_EQ(answer.status().message().find(kKey), std::string::npos);
  EXPECT_EQ(retry_after, -1);
  auto vectors = make_openai_provider()->embed(endpoint, kKey, {"x"}, &retry_after);
  EXPECT_TRUE(vectors.status().is(StatusCode::kUnavailable)) << vectors.status().to_string();
}

TEST_F(OpenAiProviderTest, EmbeddingErrorsMapLikeChatErrors) {
  server_.push_embedding(ScriptedReply::Error(429, 3));
  auto answer = provider_->embed(endpoint_, kKey, {"a"}, &retry_after_);
  ASSERT_FALSE(answer.ok());
  EXPECT_TRUE(answer.status().is(StatusCode::kResourceExhausted)) << answer.status().to_string();
  EXPECT_EQ(retry_after_, 3000);
}

}  // namespace
}  // namespace cadre
