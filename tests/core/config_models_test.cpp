// The `models:` section of cadre.yaml: tiers mapped to endpoints with
// fallbacks, a price table, the response cache and embedding batches. Keys
// are references to the environment, never literal keys, because
// cadre.yaml is committed with the workspace.
#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>

#include "core/config_loader.h"

namespace cadre {
namespace {

// In file order, as `cadre check` prints them.
std::vector<std::string> lines_of(const Diagnostics& diagnostics) {
  std::vector<Diagnostic> items = diagnostics.items();
  std::stable_sort(items.begin(), items.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  std::vector<std::string> lines;
  for (const auto& d : items) lines.push_back(d.to_string());
  return lines;
}

std::vector<std::string> problems_in(const std::string& yaml) {
  Diagnostics diagnostics;
  load_config(yaml, "cadre.yaml", &diagnostics);
  return lines_of(diagnostics);
}

TEST(ConfigModelsTest, ReadsTiersFallbacksPricesAndCacheSettings) {
  Diagnostics diagnostics;
  WorkspaceConfig config = load_config(R"yaml(models:
  tiers:
    small:
      provider: openai
      model: gpt-4o-mini
      api_key: "${env:OPENAI_API_KEY}"
      timeout: 30s
      max_tokens: 512
      fallbacks:
        - {provider: anthropic, model: claude-3-5-haiku-latest, api_key: "${env:ANTHROPIC_API_KEY}"}
        - provider: openai
          model: llama3.2
          base_url: http://localhost:11434/v1
    large: {provider: anthropic, model: claude-sonnet-4-5, api_key: "${env:ANTHROPIC_API_KEY}"}
    embed: {provider: replay, recording: recordings/embed.jsonl}
  prices:
    gpt-4o-mini: {input_per_mtok: 0.15, output_per_mtok: 0.60}
    claude-sonnet-4-5: {input_per_mtok: 3, output_per_mtok: 15}
  cache_ttl: 2h
  embed_batch: 16
)yaml",
                                       "cadre.yaml", &diagnostics);
  ASSERT_TRUE(diagnostics.empty()) << diagnostics.to_string();
  const ModelsConfig& models = config.models;
  ASSERT_EQ(models.tiers.size(), 3u);

  const TierConfig& small = models.tiers.at("small");
  EXPECT_EQ(small.primary.provider, "openai");
  EXPECT_EQ(small.primary.model, "gpt-4o-mini");
  EXPECT_EQ(small.primary.api_key, "${env:OPENAI_API_KEY}");
  EXPECT_EQ(small.primary.timeout, 30000);
  EXPECT_EQ(small.primary.max_tokens, 512);
  EXPECT_EQ(small.primary.base_url, "");
  ASSERT_EQ(small.fallbacks.size(), 2u);
  EXPECT_EQ(small.fallbacks[0].provider, "anthropic");
  EXPECT_EQ(small.fallbacks[0].model, "claude-3-5-haiku-latest");
  EXPECT_EQ(small.fallbacks[0].api_key, "${env:ANTHROPIC_API_KEY}");
  EXPECT_EQ(small.fallbacks[0].timeout, 60000);  // the default
  EXPECT_EQ(small.fallbacks[1].base_url, "http://localhost:11434/v1");
  EXPECT_EQ(small.fallbacks[1].api_key, "");  // Ollama takes none

  EXPECT_EQ(models.tiers.at("large").primary.model, "claude-sonnet-4-5");
  EXPECT_TRUE(models.tiers.at("large").fallbacks.empty());
  EXPECT_EQ(models.tiers.at("embed").primary.provider, "replay");
  EXPECT_EQ(models.tiers.at("embed").primary.recording, "recordings/embed.jsonl");

  ASSERT_EQ(models.prices.size(), 2u);
  EXPECT_DOUBLE_EQ(models.prices.at("gpt-4o-mini").input_per_mtok, 0.15);
  EXPECT_DOUBLE_EQ(models.prices.at("gpt-4o-mini").output_per_mtok, 0.60);
  EXPECT_DOUBLE_EQ(models.prices.at("claude-sonnet-4-5").output_per_mtok, 15);
  EXPECT_EQ(models.cache_ttl, 2 * 3600 * 1000);
  EXPECT_EQ(models.embed_batch, 16);
}

TEST(ConfigModelsTest, WithoutAModelsSectionThereAreNoTiersAndTheDefaults) {
  Diagnostics diagnostics;
  WorkspaceConfig config = load_config("name: acme\n", "cadre.yaml", &diagnostics);
  EXPECT_TRUE(diagnostics.empty()) << diagnostics.to_string();
  EXPECT_TRUE(config.models.tiers.empty());
  EXPECT_TRUE(config.models.prices.empty());
  EXPECT_EQ(config.models.cache_ttl, 24 * 3600 * 1000);
  EXPECT_EQ(config.models.embed_batch, 64);
}

TEST(ConfigModelsTest, ACacheTtlOfZeroTurnsTheCacheOff) {
  Diagnostics diagnostics;
  WorkspaceConfig config = load_config("models: {cache_ttl: 0}\n", "cadre.yaml", &diagnostics);
  EXPECT_TRUE(diagnostics.empty()) << diagnostics.to_string();
  EXPECT_EQ(config.models.cache_ttl, 0);
}

TEST(ConfigModelsTest, TierNamesAreSmallLargeAndEmbed) {
  EXPECT_EQ(
      problems_in(R"yaml(models:
  tiers:
    smal: {provider: openai, model: gpt-4o-mini}
    huge: {provider: openai, model: gpt-4o}
)yaml"),
      (std::vector<std::string>{
          "cadre.yaml:3:5: models.tiers.smal: unknown tier 'smal' (small, large or embed) (did you "
          "mean 'small'?)",
          "cadre.yaml:4:5: models.tiers.huge: unknown tier 'huge' (small, large or embed)",
      }));
}

TEST(ConfigModelsTest, ProviderMustBeOpenaiAnthropicOrReplay) {
  EXPECT_EQ(
      problems_in(R"yaml(models:
  tiers:
    small: {provider: opneai, model: gpt-4o-mini}
    large: {provider: ollama, model: llama3.2}
    embed: {model: text-embedding-3-small}
)yaml"),
      (std::vector<std::string>{
          "cadre.yaml:3:23: models.tiers.small.provider: unknown provider 'opneai' (openai, "
          "anthropic or replay) (did you mean 'openai'?)",
          "cadre.yaml:4:23: models.tiers.large.provider: unknown provider 'ollama': it speaks the "
          "OpenAI format, so use provider: openai with its base_url",
          "cadre.yaml:5:12: models.tiers.embed.provider: required field is missing",
      }));
}

TEST(ConfigModelsTest, ModelIsRequiredExceptForReplayWhichNeedsARecording) {
  EXPECT_EQ(
      problems_in(R"yaml(models:
  tiers:
    small: {provider: openai}
    large:
      provider: anthropic
      model: ""
    embed: {provider: replay}
)yaml"),
      (std::vector<std::string>{
          "cadre.yaml:3:12: models.tiers.small.model: required field is missing",
          "cadre.yaml:6:14: models.tiers.large.model: must not be empty",
          "cadre.yaml:7:12: models.tiers.embed.recording: required field is missing: provider "
          "replay answers from a recording file (relative to the workspace)",
      }));
  Diagnostics diagnostics;
  WorkspaceConfig config =
      load_config("models: {tiers: {small: {provider: openai}}}\n", "cadre.yaml", &diagnostics);
  EXPECT_EQ(config.models.tiers.count("small"), 0u);  // a wrong tier is left out
}

TEST(ConfigModelsTest, ApiKeysAreEnvironmentReferencesNeverLiteralKeys) {
  std::vector<std::string> problems = problems_in(R"yaml(models:
  tiers:
    small:
      provider: openai
      model: gpt-4o-mini
      api_key: sk-proj-abc123secret
    large:
      provider: anthropic
      model: claude-sonnet-4-5
      api_key: "${secret:9ANTHROPIC}"
    embed:
      provider: openai
      model: text-embedding-3-small
      api_key: "${env:9LIVES}"
)yaml");
  EXPECT_EQ(problems,
            (std::vector<std::string>{
                "cadre.yaml:6:16: models.tiers.small.api_key: must be a reference such as "
                "\"${env:OPENAI_API_KEY}\" or \"${secret:OPENAI}\", not a literal key: a key "
                "here would be committed with the workspace",
                "cadre.yaml:10:16: models.tiers.large.api_key: ${secret:NAME} needs a secret "
                "name of letters, digits, '_', '.' and '-' (at most 64), starting with a letter "
                "or '_'",
                "cadre.yaml:14:16: models.tiers.embed.api_key: ${env:NAME} needs a variable "
                "name of letters, digits and underscores, not starting with a digit",
            }));
  for (const auto& line : problems) EXPECT_EQ(line.find("abc123secret"), std::string::npos) << line;
}

TEST(ConfigModelsTest, AFallbackIsAnEndpointWithoutFallbacksOfItsOwn) {
  EXPECT_EQ(
      problems_in(R"yaml(models:
  tiers:
    small:
      provider: openai
      model: gpt-4o-mini
      fallbacks:
        - provider: anthropic
          model: claude-3-5-haiku-latest
          fallbacks: []
        - {provider: antropic, model: x}
)yaml"),
      (std::vector<std::string>{
          "cadre.yaml:9:11: models.tiers.small.fallbacks[0].fallbacks: a fallback cannot have "
          "fallbacks of its own; list them all on the tier",
          "cadre.yaml:10:22: models.tiers.small.fallbacks[1].provider: unknown provider "
          "'antropic' (openai, anthropic or replay) (did you mean 'anthropic'?)",
      }));
}

TEST(ConfigModelsTest, ReportsWrongValuesOfEveryOtherField) {
  EXPECT_EQ(
      problems_in(R"yaml(models:
  tiers:
    small:
      provider: openai
      model: gpt-4o-mini
      base_url: localhost:11434
      timeout: 0s
      max_tokens: 0
      temprature: 0.2
  prices:
    gpt-4o-mini: {input_per_mtok: -0.15, output_per_mtok: 0.6}
    gpt-4o: {input_per_mtok: cheap}
  cache_ttl: forever
  embed_batch: 0
  tier: {}
)yaml"),
      (std::vector<std::string>{
          "cadre.yaml:6:17: models.tiers.small.base_url: must start with http:// or https://, got "
          "'localhost:11434'",
          "cadre.yaml:7:16: models.tiers.small.timeout: must be at least 1ms, got 0s",
          "cadre.yaml:8:19: models.tiers.small.max_tokens: must be between 1 and 1000000, got 0",
          "cadre.yaml:9:7: models.tiers.small.temprature: unknown field",
          "cadre.yaml:11:35: models.prices.gpt-4o-mini.input_per_mtok: a price must not be "
          "negative, got -0.15",
          "cadre.yaml:12:30: models.prices.gpt-4o.input_per_mtok: expected a number, got 'cheap'",
          "cadre.yaml:13:14: models.cache_ttl: invalid duration: missing number before 'f' in "
          "'forever'",
          "cadre.yaml:14:16: models.embed_batch: must be between 1 and 2048, got 0",
          "cadre.yaml:15:3: models.tier: unknown field (did you mean 'tiers'?)",
      }));
}

TEST(ConfigModelsTest, ModelsIsNoLongerAnIgnoredSection) {
  // Before this release `models:` was accepted and ignored; now its shape is checked.
  EXPECT_EQ(problems_in("models: {small: {provider: openai, model: gpt-4o-mini}}\n"),
            (std::vector<std::string>{"cadre.yaml:1:10: models.small: unknown field"}));
}

}  // namespace
}  // namespace cadre
