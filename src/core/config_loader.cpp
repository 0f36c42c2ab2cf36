#include "core/config_loader.h"

#include <algorithm>
#include <limits>
#include <optional>

#include "core/references.h"
#include "core/yaml_util.h"

namespace cadre {
namespace {

constexpr int64_t kMaxBytesLimit = int64_t{1} << 40;  // 1 TiB: anything above is a typo
constexpr DurationMs kMaxDuration = int64_t{365} * 24 * 3600 * 1000;

void read_store(YamlReader& reader, const YamlField& section, StoreConfig* store) {
  auto map = reader.read_map(section, {"driver", "path", "synchronous", "busy_timeout"});
  if (!map) return;
  if (const auto* f = map->find("driver")) {
    if (auto v = reader.as_string(*f)) {
      if (*v == "sqlite") {
        store->driver = *v;
      } else {
        reader.error(*f, "unknown driver '" + *v + "' (this release supports sqlite)" +
                             did_you_mean(*v, {"sqlite"}));
      }
    }
  }
  if (const auto* f = map->find("path")) {
    if (auto v = reader.as_string(*f)) {
      if (v->empty()) {
        reader.error(*f, "must not be empty");
      } else {
        store->path = *v;
      }
    }
  }
  if (const auto* f = map->find("synchronous")) {
    if (auto v = reader.as_string(*f)) {
      if (*v == "normal" || *v == "full") {
        store->synchronous = *v;
      } else {
        reader.error(*f, "must be normal or full, got '" + *v + "'");
      }
    }
  }
  if (const auto* f = map->find("busy_timeout")) {
    if (auto v = reader.as_duration(*f)) store->busy_timeout = *v;
  }
}

void read_kernel(YamlReader& reader, const YamlField& section, KernelConfig* kernel) {
  auto map =
      reader.read_map(section, {"workers", "lease", "heartbeat", "poll_interval", "shutdown_grace",
                                "max_step_input_bytes", "max_step_output_bytes",
                                "max_run_journal_bytes", "max_run_steps", "max_foreach_items"});
  if (!map) return;
  auto read_int = [&](const char* name, int64_t min, int64_t max, auto* out) {
    if (const auto* f = map->find(name)) {
      if (auto v = reader.as_int(*f, min, max)) {
        *out = static_cast<std::remove_pointer_t<decltype(out)>>(*v);
      }
    }
  };
  auto read_duration = [&](const char* name, DurationMs min, DurationMs* out) {
    if (const auto* f = map->find(name)) {
      if (auto v = reader.as_duration(*f, min)) {
        if (*v > kMaxDuration) {
          reader.error(*f, "must be at most 365d");
        } else {
          *out = *v;
        }
      }
    }
  };
  read_int("workers", 1, 1024, &kernel->workers);
  read_duration("lease", 1, &kernel->lease);
  read_duration("heartbeat", 1, &kernel->heartbeat);
  read_duration("poll_interval", 1, &kernel->poll_interval);
  read_duration("shutdown_grace", 0, &kernel->shutdown_grace);
  read_int("max_step_input_bytes", 1, kMaxBytesLimit, &kernel->max_step_input_bytes);
  read_int("max_step_output_bytes", 1, kMaxBytesLimit, &kernel->max_step_output_bytes);
  read_int("max_run_journal_bytes", 1, kMaxBytesLimit, &kernel->max_run_journal_bytes);
  read_int("max_run_steps", 1, std::numeric_limits<int>::max(), &kernel->max_run_steps);
  read_int("max_foreach_items", 1, std::numeric_limits<int>::max(), &kernel->max_foreach_items);

  if (kernel->heartbeat >= kernel->lease) {
    const YamlField* at = map->find("heartbeat");
    if (at == nullptr) at = map->find("lease");
    if (at != nullptr) {
      reader.error(*at, "heartbeat (" + format_duration(kernel->heartbeat) +
                            ") must be shorter than lease (" + format_duration(kernel->lease) +
                            ")");
    }
  }
}

bool is_hook_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
  });
}

