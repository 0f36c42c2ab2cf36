// Embedders turn text into unit vectors whose inner product says how alike
// two texts are. The built-in one works on content words: lower-cased,
// stop words dropped, stemmed, so that inflections of a word meet; its
// hashing is fixed, so a vector stored today matches a query made tomorrow
// in another process. The model embedder normalizes what the embed tier
// answers and refuses answers that cannot share one index.
#include "memory/embedder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "core/clock.h"
#include "model_server.h"
#include "models/gateway.h"
#include "test_support.h"

namespace cadre {
namespace {

using testing::ScriptedModelServer;
using testing::ScriptedReply;
using testing::TempDir;
using Words = std::vector<std::string>;

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double sum = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

double norm(const std::vector<float>& a) {
  return std::sqrt(dot(a, a));
}

std::vector<float> embed_one(Embedder& embedder, const std::string& text) {
  auto vectors = embedder.embed({text}, nullptr);
  EXPECT_TRUE(vectors.ok()) << vectors.status().to_string();
  if (!vectors.ok() || vectors->size() != 1) return {};
  return (*vectors)[0];
}

// --- content words ---

TEST(ContentWords, InflectionsOfAWordShareOneStem) {
  EXPECT_EQ(content_words("renewed renewal renewing renews renew"),
            (Words{"renew", "renew", "renew", "renew", "renew"}));
  EXPECT_EQ(content_words("Cancelled cancellation canceled cancels"),
            (Words{"cancel", "cancel", "cancel", "cancel"}));
  EXPECT_EQ(content_words("invoice invoices invoiced invoicing"),
            (Words{"invoic", "invoic", "invoic", "invoic"}));
  EXPECT_EQ(content_words("hoping hopping companies company quickly monthly"),
            (Words{"hope", "hop", "compani", "compani", "quick", "month"}));
}

TEST(ContentWords, SubscriptionAndSubscribedShareAStem) {
  EXPECT_EQ(content_words("subscription subscriptions subscribed subscribe subscriber subscribing"),
            Words(6, "subscrib"));
  EXPECT_EQ(content_words("description describe"), (Words{"describ", "describ"}));
  EXPECT_EQ(content_words("reception received"), (Words{"receiv", "receiv"}));
}

TEST(ContentWords, DropsStopWordsAndSingleLetters) {
  EXPECT_EQ(content_words("This is the renewal of the plan, and it was not theirs"),
            (Words{"renew", "plan"}));
  // The apostrophe splits: "s" and "t" carry nothing.
  EXPECT_EQ(content_words("the customer's plan doesn't renew"), (Words{"custom", "plan", "renew"}));
  EXPECT_TRUE(content_words("the of and to a I you were").empty());
}

TEST(ContentWords, ShortWordsAndNonPluralsKeepTheirEndings) {
  EXPECT_EQ(content_words("os ox bus status analysis"),
            (Words{"os", "ox", "bus", "status", "analysis"}));
  EXPECT_EQ(content_words("statuses"), (Words{"status"}));
}

TEST(ContentWords, LowerCasesSplitsOnPunctuationAndKeepsNumbers) {
  EXPECT_EQ(content_words("Plan-B: ORDER #42 (x1_beta)"),
            (Words{"plan", "order", "42", "x1", "beta"}));
  EXPECT_EQ(content_words("3 items"), (Words{"3", "item"}));
}

TEST(ContentWords, KeepsLettersOfOtherScriptsWholeAndSplitsOnUnicodePunctuation) {
  // Non-ASCII letters stay in their word, unstemmed; dashes, curly quotes
  // and emoji split like ASCII punctuation does.
  EXPECT_EQ(content_words("München\xE2\x80\x94"
                          "café naïve’s \xF0\x9F\x98\x80"
                          "emoji"),
            (Words{"münchen", "café", "naïve", "emoji"}));
  // Invalid UTF-8 splits words and never ends up inside one.
  EXPECT_EQ(content_words("ab\xFF\xFE"
                          "cd caf\xC3"),
            (Words{"ab", "cd", "caf"}));
  EXPECT_EQ(content_words("\xC0\xAFx y\xED\xA0\x80z"), Words{});  // overlong and surrogate bytes
}

TEST(ContentWords, IsDeterministic) {
  const std::string text =
      "Acme renewed their subscription after the pricing call; renewal is due in March.";
  const Words first = content_words(text);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(content_words(text), first);
}

// --- the hashing embedder ---

TEST(HashingEmbedder, IdNamesTheSizeAndVersion) {
  EXPECT_EQ(make_hashing_embedder()->id(), "builtin:hash-256-v1");
  EXPECT_EQ(make_hashing_embedder(64)->id(), "builtin:hash-64-v1");
}

TEST(HashingEmbedder, GivesOneUnitVectorPerTextInOrder) {
  auto embedder = make_hashing_embedder(128);
  DurationMs retry_after = 7;
  std::vector<std::string> texts = {"renewal of the Acme plan", "quarterly tax filing", "renewal"};
  auto vectors = embedder->embed(texts, &retry_after);
  ASSERT_TRUE(vectors.ok()) << vectors.status().to_string();
  ASSERT_EQ(vectors->size(), 3u);
  for (const auto& v : *vectors) {
    ASSERT_EQ(v.size(), 128u);
    EXPECT_NEAR(norm(v), 1.0, 1e-5);
  }
  EXPECT_EQ((*vectors)[2], embed_one(*embedder, "renewal"));
  EXPECT_EQ(retry_after, -1);
}

TEST(HashingEmbedder, IsDeterministicAcrossCallsAndInstances) {
  const std::string text = "Acme renewed their subscription after the pricing call";
  auto a = make_hashing_embedder();
  auto b = make_hashing_embedder();
  const std::vector<float> first = embed_one(*a, text);
  EXPECT_EQ(embed_one(*a, text), first);
  EXPECT_EQ(embed_one(*b, text), first);
}

// Stored vectors are compared with queries embedded later, perhaps by
// another build: the hashing may not change without a new id ("-v2").
// "renewal" -> "renew": the word and its trigrams ^re ren ene new ew$.
constexpr const char* kRenewalPattern = "4- 12+ 20- 29+ 36- 40+ ";

TEST(HashingEmbedder, HashesWordsTheSameWayEverywhere) {
  auto embedder = make_hashing_embedder(64);
  const std::vector<float> v = embed_one(*embedder, "renewal");
  ASSERT_EQ(v.size(), 64u);
  std::string pattern;
  for (size_t i = 0; i < v.size(); ++i) {
    if (std::fabs(v[i]) > 1e-6) pattern += std::to_string(i) + (v[i] > 0 ? "+ " : "- ");
  }
  EXPECT_EQ(pattern, kRenewalPattern);
}

TEST(HashingEmbedder, TextsSharingStemsAreCloserThanUnrelatedTexts) {
  auto embedder = make_hashing_embedder();
  const auto renewal = embed_one(*embedder, "Acme renewed their subscription for another year");
  const auto paraphrase =
      embed_one(*embedder, "the subscription renewal of Acme, for one more year");
  const auto unrelated = embed_one(*embedder, "quarterly tax filing deadline moved to Friday");
  const double close = dot(renewal, paraphrase);
  const double far = dot(renewal, unrelated);
  EXPECT_GT(close, 0.6);
  EXPECT_LT(std::fabs(far), 0.2);
  EXPECT_GT(close, far + 0.4);
}

TEST(HashingEmbedder, TrigramsGiveWordsTheStemmerMissesSomeCredit) {
  auto embedder = make_hashing_embedder(1024);
  const auto agreement = embed_one(*embedder, "agreement");  // stems "agreement" and "agre"
  const auto agreed = embed_one(*embedder, "agreed");
  const auto banana = embed_one(*embedder, "banana");
  EXPECT_GT(dot(agreement, agreed), 0.1);
  EXPECT_GT(dot(agreement, agreed), dot(agreement, banana) + 0.1);
}

TEST(HashingEmbedder, RepeatedWordsCountSublinearly) {
  // Few collisions at this size: the two words are nearly orthogonal, so the
  // ratio of the cosines is the ratio of their weights (times the ratio of
  // their norms, which differ by their trigram counts).
  auto embedder = make_hashing_embedder(4096);
  const auto text = embed_one(*embedder, "acme acme acme acme bolt");
  const auto acme = embed_one(*embedder, "acme");
  const auto bolt = embed_one(*embedder, "bolt");
  const double ratio = dot(text, acme) / dot(text, bolt);
  EXPECT_GT(ratio, 2.0);  // 1 + ln 4 = 2.39; counting raw would give about 4
  EXPECT_LT(ratio, 2.8);
}

TEST(HashingEmbedder, ATextWithoutContentWordsGetsASmallConstantVector) {
  auto embedder = make_hashing_embedder(32);
  for (const std::string text : {"", "   ", "the of and", "!!!"}) {
    const auto v = embed_one(*embedder, text);
    ASSERT_EQ(v.size(), 32u) << text;
    EXPECT_FLOAT_EQ(v[0], 1e-3f) << text;
    EXPECT_EQ(std::count(v.begin(), v.end(), 0.0f), 31) << text;
    EXPECT_LT(std::fabs(dot(v, embed_one(*embedder, "renewal of the plan"))), 1e-3);
  }
}

// --- the model embedder ---

class ModelEmbedderTest : public ::testing::Test {
 protected:
  std::unique_ptr<ModelGateway> gateway(ModelsConfig config) {
    auto gateway = std::make_unique<ModelGateway>(std::move(config), dir_.path(), nullptr, clock_);
    Status s = gateway->init();
    EXPECT_TRUE(s.ok()) << s.to_string();
    return gateway;
  }

