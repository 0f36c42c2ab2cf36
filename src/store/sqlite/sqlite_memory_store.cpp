#include "store/sqlite/sqlite_memory_store.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <tuple>

namespace cadre {
namespace {

#define PREPARE(var, db, sql) CADRE_ASSIGN_OR_RETURN(auto var, (db).prepare(sql))

constexpr TimeMs kDayMs = 24 * 3600 * 1000;
constexpr TimeMs kWeekMs = 7 * kDayMs;
constexpr TimeMs kNoUpperBound = std::numeric_limits<TimeMs>::max();

// memory_event_entities is kept in buckets of 2^13 events by seq (schema.cpp).
constexpr int kBucketBits = 13;
#define BUCKET_BITS "13"
int64_t bucket_of(int64_t seq) {
  return seq >> kBucketBits;
}

static_assert(
    std::endian::native == std::endian::little,
    "memory_vectors.vec is stored as the host's float32 bytes, which must be little-endian");

#define EVENT_COLUMNS                                                                    \
  "e.seq, e.id, e.type, e.text, e.data, e.facts, e.scope, e.entities, e.at, e.task_id, " \
  "e.step_seq, e.actor"
#define SUMMARY_COLUMNS                                                                          \
  "s.seq, s.id, s.subject, s.scope, s.period_start, s.period_end, s.text, s.sources, s.method, " \
  "s.task_id, s.created_at"

std::vector<std::string> strings_of(const Json& array) {
  std::vector<std::string> out;
  if (!array.is_array()) return out;
  for (const auto& v : array)
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

MemoryEvent event_from_row(const Stmt& s) {
  MemoryEvent e;
  e.seq = s.int_at(0);
  e.id = s.text_at(1);
  e.type = s.text_at(2);
  e.text = s.text_at(3);
  e.data = s.json_at(4);
  e.facts = s.json_at(5);
  e.scope = s.text_at(6);
  e.entities = strings_of(s.json_at(7));
  e.at = s.int_at(8);
  e.task_id = s.text_at(9);
  e.step_seq = static_cast<int>(s.int_at(10));
  e.actor = s.text_at(11);
  return e;
}

MemorySummary summary_from_row(const Stmt& s) {
  MemorySummary m;
  m.seq = s.int_at(0);
  m.id = s.text_at(1);
  m.subject = s.text_at(2);
  m.scope = s.text_at(3);
  m.period_start = s.int_at(4);
  m.period_end = s.int_at(5);
  m.text = s.text_at(6);
  m.sources = strings_of(s.json_at(7));
  m.method = s.text_at(8);
  m.task_id = s.text_at(9);
  m.created_at = s.int_at(10);
  return m;
}

// A list filter as a statement parameter: a JSON array read with
// json_each(), or NULL (no condition) when empty. One statement text then
// serves every list length.
Json list_param(const std::vector<std::string>& values) {
  return values.empty() ? Json(nullptr) : Json(values);
}

TimeMs upper_bound_of(TimeMs until) {
  return until > 0 ? until : kNoUpperBound;
}

// The Monday 00:00 UTC starting the week `t` falls in (1970-01-05 was a Monday).
TimeMs week_start(TimeMs t) {
  constexpr TimeMs kFirstMonday = 4 * kDayMs;
  TimeMs into_week = (t - kFirstMonday) % kWeekMs;
  if (into_week < 0) into_week += kWeekMs;
  return t - into_week;
}

// "customer:Acme Corp" -> kind "customer", slug "acme corp" (ASCII lower
// case, as SQL lower() does). A key without ':' has an empty kind.
void split_entity(std::string_view key, std::string* kind, std::string* slug) {
  size_t colon = key.find(':');
  kind->assign(colon == std::string_view::npos ? std::string_view() : key.substr(0, colon));
  slug->assign(colon == std::string_view::npos ? key : key.substr(colon + 1));
  for (char& c : *slug)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
}

int64_t summary_label(int64_t seq) {
  return kSummaryLabelBit | seq;
}

// What an event contributes to the derived tables, computed before the
// writer's turn so that its thread only writes.
struct Derived {
  std::vector<std::string> entities;                       // without duplicates, in order
  std::vector<std::pair<std::string, std::string>> facts;  // name -> value as JSON text
};

Derived derive(const std::vector<std::string>& entities, const Json& facts) {
  Derived d;
  for (const auto& key : entities)
    if (std::find(d.entities.begin(), d.entities.end(), key) == d.entities.end())
      d.entities.push_back(key);
  if (facts.is_object())
    for (const auto& [name, value] : facts.items()) d.facts.emplace_back(name, dump_json(value));
  return d;
}

// What a run of events (one append, or a rebuild) contributes to the
// derived tables. An event's entity links are written at once; entity
// counts and facts are gathered and written once per entity and fact when
// flushed, so that a busy entity costs one row update per call, not one
// per event. A fact is replaced only by an event that happened at the same
// time or later (ties: the later seq), so appending an old event never
// undoes news; applying the best of a run at flush gives the same result
// as applying each event in turn.
class DerivedWriter {
 public:
  Status add(SqliteDb& db, int64_t seq, TimeMs at, const Derived& d) {
    auto& [oldest, newest] = buckets_.try_emplace(bucket_of(seq), at, at).first->second;
    oldest = std::min(oldest, at);
    newest = std::max(newest, at);
    for (const auto& key : d.entities) {
      {
        PREPARE(
            link, db,
            "INSERT INTO memory_event_entities (bucket, entity, at, seq) VALUES (?1, ?2, ?3, ?4)");
        link->bind(1, bucket_of(seq)).bind(2, key).bind(3, at).bind(4, seq);
        CADRE_RETURN_IF_ERROR(link->run());
      }
      auto [entity, added] = entities_.try_emplace(key, EntityDelta{at, at, 0});
      entity->second.first_at = std::min(entity->second.first_at, at);
      entity->second.last_at = std::max(entity->second.last_at, at);
      entity->second.events += 1;
      for (const auto& [name, value] : d.facts) {
        auto [fact, fresh] = facts_.try_emplace({key, name}, FactValue{value, seq, at});
        if (!fresh && std::tie(at, seq) > std::tie(fact->second.at, fact->second.seq))
          fact->second = FactValue{value, seq, at};
      }
    }
    return Status::Ok();
  }

  // An UPDATE first, then an INSERT only for what is new: a row that
  // exists costs one lookup instead of an upsert's two.
  Status flush(SqliteDb& db) {
    std::string kind, slug;
    for (const auto& [key, delta] : entities_) {
      {
        PREPARE(
            update, db,
            "UPDATE memory_entities SET first_at = min(first_at, ?2), last_at = max(last_at, ?3), "
            "events = events + ?4 WHERE key = ?1");
        update->bind(1, key).bind(2, delta.first_at).bind(3, delta.last_at).bind(4, delta.events);
        CADRE_RETURN_IF_ERROR(update->run());
      }
      if (db.changes() > 0) continue;
      split_entity(key, &kind, &slug);
      PREPARE(insert, db,
              "INSERT INTO memory_entities (key, kind, slug, first_at, last_at, events) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
      insert->bind(1, key).bind(2, kind).bind(3, slug).bind(4, delta.first_at);
      insert->bind(5, delta.last_at).bind(6, delta.events);
      CADRE_RETURN_IF_ERROR(insert->run());
    }
    for (const auto& [key, fact] : facts_) {
      {
        PREPARE(update, db,
                "UPDATE memory_facts SET value = ?3, event_seq = ?4, at = ?5 WHERE entity = ?1 AND "
                "name = ?2 AND (at < ?5 OR (at = ?5 AND event_seq < ?4))");
        update->bind(1, key.first).bind(2, key.second).bind(3, fact.value).bind(4, fact.seq);
        update->bind(5, fact.at);
        CADRE_RETURN_IF_ERROR(update->run());
      }
      if (db.changes() > 0) continue;
      PREPARE(insert, db,
              "INSERT INTO memory_facts (entity, name, value, event_seq, at) VALUES (?1, ?2, ?3, "
              "?4, ?5) "
              "ON CONFLICT (entity, name) DO NOTHING");  // it exists, and is newer
      insert->bind(1, key.first).bind(2, key.second).bind(3, fact.value).bind(4, fact.seq);
      insert->bind(5, fact.at);
      CADRE_RETURN_IF_ERROR(insert->run());
    }
    for (const auto& [bucket, range] : buckets_) {
      PREPARE(put, db,
              "INSERT INTO memory_event_buckets (bucket, min_at, max_at) VALUES (?1, ?2, ?3) "
              "ON CONFLICT (bucket) DO UPDATE SET min_at = min(min_at, excluded.min_at), "
              "max_at = max(max_at, excluded.max_at)");
      put->bind(1, bucket).bind(2, range.first).bind(3, range.second);
      CADRE_RETURN_IF_ERROR(put->run());
    }
    entities_.clear();
    facts_.clear();
    buckets_.clear();
    return Status::Ok();
  }

  size_t pending() const { return entities_.size() + facts_.size(); }

 private:
  struct EntityDelta {
    TimeMs first_at = 0;
    TimeMs last_at = 0;
    int64_t events = 0;
  };
  struct FactValue {
    std::string value;  // JSON text
    int64_t seq = 0;
    TimeMs at = 0;
  };
  std::map<std::string, EntityDelta> entities_;
  std::map<std::pair<std::string, std::string>, FactValue> facts_;
  std::map<int64_t, std::pair<TimeMs, TimeMs>> buckets_;  // bucket -> time range of its events
};

// --- memory_meta ---

Result<int64_t> meta_int(SqliteDb& db, std::string_view key) {
  PREPARE(sel, db, "SELECT value FROM memory_meta WHERE key = ?1");
  sel->bind(1, key);
  CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
  return row ? sel->int_at(0) : 0;
}

Result<std::string> meta_text(SqliteDb& db, std::string_view key) {
  PREPARE(sel, db, "SELECT value FROM memory_meta WHERE key = ?1");
  sel->bind(1, key);
  CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
  return row ? sel->text_at(0) : std::string();
}

template <typename V>
Status set_meta(SqliteDb& db, std::string_view key, const V& value) {
  PREPARE(put, db,
          "INSERT INTO memory_meta (key, value) VALUES (?1, ?2) "
          "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  put->bind(1, key).bind(2, value);
  return put->run();
}

// Drops every stored vector: a new generation, nothing made by any embedder.
Status drop_vectors(SqliteDb& db) {
  CADRE_RETURN_IF_ERROR(db.run("DELETE FROM memory_vectors"));
  CADRE_ASSIGN_OR_RETURN(int64_t generation, meta_int(db, "vector_generation"));
  CADRE_RETURN_IF_ERROR(set_meta(db, "vector_generation", generation + 1));
  CADRE_RETURN_IF_ERROR(set_meta(db, "vector_embedder", std::string()));
  CADRE_RETURN_IF_ERROR(set_meta(db, "vector_event_mark", int64_t{0}));
  return set_meta(db, "vector_summary_mark", int64_t{0});
}

// A statement outside the connection's cache, for the BLOB column (Stmt
// binds and reads text, numbers and JSON only). Vectors move in batches, so
// preparing once per batch costs little.
class BlobStatement {
 public:
  static Result<BlobStatement> prepare(SqliteDb& db, const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db.handle(), sql, -1, &stmt, nullptr);
    if (rc != SQLITE_OK) return sqlite_status(rc, db.handle(), "cannot prepare statement");
    return BlobStatement(db.handle(), stmt);
  }
  BlobStatement(BlobStatement&& other) noexcept
      : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}
  BlobStatement(const BlobStatement&) = delete;
  BlobStatement& operator=(const BlobStatement&) = delete;
  BlobStatement& operator=(BlobStatement&&) = delete;
  ~BlobStatement() { sqlite3_finalize(stmt_); }

  sqlite3_stmt* get() { return stmt_; }
  Result<bool> step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return sqlite_status(rc, db_, "database statement failed");
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

 private:
  BlobStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

// Takes out a summary with everything derived from it: its full-text entry
// (external content needs the old text to delete it), links and vector.
Status remove_summary(SqliteDb& db, int64_t seq, const std::string& text) {
  {
    PREPARE(fts, db,
            "INSERT INTO memory_summaries_fts (memory_summaries_fts, rowid, text) "
            "VALUES ('delete', ?1, ?2)");
    fts->bind(1, seq).bind(2, text);
    CADRE_RETURN_IF_ERROR(fts->run());
  }
  {
    PREPARE(links, db, "DELETE FROM memory_summary_sources WHERE summary_seq = ?1");
    links->bind(1, seq);
    CADRE_RETURN_IF_ERROR(links->run());
  }
  {
    PREPARE(vector, db, "DELETE FROM memory_vectors WHERE label = ?1");
    vector->bind(1, summary_label(seq));
    CADRE_RETURN_IF_ERROR(vector->run());
  }
  PREPARE(del, db, "DELETE FROM memory_summaries WHERE seq = ?1");
  del->bind(1, seq);
  return del->run();
}

// Steps a full-text query. A malformed query fails only when stepped, as
// a plain SQLite error: that is the caller's query, not a broken database,
// so it comes back as InvalidArgument.
Result<bool> step_ranked(Stmt& stmt, const std::string& query) {
  auto row = stmt.step();
  if (!row.ok() && row.status().is(StatusCode::kInternal))
    return Status::InvalidArgument("query '" + query + "': " + row.status().message());
  return row;
}

// Conditions of a MemoryFilter on an event row `e`: ?2 entities, ?3 scopes,
// ?4 types (JSON arrays or NULL), ?5 since, ?6 until.
#define EVENT_FILTERS                                                 \
  "(?2 IS NULL OR EXISTS (SELECT 1 FROM memory_event_entities x "     \
  "WHERE x.bucket = e.seq >> " BUCKET_BITS                            \
  " AND x.entity IN (SELECT value FROM json_each(?2)) "               \
  "AND x.at = e.at AND x.seq = e.seq)) "                              \
  "AND (?3 IS NULL OR e.scope IN (SELECT value FROM json_each(?3))) " \
  "AND (?4 IS NULL OR e.type IN (SELECT value FROM json_each(?4))) "  \
  "AND e.at >= ?5 AND e.at < ?6"

void bind_event_filters(Stmt& stmt, const MemoryFilter& filter) {
  stmt.bind(2, list_param(filter.entities)).bind(3, list_param(filter.scopes));
  stmt.bind(4, list_param(filter.types))
      .bind(5, filter.since)
      .bind(6, upper_bound_of(filter.until));
}

// A length as FTS5 stores it in its docsize table: an SQLite varint.
uint64_t read_varint(std::string_view bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < bytes.size() && i < 9; ++i) {
    auto byte = static_cast<uint8_t>(bytes[i]);
    if (i == 8) return (value << 8) | byte;
    value = (value << 7) | (byte & 0x7f);
    if ((byte & 0x80) == 0) break;
  }
  return value;
}

// What the ranking function computes once per query: FTS5 keeps it with
// the query (xSetAuxdata).
struct QueryStats {
  double average_length = 1;
  std::vector<double> idf;        // by phrase
  std::vector<double> frequency;  // by phrase, for the row being ranked
};

int count_hit(const Fts5ExtensionApi*, Fts5Context*, void* hits) {
  ++*static_cast<int64_t*>(hits);
  return SQLITE_OK;
}

// cadre_event_bm25(memory_events_fts): exactly what FTS5's bm25() gives
// (k1 = 1.2, b = 0.75, one column; same IDF, same sign: lower is better),
// except that a document's length comes from the array of lengths given
// as user data when it is known there. bm25() reads it from the docsize
// table with one statement per matching row, which was 80% of a search
// over a million events. The caller holds the lengths' lock (shared).
void event_bm25(const Fts5ExtensionApi* api, Fts5Context* fts, sqlite3_context* context, int,
                sqlite3_value**) {
  constexpr double k1 = 1.2;
  constexpr double b = 0.75;
  auto* stats = static_cast<QueryStats*>(api->xGetAuxdata(fts, 0));
  if (!stats) {
    auto fresh = std::make_unique<QueryStats>();
    sqlite3_int64 rows = 0, tokens = 0;
    int rc = api->xRowCount(fts, &rows);
    if (rc == SQLITE_OK) rc = api->xColumnTotalSize(fts, -1, &tokens);
    if (rows > 0) fresh->average_length = static_cast<double>(tokens) / static_cast<double>(rows);
    int phrases = api->xPhraseCount(fts);
    for (int p = 0; rc == SQLITE_OK && p < phrases; ++p) {
      int64_t hits = 0;
      rc = api->xQueryPhrase(fts, p, &hits, count_hit);
      double idf =
          std::log((static_cast<double>(rows - hits) + 0.5) / (static_cast<double>(hits) + 0.5));
      fresh->idf.push_back(idf > 0 ? idf : 1e-6);
    }
    if (rc != SQLITE_OK) {
      sqlite3_result_error_code(context, rc);
      return;
    }
    fresh->frequency.resize(fresh->idf.size());
    stats = fresh.get();
    rc =
        api->xSetAuxdata(fts, fresh.release(), [](void* p) { delete static_cast<QueryStats*>(p); });
    if (rc != SQLITE_OK) {
      sqlite3_result_error_code(context, rc);
      return;
    }
  }
  std::fill(stats->frequency.begin(), stats->frequency.end(), 0.0);
  int instances = 0;
  int rc = api->xInstCount(fts, &instances);
  for (int i = 0; rc == SQLITE_OK && i < instances; ++i) {
    int phrase = 0, column = 0, offset = 0;
    rc = api->xInst(fts, i, &phrase, &column, &offset);
    if (rc == SQLITE_OK) stats->frequency[static_cast<size_t>(phrase)] += 1;
  }
  const auto& lengths = *static_cast<const std::vector<uint16_t>*>(api->xUserData(fts));
  sqlite3_int64 row = api->xRowid(fts);
  int length = 0;
  if (row > 0 && static_cast<uint64_t>(row) < lengths.size())
    length = lengths[static_cast<size_t>(row)];
  if (rc == SQLITE_OK && length == 0) rc = api->xColumnSize(fts, -1, &length);
  if (rc != SQLITE_OK) {
    sqlite3_result_error_code(context, rc);
    return;
  }
  double norm = k1 * (1 - b + b * length / stats->average_length);
  double score = 0;
  for (size_t p = 0; p < stats->idf.size(); ++p) {
    double f = stats->frequency[p];
    score += stats->idf[p] * (f * (k1 + 1)) / (f + norm);
  }
  sqlite3_result_double(context, -score);
}

}  // namespace

template <typename T>
Result<T> SqliteMemoryStore::read(const std::function<Result<T>(SqliteDb&)>& fn) {
  std::optional<Result<T>> result;
  Status s = reader_([&](SqliteDb& db) -> Status {
    CADRE_RETURN_IF_ERROR(db.run("BEGIN"));
    result.emplace(fn(db));
    Status end = db.run("COMMIT");
    if (!end.ok()) (void)db.run("ROLLBACK");
    return result->ok() ? end : result->status();
  });
  if (!result || (result->ok() && !s.ok()))
    return s.ok() ? Status::Internal("read did not run") : s;
  return std::move(*result);
}

// Document lengths (in tokens) of events by seq, for event_bm25. An event's
// text never changes, so a length once loaded stays true; each search first
// loads those of events appended since the last one.
struct SqliteMemoryStore::Ranker {
  std::shared_mutex mutex;        // shared while a search ranks, exclusive to grow
  std::vector<uint16_t> lengths;  // 0: not loaded (or too long): FTS5 looks it up
  int64_t loaded = 0;             // the highest seq loaded
};

SqliteMemoryStore::SqliteMemoryStore(GroupCommitWriter& writer, Reader reader)
    : writer_(writer), reader_(std::move(reader)), ranker_(std::make_unique<Ranker>()) {}

SqliteMemoryStore::~SqliteMemoryStore() = default;

Status SqliteMemoryStore::prepare_reader(SqliteDb& db) {
  fts5_api* api = nullptr;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db.handle(), "SELECT fts5(?1)", -1, &stmt, nullptr) == SQLITE_OK) {
    sqlite3_bind_pointer(stmt, 1, &api, "fts5_api_ptr", nullptr);
    (void)sqlite3_step(stmt);
  }
  sqlite3_finalize(stmt);
  if (!api)
    return Status::Internal("this SQLite library was built without FTS5, which memory needs");
  int rc = api->xCreateFunction(api, "cadre_event_bm25", &ranker_->lengths, &event_bm25, nullptr);
  return sqlite_status(rc, db.handle(), "cannot register the memory ranking function");
}

