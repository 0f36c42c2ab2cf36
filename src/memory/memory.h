// Memory: what lets agents and the operator build on what happened before.
//
//   record   -> validated events appended to the log (the canonical truth),
//               which also merges entity facts and indexes the text
//   index    -> documents (events, summaries) without a vector yet are
//               embedded in batches and added to the vector index
//   search   -> three retrievers, each over events and summaries:
//                 lexical  FTS5 BM25 over the query's content words
//                 vector   nearest neighbours of the query's embedding
//                 key      events of the entities the query names (a key such
//                          as customer:acme, or an entity's slug): those
//                          matching the query's other words first, then
//                          the newest
//               fused with weighted reciprocal rank fusion, then weighted
//               by recency.
//               An event that compaction has summarized gives its score to
//               its summary (retrieval prefers summaries for old periods).
//   entity   -> an entity's facts (each with the event it came from), its
//               recent events and summaries
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "core/result.h"
#include "memory/embedder.h"
#include "memory/vector_index.h"
#include "store/memory_store.h"

namespace cadre {

struct SearchRequest {
  std::string query;
  MemoryFilter filter;
  int limit = 10;
  bool prefer_summaries = true;  // false: raw events even where a summary covers them
};

struct SearchHit {
  int64_t label = 0;
  std::string kind;                   // "event" or "summary"
  std::string id;
  std::string text;
  double score = 0;
  TimeMs at = 0;                      // summaries: the end of their period
  std::string type;                   // events' type; "summary"
  std::string scope;
  std::vector<std::string> entities;  // summaries: their subject when it is an entity
  Json source;                        // where it came from (provenance, or a summary's events)
  Json matched = Json::object();      // retriever -> rank (1 = best); "via": events folded in
};
Json to_json(const SearchHit& hit);

struct SearchResult {
  std::vector<SearchHit> hits;        // best first
  std::vector<std::string> warnings;  // a retriever that could not run, and why
};

struct MemoryOptions {
  std::filesystem::path index_file;   // the saved vector index; "" keeps it in memory
  double recency_weight = 0.2;
  DurationMs recency_half_life = 30LL * 24 * 3600 * 1000;
  int candidates = 50;                // per retriever, before fusion
  // How much a rank in the vector list counts next to one in the lexical
  // and key lists: the built-in embedder only sees shared word stems, so
  // its neighbours are weaker evidence than a model's.
  double vector_weight = 1.0;
};

// An entity key is KIND:NAME: KIND in [a-z0-9_-], NAME non-empty without
// spaces; both at most 128 bytes.
bool is_entity_key(std::string_view key);

// The scopes an agent reads and writes: those it declares, or "shared".
std::vector<std::string> agent_scopes(const std::vector<std::string>& declared);

// Checks an event an operator or agent asks to record; errors name the field.
Status validate_event(const MemoryEvent& event);

class Memory {
 public:
  Memory(MemoryStore& store, std::unique_ptr<Embedder> embedder, MemoryOptions options, const Clock& clock);

  // Validates and appends events (ids and times filled in when empty); the
  // returned events carry their seq. Vectors are made by index_pending().
  Result<std::vector<MemoryEvent>> record(std::vector<MemoryEvent> events);

  // Embeds every document without a vector (in batches), stores the
  // vectors and adds them to the index. A model failure may set
  // *retry_after; what was stored before it stays.
  Status index_pending(DurationMs* retry_after = nullptr);

  // Brings the index up to date (index_pending), then searches.
  Result<SearchResult> search(const SearchRequest& request);

  // Entity keys the text names: keys written out (customer:acme) and known
  // entities whose slug is one of its words or pairs of words.
  Result<std::vector<std::string>> entities_named_in(std::string_view text);

  // {key, kind, slug, first_at, last_at, events, facts: [{name, value,
  // event, at}], recent: [events], summaries: [...]}; NotFound if unknown.
  Result<Json> entity(const std::string& key, int recent);

  // Rebuilds every derived index from the log: entities, facts, full text,
  // vectors (embedded again) and the saved vector index.
  Status reindex();

  MemoryStore& store() { return store_; }
  const Clock& clock() const { return clock_; }
  const std::string& embedder_id() const { return embedder_id_; }

 private:
  // The words worth searching for: without duplicates and words too common.
  Result<std::vector<std::string>> telling_words(std::vector<std::string> words);
  Result<std::vector<RankedLabel>> lexical(const SearchRequest& request);
  Result<std::vector<RankedLabel>> vector(const SearchRequest& request);
  Result<std::vector<RankedLabel>> by_key(const SearchRequest& request, const std::vector<std::string>& named);
  Result<VectorIndex*> index();

  MemoryStore& store_;
  std::unique_ptr<Embedder> embedder_;
  std::string embedder_id_;
  MemoryOptions options_;
  const Clock& clock_;
  std::mutex index_mutex_;  // opening the index and index_pending
  std::unique_ptr<VectorIndex> index_;
};

// The memory of a workspace as configured: the embed tier when configured
// (or asked for), else the built-in embedder; the index saved under
// `state_dir` (the workspace's .cadre/).
Result<std::unique_ptr<Memory>> open_memory(MemoryStore& store, const MemoryConfig& config,
                                            ModelGateway* gateway, const std::filesystem::path& state_dir,
                                            const Clock& clock);

}  // namespace cadre