void read_hooks(YamlReader& reader, const YamlField& section, std::map<std::string, InboundHook>* hooks) {
  auto map = reader.read_map(section, {});
  if (!map) return;
  for (const auto& field : map->fields()) {
    if (!is_hook_name(field.name)) {
      reader.error(field.key_pos, field.path, "'" + field.name + "' is not a valid hook name (a-z, 0-9, '.', '_', '-')");
      continue;
    }
    auto hook_map = reader.read_map(field, {"secret", "event", "tolerance"});
    if (!hook_map) continue;
    InboundHook hook;
    hook.event = "hook." + field.name;
    if (const auto* f = reader.require(*hook_map, "secret")) {
      if (auto v = reader.as_string(*f)) {
        auto reference = parse_reference(*v, "");
        if (!reference.ok()) {
          reader.error(*f, reference.status().message());
        } else if (!reference->has_value()) {
          reader.error(*f, "must be a reference such as \"${secret:NAME}\" (cadre secret set NAME), not the value");
        } else {
          hook.secret = *v;
        }
      }
    }
    if (const auto* f = hook_map->find("event")) {
      if (auto v = reader.as_string(*f)) {
        if (v->empty()) {
          reader.error(*f, "must not be empty");
        } else {
          hook.event = *v;
        }
      }
    }
    if (const auto* f = hook_map->find("tolerance")) {
      if (auto v = reader.as_duration(*f, 1000)) hook.tolerance = *v;
    }
    (*hooks)[field.name] = hook;
  }
}

void read_server(YamlReader& reader, const YamlField& section, ServerConfig* server) {
  auto map = reader.read_map(section, {"bind", "port", "hooks"});
  if (!map) return;
  if (const auto* f = map->find("hooks")) read_hooks(reader, *f, &server->hooks);
  if (const auto* f = map->find("bind")) {
    if (auto v = reader.as_string(*f)) {
      if (v->empty()) {
        reader.error(*f, "must not be empty");
      } else {
        server->bind = *v;
      }
    }
  }
  if (const auto* f = map->find("port")) {
    if (auto v = reader.as_int(*f, 0, 65535)) server->port = static_cast<int>(*v);
  }
}

void read_tools(YamlReader& reader, const YamlField& section, const std::vector<std::string>& known_tools,
                std::map<std::string, ToolLimits>* tools) {
  auto map = reader.read_map(section, known_tools);
  if (!map) return;
  for (const auto& tool : map->fields()) {
    if (tool.name.empty()) {
      reader.error(tool.key_pos, tool.path, "tool name must not be empty");
      continue;
    }
    auto limits_map = reader.read_map(tool, {"rate_per_second", "burst"});
    if (!limits_map) continue;
    ToolLimits limits;
    if (const auto* f = limits_map->find("rate_per_second")) {
      if (auto v = reader.as_number(*f, 0, 1e9)) limits.rate_per_second = *v;
    }
    if (const auto* f = limits_map->find("burst")) {
      if (auto v = reader.as_int(*f, 1, 1000000)) limits.burst = static_cast<int>(*v);
    }
    (*tools)[tool.name] = limits;
  }
}

const std::vector<std::string> kModelTiers = {"small", "large", "embed"};
const std::vector<std::string> kModelProviders = {"openai", "anthropic", "replay"};
// Servers that speak the OpenAI format, named here so a natural guess gets a hint.
const std::vector<std::string> kOpenAiCompatible = {"ollama",    "vllm",     "lmstudio",
                                                    "llama.cpp", "llamacpp", "openrouter",
                                                    "azure",     "groq",     "together"};
constexpr int kMaxTokensLimit = 1000000;
constexpr int kMaxEmbedBatch = 2048;  // OpenAI's limit on inputs per embeddings request
constexpr double kMaxPricePerMtok = 1e6;