Status SqliteMemoryStore::load_lengths(SqliteDb& db) {
  int64_t loaded = 0;
  {
    std::shared_lock lock(ranker_->mutex);
    loaded = ranker_->loaded;
  }
  std::vector<std::pair<int64_t, uint64_t>> fresh;
  {
    PREPARE(sel, db, "SELECT id, sz FROM memory_events_fts_docsize WHERE id > ?1 ORDER BY id");
    sel->bind(1, loaded);
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
      if (!row) break;
      fresh.emplace_back(sel->int_at(0), read_varint(sel->text_at(1)));  // a BLOB, read as bytes
    }
  }
  if (fresh.empty()) return Status::Ok();
  std::unique_lock lock(ranker_->mutex);
  auto& lengths = ranker_->lengths;
  if (static_cast<uint64_t>(fresh.back().first) >= lengths.size())
    lengths.resize(static_cast<size_t>(fresh.back().first) + 1);
  for (const auto& [seq, length] : fresh) {
    if (seq <= ranker_->loaded || seq <= 0) continue;  // another search loaded it meanwhile
    lengths[static_cast<size_t>(seq)] = length < 0xffff ? static_cast<uint16_t>(length) : 0;
  }
  ranker_->loaded = std::max(ranker_->loaded, fresh.back().first);
  return Status::Ok();
}