  ModelEndpoint openai_at(const ScriptedModelServer& server, std::string model) {
    ModelEndpoint endpoint;
    endpoint.provider = "openai";
    endpoint.model = std::move(model);
    endpoint.base_url = server.base_url();
    endpoint.timeout = 5000;
    return endpoint;
  }

  // A replay endpoint answering each text with the vector given for it.
  ModelEndpoint replaying(const std::vector<std::pair<std::string, std::vector<float>>>& answers) {
    std::filesystem::create_directories(dir_.path() / "recordings");
    std::ofstream out(dir_.path() / "recordings" / "embed.jsonl");
    for (const auto& [text, vector] : answers)
      out << Json{{"kind", "embed"}, {"key", "k-" + text}, {"texts", {text}}, {"vectors", {vector}}}
                 .dump()
          << "\n";
    ModelEndpoint endpoint;
    endpoint.provider = "replay";
    endpoint.model = "recorded-embedder";
    endpoint.recording = "recordings/embed.jsonl";
    return endpoint;
  }

  TempDir dir_;
  ManualClock clock_{1'700'000'000'000};
  ScriptedModelServer primary_server_;
  ScriptedModelServer fallback_server_;
};

TEST_F(ModelEmbedderTest, IdNamesThePrimaryEndpointOfTheEmbedTier) {
  ModelsConfig config;
  config.tiers["embed"] = TierConfig{openai_at(primary_server_, "text-embedding-3-small"), {}};
  auto models = gateway(config);
  EXPECT_EQ(make_model_embedder(*models)->id(), "model:openai/text-embedding-3-small");
}

TEST_F(ModelEmbedderTest, NormalizesWhatTheModelAnswers) {
  ModelsConfig config;
  config.tiers["embed"] = TierConfig{openai_at(primary_server_, "text-embedding-3-small"), {}};
  config.embed_batch = 2;
  auto models = gateway(config);
  auto embedder = make_model_embedder(*models);
  auto vectors = embedder->embed({"one fish", "two fish", "red fish"}, nullptr);
  ASSERT_TRUE(vectors.ok()) << vectors.status().to_string();
  ASSERT_EQ(vectors->size(), 3u);
  for (const auto& v : *vectors) {
    EXPECT_EQ(v.size(), 16u);
    EXPECT_NEAR(norm(v), 1.0, 1e-5);
  }
  EXPECT_EQ(primary_server_.embedding_requests(), 2);

  ModelsConfig recorded;
  recorded.tiers["embed"] = TierConfig{replaying({{"a", {3, 4}}, {"b", {0, -2}}}), {}};
  auto replayed = gateway(recorded);
  auto exact = make_model_embedder(*replayed)->embed({"a", "b"}, nullptr);
  ASSERT_TRUE(exact.ok()) << exact.status().to_string();
  EXPECT_EQ((*exact)[0], (std::vector<float>{0.6f, 0.8f}));
  EXPECT_EQ((*exact)[1], (std::vector<float>{0.0f, -1.0f}));
}

TEST_F(ModelEmbedderTest, VectorsOfDifferentSizesAreAnErrorNamingTheSizes) {
  ModelsConfig config;
  config.tiers["embed"] = TierConfig{replaying({{"a", {3, 4}}, {"b", {1, 2, 3}}}), {}};
  auto models = gateway(config);
  auto embedder = make_model_embedder(*models);
  auto mixed = embedder->embed({"a", "b"}, nullptr);
  ASSERT_FALSE(mixed.ok());
  EXPECT_TRUE(mixed.status().is(StatusCode::kInvalidArgument)) << mixed.status().to_string();
  EXPECT_NE(mixed.status().message().find("has 3 values, expected 2"), std::string::npos)
      << mixed.status().message();

  // Across calls too: the first vectors fix the size.
  ASSERT_TRUE(embedder->embed({"a"}, nullptr).ok());
  auto later = embedder->embed({"b"}, nullptr);
  ASSERT_FALSE(later.ok());
  EXPECT_NE(later.status().message().find("has 3 values, expected 2"), std::string::npos)
      << later.status().message();
}

TEST_F(ModelEmbedderTest, RefusesVectorsFromAFallbackOfAnotherModel) {
  primary_server_.push_embedding(ScriptedReply::Error(503));
  ModelsConfig config;
  config.tiers["embed"] = TierConfig{openai_at(primary_server_, "text-embedding-3-small"),
                                     {openai_at(fallback_server_, "nomic-embed-text")}};
  auto models = gateway(config);
  auto vectors = make_model_embedder(*models)->embed({"one fish"}, nullptr);
  ASSERT_FALSE(vectors.ok());
  EXPECT_TRUE(vectors.status().is(StatusCode::kUnavailable)) << vectors.status().to_string();
  EXPECT_NE(vectors.status().message().find("nomic-embed-text"), std::string::npos);
  EXPECT_EQ(fallback_server_.embedding_requests(), 1);
}

TEST_F(ModelEmbedderTest, WithoutAnEmbedTierEmbeddingFails) {
  ModelsConfig config;
  config.tiers["small"] = TierConfig{openai_at(primary_server_, "gpt-4o-mini"), {}};
  auto models = gateway(config);
  auto embedder = make_model_embedder(*models);
  auto vectors = embedder->embed({"x"}, nullptr);
  ASSERT_FALSE(vectors.ok());
  EXPECT_TRUE(vectors.status().is(StatusCode::kFailedPrecondition)) << vectors.status().to_string();
}

}  // namespace
}  // namespace cadre
