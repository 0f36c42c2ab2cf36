// Specification of the scripted model server the model tests run against
// (tests/model_server.h), checked with a raw HTTP client: each endpoint
// answers in the real provider's wire format, errors look like the
// provider's, and malformed requests are refused the way the real APIs
// refuse them.
#include "model_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <set>
#include <thread>

#include "test_support.h"

namespace cadre::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr char kChat[] = "/v1/chat/completions";
constexpr char kMessages[] = "/v1/messages";
constexpr char kEmbeddings[] = "/v1/embeddings";

struct Answer {
  int status = -1;
  Json body;
  std::string retry_after;  // the Retry-After header, "" when absent
  std::string content_type;
};

httplib::Headers anthropic_headers() {
  return {{"x-api-key", "test-key"}, {"anthropic-version", "2023-06-01"}};
}

Answer post_raw(const ScriptedModelServer& server, const std::string& path, const std::string& body,
                const httplib::Headers& headers = {}) {
  httplib::Client client("127.0.0.1", server.port());
  client.set_read_timeout(std::chrono::seconds(20));
  httplib::Result result = client.Post(path, headers, body, "application/json");
  Answer answer;
  if (!result) {
    ADD_FAILURE() << "POST " << path << ": no answer: " << httplib::to_string(result.error());
    return answer;
  }
  answer.status = result->status;
  answer.retry_after = result->get_header_value("Retry-After");
  answer.content_type = result->get_header_value("Content-Type");
  Result<Json> parsed = parse_json(result->body, "answer");
  EXPECT_TRUE(parsed.ok()) << "POST " << path << " answered " << result->status
                           << " with: " << result->body;
  if (parsed.ok()) answer.body = *parsed;
  return answer;
}

Answer post(const ScriptedModelServer& server, const std::string& path, const Json& body,
            const httplib::Headers& headers = {}) {
  return post_raw(server, path, body.dump(), headers);
}

Answer post_messages(const ScriptedModelServer& server, const Json& body) {
  return post(server, kMessages, body, anthropic_headers());
}

Json openai_request(const std::string& content) {
  return {{"model", "gpt-test"},
          {"messages", Json::array({{{"role", "user"}, {"content", content}}})}};
}

Json anthropic_request(const std::string& content) {
  return {{"model", "claude-test"},
          {"max_tokens", 256},
          {"messages", Json::array({{{"role", "user"}, {"content", content}}})}};
}

// The message of a provider error body, checking its shape on the way.
std::string openai_error_message(const Answer& answer) {
  EXPECT_TRUE(answer.body.contains("error") && answer.body["error"].is_object())
      << answer.body.dump();
  if (!answer.body.contains("error") || !answer.body["error"].is_object()) return "";
  const Json& error = answer.body["error"];
  EXPECT_TRUE(error["message"].is_string()) << error.dump();
  EXPECT_TRUE(error["type"].is_string()) << error.dump();
  EXPECT_TRUE(error.contains("code")) << error.dump();
  EXPECT_TRUE(error.contains("param")) << error.dump();
  return error["message"].is_string() ? error["message"].get<std::string>() : "";
}

std::string anthropic_error_message(const Answer& answer) {
  EXPECT_EQ(answer.body.value("type", ""), "error") << answer.body.dump();
  EXPECT_TRUE(answer.body.contains("error") && answer.body["error"].is_object())
      << answer.body.dump();
  if (!answer.body.contains("error") || !answer.body["error"].is_object()) return "";
  const Json& error = answer.body["error"];
  EXPECT_TRUE(error["type"].is_string()) << error.dump();
  return error["message"].is_string() ? error["message"].get<std::string>() : "";
}

std::vector<double> vector_of(const Json& embedding) {
  std::vector<double> out;
  for (const Json& x : embedding) out.push_back(x.get<double>());
  return out;
}

double cosine(const std::vector<double>& a, const std::vector<double>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / std::sqrt(na * nb);
}

// --- OpenAI chat completions -------------------------------------------------------

TEST(ScriptedModelServerOpenAi, RendersATextReplyAsAChatCompletion) {
  ScriptedModelServer server;
  ScriptedReply reply = ScriptedReply::Text("Hello there.");
  reply.input_tokens = 30;
  reply.output_tokens = 4;
  server.push(reply);

  Answer answer = post(server, kChat, openai_request("hi"));
  ASSERT_EQ(answer.status, 200) << answer.body.dump();
  EXPECT_EQ(answer.content_type.rfind("application/json", 0), 0u) << answer.content_type;
  const Json& body = answer.body;
  EXPECT_EQ(body["id"].get<std::string>().rfind("chatcmpl-", 0), 0u) << body["id"];
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_TRUE(body["created"].is_number_integer());
  EXPECT_GT(body["created"].get<int64_t>(), 1600000000);
  EXPECT_EQ(body["model"], "gpt-test");
  ASSERT_EQ(body["choices"].size(), 1u);
  const Json& choice = body["choices"][0];
  EXPECT_EQ(choice["index"], 0);
  EXPECT_EQ(choice["finish_reason"], "stop");
  EXPECT_EQ(choice["message"]["role"], "assistant");
  EXPECT_EQ(choice["message"]["content"], "Hello there.");
  EXPECT_FALSE(choice["message"].contains("tool_calls"));
  EXPECT_EQ(body["usage"],
            Json({{"prompt_tokens", 30}, {"completion_tokens", 4}, {"total_tokens", 34}}));
}

