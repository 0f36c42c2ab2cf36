// MemoryStore: the durable part of memory (see src/memory/). The event log
// is the canonical truth; entities, facts, the full-text index and stored
// vectors are derived from it in the same transaction or later, and can be
// rebuilt from it (rebuild_derived). Summaries are written by compaction and
// keep links to the events they summarize.
//
// Documents (what retrieval ranks) are events and summaries. Each has a
// numeric label, unique across both: an event's label is its seq; a
// summary's is kSummaryLabelBit | its seq.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/json.h"
#include "core/result.h"

namespace cadre {

inline constexpr int64_t kSummaryLabelBit = int64_t{1} << 62;
inline bool is_summary_label(int64_t label) { return (label & kSummaryLabelBit) != 0; }

struct MemoryEvent {
  int64_t seq = 0;                    // assigned by the store: order of append
  std::string id;                     // "mem_..."; appending an id again does nothing
  std::string type = "note";          // note, outcome, email, ...
  std::string text;
  Json data = Json::object();
  Json facts = Json::object();        // name -> value, merged into each of `entities`
  std::string scope = "shared";       // "shared" or a scope an agent names
  std::vector<std::string> entities;  // "customer:acme"
  TimeMs at = 0;                      // when it happened
  // Provenance: the step that wrote it, or who did (operator, kernel).
  std::string task_id;
  int step_seq = 0;
  std::string actor;                  // "operator", "agent:NAME", "kernel"
};
Json to_json(const MemoryEvent& event);

struct EntityFact {
  std::string name;
  Json value;
  std::string event_id;  // the event it came from (the latest that set it)
  TimeMs at = 0;
};

struct EntityRecord {
  std::string key;       // "customer:acme"
  std::string kind;      // "customer"
  std::string slug;      // "acme": how the entity is named in plain text
  TimeMs first_at = 0;
  TimeMs last_at = 0;
  int64_t events = 0;
  std::vector<EntityFact> facts;  // by name
};
Json to_json(const EntityRecord& entity);

struct MemorySummary {
  int64_t seq = 0;                   // assigned by the store
  std::string id;                    // deterministic: subject + period + sources
  std::string subject;               // an entity key, or "scope:NAME"
  std::string scope;
  TimeMs period_start = 0;           // [start, end) of the events it covers
  TimeMs period_end = 0;
  std::string text;
  std::vector<std::string> sources;  // event ids, oldest first
  std::string method;                // "extractive" or the model that wrote it
  std::string task_id;               // the compaction task
  TimeMs created_at = 0;
};
Json to_json(const MemorySummary& summary);

// Conditions every returned document meets; empty means any.
struct MemoryFilter {
  std::vector<std::string> entities;  // mentions at least one
  std::vector<std::string> scopes;
  std::vector<std::string> types;     // events only; summaries have type "summary"
  TimeMs since = 0;                   // at >= since (summaries: period_end > since)
  TimeMs until = 0;                   // at < until (summaries: period_start < until); 0: no bound
};

struct RankedLabel {
  int64_t label = 0;
  double score = 0;  // higher is better
};

struct StoredVector {
  int64_t vseq = 0;    // order in which vectors were stored
  int64_t label = 0;
  std::vector<float> values;
};

// What made the stored vectors ("" when none are stored); the generation
// grows each time the stored vectors are dropped, so an index built from
// older vectors knows to start over.
struct VectorState {
  std::string embedder;
  int64_t generation = 0;
};

// A document without a stored vector yet.
struct PendingDoc {
  int64_t label = 0;
  std::string text;
};

// Events older than a cutoff that no summary covers yet, grouped by subject
// (each entity of an event, or its scope when it names none), scope and
// period: a summary never mixes what different scopes may read.
struct CompactionGroup {
  std::string subject;
  std::string scope;
  TimeMs period_start = 0;
  TimeMs period_end = 0;
  std::vector<std::string> event_ids;  // oldest first
};

class MemoryStore {
 public:
  virtual ~MemoryStore() = default;

