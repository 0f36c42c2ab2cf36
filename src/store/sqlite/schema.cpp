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

}  // namespace

const std::vector<std::string_view>& migrations() {
  static const std::vector<std::string_view> all = {kV1, kV2};
  return all;
}

}  // namespace cadre::sqlite_schema
