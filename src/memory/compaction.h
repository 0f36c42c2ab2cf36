// Compaction: old events are summarized, per subject (each entity an event
// names, or its scope when it names none) and per UTC week, into summary
// documents that keep links to the events they cover. Raw events are kept;
// retrieval prefers the summaries for those periods.
//
// It runs as an ordinary kernel task (kind memory_compact), so it is
// journaled and resumes exactly after a crash:
//   memory.groups   -> which (subject, week) groups are due (journaled once)
//   model.small     -> per group, the summary text from the `small` tier;
//                      without one (or when it keeps failing), an
//                      extractive summary made from the events themselves
//   memory.summary  -> per group, the summary and its links, written in one
//                      transaction under an id derived from the group, so
//                      writing it again changes nothing
//
// Thread-safety: the handler may run on several workers at once.
#pragma once

#include <string>
#include <vector>

#include "kernel/task_handler.h"
#include "memory/memory.h"
#include "policy/policy.h"
#include "store/store.h"

namespace cadre {

class ModelGateway;

inline constexpr char kCompactionTaskKind[] = "memory_compact";

struct CompactionOptions {
  DurationMs older_than = 30LL * 24 * 3600 * 1000;
  int max_groups = 200;
  size_t max_summary_chars = 1200;
};

// A summary made without a model: the group's most representative
// sentences (those sharing most content words with the rest), in time
// order, within max_chars, then the facts the events set.
std::string extractive_summary(const std::vector<MemoryEvent>& events, size_t max_chars);

class CompactionHandler final : public TaskHandler {
 public:
  // `gateway` may be null: every summary is extractive. With `policy`, each
  // model call passes the policy gate first (denied: the summary is extractive).
  CompactionHandler(Memory& memory, ModelGateway* gateway, CompactionOptions options,
                    const Policy* policy = nullptr, Store* store = nullptr);
  Result<Json> run(TaskContext& context) override;

 private:
  Result<std::pair<std::string, std::string>> summarize(TaskContext& context, const CompactionGroup& group,
                                                        const std::vector<MemoryEvent>& events);
  Memory& memory_;
  ModelGateway* gateway_;
  CompactionOptions options_;
  const Policy* policy_;
  Store* store_;
};

// Starts a compaction objective (owner "memory", one memory_compact task);
// false when `dedupe_key` already started one.
Result<bool> start_compaction(Store& store, const std::string& objective_id, const std::string& source,
                              const std::string& dedupe_key, TimeMs now);

}  // namespace cadre
