// Replaying recorded model traffic, and the neutral JSON it is written in:
// a recording answers the same request with the same answers in the same
// order, says exactly what is missing when it cannot, and names the file
// and line of anything it cannot read.
#include <gtest/gtest.h>

#include "model_requests.h"
#include "models/provider.h"
#include "test_support.h"

namespace cadre {
namespace {

using testing::TempDir;
using testing::write_file;

using testing::ask;
using testing::message;

ChatResponse answer(std::string text, int64_t input_tokens = 10) {
  ChatResponse response;
  response.content = std::move(text);
  response.finish_reason = "stop";
  response.usage = {input_tokens, 3};
  return response;
}

std::string chat_line(const ChatRequest& request, const ChatResponse& response) {
  return dump_json(Json{{"kind", "chat"},
                        {"key", request_key(request)},
                        {"tier", "small"},
                        {"provider", "openai"},
                        {"model", "gpt-4o-mini"},
                        {"request", to_json(request)},
                        {"response", to_json(response)}}) +
         "\n";
}

std::string embed_line(const std::vector<std::string>& texts,
                       const std::vector<std::vector<float>>& vectors) {
  return dump_json(Json{{"kind", "embed"},
                        {"key", embed_key(texts)},
                        {"texts", texts},
                        {"vectors", vectors}}) +
         "\n";
}

const ModelEndpoint kEndpoint{"replay", "", "", "", 1000, 1024, "rec.jsonl"};

// ---------------------------------------------------------------------------
// The neutral JSON

TEST(ModelJsonTest, ARequestSurvivesARoundTrip) {
  ChatRequest request = ask("Find notes");
  ChatMessage asked = message("assistant", "Looking.");
  asked.tool_calls.push_back(ModelToolCall{"call_1", "search", Json{{"q", "notes"}}});
  request.messages.push_back(asked);
  ChatMessage result = message("tool", "2 found");
  result.tool_call_id = "call_1";
  request.messages.push_back(result);
  request.tools.push_back(ModelToolDef{"search", "Searches", Json{{"type", "object"}}});
  request.response_schema = Json{{"type", "string"}};
  request.max_tokens = 300;
  request.temperature = 0.7;

  auto back = chat_request_from_json(to_json(request));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(to_json(*back), to_json(request));
  EXPECT_EQ(request_key(*back), request_key(request));
  EXPECT_EQ(back->messages[2].tool_calls[0].arguments, (Json{{"q", "notes"}}));
  EXPECT_EQ(back->messages[3].tool_call_id, "call_1");
  EXPECT_DOUBLE_EQ(back->temperature, 0.7);
}

TEST(ModelJsonTest, AResponseHasTheShapeTheSpendQueryReads) {
  ChatResponse response = answer("hi", 42);
  response.tool_calls.push_back(ModelToolCall{"c1", "search", Json{{"q", 1}}});
  Json j = to_json(response);
  EXPECT_EQ(j, Json::parse(R"({"content":"hi","finish_reason":"stop",
      "tool_calls":[{"id":"c1","name":"search","arguments":{"q":1}}],
      "usage":{"input_tokens":42,"output_tokens":3}})"));
  auto back = chat_response_from_json(j);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(to_json(*back), j);
}

TEST(ModelJsonTest, ErrorsNameTheField) {
  auto bad_role =
      chat_request_from_json(Json::parse(R"({"messages":[{"role":"user"},{"role":"robot"}]})"));
  ASSERT_FALSE(bad_role.ok());
  EXPECT_EQ(bad_role.status().message(),
            "messages[1].role: must be system, user, assistant or tool, got 'robot'");

  auto no_messages = chat_request_from_json(Json::parse(R"({"tools":[]})"));
  EXPECT_EQ(no_messages.status().message(), "messages: required field is missing");

  auto bad_call = chat_request_from_json(
      Json::parse(R"({"messages":[{"role":"assistant","tool_calls":[{"id":"x","name":7}]}]})"));
  EXPECT_EQ(bad_call.status().message(),
            "messages[0].tool_calls[0].name: expected a string, got an integer");

  auto bad_usage =
      chat_response_from_json(Json::parse(R"({"content":"x","usage":{"input_tokens":"many"}})"));
  EXPECT_EQ(bad_usage.status().message(), "usage.input_tokens: expected an integer, got a string");

  EXPECT_FALSE(chat_response_from_json(Json::array()).ok());
  EXPECT_FALSE(chat_request_from_json(Json::parse(R"({"messages":[],"temperature":"hot"})")).ok());
}

TEST(ModelJsonTest, TheKeyDependsOnEveryPartOfTheRequestAndNothingElse) {
  ChatRequest request = ask("hello");
  std::string key = request_key(request);
  EXPECT_EQ(key.size(), 64u);
  EXPECT_EQ(key, request_key(ask("hello")));
  ChatRequest other = ask("hello");
  other.temperature = 0.1;
  EXPECT_NE(request_key(other), key);
  other = ask("hello");
  other.max_tokens = 5;
  EXPECT_NE(request_key(other), key);
  EXPECT_NE(request_key(ask("hello!")), key);
  // Pinned: a key that changes between releases orphans every recording and cache entry.
  ChatRequest minimal;
  minimal.messages.push_back(message("user", "hi"));
  EXPECT_EQ(dump_json(to_json(minimal)),
            R"({"max_tokens":0,"messages":[{"content":"hi","role":"user"}],"response_schema":null,)"
            R"("temperature":0.0,"tools":[]})");
}

// ---------------------------------------------------------------------------
// Replay

TEST(ReplayProviderTest, AnswersInRecordedOrderAndThenRepeatsTheLast) {
  TempDir dir;
  write_file(dir.path() / "rec.jsonl", chat_line(ask("Q1"), answer("first")) +
                                           chat_line(ask("Q2"), answer("other")) + "\n" +
                                           chat_line(ask("Q1"), answer("second")));
  auto replay = make_replay_provider(dir.path() / "rec.jsonl");
  ASSERT_TRUE(replay.ok()) << replay.status().to_string();
  DurationMs retry_after = 5;
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i) {
    auto response = (*replay)->chat(kEndpoint, "", ask("Q1"), &retry_after);
    ASSERT_TRUE(response.ok()) << response.status().to_string();
    got.push_back(response->content);
  }
  EXPECT_EQ(got, (std::vector<std::string>{"first", "second", "second"}));
  EXPECT_EQ(retry_after, -1);
  auto other = (*replay)->chat(kEndpoint, "", ask("Q2"), nullptr);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(to_json(*other), to_json(answer("other")));
}

TEST(ReplayProviderTest, AMissSaysWhatIsMissingAndHowToRecordIt) {
  TempDir dir;
  write_file(dir.path() / "rec.jsonl", chat_line(ask("Q1"), answer("first")));
  auto replay = make_replay_provider(dir.path() / "rec.jsonl");
  ASSERT_TRUE(replay.ok()) << replay.status().to_string();
  std::string question =
      "Summarize the quarterly report for the board and list the three biggest risks we face next "
      "year";
  ChatRequest request = ask(question);
  auto response = (*replay)->chat(kEndpoint, "", request, nullptr);
  ASSERT_FALSE(response.ok());
  EXPECT_TRUE(response.status().is(StatusCode::kNotFound));
  const std::string& text = response.status().message();
  EXPECT_NE(text.find("not in the recording"), std::string::npos) << text;
  EXPECT_NE(text.find("rec.jsonl"), std::string::npos) << text;
  EXPECT_NE(text.find("key " + request_key(request).substr(0, 12) + ","), std::string::npos)
      << text;
  EXPECT_NE(text.find("\"" + question.substr(0, 80) + "...\""), std::string::npos) << text;
  EXPECT_EQ(text.find(question.substr(0, 81)), std::string::npos) << text;
  EXPECT_NE(text.find("cadre serve --record FILE"), std::string::npos) << text;
}

TEST(ReplayProviderTest, TheKeyIsRecomputedFromTheRecordedRequest) {
  // A hand-edited request (or one written before the request gained a
  // defaulted field) still finds its answer.
  TempDir dir;
  Json line = Json::parse(chat_line(ask("Q1"), answer("first")));
  line["key"] = "stale";
  line["request"].erase("tools");  // as an older version might have written it
  write_file(dir.path() / "rec.jsonl", dump_json(line) + "\n");
  auto replay = make_replay_provider(dir.path() / "rec.jsonl");
  ASSERT_TRUE(replay.ok()) << replay.status().to_string();
  auto response = (*replay)->chat(kEndpoint, "", ask("Q1"), nullptr);
  ASSERT_TRUE(response.ok()) << response.status().to_string();
  EXPECT_EQ(response->content, "first");
}

TEST(ReplayProviderTest, ABadLineNamesTheFileTheLineAndWhatIsWrong) {
  TempDir dir;
  std::string good = chat_line(ask("Q1"), answer("first"));
  struct Case {
    std::string line;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"{not json", "rec.jsonl:2: line: invalid JSON"},
      {"[1,2]", "rec.jsonl:2: expected a JSON object"},
      {R"({"kind":"chit"})", "rec.jsonl:2: kind: expected chat or embed, got \"chit\""},
      {R"({"kind":"chat","request":{"messages":[]}})",
       "rec.jsonl:2: response: required field is missing"},
      {R"({"kind":"chat","request":{"messages":[]},"response":{"usage":{"input_tokens":"x"}}})",
       "rec.jsonl:2: response: usage.input_tokens: expected an integer, got a string"},
      {R"({"kind":"chat","request":{"messages":[{"role":"robot"}]},"response":{}})",
       "rec.jsonl:2: request: messages[0].role: must be system, user, assistant or tool"},
      {R"({"kind":"embed","texts":["a","b"],"vectors":[[1.0]]})",
       "rec.jsonl:2: vectors: 1 vectors for 2 texts"},
      {R"({"kind":"embed","texts":["a"],"vectors":[["x"]]})",
       "rec.jsonl:2: vectors[0]: holds a value that is not a number"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    write_file(dir.path() / "rec.jsonl", good + c.line + "\n" + good);
    auto replay = make_replay_provider(dir.path() / "rec.jsonl");
    ASSERT_FALSE(replay.ok());
    EXPECT_TRUE(replay.status().is(StatusCode::kInvalidArgument)) << replay.status().to_string();
    EXPECT_NE(replay.status().message().find(c.says), std::string::npos)
        << replay.status().message();
  }
}

TEST(ReplayProviderTest, AMissingRecordingIsNotFound) {
  TempDir dir;
  auto replay = make_replay_provider(dir.path() / "nowhere.jsonl");
  ASSERT_FALSE(replay.ok());
  EXPECT_TRUE(replay.status().is(StatusCode::kNotFound));
  EXPECT_NE(replay.status().message().find("nowhere.jsonl"), std::string::npos);
}

TEST(ReplayProviderTest, EmbeddingsByTheirTextsInAnyBatching) {
  TempDir dir;
  write_file(dir.path() / "rec.jsonl",
             embed_line({"a", "b"}, {{1, 0}, {0, 1}}) + embed_line({"c"}, {{0.5f, 0.5f}}));
  auto replay = make_replay_provider(dir.path() / "rec.jsonl");
  ASSERT_TRUE(replay.ok()) << replay.status().to_string();

  auto same_batch = (*replay)->embed(kEndpoint, "", {"a", "b"}, nullptr);
  ASSERT_TRUE(same_batch.ok()) << same_batch.status().to_string();
  EXPECT_EQ(same_batch->vectors, (std::vector<std::vector<float>>{{1, 0}, {0, 1}}));

  auto other_batch = (*replay)->embed(kEndpoint, "", {"c", "a"}, nullptr);
  ASSERT_TRUE(other_batch.ok()) << other_batch.status().to_string();
  EXPECT_EQ(other_batch->vectors, (std::vector<std::vector<float>>{{0.5f, 0.5f}, {1, 0}}));

  auto unknown = (*replay)->embed(kEndpoint, "", {"a", "zeta"}, nullptr);
  ASSERT_FALSE(unknown.ok());
  EXPECT_TRUE(unknown.status().is(StatusCode::kNotFound));
  EXPECT_NE(unknown.status().message().find("\"zeta\""), std::string::npos)
      << unknown.status().message();
  EXPECT_NE(unknown.status().message().find("cadre serve --record FILE"), std::string::npos);
}

}  // namespace
}  // namespace cadre