// --- events ---

Result<int> SqliteMemoryStore::append_events(std::vector<MemoryEvent>& events) {
  struct Row {
    std::string data, facts, entities;
    Derived derived;
  };
  std::vector<Row> rows;
  rows.reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    const MemoryEvent& e = events[i];
    auto invalid = [&](std::string_view field, std::string_view problem) {
      return Status::InvalidArgument("memory event " + std::to_string(i + 1) +
                                     (e.id.empty() ? "" : " (" + e.id + ")") + ": " +
                                     std::string(field) + ": " + std::string(problem));
    };
    if (e.id.empty()) return invalid("id", "must not be empty");
    if (e.text.empty()) return invalid("text", "must not be empty");
    if (!e.facts.is_null() && !e.facts.is_object()) return invalid("facts", "must be an object");
    for (const auto& key : e.entities)
      if (key.empty()) return invalid("entities", "an entity key must not be empty");
    Row row;
    row.derived = derive(e.entities, e.facts);
    row.data = dump_json(e.data);
    row.facts = dump_json(e.facts.is_null() ? Json::object() : e.facts);
    row.entities = dump_json(Json(row.derived.entities));
    rows.push_back(std::move(row));
  }
  if (events.empty()) return 0;
  return writer_.run<int>([&](SqliteDb& db) -> Result<int> {
    DerivedWriter derived;
    int added = 0;
    for (size_t i = 0; i < events.size(); ++i) {
      MemoryEvent& e = events[i];
      const Row& row = rows[i];
      {
        PREPARE(insert, db,
                "INSERT INTO memory_events (id, type, text, data, facts, scope, entities, at, "
                "task_id, step_seq, actor) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
                "ON CONFLICT (id) DO NOTHING");
        insert->bind(1, e.id).bind(2, e.type).bind(3, e.text).bind(4, row.data).bind(5, row.facts);
        insert->bind(6, e.scope).bind(7, row.entities).bind(8, e.at).bind(9, e.task_id);
        insert->bind(10, e.step_seq).bind(11, e.actor);
        CADRE_RETURN_IF_ERROR(insert->run());
      }
      if (db.changes() == 0) {  // appended before (or earlier in this call)
        PREPARE(sel, db, "SELECT seq FROM memory_events WHERE id = ?1");
        sel->bind(1, e.id);
        CADRE_ASSIGN_OR_RETURN(bool found, sel->step());
        if (!found) return Status::Internal("memory event " + e.id + " vanished while appending");
        e.seq = sel->int_at(0);
        continue;
      }
      e.seq = sqlite3_last_insert_rowid(db.handle());
      {
        PREPARE(index, db, "INSERT INTO memory_events_fts (rowid, text) VALUES (?1, ?2)");
        index->bind(1, e.seq).bind(2, e.text);
        CADRE_RETURN_IF_ERROR(index->run());
      }
      CADRE_RETURN_IF_ERROR(derived.add(db, e.seq, e.at, row.derived));
      ++added;
    }
    CADRE_RETURN_IF_ERROR(derived.flush(db));
    return added;
  });
}

