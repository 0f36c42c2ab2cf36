// ModelGateway (see gateway.h). Two clocks on purpose: latency is measured
// on the monotonic clock because it is a duration the machine really spent,
// while cache expiry uses the injected Clock so tests can move time.
#include "models/gateway.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/hash.h"
#include "core/redact.h"

namespace cadre {
namespace {

constexpr const char* kEmbedTier = "embed";

int64_t milliseconds_since(int64_t start_us) {
  return (monotonic_us() - start_us) / 1000;
}

// Status has named constructors only; the combined error keeps the code
// of the last endpoint's failure.
Status status_with_code(StatusCode code, std::string message) {
  switch (code) {
    case StatusCode::kInvalidArgument:
      return Status::InvalidArgument(std::move(message));
    case StatusCode::kNotFound:
      return Status::NotFound(std::move(message));
    case StatusCode::kAlreadyExists:
      return Status::AlreadyExists(std::move(message));
    case StatusCode::kFailedPrecondition:
      return Status::FailedPrecondition(std::move(message));
    case StatusCode::kConflict:
      return Status::Conflict(std::move(message));
    case StatusCode::kUnavailable:
      return Status::Unavailable(std::move(message));
    case StatusCode::kResourceExhausted:
      return Status::ResourceExhausted(std::move(message));
    case StatusCode::kDeadlineExceeded:
      return Status::DeadlineExceeded(std::move(message));
    case StatusCode::kCancelled:
      return Status::Cancelled(std::move(message));
    case StatusCode::kIOError:
      return Status::IOError(std::move(message));
    case StatusCode::kCorruption:
      return Status::Corruption(std::move(message));
    case StatusCode::kSuspended:
      return Status::Suspended(std::move(message));
    case StatusCode::kOk:
    case StatusCode::kInternal:
      break;
  }
  return Status::Internal(std::move(message));
}

// What the gateway learned trying endpoints one after another.
struct Attempts {
  Json failures = Json::array();
  Status last;
  DurationMs longest_wait = -1;

  void failed(const ModelEndpoint& endpoint, const Status& status, DurationMs wait) {
    failures.push_back(Json{
        {"provider", endpoint.provider}, {"model", endpoint.model}, {"error", status.to_string()}});
    last = status;
    longest_wait = std::max(longest_wait, wait);
  }