// api_key holds a reference, never a key: cadre.yaml is committed with the workspace.
void check_api_key(YamlReader& reader, const YamlField& field, const std::string& value) {
  if (value.empty()) return;
  Result<std::optional<Reference>> reference = parse_reference(value, "");
  if (!reference.ok()) {
    reader.error(field, reference.status().message());
    return;
  }
  if (reference->has_value()) return;
  // The value is not repeated: it is probably a real key.
  reader.error(field,
               "must be a reference such as \"${env:OPENAI_API_KEY}\" or \"${secret:OPENAI}\", not "
               "a literal key: a key here would be committed with the workspace");
}

// One endpoint; `allow_fallbacks` for a tier's primary, not for a fallback.
std::optional<ModelEndpoint> read_model_endpoint(YamlReader& reader, const YamlField& field,
                                                 bool allow_fallbacks,
                                                 std::vector<ModelEndpoint>* fallbacks) {
  auto map = reader.read_map(field, {"provider", "model", "base_url", "api_key", "timeout",
                                     "max_tokens", "recording", "fallbacks"});
  if (!map) return std::nullopt;
  if (map->fields().empty() && (!field.value.IsDefined() || field.value.IsNull())) {
    reader.error(field, "expected a mapping with provider and model");
    return std::nullopt;
  }
  const int errors_before = reader.error_count();
  ModelEndpoint endpoint;
  if (const auto* f = reader.require(*map, "provider")) {
    if (auto v = reader.as_string(*f)) {
      if (std::find(kModelProviders.begin(), kModelProviders.end(), *v) != kModelProviders.end()) {
        endpoint.provider = *v;
      } else if (std::find(kOpenAiCompatible.begin(), kOpenAiCompatible.end(), *v) !=
                 kOpenAiCompatible.end()) {
        reader.error(*f, "unknown provider '" + *v +
                             "': it speaks the OpenAI format, so use provider: openai "
                             "with its base_url");
      } else {
        reader.error(*f, "unknown provider '" + *v + "' (openai, anthropic or replay)" +
                             did_you_mean(*v, kModelProviders));
      }
    }
  }
  if (const auto* f = map->find("model")) {
    if (auto v = reader.as_string(*f)) {
      if (v->empty()) {
        reader.error(*f, "must not be empty");
      } else {
        endpoint.model = *v;
      }
    }
  } else if (endpoint.provider == "openai" || endpoint.provider == "anthropic") {
    reader.require(*map, "model");
  }
  if (const auto* f = map->find("base_url")) {
    if (auto v = reader.as_string(*f)) {
      if (!v->starts_with("http://") && !v->starts_with("https://")) {
        reader.error(*f, "must start with http:// or https://, got '" + *v + "'");
      } else {
        endpoint.base_url = *v;
      }
    }
  }
  if (const auto* f = map->find("api_key")) {
    if (auto v = reader.as_string(*f)) {
      check_api_key(reader, *f, *v);
      endpoint.api_key = *v;
    }
  }
  if (const auto* f = map->find("timeout")) {
    if (auto v = reader.as_duration(*f, 1)) {
      if (*v > kMaxDuration) {
        reader.error(*f, "must be at most 365d");
      } else {
        endpoint.timeout = *v;
      }
    }
  }
  if (const auto* f = map->find("max_tokens")) {
    if (auto v = reader.as_int(*f, 1, kMaxTokensLimit)) endpoint.max_tokens = static_cast<int>(*v);
  }
  if (const auto* f = map->find("recording")) {
    if (auto v = reader.as_string(*f)) {
      if (v->empty()) {
        reader.error(*f, "must not be empty");
      } else {
        endpoint.recording = *v;
      }
    }
  } else if (endpoint.provider == "replay") {
    reader.error(
        yaml_pos(map->node()), field_path(map->path(), "recording"),
        "required field is missing: provider replay answers from a recording file (relative to "
        "the workspace)");
  }
  if (const auto* f = map->find("fallbacks")) {
    if (!allow_fallbacks) {
      reader.error(f->key_pos, f->path,
                   "a fallback cannot have fallbacks of its own; list them all on the tier");
    } else if (auto elements = reader.read_sequence(*f)) {
      for (const auto& element : *elements) {
        if (auto fallback = read_model_endpoint(reader, element, false, nullptr)) {
          fallbacks->push_back(std::move(*fallback));
        }
      }
    }
  }
  if (reader.error_count() != errors_before) return std::nullopt;
  return endpoint;
}