Result<std::optional<MemoryEvent>> SqliteMemoryStore::find_event(const std::string& id) {
  using Found = std::optional<MemoryEvent>;
  return read<Found>([&](SqliteDb& db) -> Result<Found> {
    PREPARE(sel, db, "SELECT " EVENT_COLUMNS " FROM memory_events e WHERE e.id = ?1");
    sel->bind(1, id);
    CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
    if (!row) return Found();
    return Found(event_from_row(sel));
  });
}

Result<std::vector<MemoryEvent>> SqliteMemoryStore::events_by_seq(
    const std::vector<int64_t>& seqs) {
  using Rows = std::vector<MemoryEvent>;
  return read<Rows>([&](SqliteDb& db) -> Result<Rows> {
    Rows out;
    out.reserve(seqs.size());
    for (int64_t seq : seqs) {
      PREPARE(sel, db, "SELECT " EVENT_COLUMNS " FROM memory_events e WHERE e.seq = ?1");
      sel->bind(1, seq);
      CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
      if (row) out.push_back(event_from_row(sel));
    }
    return out;
  });
}

// Each entity (or scope) named by the filter is read newest first from its
// own index and stops at `limit`; the lists are merged here. An entity's
// list is read bucket by bucket (schema.cpp), the newest bucket first,
// until the next bucket's events are all older than the `limit` newest
// found. Either way the cost follows what is returned, not how many events
// meet the filter.
Result<std::vector<MemoryEvent>> SqliteMemoryStore::recent_events(const MemoryFilter& filter,
                                                                  int limit) {
  using Rows = std::vector<MemoryEvent>;
  if (limit <= 0) return Rows();
  auto keep_newest = [limit](Rows& rows) {
    std::sort(rows.begin(), rows.end(), [](const MemoryEvent& a, const MemoryEvent& b) {
      return std::tie(a.at, a.seq) > std::tie(b.at, b.seq);
    });
    rows.erase(
        std::unique(rows.begin(), rows.end(),
                    [](const MemoryEvent& a, const MemoryEvent& b) { return a.seq == b.seq; }),
        rows.end());
    if (static_cast<int>(rows.size()) > limit) rows.resize(static_cast<size_t>(limit));
  };
  TimeMs until = upper_bound_of(filter.until);
  return read<Rows>([&](SqliteDb& db) -> Result<Rows> {
    Rows out;
    if (!filter.entities.empty()) {
      std::vector<std::pair<int64_t, TimeMs>> buckets;  // bucket, newest event in it
      {
        PREPARE(
            sel, db,
            "SELECT bucket, max_at FROM memory_event_buckets WHERE max_at >= ?1 AND min_at < ?2 "
            "ORDER BY max_at DESC, bucket DESC");
        sel->bind(1, filter.since).bind(2, until);
        while (true) {
          CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
          if (!row) break;
          buckets.emplace_back(sel->int_at(0), sel->int_at(1));
        }
      }
      for (const auto& [bucket, newest] : buckets) {
        if (static_cast<int>(out.size()) >= limit && newest < out.back().at) break;
        for (const auto& entity : filter.entities) {
          PREPARE(sel, db,
                  "SELECT " EVENT_COLUMNS
                  " FROM memory_event_entities x CROSS JOIN memory_events e ON e.seq = x.seq "
                  "WHERE x.bucket = ?7 AND x.entity = ?1 AND x.at >= ?2 AND x.at < ?3 "
                  "AND (?4 IS NULL OR e.scope IN (SELECT value FROM json_each(?4))) "
                  "AND (?5 IS NULL OR e.type IN (SELECT value FROM json_each(?5))) "
                  "ORDER BY x.at DESC, x.seq DESC LIMIT ?6");
          sel->bind(1, entity)
              .bind(2, filter.since)
              .bind(3, until)
              .bind(4, list_param(filter.scopes));
          sel->bind(5, list_param(filter.types)).bind(6, limit).bind(7, bucket);
          while (true) {
            CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
            if (!row) break;
            out.push_back(event_from_row(sel));
          }
        }
        keep_newest(out);
      }
      return out;
    }
    // ?1 scope, ?2 since, ?3 until, ?5 types, ?6 limit.
    constexpr std::string_view kByScope =
        "SELECT " EVENT_COLUMNS
        " FROM memory_events e INDEXED BY memory_events_scope "
        "WHERE e.scope = ?1 AND e.at >= ?2 AND e.at < ?3 "
        "AND (?5 IS NULL OR e.type IN (SELECT value FROM json_each(?5))) "
        "ORDER BY e.at DESC, e.seq DESC LIMIT ?6";
    constexpr std::string_view kAll =
        "SELECT " EVENT_COLUMNS
        " FROM memory_events e INDEXED BY memory_events_at "
        "WHERE e.at >= ?2 AND e.at < ?3 "
        "AND (?5 IS NULL OR e.type IN (SELECT value FROM json_each(?5))) "
        "ORDER BY e.at DESC, e.seq DESC LIMIT ?6";
    std::vector<std::string> scopes =
        filter.scopes.empty() ? std::vector<std::string>{""} : filter.scopes;
    for (const auto& scope : scopes) {
      PREPARE(sel, db, filter.scopes.empty() ? kAll : kByScope);
      sel->bind(1, scope).bind(2, filter.since).bind(3, until);
      sel->bind(5, list_param(filter.types)).bind(6, limit);
      while (true) {
        CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
        if (!row) break;
        out.push_back(event_from_row(sel));
      }
    }
    if (scopes.size() > 1) keep_newest(out);
    return out;
  });
}

