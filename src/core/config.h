// WorkspaceConfig: the settings in cadre.yaml, as plain structs whose
// defaults are documented here. Loading fills and validates them once.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/duration.h"

namespace cadre {

struct StoreConfig {
  std::string driver = "sqlite";          // sqlite (postgres in a later release)
  std::string path = ".cadre/cadre.db";   // relative to the workspace root
  std::string synchronous = "normal";     // normal | full
  DurationMs busy_timeout = 5000;
};

struct KernelConfig {
  int workers = 16;                       // concurrent tasks in this process
  DurationMs lease = 15000;               // a running task's lease
  DurationMs heartbeat = 5000;            // lease renewal period (< lease)
  DurationMs poll_interval = 250;         // idle check for work written by other processes
  DurationMs shutdown_grace = 10000;      // SIGTERM: time to finish before releasing leases
  int64_t max_step_input_bytes = 256 * 1024;
  int64_t max_step_output_bytes = 1024 * 1024;
  int64_t max_run_journal_bytes = 64 * 1024 * 1024;  // journaled inputs and outputs of one task
  int max_run_steps = 10000;              // journaled steps in one task
  int max_foreach_items = 1000;
};

struct ToolLimits {
  double rate_per_second = 0;             // 0: unlimited
  int burst = 1;
};

// An inbound webhook, POST /hooks/NAME: signed by the sender with a shared
// secret (core/webhook_signature.h), turned into an event.
struct InboundHook {
  std::string secret;                     // a reference: "${secret:NAME}"
  std::string event;                      // the event's name; default "hook.NAME"
  DurationMs tolerance = 5 * 60 * 1000;   // how old (or early) a signature may be
};

struct ServerConfig {
  std::string bind = "127.0.0.1";
  int port = 7400;                        // 0: any free port (written to .cadre/server.json)
  std::map<std::string, InboundHook> hooks;  // by NAME
};

// One model behind a tier: which API, which model, where, with which key.
struct ModelEndpoint {
  std::string provider;                   // openai | anthropic | replay
  std::string model;                      // as the provider names it
  std::string base_url;                   // default: https://api.openai.com/v1, https://api.anthropic.com/v1
  std::string api_key;                    // a reference, "${env:NAME}", resolved at call time; "" for none
  DurationMs timeout = 60000;             // one request
  int max_tokens = 1024;                  // answer length cap (Anthropic requires one)
  std::string recording;                  // replay: the recording file, relative to the workspace
};

struct TierConfig {
  ModelEndpoint primary;
  std::vector<ModelEndpoint> fallbacks;   // tried in order when the one before fails
};

struct ModelPrice {
  double input_per_mtok = 0;              // US dollars per million input tokens
  double output_per_mtok = 0;
};

struct ModelsConfig {
  std::map<std::string, TierConfig> tiers;    // small, large, embed
  std::map<std::string, ModelPrice> prices;   // by model name
  DurationMs cache_ttl = 24 * 3600 * 1000;    // exact-match response cache; 0 turns it off
  int embed_batch = 64;                        // texts per embeddings request
};

// Memory (src/memory/): how documents are embedded, when old events are
// compacted into summaries, and how much of an agent's prompt memory fills.
struct MemoryConfig {
  std::string embedder = "auto";          // auto (the embed tier if configured, else builtin) | builtin | model
  int builtin_dims = 256;                 // the feature-hashing embedder's vector size
  std::string compaction_cron = "0 3 * * 0";  // when compaction runs (UTC); "" never by schedule
  DurationMs compact_older_than = 30LL * 24 * 3600 * 1000;  // events older than this are summarized
  int compaction_max_groups = 200;        // summaries written per compaction run at most
  int context_tokens = 1500;              // memory's share of an agent prompt (estimated tokens)
  int context_recent = 8;                 // working memory: newest events of the agent's scopes
  double recency_weight = 0.2;            // 0: rank by relevance only; 1: age weighs fully
  DurationMs recency_half_life = 30LL * 24 * 3600 * 1000;
};

// The prices that turn quantities into cost per successful outcome (models
// are priced by models.prices).
struct MetricsConfig {
  double storage_usd_per_gib = 0;     // a GiB of journal kept
  double connector_usd_per_call = 0;  // one attempt of a connector's tool
};

struct WorkspaceConfig {
  std::string name = "workspace";
  StoreConfig store;
  KernelConfig kernel;
  ServerConfig server;
  std::map<std::string, ToolLimits> tools;  // per-tool limits by tool name
  ModelsConfig models;
  MemoryConfig memory;
  MetricsConfig metrics;
};

}  // namespace cadre