void read_models(YamlReader& reader, const YamlField& section, ModelsConfig* models) {
  auto map = reader.read_map(section, {"tiers", "prices", "cache_ttl", "embed_batch"});
  if (!map) return;
  if (const auto* f = map->find("tiers")) {
    if (auto tiers = reader.read_map(*f, {})) {
      for (const auto& tier : tiers->fields()) {
        if (std::find(kModelTiers.begin(), kModelTiers.end(), tier.name) == kModelTiers.end()) {
          reader.error(tier.key_pos, tier.path,
                       "unknown tier '" + tier.name + "' (small, large or embed)" +
                           did_you_mean(tier.name, kModelTiers));
          continue;
        }
        TierConfig tier_config;
        if (auto primary = read_model_endpoint(reader, tier, true, &tier_config.fallbacks)) {
          tier_config.primary = std::move(*primary);
          models->tiers[tier.name] = std::move(tier_config);
        }
      }
    }
  }
  if (const auto* f = map->find("prices")) {
    if (auto prices = reader.read_map(*f, {})) {
      for (const auto& model : prices->fields()) {
        auto price_map = reader.read_map(model, {"input_per_mtok", "output_per_mtok"});
        if (!price_map) continue;
        ModelPrice price;
        bool valid = true;
        auto read_price = [&](const char* name, double* out) {
          const auto* p = price_map->find(name);
          if (p == nullptr) return;
          auto v = reader.as_number(*p, -std::numeric_limits<double>::infinity(), kMaxPricePerMtok);
          if (!v) {
            valid = false;
          } else if (*v < 0) {
            reader.error(*p, "a price must not be negative, got " + p->value.Scalar());
            valid = false;
          } else {
            *out = *v;
          }
        };
        read_price("input_per_mtok", &price.input_per_mtok);
        read_price("output_per_mtok", &price.output_per_mtok);
        if (valid) models->prices[model.name] = price;
      }
    }
  }
  if (const auto* f = map->find("cache_ttl")) {
    if (auto v = reader.as_duration(*f, 0)) {
      if (*v > kMaxDuration) {
        reader.error(*f, "must be at most 365d");
      } else {
        models->cache_ttl = *v;
      }
    }
  }
  if (const auto* f = map->find("embed_batch")) {
    if (auto v = reader.as_int(*f, 1, kMaxEmbedBatch)) models->embed_batch = static_cast<int>(*v);
  }
}

