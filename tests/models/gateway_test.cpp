// The model gateway against real loopback model servers and a real SQLite
// store: tiers with fallbacks, combined errors with the longest Retry-After,
// prices, the exact-match response cache and its expiry, record then
// replay, and batched embeddings.
#include "models/gateway.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "model_server.h"
#include "test_support.h"

namespace cadre {
namespace {

using testing::ScriptedModelServer;
using testing::ScriptedReply;
using testing::TempDir;

constexpr TimeMs kStart = 1'700'000'000'000;
constexpr DurationMs kHour = 3600 * 1000;

ModelEndpoint openai_at(const ScriptedModelServer& server, std::string model = "gpt-4o-mini") {
  ModelEndpoint endpoint;
  endpoint.provider = "openai";
  endpoint.model = std::move(model);
  endpoint.base_url = server.base_url();
  endpoint.timeout = 5000;
  return endpoint;
}

ModelEndpoint anthropic_at(const ScriptedModelServer& server, std::string model = "claude-haiku") {
  ModelEndpoint endpoint = openai_at(server, std::move(model));
  endpoint.provider = "anthropic";
  return endpoint;
}

ChatRequest ask(std::string question) {
  ChatRequest request;
  ChatMessage user;
  user.role = "user";
  user.content = std::move(question);
  request.messages.push_back(user);
  return request;
}

ModelsConfig one_tier(std::string tier, ModelEndpoint primary,
                      std::vector<ModelEndpoint> fallbacks = {}) {
  ModelsConfig config;
  config.tiers[tier] = TierConfig{std::move(primary), std::move(fallbacks)};
  return config;
}

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions options;
    options.path = (dir_.path() / "cadre.db").string();
    auto store = open_sqlite_store(options);
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    store_ = std::move(store).value();
  }

