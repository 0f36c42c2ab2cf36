// SqliteMemoryStore: the MemoryStore of the SQLite backend (tables of schema
// version 3, see schema.cpp). It shares its SqliteStore's writer, so memory
// writes are group-committed with the kernel's, and reads on the store's
// pool of read connections, each inside one read transaction (a consistent
// snapshot).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "store/memory_store.h"
#include "store/sqlite/group_commit_writer.h"
#include "store/sqlite/sqlite_db.h"

namespace cadre {

class SqliteMemoryStore final : public MemoryStore {
 public:
  // Runs `fn` on a borrowed read connection and returns what it returned.
  using Reader = std::function<Status(const std::function<Status(SqliteDb&)>& fn)>;

  // `writer` must outlive this object; `reader` borrows read connections.
  SqliteMemoryStore(GroupCommitWriter& writer, Reader reader);
  ~SqliteMemoryStore() override;

  Result<int> append_events(std::vector<MemoryEvent>& events) override;
  Result<std::optional<MemoryEvent>> find_event(const std::string& id) override;
  Result<std::vector<MemoryEvent>> events_by_seq(const std::vector<int64_t>& seqs) override;
  Result<std::vector<MemoryEvent>> recent_events(const MemoryFilter& filter, int limit) override;
  Result<int64_t> event_count() override;

  Result<std::optional<EntityRecord>> get_entity(const std::string& key) override;
  Result<std::vector<std::string>> entities_by_slug(const std::vector<std::string>& slugs) override;

  Result<std::vector<RankedLabel>> lexical_search(const std::string& query,
                                                  const MemoryFilter& filter, int limit) override;
  Result<std::vector<int64_t>> event_frequencies(const std::vector<std::string>& terms,
                                                 int64_t at_most) override;

  Status put_summary(MemorySummary& summary) override;
  Result<std::vector<MemorySummary>> summaries_by_seq(const std::vector<int64_t>& seqs) override;
  Result<std::vector<MemorySummary>> summaries_of(const std::string& subject, int limit) override;
  Result<std::vector<std::pair<int64_t, int64_t>>> covering_summaries(
      const std::vector<int64_t>& seqs) override;
  Result<std::vector<CompactionGroup>> compaction_groups(TimeMs before, int max_groups) override;

  Result<VectorState> vector_state() override;
  Result<std::vector<PendingDoc>> docs_without_vectors(int limit) override;
  Status put_vectors(const std::string& embedder,
                     const std::vector<StoredVector>& vectors) override;
  Result<std::vector<StoredVector>> vectors_after(int64_t after, int limit) override;

  Status rebuild_derived() override;

  // Sets up a new read connection: registers the ranking function that
  // lexical_search uses (bound to this object, which must outlive it).
  Status prepare_reader(SqliteDb& db);

 private:
  struct Ranker;

  // Runs `fn` in one read transaction on a borrowed connection.
  template <typename T>
  Result<T> read(const std::function<Result<T>(SqliteDb&)>& fn);

  // Refreshes the ranker's document lengths up to what `db` sees.
  Status load_lengths(SqliteDb& db);
  Result<std::vector<RankedLabel>> search_events(SqliteDb& db, const std::string& query,
                                                 const MemoryFilter& filter, int limit);

  GroupCommitWriter& writer_;
  Reader reader_;
  std::unique_ptr<Ranker> ranker_;
  struct Frequency {
    int64_t count = 0;     // events containing the term, or capped + 1
    int64_t capped = 0;    // the at_most it was counted with
    int64_t events = 0;    // events there were then
  };
  std::mutex frequencies_mutex_;
  std::unordered_map<std::string, Frequency> frequencies_;
};

}  // namespace cadre