void read_memory(YamlReader& reader, const YamlField& section, MemoryConfig* memory) {
  auto map = reader.read_map(section, {"embedder", "builtin_dims", "compaction", "context", "recency"});
  if (!map) return;
  if (const auto* f = map->find("embedder")) {
    static const std::vector<std::string> kEmbedders = {"auto", "builtin", "model"};
    if (auto v = reader.as_string(*f)) {
      if (std::find(kEmbedders.begin(), kEmbedders.end(), *v) == kEmbedders.end()) {
        reader.error(*f, "unknown embedder '" + *v + "' (auto, builtin or model)");
      } else {
        memory->embedder = *v;
      }
    }
  }
  if (const auto* f = map->find("builtin_dims")) {
    if (auto v = reader.as_int(*f, 16, 4096)) memory->builtin_dims = static_cast<int>(*v);
  }
  auto read_duration = [&](const YamlMap& m, const char* name, DurationMs min, DurationMs* out) {
    if (const auto* f = m.find(name)) {
      if (auto v = reader.as_duration(*f, min)) {
        if (*v > kMaxDuration) {
          reader.error(*f, "must be at most 365d");
        } else {
          *out = *v;
        }
      }
    }
  };
  if (const auto* f = map->find("compaction")) {
    if (auto c = reader.read_map(*f, {"cron", "older_than", "max_groups"})) {
      if (const auto* g = c->find("cron")) {
        if (auto v = reader.as_string(*g)) memory->compaction_cron = *v;
      }
      read_duration(*c, "older_than", 3600 * 1000, &memory->compact_older_than);
      if (const auto* g = c->find("max_groups")) {
        if (auto v = reader.as_int(*g, 1, 100000)) memory->compaction_max_groups = static_cast<int>(*v);
      }
    }
  }
  if (const auto* f = map->find("context")) {
    if (auto c = reader.read_map(*f, {"tokens", "recent"})) {
      if (const auto* g = c->find("tokens")) {
        if (auto v = reader.as_int(*g, 0, 1000000)) memory->context_tokens = static_cast<int>(*v);
      }
      if (const auto* g = c->find("recent")) {
        if (auto v = reader.as_int(*g, 0, 1000)) memory->context_recent = static_cast<int>(*v);
      }
    }
  }
  if (const auto* f = map->find("recency")) {
    if (auto c = reader.read_map(*f, {"weight", "half_life"})) {
      if (const auto* g = c->find("weight")) {
        if (auto v = reader.as_number(*g, 0, 1)) memory->recency_weight = *v;
      }
      read_duration(*c, "half_life", 1, &memory->recency_half_life);
    }
  }
}

void read_metrics(YamlReader& reader, const YamlField& section, MetricsConfig* metrics) {
  auto map = reader.read_map(section, {"storage_usd_per_gib", "connector_usd_per_call"});
  if (!map) return;
  if (const auto* f = map->find("storage_usd_per_gib")) {
    if (auto v = reader.as_number(*f, 0, 1e6)) metrics->storage_usd_per_gib = *v;
  }
  if (const auto* f = map->find("connector_usd_per_call")) {
    if (auto v = reader.as_number(*f, 0, 1e6)) metrics->connector_usd_per_call = *v;
  }
}

}  // namespace

WorkspaceConfig load_config(std::string_view yaml_text, const std::string& file,
                            Diagnostics* diagnostics, const std::vector<std::string>& known_tools) {
  WorkspaceConfig config;
  Diagnostics local;
  if (diagnostics == nullptr) diagnostics = &local;
  auto root = parse_yaml(yaml_text, file, diagnostics);
  if (!root) return config;
  YamlReader reader(file, diagnostics);
  try {
    auto map =
        reader.read_map(*root, yaml_pos(*root), "", {"name", "store", "kernel", "server", "tools", "models", "memory", "metrics"},
                        {"connectors", "policies", "secrets", "agents"});
    if (!map) return config;
    if (const auto* f = map->find("name")) {
      if (auto v = reader.as_string(*f)) {
        if (v->empty()) {
          reader.error(*f, "must not be empty");
        } else {
          config.name = *v;
        }
      }
    }
    if (const auto* f = map->find("store")) read_store(reader, *f, &config.store);
    if (const auto* f = map->find("kernel")) read_kernel(reader, *f, &config.kernel);
    if (const auto* f = map->find("server")) read_server(reader, *f, &config.server);
    if (const auto* f = map->find("tools")) read_tools(reader, *f, known_tools, &config.tools);
    if (const auto* f = map->find("models")) read_models(reader, *f, &config.models);
    if (const auto* f = map->find("memory")) read_memory(reader, *f, &config.memory);
    if (const auto* f = map->find("metrics")) read_metrics(reader, *f, &config.metrics);
  } catch (const std::exception& e) {
    // yaml-cpp may throw on malformed nodes; never let it escape.
    reader.error({0, 0}, "", std::string("internal YAML error: ") + e.what());
  }
  return config;
}

}  // namespace cadre