  // A gateway over `config`, initialized; keys resolve from the environment.
  std::unique_ptr<ModelGateway> gateway(ModelsConfig config, Store* cache = nullptr) {
    auto gateway = std::make_unique<ModelGateway>(std::move(config), dir_.path(), cache, clock_);
    Status s = gateway->init();
    EXPECT_TRUE(s.ok()) << s.to_string();
    return gateway;
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  ManualClock clock_{kStart};
  ScriptedModelServer primary_server_;
  ScriptedModelServer fallback_server_;
  DurationMs retry_after_ = 12345;
};

TEST_F(GatewayTest, AFallbackAnswersWhenThePrimaryFailsAndTheFailureIsListed) {
  primary_server_.push(ScriptedReply::Error(503));
  fallback_server_.push(ScriptedReply::Text("from the fallback"));
  auto models =
      gateway(one_tier("small", openai_at(primary_server_), {anthropic_at(fallback_server_)}));

  auto result = models->chat("small", ask("hi"), {}, &retry_after_);
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  EXPECT_EQ(result->response.content, "from the fallback");
  EXPECT_EQ(result->info.tier, "small");
  EXPECT_EQ(result->info.provider, "anthropic");
  EXPECT_EQ(result->info.model, "claude-haiku");
  EXPECT_FALSE(result->info.cached);
  ASSERT_EQ(result->info.failures.size(), 1u);
  EXPECT_EQ(result->info.failures[0]["provider"], "openai");
  EXPECT_EQ(result->info.failures[0]["model"], "gpt-4o-mini");
  EXPECT_EQ(result->info.failures[0]["error"].get<std::string>().rfind("unavailable: ", 0), 0u)
      << result->info.failures[0];
  EXPECT_EQ(retry_after_, -1);
  EXPECT_EQ(primary_server_.chat_requests(), 1);
  EXPECT_EQ(fallback_server_.chat_requests(), 1);
}

TEST_F(GatewayTest, EveryKindOfErrorFallsBackEvenARefusedRequest) {
  primary_server_.push(ScriptedReply::Error(400));
  fallback_server_.push(ScriptedReply::Text("ok"));
  auto models = gateway(
      one_tier("large", openai_at(primary_server_), {openai_at(fallback_server_, "gpt-4o")}));
  auto result = models->chat("large", ask("hi"), {}, &retry_after_);
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  EXPECT_EQ(result->info.model, "gpt-4o");
}

TEST_F(GatewayTest, WhenAllFailOneErrorNamesEachEndpointWithTheLongestRetryAfter) {
  primary_server_.push(ScriptedReply::Error(503, 30));
  fallback_server_.push(ScriptedReply::Error(429, 4));
  auto models =
      gateway(one_tier("small", openai_at(primary_server_), {anthropic_at(fallback_server_)}));

  auto result = models->chat("small", ask("hi"), {}, &retry_after_);
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(result.status().is(StatusCode::kResourceExhausted))
      << result.status().to_string();  // the last's
  EXPECT_EQ(retry_after_, 30000);
  const std::string& text = result.status().message();
  EXPECT_EQ(text.rfind("model tier 'small': all 2 endpoints failed: ", 0), 0u) << text;
  EXPECT_NE(text.find("openai/gpt-4o-mini: unavailable: "), std::string::npos) << text;
  EXPECT_NE(text.find("anthropic/claude-haiku: resource_exhausted: "), std::string::npos) << text;
}

TEST_F(GatewayTest, WithoutAnyRetryAfterTheWaitIsMinusOne) {
  primary_server_.push(ScriptedReply::Error(500));
  auto models = gateway(one_tier("small", openai_at(primary_server_)));
  auto result = models->chat("small", ask("hi"), {}, &retry_after_);
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(result.status().is(StatusCode::kUnavailable));
  EXPECT_EQ(retry_after_, -1);
}

TEST_F(GatewayTest, KeysAreResolvedFromTheEnvironmentAtCallTime) {
  ModelEndpoint primary = openai_at(primary_server_);
  primary.api_key = "${env:CADRE_GATEWAY_TEST_KEY}";
  auto models = gateway(one_tier("small", primary));
  ::unsetenv("CADRE_GATEWAY_TEST_KEY");

  auto missing = models->chat("small", ask("hi"), {}, &retry_after_);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.status().is(StatusCode::kFailedPrecondition)) << missing.status().to_string();
  EXPECT_NE(
      missing.status().message().find("environment variable CADRE_GATEWAY_TEST_KEY is not set"),
      std::string::npos)
      << missing.status().message();
  EXPECT_EQ(primary_server_.chat_requests(), 0);

  ::setenv("CADRE_GATEWAY_TEST_KEY", "sk-live-resolved-late", 1);
  primary_server_.push(ScriptedReply::Text("ok"));
  auto answered = models->chat("small", ask("hi"), {}, &retry_after_);
  ::unsetenv("CADRE_GATEWAY_TEST_KEY");
  ASSERT_TRUE(answered.ok()) << answered.status().to_string();
  EXPECT_EQ(primary_server_.received()[0].headers.value("authorization", ""),
            "Bearer sk-live-resolved-late");
}

TEST_F(GatewayTest, AKeyThatCannotBeResolvedFallsBackWithoutShowingIt) {
  ModelEndpoint primary = openai_at(primary_server_);
  primary.api_key = "sk-literal-oops-123";
  fallback_server_.push(ScriptedReply::Text("ok"));
  auto models = gateway(one_tier("small", primary, {openai_at(fallback_server_)}));
  auto result = models->chat("small", ask("hi"), {}, &retry_after_);
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  ASSERT_EQ(result->info.failures.size(), 1u);
  std::string error = result->info.failures[0]["error"];
  EXPECT_NE(error.find("not a literal key"), std::string::npos) << error;
  EXPECT_EQ(error.find("sk-literal-oops-123"), std::string::npos) << error;
}