Result<int64_t> SqliteMemoryStore::event_count() {
  return read<int64_t>([&](SqliteDb& db) -> Result<int64_t> {
    // Events are never deleted and seq has no gaps: the last seq is the
    // count, without a scan of the table.
    PREPARE(sel, db, "SELECT coalesce(max(seq), 0) FROM memory_events");
    CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
    return row ? sel->int_at(0) : 0;
  });
}

// --- entities ---

Result<std::optional<EntityRecord>> SqliteMemoryStore::get_entity(const std::string& key) {
  using Found = std::optional<EntityRecord>;
  return read<Found>([&](SqliteDb& db) -> Result<Found> {
    EntityRecord entity;
    {
      PREPARE(
          sel, db,
          "SELECT key, kind, slug, first_at, last_at, events FROM memory_entities WHERE key = ?1");
      sel->bind(1, key);
      CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
      if (!row) return Found();
      entity.key = sel->text_at(0);
      entity.kind = sel->text_at(1);
      entity.slug = sel->text_at(2);
      entity.first_at = sel->int_at(3);
      entity.last_at = sel->int_at(4);
      entity.events = sel->int_at(5);
    }
    PREPARE(facts, db,
            "SELECT f.name, f.value, coalesce(e.id, ''), f.at FROM memory_facts f "
            "LEFT JOIN memory_events e ON e.seq = f.event_seq WHERE f.entity = ?1 ORDER BY f.name");
    facts->bind(1, key);
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, facts->step());
      if (!row) break;
      entity.facts.push_back(
          {facts->text_at(0), facts->json_at(1), facts->text_at(2), facts->int_at(3)});
    }
    return Found(std::move(entity));
  });
}

Result<std::vector<std::string>> SqliteMemoryStore::entities_by_slug(
    const std::vector<std::string>& slugs) {
  using Keys = std::vector<std::string>;
  if (slugs.empty()) return Keys();
  return read<Keys>([&](SqliteDb& db) -> Result<Keys> {
    PREPARE(sel, db,
            "SELECT key FROM memory_entities WHERE slug IN (SELECT value FROM json_each(?1)) "
            "ORDER BY key");
    sel->bind(1, Json(slugs));
    Keys out;
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
      if (!row) break;
      out.push_back(sel->text_at(0));
    }
    return out;
  });
}

// --- full-text search ---

// Ranks every event that matches (cheap: see event_bm25) and keeps the
// best. With a filter, up to `probe` of the best are checked row by row in
// rank order until `limit` pass. When too few of them pass, the filter is
// selective (under about 2% of the matches pass), so it is applied before
// ranking instead: the events it allows are read from an index (the
// entities', else the scopes', else by time) into a set that each match is
// probed against. Only a filter on types alone joins every match to its
// row (about 0.5 us a match). An entity filter over few events skips the
// first step. Either way the cost grows with how many events match the
// query: callers should leave out words most events contain.
Result<std::vector<RankedLabel>> SqliteMemoryStore::search_events(SqliteDb& db,
                                                                  const std::string& query,
                                                                  const MemoryFilter& filter,
                                                                  int limit) {
  using Ranked = std::vector<RankedLabel>;
  CADRE_RETURN_IF_ERROR(load_lengths(db));
  std::shared_lock lock(ranker_->mutex);
  bool filtered = !filter.entities.empty() || !filter.scopes.empty() || !filter.types.empty() ||
                  filter.since > 0 || filter.until > 0;
  bool filter_first = false;
  if (!filter.entities.empty()) {
    PREPARE(few, db,
            "SELECT (SELECT coalesce(sum(events), 0) FROM memory_entities WHERE key IN "
            "(SELECT value FROM json_each(?1))) * 50 < (SELECT coalesce(max(seq), 0) FROM "
            "memory_events)");
    few->bind(1, Json(filter.entities));
    CADRE_ASSIGN_OR_RETURN(bool row, few->step());
    filter_first = row && few->int_at(0) != 0;
  }
  Ranked out;
  if (!filter_first) {
    int probe = filtered ? std::max(limit * 4, 1024) : limit;
    int seen = 0;
    PREPARE(sel, db,
            "SELECT rowid, cadre_event_bm25(memory_events_fts) AS score FROM memory_events_fts "
            "WHERE memory_events_fts MATCH ?1 ORDER BY score LIMIT ?2");
    sel->bind(1, query).bind(2, probe);
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, step_ranked(sel, query));
      if (!row) break;
      ++seen;
      RankedLabel candidate{sel->int_at(0), -sel->double_at(1)};
      if (filtered) {
        PREPARE(check, db, "SELECT 1 FROM memory_events e WHERE e.seq = ?1 AND " EVENT_FILTERS);
        check->bind(1, candidate.label);
        bind_event_filters(check, filter);
        CADRE_ASSIGN_OR_RETURN(bool passes, check->step());
        if (!passes) continue;
      }
      out.push_back(candidate);
      if (static_cast<int>(out.size()) >= limit) return out;
    }
    if (seen < probe) return out;  // every match was looked at
    out.clear();
  }
  // ?1 query, ?2-?6 filters, ?7 limit. The unary + keeps SQLite from
  // handing the IN list to FTS5 as rowids to look up one by one.