  // Appends events in one transaction, in order, and fills in their seq.
  // An event whose id exists already is not appended again (its stored seq
  // is filled in). Entities, facts (a fact is replaced only by a newer
  // event) and the full-text index are updated in the same transaction.
  // Returns how many were new.
  virtual Result<int> append_events(std::vector<MemoryEvent>& events) = 0;

  virtual Result<std::optional<MemoryEvent>> find_event(const std::string& id) = 0;
  // Events by label (seq), in the order asked; missing ones are skipped.
  virtual Result<std::vector<MemoryEvent>> events_by_seq(const std::vector<int64_t>& seqs) = 0;
  // The newest events meeting `filter`, newest first.
  virtual Result<std::vector<MemoryEvent>> recent_events(const MemoryFilter& filter, int limit) = 0;
  virtual Result<int64_t> event_count() = 0;

  virtual Result<std::optional<EntityRecord>> get_entity(const std::string& key) = 0;
  // Keys of entities whose slug is one of `slugs` (lower case).
  virtual Result<std::vector<std::string>> entities_by_slug(const std::vector<std::string>& slugs) = 0;

  // Full-text search (FTS5, BM25) over events and summaries meeting
  // `filter`; `query` is an FTS5 query expression. Best first.
  virtual Result<std::vector<RankedLabel>> lexical_search(const std::string& query, const MemoryFilter& filter,
                                                          int limit) = 0;

  // How many events contain each of `terms` (plain words; the full-text
  // index's stemmer applies), for leaving out words too common to tell
  // events apart. Counting stops past `at_most` (at_most + 1 is returned
  // then), so a common word costs no more than a rare one. Counts are
  // cached and may lag appends by up to a tenth.
  virtual Result<std::vector<int64_t>> event_frequencies(const std::vector<std::string>& terms,
                                                         int64_t at_most) = 0;

  // --- summaries ---
  // Writes a summary and its links in one transaction; a summary with the
  // same id exists already: nothing happens. A summary of the same subject,
  // scope and period replaces the older one (its sources are a subset).
  virtual Status put_summary(MemorySummary& summary) = 0;
  virtual Result<std::vector<MemorySummary>> summaries_by_seq(const std::vector<int64_t>& seqs) = 0;
  virtual Result<std::vector<MemorySummary>> summaries_of(const std::string& subject, int limit) = 0;
  // For each event seq covered by a summary: the seq of the newest summary
  // covering it. Pairs (event seq, summary seq).
  virtual Result<std::vector<std::pair<int64_t, int64_t>>> covering_summaries(const std::vector<int64_t>& seqs) = 0;
  // Uncompacted events with at < before, grouped; periods are UTC weeks
  // starting Monday. At most `max_groups` groups, oldest periods first.
  virtual Result<std::vector<CompactionGroup>> compaction_groups(TimeMs before, int max_groups) = 0;

  // --- vectors (derived; `embedder` names what made them) ---
  virtual Result<VectorState> vector_state() = 0;
  // Documents appended since the last put_vectors, oldest first.
  virtual Result<std::vector<PendingDoc>> docs_without_vectors(int limit) = 0;
  // Stores vectors for documents (and moves the "without vectors" mark past
  // them); a different embedder than the stored one first drops every
  // stored vector (a new generation). Empty `vectors` with a new embedder
  // just drops them.
  virtual Status put_vectors(const std::string& embedder, const std::vector<StoredVector>& vectors) = 0;
  // Stored vectors with vseq > after, by vseq.
  virtual Result<std::vector<StoredVector>> vectors_after(int64_t after, int limit) = 0;

  // Rebuilds entities, facts and the full-text index from the events and
  // summaries, and drops every stored vector (a new generation; they are
  // made again).
  virtual Status rebuild_derived() = 0;
};

}  // namespace cadre