TEST(ResolveEnvKeyTest, ReferencesOnly) {
  ::setenv("CADRE_RESOLVE_TEST_KEY", "value-123", 1);
  EXPECT_EQ(resolve_env_key("${env:CADRE_RESOLVE_TEST_KEY}").value_or("?"), "value-123");
  ::unsetenv("CADRE_RESOLVE_TEST_KEY");
  EXPECT_EQ(resolve_env_key("").value_or("?"), "");

  auto unset = resolve_env_key("${env:CADRE_RESOLVE_TEST_KEY}");
  EXPECT_TRUE(unset.status().is(StatusCode::kFailedPrecondition));
  EXPECT_NE(unset.status().message().find("CADRE_RESOLVE_TEST_KEY"), std::string::npos);

  auto literal = resolve_env_key("sk-abc");
  EXPECT_TRUE(literal.status().is(StatusCode::kFailedPrecondition));
  EXPECT_EQ(literal.status().message().find("sk-abc"), std::string::npos)
      << literal.status().message();
  EXPECT_TRUE(resolve_env_key("${secret:OPENAI}").status().is(StatusCode::kFailedPrecondition));
  EXPECT_TRUE(resolve_env_key("${env:9BAD}").status().is(StatusCode::kFailedPrecondition));
}

TEST_F(GatewayTest, TheCostComesFromThePriceTable) {
  ScriptedReply reply = ScriptedReply::Text("priced");
  reply.input_tokens = 2000;
  reply.output_tokens = 500;
  primary_server_.push(reply);
  primary_server_.push(reply);
  ModelsConfig config = one_tier("small", openai_at(primary_server_));
  config.tiers["large"] = TierConfig{openai_at(primary_server_, "unpriced-model"), {}};
  config.prices["gpt-4o-mini"] = ModelPrice{0.15, 0.60};
  auto models = gateway(config);

  auto priced = models->chat("small", ask("hi"), {}, &retry_after_);
  ASSERT_TRUE(priced.ok()) << priced.status().to_string();
  EXPECT_DOUBLE_EQ(priced->info.cost_usd, 2000 * 0.15 / 1e6 + 500 * 0.60 / 1e6);
  EXPECT_GE(priced->info.latency_ms, 0);
  Json info = to_json(priced->info);
  EXPECT_DOUBLE_EQ(info["cost_usd"].get<double>(), priced->info.cost_usd);
  EXPECT_EQ(info["cached"], false);

  auto unpriced = models->chat("large", ask("hi"), {}, &retry_after_);
  ASSERT_TRUE(unpriced.ok()) << unpriced.status().to_string();
  EXPECT_EQ(unpriced->info.cost_usd, 0);
}

TEST_F(GatewayTest, ACacheHitMakesNoSecondRequest) {
  primary_server_.push(ScriptedReply::Text("cached answer"));
  ModelsConfig config = one_tier("small", openai_at(primary_server_));
  config.prices["gpt-4o-mini"] = ModelPrice{1, 1};
  auto models = gateway(config, store_.get());

  auto first = models->chat("small", ask("same question"), {}, &retry_after_);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_FALSE(first->info.cached);
  EXPECT_GT(first->info.cost_usd, 0);
  auto second = models->chat("small", ask("same question"), {}, &retry_after_);
  ASSERT_TRUE(second.ok()) << second.status().to_string();
  EXPECT_EQ(primary_server_.chat_requests(), 1);
  EXPECT_TRUE(second->info.cached);
  EXPECT_EQ(second->info.cost_usd, 0);
  EXPECT_EQ(second->info.provider, "openai");
  EXPECT_EQ(second->info.model, "gpt-4o-mini");
  EXPECT_EQ(to_json(second->response), to_json(first->response));

  // A different request is a different entry.
  primary_server_.push(ScriptedReply::Text("another"));
  auto other = models->chat("small", ask("another question"), {}, &retry_after_);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->response.content, "another");
  EXPECT_EQ(primary_server_.chat_requests(), 2);
}

TEST_F(GatewayTest, TheCacheIsSharedByGatewaysOverTheSameStore) {
  primary_server_.push(ScriptedReply::Text("answer"));
  auto first = gateway(one_tier("small", openai_at(primary_server_)), store_.get());
  ASSERT_TRUE(first->chat("small", ask("q"), {}, &retry_after_).ok());
  auto second = gateway(one_tier("small", openai_at(primary_server_)), store_.get());
  auto result = second->chat("small", ask("q"), {}, &retry_after_);
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  EXPECT_TRUE(result->info.cached);
  EXPECT_EQ(primary_server_.chat_requests(), 1);
}