#define RANK_FILTERED(allowed)                                                            \
  "SELECT memory_events_fts.rowid, cadre_event_bm25(memory_events_fts) AS score "         \
  "FROM memory_events_fts CROSS JOIN memory_events e ON e.seq = memory_events_fts.rowid " \
  "WHERE memory_events_fts MATCH ?1 " allowed " AND " EVENT_FILTERS " ORDER BY score LIMIT ?7"
  constexpr std::string_view kByEntity = RANK_FILTERED(
      "AND +memory_events_fts.rowid IN (SELECT seq FROM memory_event_entities WHERE bucket IN "
      "(SELECT bucket FROM memory_event_buckets WHERE max_at >= ?5 AND min_at < ?6) "
      "AND entity IN (SELECT value FROM json_each(?2)) AND at >= ?5 AND at < ?6)");
  constexpr std::string_view kByScope = RANK_FILTERED(
      "AND +memory_events_fts.rowid IN (SELECT seq FROM memory_events INDEXED BY "
      "memory_events_scope "
      "WHERE scope IN (SELECT value FROM json_each(?3)) AND at >= ?5 AND at < ?6)");
  constexpr std::string_view kByTime = RANK_FILTERED(
      "AND +memory_events_fts.rowid IN (SELECT seq FROM memory_events INDEXED BY memory_events_at "
      "WHERE at >= ?5 AND at < ?6)");
  constexpr std::string_view kByRow = RANK_FILTERED("");
#undef RANK_FILTERED
  std::string_view sql = kByRow;
  if (!filter.entities.empty()) {
    sql = kByEntity;
  } else if (!filter.scopes.empty()) {
    sql = kByScope;
  } else if (filter.since > 0 || filter.until > 0) {
    sql = kByTime;
  }
  PREPARE(sel, db, sql);
  sel->bind(1, query).bind(7, limit);
  bind_event_filters(sel, filter);
  while (true) {
    CADRE_ASSIGN_OR_RETURN(bool row, step_ranked(sel, query));
    if (!row) break;
    out.push_back({sel->int_at(0), -sel->double_at(1)});
  }
  return out;
}

Result<std::vector<RankedLabel>> SqliteMemoryStore::lexical_search(const std::string& query,
                                                                   const MemoryFilter& filter,
                                                                   int limit) {
  using Ranked = std::vector<RankedLabel>;
  if (limit <= 0 || query.find_first_not_of(" \t\r\n") == std::string::npos) return Ranked();
  bool want_summaries = filter.types.empty() || std::find(filter.types.begin(), filter.types.end(),
                                                          "summary") != filter.types.end();
  bool want_events =
      filter.types.empty() || std::any_of(filter.types.begin(), filter.types.end(),
                                          [](const std::string& t) { return t != "summary"; });
  return read<Ranked>([&](SqliteDb& db) -> Result<Ranked> {
    Ranked out;
    if (want_events) {
      CADRE_ASSIGN_OR_RETURN(out, search_events(db, query, filter, limit));
    }
    if (want_summaries) {
      // Summaries are few next to events: FTS5's own bm25() (the same
      // formula) ranks them, over the rows that pass the filter.
      PREPARE(
          sel, db,
          "SELECT memory_summaries_fts.rowid, memory_summaries_fts.rank FROM memory_summaries_fts "
          "CROSS JOIN memory_summaries s ON s.seq = memory_summaries_fts.rowid "
          "WHERE memory_summaries_fts MATCH ?1 "
          "AND (?2 IS NULL OR s.subject IN (SELECT value FROM json_each(?2))) "
          "AND (?3 IS NULL OR s.scope IN (SELECT value FROM json_each(?3))) "
          "AND s.period_end > ?4 AND s.period_start < ?5 "
          "ORDER BY memory_summaries_fts.rank LIMIT ?6");
      sel->bind(1, query).bind(2, list_param(filter.entities)).bind(3, list_param(filter.scopes));
      sel->bind(4, filter.since).bind(5, upper_bound_of(filter.until)).bind(6, limit);
      while (true) {
        CADRE_ASSIGN_OR_RETURN(bool row, step_ranked(sel, query));
        if (!row) break;
        out.push_back({summary_label(sel->int_at(0)), -sel->double_at(1)});
      }
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const RankedLabel& a, const RankedLabel& b) { return a.score > b.score; });
    if (static_cast<int>(out.size()) > limit) out.resize(static_cast<size_t>(limit));
    return out;
  });
}

Result<std::vector<int64_t>> SqliteMemoryStore::event_frequencies(const std::vector<std::string>& terms,
                                                                    int64_t at_most) {
  CADRE_ASSIGN_OR_RETURN(int64_t events, event_count());
  std::vector<int64_t> counts(terms.size(), -1);
  {
    std::lock_guard lock(frequencies_mutex_);
    for (size_t i = 0; i < terms.size(); ++i) {
      auto it = frequencies_.find(terms[i]);
      if (it == frequencies_.end() || events * 10 > it->second.events * 11) continue;
      const Frequency& f = it->second;
      bool exact = f.count <= f.capped;
      if (exact || f.capped >= at_most) counts[i] = std::min(f.count, at_most + 1);
    }
  }
  for (size_t i = 0; i < terms.size(); ++i) {
    if (counts[i] >= 0) continue;
    std::string quoted = "\"";
    for (char c : terms[i]) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    quoted += "\"";
    // Counting walks the term's list of events only (no ranking, no
    // lengths), and stops past at_most.
    CADRE_ASSIGN_OR_RETURN(counts[i], read<int64_t>([&](SqliteDb& db) -> Result<int64_t> {
                             PREPARE(sel, db,
                                     "SELECT count(*) FROM (SELECT 1 FROM memory_events_fts WHERE "
                                     "memory_events_fts MATCH ?1 LIMIT ?2)");
                             sel->bind(1, quoted).bind(2, at_most + 1);
                             CADRE_ASSIGN_OR_RETURN(bool row, step_ranked(sel, quoted));
                             return row ? sel->int_at(0) : 0;
                           }));
    std::lock_guard lock(frequencies_mutex_);
    if (frequencies_.size() > 100000) frequencies_.clear();  // bounded: a cache, not a vocabulary
    frequencies_[terms[i]] = {counts[i], at_most, events};
  }
  return counts;
}

// --- summaries ---