TEST(ScriptedModelServerOpenAi, RendersToolCallsWithArgumentsAsAJsonString) {
  ScriptedModelServer server;
  ScriptedReply reply = ScriptedReply::Tool("search", {{"query", "weather in Oslo"}, {"limit", 3}});
  reply.tool_calls.emplace_back("fetch", Json{{"url", "https://example.com"}});
  server.push(reply);

  Answer answer = post(server, kChat, openai_request("what's the weather?"));
  ASSERT_EQ(answer.status, 200) << answer.body.dump();
  const Json& choice = answer.body["choices"][0];
  EXPECT_EQ(choice["finish_reason"], "tool_calls");
  EXPECT_TRUE(choice["message"]["content"].is_null()) << choice.dump();
  const Json& calls = choice["message"]["tool_calls"];
  ASSERT_EQ(calls.size(), 2u) << choice.dump();
  EXPECT_EQ(calls[0]["type"], "function");
  EXPECT_EQ(calls[0]["id"].get<std::string>().rfind("call_", 0), 0u) << calls[0]["id"];
  EXPECT_NE(calls[0]["id"], calls[1]["id"]);
  EXPECT_EQ(calls[0]["function"]["name"], "search");
  ASSERT_TRUE(calls[0]["function"]["arguments"].is_string()) << calls[0].dump();
  EXPECT_EQ(Json::parse(calls[0]["function"]["arguments"].get<std::string>()),
            Json({{"query", "weather in Oslo"}, {"limit", 3}}));
  EXPECT_EQ(calls[1]["function"]["name"], "fetch");
  EXPECT_EQ(Json::parse(calls[1]["function"]["arguments"].get<std::string>()),
            Json({{"url", "https://example.com"}}));
}

TEST(ScriptedModelServerOpenAi, ScriptedErrorsUseTheOpenAiErrorFormatAndRetryAfter) {
  ScriptedModelServer server;
  server.push(ScriptedReply::Error(429, 3));
  server.push(ScriptedReply::Error(503));
  server.push(ScriptedReply::Error(401));

  Answer limited = post(server, kChat, openai_request("hi"));
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.retry_after, "3");
  EXPECT_FALSE(openai_error_message(limited).empty());
  EXPECT_EQ(limited.body["error"]["code"], "rate_limit_exceeded");

  Answer unavailable = post(server, kChat, openai_request("hi"));
  EXPECT_EQ(unavailable.status, 503);
  EXPECT_EQ(unavailable.retry_after, "");
  EXPECT_FALSE(openai_error_message(unavailable).empty());
  EXPECT_EQ(unavailable.body["error"]["type"], "server_error");

  Answer refused = post(server, kChat, openai_request("hi"));
  EXPECT_EQ(refused.status, 401);
  EXPECT_FALSE(openai_error_message(refused).empty());
  EXPECT_EQ(refused.body["error"]["code"], "invalid_api_key");
}

TEST(ScriptedModelServerOpenAi, RefusesMalformedRequestsWith400) {
  ScriptedModelServer server;
  server.push(ScriptedReply::Text("unused"));
  Json no_model = openai_request("hi");
  no_model.erase("model");
  Json no_messages = openai_request("hi");
  no_messages.erase("messages");
  Json empty_messages = openai_request("hi");
  empty_messages["messages"] = Json::array();
  Json stream = openai_request("hi");
  stream["stream"] = true;
  Json tool_without_name = openai_request("hi");
  tool_without_name["tools"] =
      Json::array({{{"type", "function"}, {"function", {{"parameters", Json::object()}}}}});
  Json schema_without_name = openai_request("hi");
  schema_without_name["response_format"] = {{"type", "json_schema"},
                                            {"json_schema", {{"schema", Json::object()}}}};

  struct Case {
    std::string name;
    std::string body;
    std::string message_part;
  };
  std::vector<Case> cases = {
      {"not JSON", "{\"model\": ", "parse the JSON body"},
      {"not an object", "[1, 2]", "parse the JSON body"},
      {"model missing", no_model.dump(), "model"},
      {"messages missing", no_messages.dump(), "'messages'"},
      {"messages empty", empty_messages.dump(), "empty array"},
      {"stream", stream.dump(), "stream"},
      {"tool without a name", tool_without_name.dump(), "tools[0].function.name"},
      {"json_schema without a name", schema_without_name.dump(),
       "response_format.json_schema.name"},
  };
  for (const Case& c : cases) {
    Answer answer = post_raw(server, kChat, c.body);
    EXPECT_EQ(answer.status, 400) << c.name;
    EXPECT_NE(openai_error_message(answer).find(c.message_part), std::string::npos)
        << c.name << ": " << answer.body.dump();
    EXPECT_EQ(answer.body["error"]["type"], "invalid_request_error") << c.name;
  }
  EXPECT_EQ(server.pending(), 1u) << "a refused request must not use up a reply";
}