TEST_F(GatewayTest, AnotherPrimaryModelDoesNotGetTheOldModelsAnswers) {
  primary_server_.push(ScriptedReply::Text("from mini"));
  primary_server_.push(ScriptedReply::Text("from 4o"));
  auto mini = gateway(one_tier("small", openai_at(primary_server_, "gpt-4o-mini")), store_.get());
  ASSERT_TRUE(mini->chat("small", ask("q"), {}, &retry_after_).ok());
  auto bigger = gateway(one_tier("small", openai_at(primary_server_, "gpt-4o")), store_.get());
  auto result = bigger->chat("small", ask("q"), {}, &retry_after_);
  ASSERT_TRUE(result.ok());
  EXPECT_FALSE(result->info.cached);
  EXPECT_EQ(result->response.content, "from 4o");
}

TEST_F(GatewayTest, TheCacheCanBeSkippedOrTurnedOff) {
  for (int i = 0; i < 6; ++i)
    primary_server_.push(ScriptedReply::Text("fresh " + std::to_string(i)));

  auto models = gateway(one_tier("small", openai_at(primary_server_)), store_.get());
  ChatOptions no_cache;
  no_cache.use_cache = false;
  ASSERT_TRUE(models->chat("small", ask("q"), no_cache, &retry_after_).ok());
  auto again = models->chat("small", ask("q"), no_cache, &retry_after_);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->info.cached);
  EXPECT_EQ(primary_server_.chat_requests(), 2);

  ModelsConfig ttl_zero = one_tier("small", openai_at(primary_server_));
  ttl_zero.cache_ttl = 0;
  auto off = gateway(ttl_zero, store_.get());
  ASSERT_TRUE(off->chat("small", ask("q2"), {}, &retry_after_).ok());
  ASSERT_TRUE(off->chat("small", ask("q2"), {}, &retry_after_).ok());
  EXPECT_EQ(primary_server_.chat_requests(), 4);

  auto no_store = gateway(one_tier("small", openai_at(primary_server_)), nullptr);
  ASSERT_TRUE(no_store->chat("small", ask("q3"), {}, &retry_after_).ok());
  ASSERT_TRUE(no_store->chat("small", ask("q3"), {}, &retry_after_).ok());
  EXPECT_EQ(primary_server_.chat_requests(), 6);
}

TEST_F(GatewayTest, ACachedAnswerExpiresAfterItsTtl) {
  primary_server_.push(ScriptedReply::Text("old"));
  primary_server_.push(ScriptedReply::Text("new"));
  ModelsConfig config = one_tier("small", openai_at(primary_server_));
  config.cache_ttl = kHour;
  auto models = gateway(config, store_.get());

  ASSERT_TRUE(models->chat("small", ask("q"), {}, &retry_after_).ok());
  clock_.advance(kHour - 1);
  auto still = models->chat("small", ask("q"), {}, &retry_after_);
  ASSERT_TRUE(still.ok());
  EXPECT_TRUE(still->info.cached);
  EXPECT_EQ(still->response.content, "old");

  clock_.advance(1);
  auto expired = models->chat("small", ask("q"), {}, &retry_after_);
  ASSERT_TRUE(expired.ok());
  EXPECT_FALSE(expired->info.cached);
  EXPECT_EQ(expired->response.content, "new");
  EXPECT_EQ(primary_server_.chat_requests(), 2);
}