Status SqliteMemoryStore::put_summary(MemorySummary& summary) {
  auto invalid = [&](std::string_view field, std::string_view problem) {
    return Status::InvalidArgument("memory summary " + summary.id + ": " + std::string(field) +
                                   ": " + std::string(problem));
  };
  if (summary.id.empty()) return invalid("id", "must not be empty");
  if (summary.subject.empty()) return invalid("subject", "must not be empty");
  if (summary.text.empty()) return invalid("text", "must not be empty");
  if (summary.period_end <= summary.period_start)
    return invalid("period_end", "must be after period_start");
  TimeMs created_at =
      summary.created_at > 0 ? summary.created_at : SystemClock::instance().now_ms();
  std::string sources = dump_json(Json(summary.sources));
  using Stored = std::pair<int64_t, TimeMs>;  // seq, created_at
  auto stored = writer_.run<Stored>([&](SqliteDb& db) -> Result<Stored> {
    {
      PREPARE(same, db, "SELECT seq, created_at FROM memory_summaries WHERE id = ?1");
      same->bind(1, summary.id);
      CADRE_ASSIGN_OR_RETURN(bool exists, same->step());
      if (exists) return Stored(same->int_at(0), same->int_at(1));
    }
    std::vector<int64_t> source_seqs;
    source_seqs.reserve(summary.sources.size());
    for (const auto& id : summary.sources) {
      PREPARE(sel, db, "SELECT seq FROM memory_events WHERE id = ?1");
      sel->bind(1, id);
      CADRE_ASSIGN_OR_RETURN(bool found, sel->step());
      if (!found) return invalid("sources", "event " + id + " does not exist");
      source_seqs.push_back(sel->int_at(0));
    }
    int64_t replaced = 0;
    std::string replaced_text;
    {
      PREPARE(older, db,
              "SELECT seq, text FROM memory_summaries WHERE subject = ?1 AND scope = ?2 AND "
              "period_start = ?3");
      older->bind(1, summary.subject).bind(2, summary.scope).bind(3, summary.period_start);
      CADRE_ASSIGN_OR_RETURN(bool exists, older->step());
      if (exists) {
        replaced = older->int_at(0);
        replaced_text = older->text_at(1);
      }
    }
    if (replaced > 0) CADRE_RETURN_IF_ERROR(remove_summary(db, replaced, replaced_text));
    {
      PREPARE(
          ins, db,
          "INSERT INTO memory_summaries (id, subject, scope, period_start, period_end, text, "
          "sources, method, task_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
      ins->bind(1, summary.id).bind(2, summary.subject).bind(3, summary.scope);
      ins->bind(4, summary.period_start).bind(5, summary.period_end).bind(6, summary.text);
      ins->bind(7, sources).bind(8, summary.method).bind(9, summary.task_id).bind(10, created_at);
      CADRE_RETURN_IF_ERROR(ins->run());
    }
    int64_t seq = sqlite3_last_insert_rowid(db.handle());
    {
      PREPARE(fts, db, "INSERT INTO memory_summaries_fts (rowid, text) VALUES (?1, ?2)");
      fts->bind(1, seq).bind(2, summary.text);
      CADRE_RETURN_IF_ERROR(fts->run());
    }
    for (int64_t event_seq : source_seqs) {
      PREPARE(link, db,
              "INSERT INTO memory_summary_sources (event_seq, subject, summary_seq) VALUES (?1, "
              "?2, ?3) "
              "ON CONFLICT DO NOTHING");
      link->bind(1, event_seq).bind(2, summary.subject).bind(3, seq);
      CADRE_RETURN_IF_ERROR(link->run());
    }
    return Stored(seq, created_at);
  });
  if (!stored.ok()) return stored.status();
  summary.seq = stored->first;
  summary.created_at = stored->second;
  return Status::Ok();
}

Result<std::vector<MemorySummary>> SqliteMemoryStore::summaries_by_seq(
    const std::vector<int64_t>& seqs) {
  using Rows = std::vector<MemorySummary>;
  return read<Rows>([&](SqliteDb& db) -> Result<Rows> {
    Rows out;
    out.reserve(seqs.size());
    for (int64_t seq : seqs) {
      PREPARE(sel, db, "SELECT " SUMMARY_COLUMNS " FROM memory_summaries s WHERE s.seq = ?1");
      sel->bind(1, seq);
      CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
      if (row) out.push_back(summary_from_row(sel));
    }
    return out;
  });
}

Result<std::vector<MemorySummary>> SqliteMemoryStore::summaries_of(const std::string& subject,
                                                                   int limit) {
  using Rows = std::vector<MemorySummary>;
  if (limit <= 0) return Rows();
  return read<Rows>([&](SqliteDb& db) -> Result<Rows> {
    PREPARE(sel, db,
            "SELECT " SUMMARY_COLUMNS
            " FROM memory_summaries s WHERE s.subject = ?1 "
            "ORDER BY s.period_start DESC, s.seq DESC LIMIT ?2");
    sel->bind(1, subject).bind(2, limit);
    Rows out;
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
      if (!row) break;
      out.push_back(summary_from_row(sel));
    }
    return out;
  });
}

Result<std::vector<std::pair<int64_t, int64_t>>> SqliteMemoryStore::covering_summaries(
    const std::vector<int64_t>& seqs) {
  using Pairs = std::vector<std::pair<int64_t, int64_t>>;
  return read<Pairs>([&](SqliteDb& db) -> Result<Pairs> {
    Pairs out;
    for (int64_t seq : seqs) {
      PREPARE(sel, db, "SELECT max(summary_seq) FROM memory_summary_sources WHERE event_seq = ?1");
      sel->bind(1, seq);
      CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
      if (row && !sel->is_null(0)) out.emplace_back(seq, sel->int_at(0));
    }
    return out;
  });
}

// Reads pending (event, subject) pairs oldest first and stops at the first
// week boundary after `max_groups` groups are complete, so a call reads
// only the weeks it returns (plus the events already compacted before
// them, skipped by an index lookup each).
Result<std::vector<CompactionGroup>> SqliteMemoryStore::compaction_groups(TimeMs before,
                                                                          int max_groups) {
  using Groups = std::vector<CompactionGroup>;
  if (max_groups <= 0) return Groups();
  return read<Groups>([&](SqliteDb& db) -> Result<Groups> {
    PREPARE(sel, db,
            "SELECT e.id, e.scope, e.at, coalesce(j.value, 'scope:' || e.scope) AS subject "
            "FROM memory_events e INDEXED BY memory_events_at LEFT JOIN json_each(e.entities) j "
            "WHERE e.at < ?1 AND NOT EXISTS (SELECT 1 FROM memory_summary_sources c "
            "WHERE c.event_seq = e.seq AND c.subject = coalesce(j.value, 'scope:' || e.scope)) "
            "ORDER BY e.at, e.seq");
    sel->bind(1, before);
    std::map<std::tuple<TimeMs, std::string, std::string>, CompactionGroup> groups;
    TimeMs week = std::numeric_limits<TimeMs>::min();
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
      if (!row) break;
      TimeMs start = week_start(sel->int_at(2));
      if (start != week) {
        if (static_cast<int>(groups.size()) >= max_groups) break;
        week = start;
      }
      std::string scope = sel->text_at(1);
      std::string subject = sel->text_at(3);
      CompactionGroup& g = groups[{start, subject, scope}];
      if (g.event_ids.empty()) {
        g.subject = std::move(subject);
        g.scope = std::move(scope);
        g.period_start = start;
        g.period_end = start + kWeekMs;
      }
      g.event_ids.push_back(sel->text_at(0));
    }
    Groups out;
    for (auto& [key, group] : groups) {
      if (static_cast<int>(out.size()) >= max_groups) break;
      out.push_back(std::move(group));
    }
    return out;
  });
}

// --- vectors ---

