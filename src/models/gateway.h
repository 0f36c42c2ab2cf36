// ModelGateway: the one way Cadre calls models. Agents ask for a tier
// (small, large, embed); the gateway maps it to the endpoints in
// cadre.yaml, tries the primary and then each fallback in order, prices the
// call from the price table, answers repeated requests from the
// exact-match response cache, and can record every exchange for replay.
//
// The gateway does not wait and retry by itself: when every endpoint failed
// with a temporary error (429, 5xx, connection, timeout), chat() returns that
// error and the largest Retry-After any endpoint asked for, and the calling
// kernel step retries later as a timer, holding no thread.
//
// Thread-safety: every method may be called from several threads once
// init() has returned.
#pragma once

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "core/references.h"
#include "models/model.h"
#include "models/provider.h"
#include "store/store.h"

namespace cadre {

// Resolves an API key reference from cadre.yaml ("${env:NAME}" or
// "${secret:NAME}"; "" for no key; a literal is refused). Never logs the
// value; errors name the variable or secret.
using KeyResolver = std::function<Result<std::string>(const std::string& reference)>;
// ${env:NAME} only: a ${secret:NAME} is an error (no secrets loaded).
Result<std::string> resolve_env_key(const std::string& reference);
// ${env:NAME}, and ${secret:NAME} through `secrets` (whoever builds the
// gateway passes them: the models module does not open the secret store).
KeyResolver make_key_resolver(SecretResolver secrets);

struct ModelCallInfo {
  std::string tier;
  std::string provider;      // the endpoint that answered (or the cache's original)
  std::string model;
  int64_t latency_ms = 0;
  double cost_usd = 0;       // 0 when cached, or the model has no price
  bool cached = false;
  Json failures = Json::array();  // [{provider, model, error}] of endpoints that failed first
};
Json to_json(const ModelCallInfo& info);

struct ChatResult {
  ChatResponse response;
  ModelCallInfo info;
};

struct EmbedResult {
  EmbedResponse response;
  ModelCallInfo info;
};

struct ChatOptions {
  bool use_cache = true;     // an agent may opt out (cache: false)
};

class ModelGateway {
 public:
  // `cache` may be null (no response cache).
  ModelGateway(ModelsConfig config, std::filesystem::path workspace_root, Store* cache, const Clock& clock,
               KeyResolver resolve_key = resolve_env_key);

  // Builds the providers of every tier (loading replay recordings). Errors
  // name the tier and the endpoint.
  Status init();

  // Appends every exchange from now on to `path` as JSON lines.
  Status record_to(const std::filesystem::path& path);

  bool has_tier(const std::string& tier) const;
  const ModelsConfig& config() const { return config_; }

  Result<ChatResult> chat(const std::string& tier, const ChatRequest& request, const ChatOptions& options,
                          DurationMs* retry_after);
  // The cost of `request` on the tier's primary model before it is sent, at
  // 4 characters a token in and the whole max_tokens out (for policy rules).
  double estimate_cost(const std::string& tier, const ChatRequest& request) const;
  // Embeds with the `embed` tier, `embed_batch` texts per request.
  Result<EmbedResult> embed(const std::vector<std::string>& texts, DurationMs* retry_after);

 private:
  struct Endpoint {
    ModelEndpoint config;
    std::shared_ptr<ModelProvider> provider;
  };
  std::vector<Endpoint>* endpoints_of(const std::string& tier);
  double price(const std::string& model, const TokenUsage& usage) const;
  std::string cache_key(const std::string& tier, const ChatRequest& request) const;
  void record(const Json& line);

  ModelsConfig config_;
  std::filesystem::path root_;
  Store* cache_;
  const Clock& clock_;
  KeyResolver resolve_key_;
  std::map<std::string, std::vector<Endpoint>> tiers_;
  std::mutex record_mutex_;
  std::ofstream recording_;
  bool recording_on_ = false;
  std::set<std::string> recorded_chats_;  // request keys written since record_to(), under record_mutex_
};

}  // namespace cadre