// A conversation where the assistant called `search` (id call_1) and
// `tool_messages` follow it.
Json openai_tool_conversation(Json tool_messages, Json arguments = "{\"q\":\"x\"}") {
  Json messages = Json::array(
      {{{"role", "user"}, {"content", "find x"}},
       {{"role", "assistant"},
        {"content", nullptr},
        {"tool_calls",
         Json::array(
             {{{"id", "call_1"},
               {"type", "function"},
               {"function", {{"name", "search"}, {"arguments", std::move(arguments)}}}}})}}});
  for (Json& message : tool_messages) messages.push_back(std::move(message));
  return {{"model", "gpt-test"}, {"messages", std::move(messages)}};
}

TEST(ScriptedModelServerOpenAi, ChecksThatToolMessagesAnswerTheToolCalls) {
  ScriptedModelServer server;
  server.push(ScriptedReply::Text("done"));

  Answer wrong_id = post(server, kChat,
                         openai_tool_conversation(Json::array(
                             {{{"role", "tool"}, {"tool_call_id", "call_2"}, {"content", "r"}}})));
  EXPECT_EQ(wrong_id.status, 400);
  EXPECT_NE(openai_error_message(wrong_id).find(
                "must be a response to a preceeding message with 'tool_calls'"),
            std::string::npos)
      << wrong_id.body.dump();

  Answer unanswered = post(
      server, kChat, openai_tool_conversation(Json::array({{{"role", "user"}, {"content", "?"}}})));
  EXPECT_EQ(unanswered.status, 400);
  EXPECT_NE(openai_error_message(unanswered).find("call_1"), std::string::npos)
      << unanswered.body.dump();

  Answer object_arguments =
      post(server, kChat,
           openai_tool_conversation(
               Json::array({{{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", "r"}}}),
               Json{{"q", "x"}}));
  EXPECT_EQ(object_arguments.status, 400);
  EXPECT_NE(openai_error_message(object_arguments).find("expected a string"), std::string::npos)
      << object_arguments.body.dump();
  EXPECT_EQ(server.pending(), 1u);

  Answer good = post(server, kChat,
                     openai_tool_conversation(Json::array(
                         {{{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", "r"}}})));
  EXPECT_EQ(good.status, 200) << good.body.dump();
  EXPECT_EQ(good.body["choices"][0]["message"]["content"], "done");
}

// --- Anthropic messages ----------------------------------------------------------

TEST(ScriptedModelServerAnthropic, RendersATextReplyAsAMessage) {
  ScriptedModelServer server;
  ScriptedReply reply = ScriptedReply::Text("Bonjour.");
  reply.input_tokens = 21;
  reply.output_tokens = 5;
  server.push(reply);

  Answer answer = post_messages(server, anthropic_request("hi"));
  ASSERT_EQ(answer.status, 200) << answer.body.dump();
  const Json& body = answer.body;
  EXPECT_EQ(body["id"].get<std::string>().rfind("msg_", 0), 0u) << body["id"];
  EXPECT_EQ(body["type"], "message");
  EXPECT_EQ(body["role"], "assistant");
  EXPECT_EQ(body["model"], "claude-test");
  EXPECT_EQ(body["content"], Json::array({{{"type", "text"}, {"text", "Bonjour."}}}));
  EXPECT_EQ(body["stop_reason"], "end_turn");
  EXPECT_TRUE(body["stop_sequence"].is_null());
  EXPECT_EQ(body["usage"], Json({{"input_tokens", 21}, {"output_tokens", 5}}));
}

TEST(ScriptedModelServerAnthropic, RendersToolUseBlocksWithObjectInput) {
  ScriptedModelServer server;
  ScriptedReply reply = ScriptedReply::Tool("search", {{"query", "Oslo"}});
  reply.text = "Let me look that up.";
  server.push(reply);

  Answer answer = post_messages(server, anthropic_request("weather?"));
  ASSERT_EQ(answer.status, 200) << answer.body.dump();
  EXPECT_EQ(answer.body["stop_reason"], "tool_use");
  const Json& content = answer.body["content"];
  ASSERT_EQ(content.size(), 2u) << content.dump();
  EXPECT_EQ(content[0], Json({{"type", "text"}, {"text", "Let me look that up."}}));
  EXPECT_EQ(content[1]["type"], "tool_use");
  EXPECT_EQ(content[1]["id"].get<std::string>().rfind("toolu_", 0), 0u) << content[1]["id"];
  EXPECT_EQ(content[1]["name"], "search");
  EXPECT_EQ(content[1]["input"], Json({{"query", "Oslo"}}));
}

TEST(ScriptedModelServerAnthropic, ScriptedErrorsUseTheAnthropicErrorFormat) {
  ScriptedModelServer server;
  server.push(ScriptedReply::Error(429, 7));
  server.push(ScriptedReply::Error(529));
  server.push(ScriptedReply::Error(500));
  server.push(ScriptedReply::Error(401));

  Answer limited = post_messages(server, anthropic_request("hi"));
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.retry_after, "7");
  EXPECT_FALSE(anthropic_error_message(limited).empty());
  EXPECT_EQ(limited.body["error"]["type"], "rate_limit_error");

  Answer overloaded = post_messages(server, anthropic_request("hi"));
  EXPECT_EQ(overloaded.status, 529);
  EXPECT_EQ(overloaded.body["error"]["type"], "overloaded_error");
  EXPECT_EQ(anthropic_error_message(overloaded), "Overloaded");

  Answer failed = post_messages(server, anthropic_request("hi"));
  EXPECT_EQ(failed.status, 500);
  EXPECT_EQ(failed.body["error"]["type"], "api_error");

  Answer refused = post_messages(server, anthropic_request("hi"));
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(refused.body["error"]["type"], "authentication_error");
}

// A conversation where the assistant used `search` (id toolu_1) and `next`
// is the message after it.
Json anthropic_tool_conversation(Json next) {
  Json body = anthropic_request("find x");
  body["messages"].push_back({{"role", "assistant"},
                              {"content", Json::array({{{"type", "tool_use"},
                                                        {"id", "toolu_1"},
                                                        {"name", "search"},
                                                        {"input", {{"q", "x"}}}}})}});
  body["messages"].push_back(std::move(next));
  return body;
}

TEST(ScriptedModelServerAnthropic, RefusesMalformedRequestsWith400) {
  ScriptedModelServer server;
  server.push(ScriptedReply::Text("unused"));
  Json no_model = anthropic_request("hi");
  no_model.erase("model");
  Json no_max_tokens = anthropic_request("hi");
  no_max_tokens.erase("max_tokens");
  Json no_messages = anthropic_request("hi");
  no_messages.erase("messages");
  Json empty_messages = anthropic_request("hi");
  empty_messages["messages"] = Json::array();
  Json system_role = anthropic_request("hi");
  system_role["messages"].insert(system_role["messages"].begin(),
                                 Json{{"role", "system"}, {"content", "be nice"}});
  Json empty_text = anthropic_request("hi");
  empty_text["messages"][0]["content"] = Json::array({{{"type", "text"}, {"text", ""}}});
  Json stray_result = anthropic_request("hi");
  stray_result["messages"][0]["content"] =
      Json::array({{{"type", "tool_result"}, {"tool_use_id", "toolu_9"}, {"content", "r"}}});
  Json unanswered_use = anthropic_tool_conversation({{"role", "user"}, {"content", "and?"}});
  Json wrong_result = anthropic_tool_conversation(
      {{"role", "user"},
       {"content",
        Json::array({{{"type", "tool_result"}, {"tool_use_id", "toolu_2"}, {"content", "r"}}})}});
  Json string_input = anthropic_request("hi");
  string_input["messages"].push_back(
      {{"role", "assistant"},
       {"content",
        Json::array(
            {{{"type", "tool_use"}, {"id", "toolu_1"}, {"name", "s"}, {"input", "{\"q\":1}"}}})}});
  Json tool_without_schema = anthropic_request("hi");
  tool_without_schema["tools"] = Json::array({{{"name", "search"}}});

  struct Case {
    std::string name;
    std::string body;
    std::string message_part;
  };
  std::vector<Case> cases = {
      {"not JSON", "{\"model\": ", "parsing the body"},
      {"model missing", no_model.dump(), "model: Field required"},
      {"max_tokens missing", no_max_tokens.dump(), "max_tokens: Field required"},
      {"messages missing", no_messages.dump(), "messages: Field required"},
      {"messages empty", empty_messages.dump(), "at least one message"},
      {"system role", system_role.dump(), "top-level `system` parameter"},
      {"empty text block", empty_text.dump(), "text content blocks must be non-empty"},
      {"tool_result without tool_use", stray_result.dump(), "unexpected `tool_use_id`"},
      {"tool_use left unanswered", unanswered_use.dump(), "without `tool_result` blocks"},
      {"tool_result for another id", wrong_result.dump(), "toolu_2"},
      {"tool_use input not an object", string_input.dump(), "valid dictionary"},
      {"tool without input_schema", tool_without_schema.dump(), "tools.0.input_schema"},
  };
  for (const Case& c : cases) {
    Answer answer = post_raw(server, kMessages, c.body, anthropic_headers());
    EXPECT_EQ(answer.status, 400) << c.name;
    EXPECT_NE(anthropic_error_message(answer).find(c.message_part), std::string::npos)
        << c.name << ": " << answer.body.dump();
    EXPECT_EQ(answer.body["error"]["type"], "invalid_request_error") << c.name;
  }
  Answer no_version = post(server, kMessages, anthropic_request("hi"), {{"x-api-key", "k"}});
  EXPECT_EQ(no_version.status, 400);
  EXPECT_NE(anthropic_error_message(no_version).find("anthropic-version"), std::string::npos);
  EXPECT_EQ(server.pending(), 1u) << "a refused request must not use up a reply";
}

TEST(ScriptedModelServerAnthropic, AcceptsAToolResultThatAnswersTheToolUse) {
  ScriptedModelServer server;
  server.push(ScriptedReply::Text("It is sunny."));
  Json body = anthropic_tool_conversation({{"role", "user"},
                                           {"content", Json::array({{{"type", "tool_result"},
                                                                     {"tool_use_id", "toolu_1"},
                                                                     {"content", "sunny"}}})}});
  body["system"] = "You are terse.";
  body["tools"] = Json::array({{{"name", "search"}, {"input_schema", {{"type", "object"}}}}});
  Answer answer = post_messages(server, body);
  EXPECT_EQ(answer.status, 200) << answer.body.dump();
  EXPECT_EQ(answer.body["content"][0]["text"], "It is sunny.");
}

// --- Queue, matching, delay ----------------------------------------------------

TEST(ScriptedModelServer, UsesRepliesInOrderAcrossBothFormats) {
  ScriptedModelServer server;
  server.push(ScriptedReply::Text("first"));
  server.push(ScriptedReply::Text("second"));
  EXPECT_EQ(server.pending(), 2u);
  EXPECT_EQ(post(server, kChat, openai_request("a")).body["choices"][0]["message"]["content"],
            "first");
  EXPECT_EQ(post_messages(server, anthropic_request("b")).body["content"][0]["text"], "second");
  EXPECT_EQ(server.pending(), 0u);
}

TEST(ScriptedModelServer, EachAnswerHasItsOwnIds) {
  ScriptedModelServer server;
  server.push(ScriptedReply::Tool("search", Json::object()));
  server.push(ScriptedReply::Tool("search", Json::object()));
  server.push(ScriptedReply::Tool("search", Json::object()));
  server.push(ScriptedReply::Tool("search", Json::object()));
  Json first = post(server, kChat, openai_request("a")).body;
  Json second = post(server, kChat, openai_request("a")).body;
  EXPECT_NE(first["id"], second["id"]);
  EXPECT_NE(first["choices"][0]["message"]["tool_calls"][0]["id"],
            second["choices"][0]["message"]["tool_calls"][0]["id"]);
  Json third = post_messages(server, anthropic_request("a")).body;
  Json fourth = post_messages(server, anthropic_request("a")).body;
  EXPECT_NE(third["id"], fourth["id"]);
  EXPECT_NE(third["content"][0]["id"], fourth["content"][0]["id"]);
}

TEST(ScriptedModelServer, AnswersNoScriptedReplyWith500InTheProviderFormat) {
  ScriptedModelServer server;
  Answer openai = post(server, kChat, openai_request("hi"));
  EXPECT_EQ(openai.status, 500);
  EXPECT_EQ(openai_error_message(openai), "no scripted reply");
  Answer anthropic = post_messages(server, anthropic_request("hi"));
  EXPECT_EQ(anthropic.status, 500);
  EXPECT_EQ(anthropic_error_message(anthropic), "no scripted reply");
  EXPECT_EQ(anthropic.body["error"]["type"], "api_error");
}

TEST(ScriptedModelServer, WhenContainsPicksTheReplyForMatchingRequestsOnly) {
  ScriptedModelServer server;
  ScriptedReply weather = ScriptedReply::Text("It rains.");
  weather.when_contains = "weather";
  server.push(weather);
  server.push(ScriptedReply::Text("plain one"));
  server.push(ScriptedReply::Text("plain two"));

  EXPECT_EQ(post(server, kChat, openai_request("hello")).body["choices"][0]["message"]["content"],
            "plain one");
  EXPECT_EQ(server.pending(), 2u);
  EXPECT_EQ(post(server, kChat, openai_request("the weather today?"))
                .body["choices"][0]["message"]["content"],
            "It rains.");
  EXPECT_EQ(
      post(server, kChat, openai_request("weather again")).body["choices"][0]["message"]["content"],
      "plain two");

  ScriptedReply only_conditional = ScriptedReply::Text("conditional");
  only_conditional.when_contains = "magic word";
  server.push(only_conditional);
  EXPECT_EQ(post(server, kChat, openai_request("no match")).status, 500);
  EXPECT_EQ(post(server, kChat, openai_request("say the magic word"))
                .body["choices"][0]["message"]["content"],
            "conditional");
}

TEST(ScriptedModelServer, DelayHoldsTheAnswer) {
  ScriptedModelServer server;
  ScriptedReply slow = ScriptedReply::Text("late");
  slow.delay = milliseconds(300);
  server.push(slow);
  auto start = steady_clock::now();
  Answer answer = post(server, kChat, openai_request("hi"));
  auto elapsed = steady_clock::now() - start;
  EXPECT_EQ(answer.status, 200);
  EXPECT_GE(elapsed, milliseconds(300));
  EXPECT_LT(elapsed, milliseconds(5000));
}

TEST(ScriptedModelServer, StoppingDoesNotWaitOutALongDelay) {
  auto server = std::make_unique<ScriptedModelServer>();
  ScriptedReply slow = ScriptedReply::Text("never");
  slow.delay = std::chrono::seconds(60);
  server->push(slow);
  int port = server->port();
  std::atomic<int> status{0};
  std::thread caller([port, &status] {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(std::chrono::seconds(90));
    httplib::Result result = client.Post(kChat, openai_request("hi").dump(), "application/json");
    status = result ? result->status : -1;
  });
  // Not ASSERT: the caller thread must be joined whatever happens.
  EXPECT_TRUE(eventually([&] { return server->chat_requests() == 1; }));
  auto start = steady_clock::now();
  server.reset();
  EXPECT_LT(steady_clock::now() - start, milliseconds(3000));
  caller.join();
  EXPECT_NE(status.load(), 200);
}

TEST(ScriptedModelServer, ServesConcurrentCallersEachReplyOnce) {
  ScriptedModelServer server;
  constexpr int kCallers = 12;
  for (int i = 0; i < kCallers; ++i) {
    ScriptedReply reply = ScriptedReply::Text("reply " + std::to_string(i));
    reply.delay = milliseconds(200);
    server.push(reply);
  }
  auto start = steady_clock::now();
  std::mutex mutex;
  std::multiset<std::string> answers;
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      Answer answer = i % 2 ? post(server, kChat, openai_request("hi"))
                            : post_messages(server, anthropic_request("hi"));
      // value() with a JSON pointer never throws on a thread (which would abort the run).
      std::string text =
          answer.body.is_object()
              ? answer.body.value(
                    Json::json_pointer(i % 2 ? "/choices/0/message/content" : "/content/0/text"),
                    "<status " + std::to_string(answer.status) + ">")
              : "<no answer>";
      std::lock_guard<std::mutex> lock(mutex);
      answers.insert(text);
    });
  }
  for (std::thread& caller : callers) caller.join();
  // One after another would take 12 x 200 ms; a caller that had to retry its
  // connect (a full listen backlog) would take over a second.
  EXPECT_LT(steady_clock::now() - start, milliseconds(1000));
  std::multiset<std::string> expected;
  for (int i = 0; i < kCallers; ++i) expected.insert("reply " + std::to_string(i));
  EXPECT_EQ(answers, expected);
  EXPECT_EQ(server.pending(), 0u);
  EXPECT_EQ(server.chat_requests(), kCallers);
}

// --- Records ----------------------------------------------------------------------

TEST(ScriptedModelServer, CountsAndRecordsEveryRequest) {
  ScriptedModelServer server;
  server.push(ScriptedReply::Text("ok"));
  post(server, kChat, openai_request("first"), {{"Authorization", "Bearer sk-test"}});
  post_messages(server, anthropic_request("second"));  // no reply left: 500, still counted
  post_raw(server, kChat, "not json");                 // refused, still counted
  post(server, kEmbeddings, {{"model", "embed-test"}, {"input", "third"}});

  EXPECT_EQ(server.chat_requests(), 3);
  EXPECT_EQ(server.embedding_requests(), 1);
  std::vector<ReceivedRequest> received = server.received();
  ASSERT_EQ(received.size(), 4u);
  EXPECT_EQ(received[0].path, kChat);
  EXPECT_EQ(received[0].headers.value("authorization", ""), "Bearer sk-test")
      << received[0].headers.dump();
  EXPECT_EQ(received[0].body, openai_request("first"));
  EXPECT_FALSE(received[0].headers.contains("REMOTE_ADDR"));
  EXPECT_EQ(received[1].path, kMessages);
  EXPECT_EQ(received[1].headers.value("anthropic-version", ""), "2023-06-01");
  EXPECT_EQ(received[1].headers.value("x-api-key", ""), "test-key");
  EXPECT_EQ(received[1].body["messages"][0]["content"], "second");
  EXPECT_EQ(received[2].body, "not json");
  EXPECT_EQ(received[3].path, kEmbeddings);
  EXPECT_EQ(received[3].body["input"], "third");
}

TEST(ScriptedModelServer, UnknownPathsAre404) {
  ScriptedModelServer server;
  Answer answer = post(server, "/v1/completions", openai_request("hi"));
  EXPECT_EQ(answer.status, 404);
  EXPECT_NE(openai_error_message(answer).find("/v1/completions"), std::string::npos);
  EXPECT_EQ(server.chat_requests(), 0);
}

TEST(ScriptedModelServer, BaseUrlNamesThePort) {
  ScriptedModelServer server;
  ASSERT_GT(server.port(), 0);
  EXPECT_EQ(server.base_url(), "http://127.0.0.1:" + std::to_string(server.port()) + "/v1");
}

TEST(ScriptedModelServer, ListensOnTheRequestedPort) {
  int port = 0;
  {
    ScriptedModelServer first;
    port = first.port();
    ASSERT_GT(port, 0);
    ScriptedModelServer taken(port);
    EXPECT_EQ(taken.port(), 0) << "the port is in use";
  }
  ScriptedModelServer server(port);
  ASSERT_EQ(server.port(), port);
  server.push(ScriptedReply::Text("here"));
  EXPECT_EQ(post(server, kChat, openai_request("hi")).body["choices"][0]["message"]["content"],
            "here");
}

// --- Embeddings -------------------------------------------------------------------

TEST(ScriptedModelServerEmbeddings, RendersTheOpenAiEmbeddingsList) {
  ScriptedModelServer server;
  Answer answer = post(server, kEmbeddings,
                       {{"model", "embed-test"}, {"input", {"red apples", "green pears"}}});
  ASSERT_EQ(answer.status, 200) << answer.body.dump();
  const Json& body = answer.body;
  EXPECT_EQ(body["object"], "list");
  EXPECT_EQ(body["model"], "embed-test");
  ASSERT_EQ(body["data"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const Json& item = body["data"][i];
    EXPECT_EQ(item["object"], "embedding");
    EXPECT_EQ(item["index"], i);
    ASSERT_EQ(item["embedding"].size(), 16u);
    std::vector<double> v = vector_of(item["embedding"]);
    EXPECT_NEAR(cosine(v, v), 1.0, 1e-9);
    double norm = 0;
    for (double x : v) norm += x * x;
    EXPECT_NEAR(norm, 1.0, 1e-9);
  }
  EXPECT_GT(body["usage"]["prompt_tokens"].get<int>(), 0);
  EXPECT_EQ(body["usage"]["total_tokens"], body["usage"]["prompt_tokens"]);
  EXPECT_EQ(server.embedding_requests(), 1);
  EXPECT_EQ(server.chat_requests(), 0);
}

TEST(ScriptedModelServerEmbeddings, VectorsAreDeterministicAndSimilarForSharedWords) {
  ScriptedModelServer server, other;
  server.embedding_dims = 64;
  other.embedding_dims = 64;
  auto embed = [](const ScriptedModelServer& s, const std::string& text) {
    Answer answer = post(s, kEmbeddings, {{"model", "embed-test"}, {"input", text}});
    EXPECT_EQ(answer.status, 200) << answer.body.dump();
    return vector_of(answer.body["data"][0]["embedding"]);
  };
  std::vector<double> cat = embed(server, "The cat sat on the warm mat");
  EXPECT_EQ(cat.size(), 64u);
  EXPECT_EQ(cat, embed(other, "The cat sat on the warm mat"));
  EXPECT_EQ(cat, embed(server, "the CAT sat, on the warm mat!"))
      << "case and punctuation do not matter";
  double close = cosine(cat, embed(server, "the cat sat on the mat"));
  double related = cosine(cat, embed(server, "a cat on a mat"));
  double unrelated = cosine(cat, embed(server, "quarterly revenue forecast spreadsheet"));
  EXPECT_GT(close, 0.9);
  EXPECT_GT(related, 0.3);
  EXPECT_LT(unrelated, 0.3);
  EXPECT_GT(close, related);
  EXPECT_GT(related, unrelated);
}

TEST(ScriptedModelServerEmbeddings, HonoursTheDimensionsParameter) {
  ScriptedModelServer server;
  Answer answer =
      post(server, kEmbeddings, {{"model", "embed-test"}, {"input", "x"}, {"dimensions", 8}});
  ASSERT_EQ(answer.status, 200) << answer.body.dump();
  EXPECT_EQ(answer.body["data"][0]["embedding"].size(), 8u);
}

TEST(ScriptedModelServerEmbeddings, RefusesMalformedRequestsWith400) {
  ScriptedModelServer server;
  std::vector<std::pair<std::string, Json>> cases = {
      {"model missing", {{"input", "x"}}},
      {"input missing", {{"model", "m"}}},
      {"empty string", {{"model", "m"}, {"input", ""}}},
      {"empty array", {{"model", "m"}, {"input", Json::array()}}},
      {"not strings", {{"model", "m"}, {"input", {1, 2}}}},
      {"base64", {{"model", "m"}, {"input", "x"}, {"encoding_format", "base64"}}},
  };
  for (const auto& [name, body] : cases) {
    Answer answer = post(server, kEmbeddings, body);
    EXPECT_EQ(answer.status, 400) << name;
    EXPECT_FALSE(openai_error_message(answer).empty()) << name;
  }
  EXPECT_EQ(post_raw(server, kEmbeddings, "input=x").status, 400);
}

TEST(ScriptedModelServerEmbeddings, QueuedEmbeddingErrorsComeFirst) {
  ScriptedModelServer server;
  server.push_embedding(ScriptedReply::Error(429, 2));
  server.push(ScriptedReply::Text("chat reply stays"));
  Answer limited = post(server, kEmbeddings, {{"model", "m"}, {"input", "x"}});
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.retry_after, "2");
  EXPECT_EQ(limited.body["error"]["code"], "rate_limit_exceeded");
  EXPECT_EQ(post(server, kEmbeddings, {{"model", "m"}, {"input", "x"}}).status, 200);
  EXPECT_EQ(server.pending(), 1u);
}

// --- Scripts ----------------------------------------------------------------------

TEST(ScriptedModelServerScript, ParsesEveryKindOfReply) {
  Result<ModelServerScript> script = parse_model_server_script(R"({
    "replies": [
      {"text": "hi", "input_tokens": 40, "output_tokens": 2, "delay_ms": 15},
      {"tool_calls": [{"name": "search", "arguments": {"q": "x"}}, {"name": "noop"}], "when_contains": "find"},
      {"status": 429, "retry_after_s": 1}
    ],
    "embedding_replies": [{"status": 503}],
    "embedding_dims": 32
  })",
                                                               "script.json");
  ASSERT_TRUE(script.ok()) << script.status().to_string();
  ASSERT_EQ(script->replies.size(), 3u);
  EXPECT_EQ(script->replies[0].text, "hi");
  EXPECT_EQ(script->replies[0].input_tokens, 40);
  EXPECT_EQ(script->replies[0].output_tokens, 2);
  EXPECT_EQ(script->replies[0].delay, milliseconds(15));
  ASSERT_EQ(script->replies[1].tool_calls.size(), 2u);
  EXPECT_EQ(script->replies[1].tool_calls[0].first, "search");
  EXPECT_EQ(script->replies[1].tool_calls[0].second, Json({{"q", "x"}}));
  EXPECT_EQ(script->replies[1].tool_calls[1].second, Json::object());
  EXPECT_EQ(script->replies[1].when_contains, "find");
  EXPECT_EQ(script->replies[2].status, 429);
  EXPECT_EQ(script->replies[2].retry_after_s, 1);
  ASSERT_EQ(script->embedding_replies.size(), 1u);
  EXPECT_EQ(script->embedding_replies[0].status, 503);
  EXPECT_EQ(script->embedding_dims, 32);
}

TEST(ScriptedModelServerScript, ErrorsNameTheFileAndTheField) {
  std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"replies": [{"text": "a"}, {"tool_calls": [{"arguments": {}}]}]})",
       "s.json: replies[1].tool_calls[0].name: expected a non-empty string"},
      {R"({"replies": [{"txt": "a"}]})", "s.json: replies[0].txt: unknown field"},
      {R"({"replies": [{"status": 429, "text": "a"}]})",
       "s.json: replies[0].status: an error reply"},
      {R"({"replies": [{"status": "429"}]})", "s.json: replies[0].status: expected an HTTP status"},
      {R"({"replies": [{"text": "a", "delay_ms": -1}]})", "s.json: replies[0].delay_ms: expected"},
      {R"({"replies": [{}]})", "s.json: replies[0]: expected \"text\""},
      {R"({"replys": []})", "s.json: replys: unknown field"},
      {R"({"replies": )", "s.json: invalid JSON"},
  };
  for (const auto& [text, expected] : cases) {
    Result<ModelServerScript> script = parse_model_server_script(text, "s.json");
    ASSERT_FALSE(script.ok()) << text;
    EXPECT_TRUE(script.status().is(StatusCode::kInvalidArgument)) << text;
    EXPECT_EQ(script.status().message().rfind(expected, 0), 0u)
        << text << "\n  got: " << script.status().message();
  }
}

}  // namespace
}  // namespace cadre::testing