Result<VectorState> SqliteMemoryStore::vector_state() {
  return read<VectorState>([&](SqliteDb& db) -> Result<VectorState> {
    VectorState state;
    CADRE_ASSIGN_OR_RETURN(state.embedder, meta_text(db, "vector_embedder"));
    CADRE_ASSIGN_OR_RETURN(state.generation, meta_int(db, "vector_generation"));
    return state;
  });
}

Result<std::vector<PendingDoc>> SqliteMemoryStore::docs_without_vectors(int limit) {
  using Docs = std::vector<PendingDoc>;
  if (limit <= 0) return Docs();
  return read<Docs>([&](SqliteDb& db) -> Result<Docs> {
    Docs out;
    CADRE_ASSIGN_OR_RETURN(int64_t event_mark, meta_int(db, "vector_event_mark"));
    CADRE_ASSIGN_OR_RETURN(int64_t summary_mark, meta_int(db, "vector_summary_mark"));
    {
      PREPARE(events, db,
              "SELECT seq, text FROM memory_events WHERE seq > ?1 ORDER BY seq LIMIT ?2");
      events->bind(1, event_mark).bind(2, limit);
      while (true) {
        CADRE_ASSIGN_OR_RETURN(bool row, events->step());
        if (!row) break;
        out.push_back({events->int_at(0), events->text_at(1)});
      }
    }
    int left = limit - static_cast<int>(out.size());
    if (left <= 0) return out;
    PREPARE(summaries, db,
            "SELECT seq, text FROM memory_summaries WHERE seq > ?1 ORDER BY seq LIMIT ?2");
    summaries->bind(1, summary_mark).bind(2, left);
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, summaries->step());
      if (!row) break;
      out.push_back({summary_label(summaries->int_at(0)), summaries->text_at(1)});
    }
    return out;
  });
}

Status SqliteMemoryStore::put_vectors(const std::string& embedder,
                                      const std::vector<StoredVector>& vectors) {
  if (embedder.empty() && !vectors.empty())
    return Status::InvalidArgument("vectors: embedder must not be empty");
  for (const auto& v : vectors) {
    if (v.label <= 0)
      return Status::InvalidArgument("vectors: label " + std::to_string(v.label) +
                                     " is not a document");
    if (v.values.empty())
      return Status::InvalidArgument("vectors: the vector of label " + std::to_string(v.label) +
                                     " is empty");
  }
  return writer_
      .run<bool>([&](SqliteDb& db) -> Result<bool> {
        CADRE_ASSIGN_OR_RETURN(std::string stored, meta_text(db, "vector_embedder"));
        if (stored != embedder) {
          if (!stored.empty()) CADRE_RETURN_IF_ERROR(drop_vectors(db));
          CADRE_RETURN_IF_ERROR(set_meta(db, "vector_embedder", embedder));
        }
        if (vectors.empty()) return true;
        CADRE_ASSIGN_OR_RETURN(int64_t event_mark, meta_int(db, "vector_event_mark"));
        CADRE_ASSIGN_OR_RETURN(int64_t summary_mark, meta_int(db, "vector_summary_mark"));
        // REPLACE deletes a label's older vector, so its new one gets a new vseq
        // and reaches indexes catching up with vectors_after.
        CADRE_ASSIGN_OR_RETURN(
            auto ins, BlobStatement::prepare(db,
                                             "INSERT OR REPLACE INTO memory_vectors (label, vec) "
                                             "VALUES (?1, ?2)"));
        for (const auto& v : vectors) {
          sqlite3_bind_int64(ins.get(), 1, v.label);
          sqlite3_bind_blob64(ins.get(), 2, v.values.data(), v.values.size() * sizeof(float),
                              SQLITE_STATIC);
          auto done = ins.step();
          ins.reset();
          if (!done.ok()) return done.status();
          if (is_summary_label(v.label)) {
            summary_mark = std::max(summary_mark, v.label & ~kSummaryLabelBit);
          } else {
            event_mark = std::max(event_mark, v.label);
          }
        }
        CADRE_RETURN_IF_ERROR(set_meta(db, "vector_event_mark", event_mark));
        CADRE_RETURN_IF_ERROR(set_meta(db, "vector_summary_mark", summary_mark));
        return true;
      })
      .status();
}

Result<std::vector<StoredVector>> SqliteMemoryStore::vectors_after(int64_t after, int limit) {
  using Vectors = std::vector<StoredVector>;
  if (limit <= 0) return Vectors();
  return read<Vectors>([&](SqliteDb& db) -> Result<Vectors> {
    CADRE_ASSIGN_OR_RETURN(auto sel,
                           BlobStatement::prepare(db,
                                                  "SELECT vseq, label, vec FROM memory_vectors "
                                                  "WHERE vseq > ?1 ORDER BY vseq LIMIT ?2"));
    sqlite3_bind_int64(sel.get(), 1, after);
    sqlite3_bind_int64(sel.get(), 2, limit);
    Vectors out;
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, sel.step());
      if (!row) break;
      StoredVector v;
      v.vseq = sqlite3_column_int64(sel.get(), 0);
      v.label = sqlite3_column_int64(sel.get(), 1);
      const void* bytes = sqlite3_column_blob(sel.get(), 2);
      size_t size = static_cast<size_t>(sqlite3_column_bytes(sel.get(), 2));
      v.values.resize(size / sizeof(float));
      if (bytes && !v.values.empty())
        std::memcpy(v.values.data(), bytes, v.values.size() * sizeof(float));
      out.push_back(std::move(v));
    }
    return out;
  });
}

// --- rebuilding what is derived ---

Status SqliteMemoryStore::rebuild_derived() {
  return writer_
      .run<bool>([&](SqliteDb& db) -> Result<bool> {
        CADRE_RETURN_IF_ERROR(
            db.exec("DELETE FROM memory_event_entities; DELETE FROM memory_event_buckets; "
                    "DELETE FROM memory_entities; DELETE FROM memory_facts; DELETE FROM "
                    "memory_summary_sources;"));
        // The same code as appending, event by event in seq order, so a
        // rebuild gives exactly what appending gave.
        DerivedWriter derived;
        PREPARE(sel, db, "SELECT seq, at, entities, facts FROM memory_events ORDER BY seq");
        while (true) {
          CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
          if (!row) break;
          Derived d = derive(strings_of(sel->json_at(2)), sel->json_at(3));
          CADRE_RETURN_IF_ERROR(derived.add(db, sel->int_at(0), sel->int_at(1), d));
          if (derived.pending() > 100000) CADRE_RETURN_IF_ERROR(derived.flush(db));
        }
        CADRE_RETURN_IF_ERROR(derived.flush(db));
        CADRE_RETURN_IF_ERROR(db.exec(
            "INSERT OR IGNORE INTO memory_summary_sources (event_seq, subject, summary_seq) "
            "SELECT e.seq, s.subject, s.seq FROM memory_summaries s, json_each(s.sources) j "
            "JOIN memory_events e ON e.id = j.value;"
            "INSERT INTO memory_events_fts (memory_events_fts) VALUES ('rebuild');"
            "INSERT INTO memory_summaries_fts (memory_summaries_fts) VALUES ('rebuild');"));
        CADRE_RETURN_IF_ERROR(drop_vectors(db));
        return true;
      })
      .status();
}

}  // namespace cadre