TEST_F(GatewayTest, WhatWasRecordedReplaysIdentically) {
  ScriptedReply tool_reply = ScriptedReply::Tool("search", Json{{"q", "cadre"}});
  tool_reply.input_tokens = 50;
  primary_server_.push(ScriptedReply::Text("first answer"));
  primary_server_.push(tool_reply);
  ModelsConfig live_config = one_tier("small", openai_at(primary_server_));
  live_config.tiers["embed"] = TierConfig{openai_at(primary_server_, "text-embedding-3-small"), {}};
  live_config.embed_batch = 2;
  auto live = gateway(live_config, store_.get());
  std::filesystem::path recording = dir_.path() / "recordings" / "session.jsonl";
  ASSERT_TRUE(live->record_to(recording).ok());

  ChatRequest with_tools = ask("search for cadre");
  with_tools.tools.push_back(ModelToolDef{"search", "Searches", Json{{"type", "object"}}});
  auto a = live->chat("small", ask("hello"), {}, &retry_after_);
  auto b = live->chat("small", with_tools, {}, &retry_after_);
  auto a_cached =
      live->chat("small", ask("hello"), {}, &retry_after_);  // a cache hit: not recorded
  std::vector<std::string> texts = {"alpha", "beta", "gamma"};
  auto vectors = live->embed(texts, &retry_after_);
  ASSERT_TRUE(a.ok() && b.ok() && a_cached.ok() && vectors.ok());
  ASSERT_TRUE(a_cached->info.cached);
  const int requests_while_live =
      primary_server_.chat_requests() + primary_server_.embedding_requests();

  std::string lines = testing::read_file(recording);
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 4);  // 2 chats + 2 embedding batches

  ModelsConfig replay_config;
  ModelEndpoint replay;
  replay.provider = "replay";
  replay.recording = "recordings/session.jsonl";  // relative to the workspace
  replay_config.tiers["small"] = TierConfig{replay, {}};
  replay_config.tiers["embed"] = TierConfig{replay, {}};
  auto replayed = gateway(replay_config);

  auto a2 = replayed->chat("small", ask("hello"), {}, &retry_after_);
  auto b2 = replayed->chat("small", with_tools, {}, &retry_after_);
  auto vectors2 = replayed->embed(texts, &retry_after_);
  ASSERT_TRUE(a2.ok()) << a2.status().to_string();
  ASSERT_TRUE(b2.ok()) << b2.status().to_string();
  ASSERT_TRUE(vectors2.ok()) << vectors2.status().to_string();
  EXPECT_EQ(to_json(a2->response), to_json(a->response));
  EXPECT_EQ(to_json(b2->response), to_json(b->response));
  EXPECT_EQ(b2->response.tool_calls[0].arguments, (Json{{"q", "cadre"}}));
  EXPECT_EQ(vectors2->response.vectors, vectors->response.vectors);
  EXPECT_EQ(a2->info.provider, "replay");
  EXPECT_EQ(primary_server_.chat_requests() + primary_server_.embedding_requests(),
            requests_while_live);

  auto unknown = replayed->chat("small", ask("never asked"), {}, &retry_after_);
  ASSERT_FALSE(unknown.ok());
  EXPECT_TRUE(unknown.status().is(StatusCode::kNotFound)) << unknown.status().to_string();
  EXPECT_NE(unknown.status().message().find("not in the recording"), std::string::npos);
}

TEST_F(GatewayTest, EmbeddingsAreSentInBatchesAndComeBackInOrder) {
  ModelsConfig config = one_tier("embed", openai_at(primary_server_, "text-embedding-3-small"));
  config.embed_batch = 2;
  config.prices["text-embedding-3-small"] = ModelPrice{0.02, 0};
  auto models = gateway(config);
  std::vector<std::string> texts = {"one fish", "two fish", "red fish", "blue fish", "cadre"};

  auto result = models->embed(texts, &retry_after_);
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  EXPECT_EQ(primary_server_.embedding_requests(), 3);
  ASSERT_EQ(result->response.vectors.size(), 5u);
  auto received = primary_server_.received();
  EXPECT_EQ(received[0].body["input"], (Json{"one fish", "two fish"}));
  EXPECT_EQ(received[2].body["input"], (Json{"cadre"}));
  EXPECT_EQ(result->info.tier, "embed");
  EXPECT_EQ(result->info.model, "text-embedding-3-small");

  // Each vector is the one its text gets alone, so the order survived batching.
  int64_t tokens = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    auto alone = models->embed({texts[i]}, &retry_after_);
    ASSERT_TRUE(alone.ok());
    EXPECT_EQ(alone->response.vectors[0], result->response.vectors[i]) << texts[i];
    tokens += alone->response.usage.input_tokens;
  }
  EXPECT_EQ(result->response.usage.input_tokens, tokens);  // summed over the batches
  EXPECT_DOUBLE_EQ(result->info.cost_usd, static_cast<double>(tokens) * 0.02 / 1e6);
}

