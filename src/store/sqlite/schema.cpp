#include "store/sqlite/schema.h"

namespace cadre::sqlite_schema {

namespace {

// Version 1: the durable kernel. Times are milliseconds since the epoch (UTC).
// tasks.run_at is when a claimer must next look at a task: the time a ready
// task may start, a timer's wake time, or a running task's lease expiry; 0
// means never (pending, waiting for an event or lock, uncertain, finished).
// The partial index over run_at > 0 therefore holds only live work, and it
// is also how running tasks are found (their run_at is the lease expiry).
// There is deliberately no index on state alone: a task changes state four
// times or more, and each change would rewrite an index entry in the
// writer's hottest path.
constexpr std::string_view kV1 = R"sql(
CREATE TABLE definitions (
  hash TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE objectives (
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  owner TEXT NOT NULL,
  source TEXT NOT NULL,
  playbook TEXT NOT NULL DEFAULT '',
  inputs TEXT NOT NULL DEFAULT '{}',
  versions TEXT NOT NULL DEFAULT '{}',
  state TEXT NOT NULL,
  dedupe_key TEXT UNIQUE,
  tasks_total INTEGER NOT NULL,
  tasks_left INTEGER NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX objectives_state ON objectives(state, id);

CREATE TABLE tasks (
  id TEXT PRIMARY KEY,
  objective_id TEXT NOT NULL REFERENCES objectives(id),
  key TEXT NOT NULL,
  kind TEXT NOT NULL,
  agent TEXT NOT NULL DEFAULT '',
  spec TEXT NOT NULL DEFAULT '{}',
  state TEXT NOT NULL,
  deps_left INTEGER NOT NULL DEFAULT 0,
  run_at INTEGER NOT NULL DEFAULT 0,
  wait_kind TEXT NOT NULL DEFAULT 'none',
  wait_key TEXT NOT NULL DEFAULT '',
  wait_seq INTEGER NOT NULL DEFAULT 0,
  lease_owner TEXT NOT NULL DEFAULT '',
  fence INTEGER NOT NULL DEFAULT 0,
  claims INTEGER NOT NULL DEFAULT 0,
  output TEXT,
  error TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  started_at INTEGER NOT NULL DEFAULT 0,
  finished_at INTEGER NOT NULL DEFAULT 0,
  UNIQUE (objective_id, key)
);
CREATE INDEX tasks_due ON tasks(run_at) WHERE run_at > 0;
CREATE INDEX tasks_waiting ON tasks(wait_kind, wait_key) WHERE state = 'waiting';

CREATE TABLE task_edges (
  parent TEXT NOT NULL,
  child TEXT NOT NULL,
  PRIMARY KEY (parent, child)
) WITHOUT ROWID;

CREATE TABLE steps (
  task_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  input TEXT,
  output TEXT,
  error TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  attempt_log TEXT NOT NULL DEFAULT '[]',
  started_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (task_id, seq)
) WITHOUT ROWID;

CREATE TABLE locks (
  resource TEXT PRIMARY KEY,
  task_id TEXT NOT NULL,
  acquired_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX locks_task ON locks(task_id);

CREATE TABLE events (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  data TEXT NOT NULL DEFAULT '{}',
  source TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  processed INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT ''  -- why a trigger could not start from it
);
CREATE INDEX events_unprocessed ON events(id) WHERE processed = 0;

CREATE TABLE trigger_state (
  trigger_id TEXT PRIMARY KEY,
  last_fire INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE workers (
  id TEXT PRIMARY KEY,
  info TEXT NOT NULL DEFAULT '{}',
  heartbeat_at INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

// Version 2: the model response cache, and an index over model-call steps
// for spend and cache figures (model steps are few next to the others).
constexpr std::string_view kV2 = R"sql(
CREATE TABLE model_cache (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX model_cache_expiry ON model_cache(expires_at);

CREATE INDEX steps_model_calls ON steps(started_at) WHERE kind = 'model';
)sql";

// Version 3: memory (store/memory_store.h). memory_events is the canonical
// log; every other memory table is derived from it or from the summaries and
// can be rebuilt (rebuild_derived).
// - memory_events.seq is never reused (events are never deleted), so it is
//   the event's label; entities is the JSON array of entity keys.
// - memory_event_entities lists each entity's events by time, in buckets of
//   8,192 events by seq (seq >> 13). Keyed by entity alone, an append of
//   1,000 events naming 1,500 entities wrote 1,500 pages scattered over the
//   table (1,000,000 events: 20 us of the writer per event, 40% of an
//   append); keyed by bucket first, it writes the few pages of the newest
//   bucket. Reading an entity's newest events walks its list in each
//   bucket, newest bucket first, and stops at the first bucket whose events
//   are all older than what it has (memory_event_buckets: the time range of
//   each bucket).
// - memory_facts holds the latest value of each fact of an entity (replaced
//   only by an event at the same time or later).
// - Full-text indexes are FTS5 tables over external content, so text is
//   stored once, with detail=full. On 1,000,000 events of 20-40 words and
//   300 queries of 2-4 OR'ed words, detail=column made ranked queries 4x
//   slower (bm25, p95: 352 ms against 90 ms; it has to rebuild each hit's
//   instances from column lists) while merely counting matches was as
//   fast; it also refuses phrase and NEAR queries. Events are ranked by
//   cadre_event_bm25 (sqlite_memory_store.cpp), which gives bm25()'s scores
//   at a fraction of its cost.
// - memory_summaries.seq is AUTOINCREMENT: a replaced summary's seq (and so
//   its label) is never given to another summary, which would otherwise
//   inherit its vector or miss the "without vectors" mark.
// - memory_summary_sources answers "which summaries cover event E" and "is E
//   compacted for subject S" by index.
// - memory_vectors.vseq is AUTOINCREMENT so that it keeps growing across
//   drops: a vector index that holds vseq <= N never mistakes new vectors
//   for ones it has. vec is float32, little-endian.
constexpr std::string_view kV3 = R"sql(
CREATE TABLE memory_events (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  text TEXT NOT NULL,
  data TEXT NOT NULL DEFAULT '{}',
  facts TEXT NOT NULL DEFAULT '{}',
  scope TEXT NOT NULL,
  entities TEXT NOT NULL DEFAULT '[]',
  at INTEGER NOT NULL,
  task_id TEXT NOT NULL DEFAULT '',
  step_seq INTEGER NOT NULL DEFAULT 0,
  actor TEXT NOT NULL DEFAULT ''
);
CREATE INDEX memory_events_at ON memory_events(at);
CREATE INDEX memory_events_scope ON memory_events(scope, at);

CREATE TABLE memory_event_entities (
  bucket INTEGER NOT NULL,  -- seq >> 13
  entity TEXT NOT NULL,
  at INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (bucket, entity, at, seq)
) WITHOUT ROWID;

CREATE TABLE memory_event_buckets (
  bucket INTEGER PRIMARY KEY,
  min_at INTEGER NOT NULL,
  max_at INTEGER NOT NULL
);

CREATE TABLE memory_entities (
  key TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  slug TEXT NOT NULL,
  first_at INTEGER NOT NULL,
  last_at INTEGER NOT NULL,
  events INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX memory_entities_slug ON memory_entities(slug);

CREATE TABLE memory_facts (
  entity TEXT NOT NULL,
  name TEXT NOT NULL,
  value TEXT,
  event_seq INTEGER NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (entity, name)
) WITHOUT ROWID;

CREATE VIRTUAL TABLE memory_events_fts USING fts5(
  text, content='memory_events', content_rowid='seq', tokenize='porter unicode61', detail=full);

CREATE TABLE memory_summaries (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  subject TEXT NOT NULL,
  scope TEXT NOT NULL,
  period_start INTEGER NOT NULL,
  period_end INTEGER NOT NULL,
  text TEXT NOT NULL,
  sources TEXT NOT NULL DEFAULT '[]',
  method TEXT NOT NULL DEFAULT '',
  task_id TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  UNIQUE (subject, scope, period_start)
);

CREATE VIRTUAL TABLE memory_summaries_fts USING fts5(
  text, content='memory_summaries', content_rowid='seq', tokenize='porter unicode61', detail=full);

CREATE TABLE memory_summary_sources (
  event_seq INTEGER NOT NULL,
  subject TEXT NOT NULL,
  summary_seq INTEGER NOT NULL,
  PRIMARY KEY (event_seq, subject, summary_seq)
) WITHOUT ROWID;
CREATE INDEX memory_summary_sources_summary ON memory_summary_sources(summary_seq);

CREATE TABLE memory_vectors (
  vseq INTEGER PRIMARY KEY AUTOINCREMENT,
  label INTEGER NOT NULL UNIQUE,
  vec BLOB NOT NULL
);

-- vector_embedder: what made the stored vectors ('' when none);
-- vector_generation: grows each time they are all dropped;
-- vector_event_mark / vector_summary_mark: the last event and summary seq
-- that put_vectors has moved past.
CREATE TABLE memory_meta (
  key TEXT PRIMARY KEY,
  value NOT NULL
) WITHOUT ROWID;
INSERT INTO memory_meta (key, value) VALUES ('vector_embedder', ''), ('vector_generation', 0),
  ('vector_event_mark', 0), ('vector_summary_mark', 0);
)sql";

// Version 4: policy. audit_log is append-only and hash-chained
// (store/audit_store.h): seq has no gaps, hash = SHA-256 over prev_hash and
// the entry's canonical content (store/audit_chain.h). approvals are the
// human-in-the-loop items (records.h); a task waiting for one has wait_kind
// 'approval' and wait_key = its id. pauses is the kill switch ('*' or an
// agent's name).
constexpr std::string_view kV4 = R"sql(
CREATE TABLE audit_log (
  seq INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  subject TEXT NOT NULL,
  objective_id TEXT NOT NULL DEFAULT '',
  task_id TEXT NOT NULL DEFAULT '',
  data TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_log_objective ON audit_log(objective_id, seq) WHERE objective_id <> '';

CREATE TABLE approvals (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  objective_id TEXT NOT NULL DEFAULT '',
  task_id TEXT NOT NULL DEFAULT '',
  step_seq INTEGER NOT NULL DEFAULT 0,
  agent TEXT NOT NULL DEFAULT '',
  title TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  rule TEXT NOT NULL DEFAULT '',
  request TEXT NOT NULL DEFAULT '{}',
  context TEXT NOT NULL DEFAULT '{}',
  schema TEXT,
  timeout_action TEXT NOT NULL DEFAULT '',
  expires_at INTEGER NOT NULL DEFAULT 0,
  answer TEXT,
  answered_by TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  answered_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX approvals_pending ON approvals(created_at) WHERE state = 'pending';
CREATE INDEX approvals_objective ON approvals(objective_id);
CREATE INDEX approvals_budget ON approvals(agent, kind) WHERE kind = 'budget';

CREATE TABLE pauses (
  target TEXT PRIMARY KEY,
  paused_by TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  paused_at INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

// Version 5: what connectors keep between processes: health for `cadre
// connectors`, an IMAP mailbox's cursor, an MCP server's last tool list.
constexpr std::string_view kV5 = R"sql(
CREATE TABLE connector_state (
  connector TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (connector, key)
) WITHOUT ROWID;
)sql";

// Version 6: the workspace server's API tokens and browser sessions (stored
// as SHA-256 hashes, never as given). A session belongs to its token's hash,
// not its name, so a token made again under a revoked name inherits none.
constexpr std::string_view kV6 = R"sql(
CREATE TABLE api_tokens (
  name TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  last_used_at INTEGER NOT NULL DEFAULT 0,
  revoked_at INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE api_sessions (
  session_hash TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL,
  csrf_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX api_sessions_token ON api_sessions(token_hash);
CREATE INDEX api_sessions_expiry ON api_sessions(expires_at);
)sql";

// Version 7: what the metrics that compound need besides the journal (see
// server/metrics.h for the definitions).
// - manual_work: work the operator did by hand (`cadre log-manual`, the UI),
//   the other side of automation coverage.
// - outcome_checks: an agent outcome re-validated at each horizon of its
//   `success.revalidate.after` (30d and 90d by default); `check_objective_id`
//   is the objective whose outcome_check tasks run them.
// - objective_retries: one row each time a failed or cancelled run is
//   retried. Written by a trigger so that every way of retrying (`cadre
//   retry`, the API) is counted; it fires only on that transition, never on
//   the kernel's hot path.
// - Indexes so that every metric reads its window, not the history:
//   objectives by creation and by end, approvals by answer time.
constexpr std::string_view kV7 = R"sql(
CREATE TABLE manual_work (
  id TEXT PRIMARY KEY,
  description TEXT NOT NULL,
  agent TEXT NOT NULL DEFAULT '',
  minutes INTEGER NOT NULL DEFAULT 0,
  logged_by TEXT NOT NULL,
  at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX manual_work_at ON manual_work(at);

CREATE TABLE outcome_checks (
  objective_id TEXT NOT NULL,
  horizon TEXT NOT NULL,
  horizon_ms INTEGER NOT NULL,
  agent TEXT NOT NULL,
  due_at INTEGER NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  checked_at INTEGER NOT NULL DEFAULT 0,
  detail TEXT NOT NULL DEFAULT '',
  check_objective_id TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (objective_id, horizon)
) WITHOUT ROWID;
CREATE INDEX outcome_checks_due ON outcome_checks(due_at) WHERE state = 'pending';
CREATE INDEX outcome_checks_checked ON outcome_checks(checked_at) WHERE checked_at > 0;

CREATE TABLE objective_retries (
  objective_id TEXT NOT NULL,
  owner TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX objective_retries_at ON objective_retries(at);
CREATE TRIGGER objective_retried AFTER UPDATE OF state ON objectives
WHEN old.state IN ('failed', 'cancelled') AND new.state IN ('running', 'uncertain')
BEGIN
  INSERT INTO objective_retries (objective_id, owner, at) VALUES (new.id, new.owner, new.updated_at);
END;

CREATE INDEX objectives_created ON objectives(created_at);
CREATE INDEX objectives_finished ON objectives(finished_at) WHERE finished_at > 0;
CREATE INDEX approvals_answered ON approvals(answered_at) WHERE answered_at > 0;
)sql";

}  // namespace

const std::vector<std::string_view>& migrations() {
  static const std::vector<std::string_view> all = {kV1, kV2, kV3, kV4, kV5, kV6, kV7};
  return all;
}

}  // namespace cadre::sqlite_schema