  // One error naming the tier and what each endpoint said.
  Status all_failed(const std::string& tier, DurationMs* retry_after) const {
    if (retry_after != nullptr) *retry_after = longest_wait;
    std::string message = "model tier '" + tier + "': all " + std::to_string(failures.size()) +
                          (failures.size() == 1 ? " endpoint" : " endpoints") + " failed";
    const char* separator = ": ";
    for (const auto& failure : failures) {
      message += separator;
      // A replay endpoint has no model name: "replay: ..." rather than "replay/: ...".
      const std::string model = failure["model"].get<std::string>();
      message += failure["provider"].get<std::string>() + (model.empty() ? "" : "/" + model) +
                 ": " + failure["error"].get<std::string>();
      separator = "; ";
    }
    return status_with_code(last.code(), std::move(message));
  }
};

// nlohmann's value() throws when the member has another type.
std::string string_member(const Json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Status no_such_tier(const std::string& tier) {
  return Status::NotFound(
      "no model tier '" + tier +
      "': configure it under models.tiers in cadre.yaml (small, large or embed)");
}

// A key reference resolved: env variables directly, secrets through `secrets`.
Result<std::string> resolve_api_key(const std::string& reference, const SecretResolver& secrets) {
  if (reference.empty()) return std::string();
  // FailedPrecondition throughout: the endpoint cannot be used until the configuration changes.
  Result<std::optional<Reference>> parsed = parse_reference(reference, "api_key");
  if (!parsed.ok()) return Status::FailedPrecondition(parsed.status().message());
  if (!parsed->has_value()) {
    // Not echoed: it is probably a real key.
    return Status::FailedPrecondition(
        "api_key must be a reference such as ${env:OPENAI_API_KEY} or ${secret:OPENAI}, not a "
        "literal key (it would be committed with the workspace)");
  }
  return resolve_references(reference, secrets, "api_key");
}

}  // namespace

Result<std::string> resolve_env_key(const std::string& reference) {
  return resolve_api_key(reference, SecretResolver());
}

KeyResolver make_key_resolver(SecretResolver secrets) {
  return [secrets = std::move(secrets)](const std::string& reference) {
    return resolve_api_key(reference, secrets);
  };
}

Json to_json(const ModelCallInfo& info) {
  return Json{{"tier", info.tier},         {"provider", info.provider},
              {"model", info.model},       {"latency_ms", info.latency_ms},
              {"cost_usd", info.cost_usd}, {"cached", info.cached},
              {"failures", info.failures}};
}

ModelGateway::ModelGateway(ModelsConfig config, std::filesystem::path workspace_root, Store* cache,
                           const Clock& clock, KeyResolver resolve_key)
    : config_(std::move(config)),
      root_(std::move(workspace_root)),
      cache_(cache),
      clock_(clock),
      resolve_key_(std::move(resolve_key)) {}

Status ModelGateway::init() {
  std::shared_ptr<ModelProvider> openai = make_openai_provider();
  std::shared_ptr<ModelProvider> anthropic = make_anthropic_provider();
  // Tiers replaying the same file share one provider, so "answered in
  // recorded order" holds across them.
  std::map<std::filesystem::path, std::shared_ptr<ModelProvider>> replays;
  std::map<std::string, std::vector<Endpoint>> tiers;
  for (const auto& [tier, tier_config] : config_.tiers) {
    std::vector<ModelEndpoint> configs = {tier_config.primary};
    configs.insert(configs.end(), tier_config.fallbacks.begin(), tier_config.fallbacks.end());
    std::vector<Endpoint> endpoints;
    for (size_t i = 0; i < configs.size(); ++i) {
      const ModelEndpoint& endpoint = configs[i];
      std::string where =
          "models.tiers." + tier + (i == 0 ? "" : ".fallbacks[" + std::to_string(i - 1) + "]");
      std::shared_ptr<ModelProvider> provider;
      if (endpoint.provider == "openai") {
        provider = openai;
      } else if (endpoint.provider == "anthropic") {
        provider = anthropic;
      } else if (endpoint.provider == "replay") {
        if (endpoint.recording.empty())
          return Status::InvalidArgument(where + ": replay needs a recording file");
        std::filesystem::path path = (root_ / endpoint.recording).lexically_normal();
        auto known = replays.find(path);
        if (known != replays.end()) {
          provider = known->second;
        } else {
          Result<std::unique_ptr<ModelProvider>> replay = make_replay_provider(path);
          if (!replay.ok()) return replay.status().with_context(where);
          provider = std::move(replay).value();
          replays.emplace(path, provider);
        }
      } else {
        return Status::InvalidArgument(where + ": unknown provider '" + endpoint.provider +
                                       "' (openai, anthropic or replay)");
      }
      endpoints.push_back(Endpoint{endpoint, std::move(provider)});
    }
    tiers.emplace(tier, std::move(endpoints));
  }
  tiers_ = std::move(tiers);
  return Status::Ok();
}

Status ModelGateway::record_to(const std::filesystem::path& path) {
  std::lock_guard<std::mutex> lock(record_mutex_);
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  std::ofstream out(path, std::ios::binary | std::ios::app);
  if (!out.is_open()) {
    return Status::IOError("cannot open " + path.string() +
                           " to record model traffic: " + std::strerror(errno));
  }
  recording_ = std::move(out);
  recording_on_ = true;
  recorded_chats_.clear();
  return Status::Ok();
}

bool ModelGateway::has_tier(const std::string& tier) const {
  return tiers_.count(tier) > 0;
}

std::vector<ModelGateway::Endpoint>* ModelGateway::endpoints_of(const std::string& tier) {
  auto it = tiers_.find(tier);
  if (it == tiers_.end() || it->second.empty()) return nullptr;
  return &it->second;
}

double ModelGateway::price(const std::string& model, const TokenUsage& usage) const {
  auto it = config_.prices.find(model);
  if (it == config_.prices.end()) return 0;
  return (static_cast<double>(usage.input_tokens) * it->second.input_per_mtok +
          static_cast<double>(usage.output_tokens) * it->second.output_per_mtok) /
         1e6;
}

double ModelGateway::estimate_cost(const std::string& tier, const ChatRequest& request) const {
  auto it = config_.tiers.find(tier);
  if (it == config_.tiers.end()) return 0;
  size_t chars = 0;
  for (const auto& m : request.messages) chars += m.content.size();
  for (const auto& t : request.tools) chars += t.description.size() + dump_json(t.parameters).size();
  const ModelEndpoint& primary = it->second.primary;
  TokenUsage usage;
  usage.input_tokens = static_cast<int64_t>(chars / 4);
  usage.output_tokens = request.max_tokens > 0 ? request.max_tokens : primary.max_tokens;
  return price(primary.model, usage);
}

std::string ModelGateway::cache_key(const std::string& tier, const ChatRequest& request) const {
  // The primary endpoint names the answer's origin: changing a tier's model
  // or server must not serve the old model's answers.
  Json parts = Json::array({tier});
  auto it = config_.tiers.find(tier);
  if (it != config_.tiers.end()) {
    parts.push_back(it->second.primary.provider);
    parts.push_back(it->second.primary.model);
    parts.push_back(it->second.primary.base_url);
  }
  parts.push_back(request_key(request));
  return sha256_hex(dump_json(parts));
}

void ModelGateway::record(const Json& line) {
  std::lock_guard<std::mutex> lock(record_mutex_);
  if (!recording_on_) return;
  if (line.value("kind", "") == "chat") {
    // A cache hit is written only when its exchange is not in the recording
    // yet: a recording made on a warm cache is then complete, and one made
    // on a cold cache still holds each exchange once.
    bool first = recorded_chats_.insert(string_member(line, "key")).second;
    if (!first && line.value("cached", false)) return;
  }
  // Redacted: a recording may be committed with the workspace (examples ship theirs).
  recording_ << redact(dump_json(line)) << '\n';
  recording_.flush();  // a crash keeps every exchange that finished
  if (!recording_) spdlog::warn("model recording: writing failed; the recording is incomplete");
}

Result<ChatResult> ModelGateway::chat(const std::string& tier, const ChatRequest& request,
                                      const ChatOptions& options, DurationMs* retry_after) {
  if (retry_after != nullptr) *retry_after = -1;
  const int64_t started_us = monotonic_us();
  std::vector<Endpoint>* endpoints = endpoints_of(tier);
  if (endpoints == nullptr) return no_such_tier(tier);

  const bool use_cache = options.use_cache && config_.cache_ttl > 0 && cache_ != nullptr;
  std::string key;
  if (use_cache) {
    key = cache_key(tier, request);
    Result<Json> cached = cache_->cache_get(key, clock_.now_ms());
    if (!cached.ok()) {
      spdlog::warn("model cache: lookup failed, asking the model instead: {}",
                   cached.status().to_string());
    } else if (cached->is_object() && cached->contains("response")) {
      Result<ChatResponse> response = chat_response_from_json((*cached)["response"]);
      if (response.ok()) {
        ChatResult result;
        result.response = std::move(response).value();
        result.info.tier = tier;
        result.info.provider = string_member(*cached, "provider");
        result.info.model = string_member(*cached, "model");
        result.info.cached = true;
        result.info.latency_ms = milliseconds_since(started_us);
        // A recording must hold every exchange the run saw, or its replay
        // fails; record() skips it if the recording has it already.
        record(Json{{"kind", "chat"},
                    {"key", request_key(request)},
                    {"tier", tier},
                    {"provider", result.info.provider},
                    {"model", result.info.model},
                    {"cached", true},
                    {"request", to_json(request)},
                    {"response", to_json(result.response)}});
        return result;
      }
      spdlog::warn("model cache: ignoring an unreadable entry: {}", response.status().to_string());
    }
  }

  Attempts attempts;
  for (Endpoint& endpoint : *endpoints) {
    Result<std::string> api_key = resolve_key_(endpoint.config.api_key);
    if (!api_key.ok()) {
      attempts.failed(endpoint.config, api_key.status(), -1);
      continue;
    }
    DurationMs wait = -1;
    Result<ChatResponse> response =
        endpoint.provider->chat(endpoint.config, *api_key, request, &wait);
    if (!response.ok()) {
      attempts.failed(endpoint.config, response.status(), wait);
      continue;
    }
    ChatResult result;
    result.response = std::move(response).value();
    result.info.tier = tier;
    result.info.provider = endpoint.config.provider;
    result.info.model = endpoint.config.model;
    result.info.cost_usd = price(endpoint.config.model, result.response.usage);
    result.info.failures = std::move(attempts.failures);
    result.info.latency_ms = milliseconds_since(started_us);
    if (use_cache) {
      TimeMs now = clock_.now_ms();
      Json entry{{"response", to_json(result.response)},
                 {"provider", result.info.provider},
                 {"model", result.info.model}};
      Status stored = cache_->cache_put(key, entry, now, now + config_.cache_ttl);
      if (!stored.ok())
        spdlog::warn("model cache: could not store an answer: {}", stored.to_string());
    }
    record(Json{{"kind", "chat"},
                {"key", request_key(request)},
                {"tier", tier},
                {"provider", result.info.provider},
                {"model", result.info.model},
                {"request", to_json(request)},
                {"response", to_json(result.response)}});
    return result;
  }
  return attempts.all_failed(tier, retry_after);
}

Result<EmbedResult> ModelGateway::embed(const std::vector<std::string>& texts,
                                        DurationMs* retry_after) {
  if (retry_after != nullptr) *retry_after = -1;
  const int64_t started_us = monotonic_us();
  std::vector<Endpoint>* endpoints = endpoints_of(kEmbedTier);
  if (endpoints == nullptr) return no_such_tier(kEmbedTier);
  const size_t batch = static_cast<size_t>(std::max(1, config_.embed_batch));

  Attempts attempts;
  // Each endpoint embeds every text or none: vectors from two models live in
  // different spaces, so a fallback starts over rather than finishing the
  // batches the primary left.
  for (Endpoint& endpoint : *endpoints) {
    Result<std::string> api_key = resolve_key_(endpoint.config.api_key);
    if (!api_key.ok()) {
      attempts.failed(endpoint.config, api_key.status(), -1);
      continue;
    }
    EmbedResult result;
    std::vector<Json> lines;
    Status failure;
    DurationMs wait = -1;
    for (size_t start = 0; start < texts.size(); start += batch) {
      std::vector<std::string> part(
          texts.begin() + static_cast<std::ptrdiff_t>(start),
          texts.begin() + static_cast<std::ptrdiff_t>(std::min(texts.size(), start + batch)));
      Result<EmbedResponse> answer =
          endpoint.provider->embed(endpoint.config, *api_key, part, &wait);
      if (!answer.ok()) {
        failure = answer.status();
        break;
      }
      if (answer->vectors.size() != part.size()) {
        failure = Status::Internal(endpoint.config.provider + " model '" + endpoint.config.model +
                                   "': asked for " + std::to_string(part.size()) +
                                   " vectors, got " + std::to_string(answer->vectors.size()));
        break;
      }
      lines.push_back(Json{{"kind", "embed"},
                           {"key", embed_key(part)},
                           {"texts", part},
                           {"vectors", answer->vectors}});
      for (auto& vector : answer->vectors) result.response.vectors.push_back(std::move(vector));
      result.response.usage.input_tokens += answer->usage.input_tokens;
      result.response.usage.output_tokens += answer->usage.output_tokens;
    }
    if (!failure.ok()) {
      attempts.failed(endpoint.config, failure, wait);
      continue;
    }
    // Recorded only now: a recording never mixes two models' vectors.
    for (const auto& line : lines) record(line);
    result.info.tier = kEmbedTier;
    result.info.provider = endpoint.config.provider;
    result.info.model = endpoint.config.model;
    result.info.cost_usd = price(endpoint.config.model, result.response.usage);
    result.info.failures = std::move(attempts.failures);
    result.info.latency_ms = milliseconds_since(started_us);
    return result;
  }
  return attempts.all_failed(kEmbedTier, retry_after);
}

}  // namespace cadre