TEST_F(GatewayTest, AnEmbeddingFallbackStartsOverSoVectorsNeverMixModels) {
  primary_server_.push_embedding(ScriptedReply{});            // the first batch passes
  primary_server_.push_embedding(ScriptedReply::Error(500));  // the second fails
  ModelsConfig config = one_tier("embed", openai_at(primary_server_, "embed-a"),
                                 {openai_at(fallback_server_, "embed-b")});
  config.embed_batch = 2;
  auto models = gateway(config);
  auto result = models->embed({"a", "b", "c", "d", "e"}, &retry_after_);
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  EXPECT_EQ(result->info.model, "embed-b");
  ASSERT_EQ(result->info.failures.size(), 1u);
  EXPECT_EQ(result->info.failures[0]["model"], "embed-a");
  EXPECT_EQ(primary_server_.embedding_requests(), 2);
  EXPECT_EQ(fallback_server_.embedding_requests(), 3);  // all five texts again
  EXPECT_EQ(result->response.vectors.size(), 5u);
}

TEST_F(GatewayTest, CallsFromSeveralThreadsAreEachRecordedOnceAndWhole) {
  constexpr int kThreads = 8;
  for (int i = 0; i < kThreads; ++i) {
    ScriptedReply reply = ScriptedReply::Text("answer " + std::to_string(i));
    reply.when_contains = "question " + std::to_string(i) + "?";
    reply.delay = std::chrono::milliseconds(20);
    primary_server_.push(reply);
  }
  auto models = gateway(one_tier("small", openai_at(primary_server_)), store_.get());
  std::filesystem::path recording = dir_.path() / "threads.jsonl";
  ASSERT_TRUE(models->record_to(recording).ok());
  std::vector<std::string> answers(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      DurationMs retry_after = -1;
      auto result =
          models->chat("small", ask("question " + std::to_string(i) + "?"), {}, &retry_after);
      answers[i] = result.ok() ? result->response.content : result.status().to_string();
    });
  }
  for (auto& thread : threads) thread.join();
  for (int i = 0; i < kThreads; ++i) EXPECT_EQ(answers[i], "answer " + std::to_string(i));

  auto replay = make_replay_provider(recording);  // every line parses
  ASSERT_TRUE(replay.ok()) << replay.status().to_string();
  std::string lines = testing::read_file(recording);
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), kThreads);
}

TEST_F(GatewayTest, AnUnknownTierIsNotFound) {
  auto models = gateway(one_tier("small", openai_at(primary_server_)));
  EXPECT_TRUE(models->has_tier("small"));
  EXPECT_FALSE(models->has_tier("large"));
  auto result = models->chat("large", ask("hi"), {}, &retry_after_);
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(result.status().is(StatusCode::kNotFound));
  EXPECT_NE(result.status().message().find("'large'"), std::string::npos);
  EXPECT_TRUE(models->embed({"x"}, &retry_after_).status().is(StatusCode::kNotFound));
}

TEST_F(GatewayTest, InitNamesTheTierOfAReplayWhoseRecordingIsMissing) {
  ModelEndpoint replay;
  replay.provider = "replay";
  replay.recording = "missing.jsonl";
  ModelGateway models(one_tier("large", openai_at(primary_server_), {replay}), dir_.path(), nullptr,
                      clock_);
  Status s = models.init();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("models.tiers.large.fallbacks[0]"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("missing.jsonl"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace cadre
