#include "store/sqlite/sqlite_store.h"

#include <pthread.h>

#include <chrono>
#include <filesystem>

#include "store/sqlite/schema.h"

namespace cadre {
namespace {

#define PREPARE(var, db, sql) CADRE_ASSIGN_OR_RETURN(auto var, (db).prepare(sql))

constexpr std::string_view kTaskColumns =
    "id, objective_id, key, kind, agent, spec, state, deps_left, run_at, wait_kind, wait_key, "
    "wait_seq, "
    "lease_owner, fence, claims, output, error, created_at, started_at, finished_at";

constexpr std::string_view kObjectiveColumns =
    "id, title, owner, source, playbook, inputs, versions, state, coalesce(dedupe_key, ''), "
    "tasks_total, "
    "tasks_left, error, created_at, updated_at, finished_at";

constexpr std::string_view kStepColumns =
    "task_id, seq, name, kind, state, idempotency_key, input, output, error, attempts, "
    "attempt_log, "
    "started_at, finished_at";

std::string sql_with(std::string_view head, std::string_view columns, std::string_view tail) {
  std::string sql(head);
  sql += columns;
  sql += tail;
  return sql;
}

// The claim of the tasks matching `where`: running for worker ?1 until ?2
// (now is ?3), with a new fence. `also_set` lists more assignments, each
// followed by ", ". (RETURNING would save reading the row back, but costs
// more than the read in SQLite, so single claims read it back.)
std::string claim_sql(std::string_view where, std::string_view also_set = "") {
  std::string sql = "UPDATE tasks SET ";
  sql += also_set;
  sql +=
      "state = 'running', lease_owner = ?1, fence = fence + 1, claims = claims + 1, "
      "run_at = ?2, started_at = CASE WHEN started_at = 0 THEN ?3 ELSE started_at END, "
      "wait_kind = 'none', wait_key = '', wait_seq = 0 WHERE ";
  sql += where;
  return sql;
}

TaskRecord task_from_row(const Stmt& s) {
  TaskRecord t;
  t.id = s.text_at(0);
  t.objective_id = s.text_at(1);
  t.key = s.text_at(2);
  t.kind = s.text_at(3);
  t.agent = s.text_at(4);
  t.spec = s.json_at(5);
  parse_task_state(s.text_at(6), &t.state);
  t.deps_left = static_cast<int>(s.int_at(7));
  t.run_at = s.int_at(8);
  parse_wait_kind(s.text_at(9), &t.wait_kind);
  t.wait_key = s.text_at(10);
  t.wait_seq = static_cast<int>(s.int_at(11));
  t.lease_owner = s.text_at(12);
  t.fence = s.int_at(13);
  t.claims = static_cast<int>(s.int_at(14));
  t.output = s.json_at(15);
  t.error = s.text_at(16);
  t.created_at = s.int_at(17);
  t.started_at = s.int_at(18);
  t.finished_at = s.int_at(19);
  return t;
}

ObjectiveRecord objective_from_row(const Stmt& s) {
  ObjectiveRecord o;
  o.id = s.text_at(0);
  o.title = s.text_at(1);
  o.owner = s.text_at(2);
  o.source = s.text_at(3);
  o.playbook = s.text_at(4);
  o.inputs = s.json_at(5);
  o.versions = s.json_at(6);
  parse_objective_state(s.text_at(7), &o.state);
  o.dedupe_key = s.text_at(8);
  o.tasks_total = static_cast<int>(s.int_at(9));
  o.tasks_left = static_cast<int>(s.int_at(10));
  o.error = s.text_at(11);
  o.created_at = s.int_at(12);
  o.updated_at = s.int_at(13);
  o.finished_at = s.int_at(14);
  return o;
}

StepRecord step_from_row(const Stmt& s) {
  StepRecord r;
  r.task_id = s.text_at(0);
  r.seq = static_cast<int>(s.int_at(1));
  r.name = s.text_at(2);
  r.kind = s.text_at(3);
  parse_step_state(s.text_at(4), &r.state);
  r.idempotency_key = s.text_at(5);
  r.input = s.json_at(6);
  r.output = s.json_at(7);
  r.error = s.text_at(8);
  r.attempts = static_cast<int>(s.int_at(9));
  r.attempt_log = s.json_at(10);
  r.started_at = s.int_at(11);
  r.finished_at = s.int_at(12);
  return r;
}

// --- building blocks run inside a write transaction ---

// Wakes every task waiting for the lock on `resource`; they contend again.
Result<int> wake_lock_waiters(SqliteDb& db, const std::string& resource, TimeMs now) {
  PREPARE(wake, db,
          "UPDATE tasks SET state = 'ready', run_at = ?1, wait_kind = 'none', wait_key = '' "
          "WHERE state = 'waiting' AND wait_kind = 'lock' AND wait_key = ?2");
  wake->bind(1, now).bind(2, resource);
  CADRE_RETURN_IF_ERROR(wake->run());
  return static_cast<int>(db.changes());
}

Result<int> release_locks(SqliteDb& db, const std::string& task_id, TimeMs now) {
  std::vector<std::string> resources;
  {
    PREPARE(del, db, "DELETE FROM locks WHERE task_id = ?1 RETURNING resource");
    del->bind(1, task_id);
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, del->step());
      if (!row) break;
      resources.push_back(del->text_at(0));
    }
  }
  int woken = 0;
  for (const auto& r : resources) {
    CADRE_ASSIGN_OR_RETURN(int n, wake_lock_waiters(db, r, now));
    woken += n;
  }
  return woken;
}

// Inserts the event (once per id) and hands it to tasks waiting for its name.
// Every task waiting (wait_kind `kind`, wait_key `key`: an event's name, an
// approval's id) gets its waiting step done with `delivered` and becomes
// ready. Returns how many woke.
Result<int> wake_waiters(SqliteDb& db, std::string_view kind, const std::string& key, const Json& delivered,
                         TimeMs now) {
  std::vector<std::pair<std::string, int64_t>> waiters;
  {
    PREPARE(sel, db,
            "SELECT id, wait_seq FROM tasks WHERE state = 'waiting' AND wait_kind = ?1 AND wait_key = ?2");
    sel->bind(1, kind).bind(2, key);
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
      if (!row) break;
      waiters.emplace_back(sel->text_at(0), sel->int_at(1));
    }
  }
  for (const auto& [task_id, seq] : waiters) {
    PREPARE(step, db,
            "UPDATE steps SET state = 'done', output = ?1, finished_at = ?2 WHERE task_id = ?3 AND seq = ?4 "
            "AND state = 'started'");
    step->bind(1, delivered).bind(2, now).bind(3, task_id).bind(4, seq);
    CADRE_RETURN_IF_ERROR(step->run());
    PREPARE(wake, db,
            "UPDATE tasks SET state = 'ready', run_at = ?1, wait_kind = 'none', wait_key = '', wait_seq = 0 "
            "WHERE id = ?2");
    wake->bind(1, std::max<TimeMs>(now, 1)).bind(2, task_id);
    CADRE_RETURN_IF_ERROR(wake->run());
  }
  return static_cast<int>(waiters.size());
}

Result<int> insert_event(SqliteDb& db, const EventRecord& e) {
  {
    PREPARE(ins, db,
            "INSERT INTO events (id, name, data, source, created_at) VALUES (?1, ?2, ?3, ?4, ?5) "
            "ON CONFLICT (id) DO NOTHING");
    ins->bind(1, e.id)
        .bind(2, e.name)
        .bind(3, e.data.is_null() ? Json::object() : e.data)
        .bind(4, e.source);
    ins->bind(5, e.created_at);
    CADRE_RETURN_IF_ERROR(ins->run());
    if (db.changes() == 0) return 0;  // seen before: already delivered
  }
  Json delivered = {
      {"event_id", e.id}, {"name", e.name}, {"data", e.data}, {"created_at", e.created_at}};
  return wake_waiters(db, "event", e.name, delivered, e.created_at);
}

// Cancels every task of the objective that has not started or is waiting,
// and releases what they held. Running tasks are left to their workers.
Result<int> cancel_unstarted(SqliteDb& db, const std::string& objective_id,
                             const std::string& reason, TimeMs now) {
  std::vector<std::string> cancelled;
  {
    PREPARE(upd, db,
            "UPDATE tasks SET state = 'cancelled', run_at = 0, wait_kind = 'none', wait_key = '', "
            "lease_owner = '', error = ?1, finished_at = ?2 "
            "WHERE objective_id = ?3 AND state IN ('pending', 'ready', 'waiting') RETURNING id");
    upd->bind(1, reason).bind(2, now).bind(3, objective_id);
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, upd->step());
      if (!row) break;
      cancelled.push_back(upd->text_at(0));
    }
  }
  for (const auto& id : cancelled) CADRE_RETURN_IF_ERROR(release_locks(db, id, now).status());
  return static_cast<int>(cancelled.size());
}

Result<TaskRecord> load_task(SqliteDb& db, const std::string& id) {
  static const std::string kSql = sql_with("SELECT ", kTaskColumns, " FROM tasks WHERE id = ?1");
  PREPARE(sel, db, kSql);
  sel->bind(1, id);
  CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
  if (!row) return Status::NotFound("task " + id + " does not exist");
  return task_from_row(sel);
}

// The tasks that wait for `task_id` (the children of its edges), with what
// decides whether its success makes them ready.
struct Dependent {
  std::string id;
  bool becomes_ready = false;  // this was the last thing it waited for
  bool by_dispatcher = false;  // tasks of agents go through the dispatcher's per-agent limits
};

Result<std::vector<Dependent>> dependents_of(SqliteDb& db, const std::string& task_id) {
  PREPARE(sel, db,
          "SELECT t.id, t.deps_left = 1 AND (t.state = 'pending' OR t.wait_kind = 'children'), "
          "t.agent != '' "
          "FROM task_edges e JOIN tasks t ON t.id = e.child WHERE e.parent = ?1");
  sel->bind(1, task_id);
  std::vector<Dependent> out;
  while (true) {
    CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
    if (!row) break;
    out.push_back({sel->text_at(0), sel->int_at(1) != 0, sel->int_at(2) != 0});
  }
  return out;
}

// Counts down one need of a dependent; at zero it becomes ready at `now`.
Status count_down(SqliteDb& db, const std::string& id, TimeMs now) {
  PREPARE(
      upd, db,
      "UPDATE tasks SET deps_left = deps_left - 1, "
      "state = CASE WHEN deps_left = 1 AND (state = 'pending' OR wait_kind = 'children') THEN "
      "'ready' "
      "ELSE state END, "
      "run_at = CASE WHEN deps_left = 1 AND (state = 'pending' OR wait_kind = 'children') THEN ?1 "
      "ELSE run_at END, "
      "wait_kind = CASE WHEN deps_left = 1 AND wait_kind = 'children' THEN 'none' ELSE wait_kind "
      "END "
      "WHERE id = ?2");
  upd->bind(1, now).bind(2, id);
  return upd->run();
}

// Counts down the last need of a dependent and claims it for `worker` in
// the same write (hand-off): it goes from waiting straight to running.
Result<TaskRecord> count_down_and_claim(SqliteDb& db, const std::string& id,
                                        const std::string& worker, TimeMs now, int64_t lease_ms) {
  static const std::string kSql = claim_sql("id = ?4", "deps_left = 0, ");
  PREPARE(upd, db, kSql);
  upd->bind(1, worker).bind(2, now + lease_ms).bind(3, now).bind(4, id);
  CADRE_RETURN_IF_ERROR(upd->run());
  return load_task(db, id);
}

// Applies the end of a task: its own row, its locks, its dependents and its
// objective. Returns how many tasks became ready; with a hand-off worker,
// one of them may be claimed into `next` instead.
Result<int> finish_task(SqliteDb& db, const std::string& task_id, const std::string& objective_id,
                        const std::string& task_key, const TaskFinished& f,
                        std::optional<TaskRecord>* next = nullptr) {
  {
    PREPARE(upd, db,
            "UPDATE tasks SET state = ?1, output = ?2, error = ?3, finished_at = ?4, run_at = 0, "
            "lease_owner = '', wait_kind = 'none', wait_key = '' WHERE id = ?5");
    upd->bind(1, to_string(f.state)).bind(2, f.output).bind(3, f.error);
    upd->bind(4, is_terminal(f.state) ? f.at : 0).bind(5, task_id);
    CADRE_RETURN_IF_ERROR(upd->run());
  }
  int made_ready = 0;
  if (f.state == TaskState::kUncertain) {
    // The resource is in an unknown state: keep its locks until a human decides.
    PREPARE(obj, db,
            "UPDATE objectives SET state = 'uncertain', updated_at = ?1 WHERE id = ?2 AND state = "
            "'running'");
    obj->bind(1, f.at).bind(2, objective_id);
    CADRE_RETURN_IF_ERROR(obj->run());
    return 0;
  }
  if (f.releases_locks) {
    CADRE_ASSIGN_OR_RETURN(int woken, release_locks(db, task_id, f.at));
    made_ready += woken;
  }
  if (f.state == TaskState::kSucceeded || f.state == TaskState::kSkipped) {
    CADRE_ASSIGN_OR_RETURN(std::vector<Dependent> dependents, dependents_of(db, task_id));
    bool hand_off = next != nullptr && !f.handoff_worker.empty();
    for (const auto& d : dependents) {
      if (hand_off && d.becomes_ready && !d.by_dispatcher) {
        CADRE_ASSIGN_OR_RETURN(TaskRecord claimed, count_down_and_claim(db, d.id, f.handoff_worker,
                                                                        f.at, f.handoff_lease_ms));
        *next = std::move(claimed);
        hand_off = false;
        continue;
      }
      CADRE_RETURN_IF_ERROR(count_down(db, d.id, f.at));
      if (d.becomes_ready) ++made_ready;
    }
    PREPARE(
        obj, db,
        "UPDATE objectives SET tasks_left = tasks_left - 1, updated_at = ?1, "
        "state = CASE WHEN tasks_left = 1 AND state = 'running' THEN 'succeeded' ELSE state END, "
        "finished_at = CASE WHEN tasks_left = 1 AND state = 'running' THEN ?1 ELSE finished_at END "
        "WHERE id = ?2");
    obj->bind(1, f.at).bind(2, objective_id);
    CADRE_RETURN_IF_ERROR(obj->run());
  } else if (f.state == TaskState::kFailed || f.state == TaskState::kCancelled) {
    std::string reason = "task '" + task_key + "' " + std::string(to_string(f.state));
    if (!f.error.empty()) reason += ": " + f.error;
    PREPARE(obj, db,
            "UPDATE objectives SET state = ?1, error = ?2, updated_at = ?3, finished_at = ?3 "
            "WHERE id = ?4 AND state IN ('running', 'uncertain')");
    obj->bind(1, f.state == TaskState::kFailed ? "failed" : "cancelled")
        .bind(2, reason)
        .bind(3, f.at);
    obj->bind(4, objective_id);
    CADRE_RETURN_IF_ERROR(obj->run());
    CADRE_RETURN_IF_ERROR(cancel_unstarted(db, objective_id, "not run: " + reason, f.at).status());
  }
  return made_ready;
}

// Inserts tasks into an objective with the edges of their `needs` (keys
// among `tasks`); tasks without needs are ready at once.
Status insert_tasks(SqliteDb& db, const std::string& objective_id,
                    const std::vector<NewTask>& tasks, TimeMs now) {
  std::map<std::string, const NewTask*> by_key;
  for (const auto& t : tasks) by_key[t.key] = &t;
  for (const auto& t : tasks) {
    for (const auto& need : t.needs) {
      auto parent = by_key.find(need);
      if (parent == by_key.end())
        return Status::InvalidArgument("task '" + t.key + "' needs unknown task '" + need + "'");
      PREPARE(edge, db, "INSERT INTO task_edges (parent, child) VALUES (?1, ?2)");
      edge->bind(1, parent->second->id).bind(2, t.id);
      CADRE_RETURN_IF_ERROR(edge->run());
    }
    PREPARE(ins, db,
            "INSERT INTO tasks (id, objective_id, key, kind, agent, spec, state, deps_left, "
            "run_at, created_at) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    bool ready = t.needs.empty();
    ins->bind(1, t.id).bind(2, objective_id).bind(3, t.key).bind(4, t.kind).bind(5, t.agent);
    ins->bind(6, t.spec.is_null() ? Json::object() : t.spec);
    ins->bind(7, ready ? "ready" : "pending").bind(8, static_cast<int64_t>(t.needs.size()));
    ins->bind(9, ready ? now : 0).bind(10, now);
    CADRE_RETURN_IF_ERROR(ins->run());
  }
  return Status::Ok();
}

// Back to `running` when no task of the objective is uncertain any more.
Status unblock_objective(SqliteDb& db, const std::string& objective_id, TimeMs now) {
  PREPARE(upd, db,
          "UPDATE objectives SET state = 'running', updated_at = ?1 WHERE id = ?2 AND state = "
          "'uncertain' "
          "AND NOT EXISTS (SELECT 1 FROM tasks WHERE objective_id = ?2 AND state = 'uncertain')");
  upd->bind(1, now).bind(2, objective_id);
  return upd->run();
}

struct LiveTask {
  int64_t fence = 0;
  std::string state;
  std::string objective_id;
  std::string key;
};

Result<LiveTask> load_live_task(SqliteDb& db, const std::string& task_id) {
  PREPARE(sel, db, "SELECT fence, state, objective_id, key FROM tasks WHERE id = ?1");
  sel->bind(1, task_id);
  CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
  if (!row) return Status::NotFound("task " + task_id + " does not exist");
  return LiveTask{sel->int_at(0), sel->text_at(1), sel->text_at(2), sel->text_at(3)};
}

constexpr char kApprovalColumns[] =
    "id, kind, state, objective_id, task_id, step_seq, agent, title, reason, rule, request, context, schema, "
    "timeout_action, expires_at, answer, answered_by, created_at, answered_at";

ApprovalRecord approval_from_row(Stmt& row) {
  ApprovalRecord a;
  a.id = row.text_at(0);
  a.kind = row.text_at(1);
  parse_approval_state(row.text_at(2), &a.state);
  a.objective_id = row.text_at(3);
  a.task_id = row.text_at(4);
  a.step_seq = static_cast<int>(row.int_at(5));
  a.agent = row.text_at(6);
  a.title = row.text_at(7);
  a.reason = row.text_at(8);
  a.rule = row.text_at(9);
  a.request = row.json_at(10);
  a.context = row.json_at(11);
  a.schema = row.json_at(12);
  a.timeout_action = row.text_at(13);
  a.expires_at = row.int_at(14);
  a.answer = row.json_at(15);
  a.answered_by = row.text_at(16);
  a.created_at = row.int_at(17);
  a.answered_at = row.int_at(18);
  return a;
}

Result<ApprovalRecord> load_approval(SqliteDb& db, const std::string& id) {
  PREPARE(sel, db, std::string("SELECT ") + kApprovalColumns + " FROM approvals WHERE id = ?1");
  sel->bind(1, id);
  CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
  if (!row) return Status::NotFound("no approval " + id);
  return approval_from_row(sel);
}

Status insert_approval(SqliteDb& db, const ApprovalRecord& a) {
  PREPARE(ins, db,
          "INSERT INTO approvals (id, kind, state, objective_id, task_id, step_seq, agent, title, reason, rule, "
          "request, context, schema, timeout_action, expires_at, created_at) "
          "VALUES (?1, ?2, 'pending', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) "
          "ON CONFLICT (id) DO NOTHING");
  ins->bind(1, a.id).bind(2, a.kind).bind(3, a.objective_id).bind(4, a.task_id).bind(5, a.step_seq);
  ins->bind(6, a.agent).bind(7, a.title).bind(8, a.reason).bind(9, a.rule).bind(10, a.request);
  ins->bind(11, a.context).bind(12, a.schema).bind(13, a.timeout_action).bind(14, a.expires_at);
  ins->bind(15, a.created_at);
  return ins->run();
}

// Decides a task left uncertain, inside the caller's transaction.
Status resolve_uncertain(SqliteDb& db, const std::string& task_id, Resolution resolution,
                         const std::string& note, TimeMs now) {
  CADRE_ASSIGN_OR_RETURN(LiveTask live, load_live_task(db, task_id));
  if (live.state != "uncertain") {
    return Status::FailedPrecondition("task " + task_id + " is " + live.state +
                                      "; only uncertain tasks can be resolved");
  }
  PREPARE(sel, db, "SELECT max(seq) FROM steps WHERE task_id = ?1 AND state = 'started'");
  sel->bind(1, task_id);
  CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
  if (!row || sel->is_null(0))
    return Status::Internal("uncertain task " + task_id + " has no step in flight");
  int64_t seq = sel->int_at(0);
  std::string by_operator =
      note.empty() ? "resolved by the operator" : "resolved by the operator: " + note;
  if (resolution == Resolution::kFail) {
    PREPARE(step, db,
            "UPDATE steps SET state = 'failed', error = ?1, finished_at = ?2 WHERE task_id = "
            "?3 AND seq = ?4");
    step->bind(1, by_operator).bind(2, now).bind(3, task_id).bind(4, seq);
    CADRE_RETURN_IF_ERROR(step->run());
    PREPARE(obj, db,
            "UPDATE objectives SET state = 'running' WHERE id = ?1 AND state = 'uncertain'");
    obj->bind(1, live.objective_id);
    CADRE_RETURN_IF_ERROR(obj->run());
    TaskFinished failed{TaskState::kFailed, nullptr, by_operator, now};
    CADRE_RETURN_IF_ERROR(finish_task(db, task_id, live.objective_id, live.key, failed).status());
    return Status::Ok();
  }
  if (resolution == Resolution::kDone) {
    PREPARE(step, db,
            "UPDATE steps SET state = 'done', output = ?1, finished_at = ?2 WHERE task_id = "
            "?3 AND seq = ?4");
    step->bind(1, Json{{"resolved", "done"}, {"note", note}})
        .bind(2, now)
        .bind(3, task_id)
        .bind(4, seq);
    CADRE_RETURN_IF_ERROR(step->run());
  } else {
    PREPARE(step, db, "UPDATE steps SET state = 'retrying' WHERE task_id = ?1 AND seq = ?2");
    step->bind(1, task_id).bind(2, seq);
    CADRE_RETURN_IF_ERROR(step->run());
  }
  PREPARE(task, db, "UPDATE tasks SET state = 'ready', run_at = ?1, error = '' WHERE id = ?2");
  task->bind(1, now).bind(2, task_id);
  CADRE_RETURN_IF_ERROR(task->run());
  CADRE_RETURN_IF_ERROR(unblock_objective(db, live.objective_id, now));
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const StoreOptions& options) {
  auto store = SqliteStore::open(options);
  if (!store.ok()) return store.status();
  return std::unique_ptr<Store>(std::move(store).value());
}

// Refuses, before anything is written to it, a SQLite file that holds
// another application's tables (schema version 0 but not empty).
Status refuse_foreign_database(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec) || std::filesystem::file_size(path, ec) == 0)
    return Status::Ok();
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(raw);
    return Status::Ok();  // the regular open reports what is wrong
  }
  sqlite3_stmt* stmt = nullptr;
  bool foreign = false;
  if (sqlite3_prepare_v2(raw,
                         "SELECT (SELECT user_version FROM pragma_user_version) = 0 AND "
                         "(SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%') > 0",
                         -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    foreign = sqlite3_column_int(stmt, 0) != 0;
  }
  sqlite3_finalize(stmt);
  sqlite3_close(raw);
  if (foreign) {
    return Status::FailedPrecondition(
        path +
        " is not a Cadre database (it holds tables of another application); "
        "point store.path at a new file");
  }
  return Status::Ok();
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const StoreOptions& options) {
  CADRE_RETURN_IF_ERROR(refuse_foreign_database(options.path));
  std::error_code ec;
  auto parent = std::filesystem::path(options.path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  CADRE_ASSIGN_OR_RETURN(auto db,
                         SqliteDb::open(options.path, /*create=*/true, options.synchronous_full,
                                        options.busy_timeout_ms));
  CADRE_RETURN_IF_ERROR(db->exec("PRAGMA wal_autocheckpoint=0"));
  // Reading the schema version takes no write lock, so commands that only
  // read work while another process writes; only an upgrade needs the writer.
  int version = 0;
  {
    PREPARE(ver, *db, "PRAGMA user_version");
    CADRE_ASSIGN_OR_RETURN(bool row, ver->step());
    version = row ? static_cast<int>(ver->int_at(0)) : 0;
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(options));
  store->writer_ = std::make_unique<GroupCommitWriter>(std::move(db), options.max_batch);
  store->memory_ = std::make_unique<SqliteMemoryStore>(
      *store->writer_, [s = store.get()](const std::function<Status(SqliteDb&)>& fn) {
        return s->read<bool>([&](SqliteDb& db) -> Result<bool> {
                  CADRE_RETURN_IF_ERROR(fn(db));
                  return true;
                })
            .status();
      });
  store->audit_ = std::make_unique<SqliteAuditStore>(
      *store->writer_, [s = store.get()](const std::function<Status(SqliteDb&)>& fn) {
        return s->read<bool>([&](SqliteDb& db) -> Result<bool> {
                  CADRE_RETURN_IF_ERROR(fn(db));
                  return true;
                })
            .status();
      });
  if (version != static_cast<int>(sqlite_schema::migrations().size()))
    CADRE_RETURN_IF_ERROR(store->migrate());
  store->checkpointer_ = std::thread([s = store.get()] { s->checkpoint_loop(); });
  return store;
}

SqliteStore::~SqliteStore() {
  {
    std::lock_guard lock(checkpoint_mutex_);
    closing_ = true;
  }
  checkpoint_wake_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
  writer_.reset();  // drains pending writes; closing the last connection checkpoints
}

namespace {
constexpr int kRestartWalPages = 16384;  // 64 MiB of 4 KiB pages
}  // namespace

void SqliteStore::checkpoint_loop() {
  pthread_setname_np(pthread_self(), "cadre-ckpt");  // 15 characters at most
  auto db = SqliteDb::open(options_.path, /*create=*/false, options_.synchronous_full,
                           options_.busy_timeout_ms);
  if (!db.ok()) return;  // the writer's connection then checkpoints at close
  while (true) {
    {
      std::unique_lock lock(checkpoint_mutex_);
      checkpoint_wake_.wait_for(lock, std::chrono::milliseconds(200), [this] { return closing_; });
      if (closing_) return;
    }
    // PASSIVE: copies what it can without blocking the writer or readers.
    // Under continuous writes that never lets the WAL start over, so it
    // would grow without bound (1.2 GB for a 170 MB database was measured):
    // past kRestartWalPages, RESTART waits (up to the busy timeout) for
    // readers to leave the WAL so the next write starts at its beginning.
    int log_pages = 0, copied = 0;
    sqlite3* handle = (*db)->handle();
    if (sqlite3_wal_checkpoint_v2(handle, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_pages, &copied) == SQLITE_OK &&
        log_pages > kRestartWalPages) {
      (void)sqlite3_wal_checkpoint_v2(handle, nullptr, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr);
    }
  }
}

template <typename T>
Result<T> SqliteStore::read(const std::function<Result<T>(SqliteDb&)>& fn) {
  std::unique_ptr<SqliteDb> db;
  {
    std::lock_guard lock(readers_mutex_);
    if (!idle_readers_.empty()) {
      db = std::move(idle_readers_.back());
      idle_readers_.pop_back();
    }
  }
  if (!db) {
    auto opened = SqliteDb::open(options_.path, /*create=*/false, options_.synchronous_full,
                                 options_.busy_timeout_ms);
    if (!opened.ok()) return opened.status();
    db = std::move(opened).value();
    Status prepared = memory_ ? memory_->prepare_reader(*db) : Status::Ok();
    if (!prepared.ok()) return prepared;
  }
  Result<T> result = fn(*db);
  std::lock_guard lock(readers_mutex_);
  if (idle_readers_.size() < 8) idle_readers_.push_back(std::move(db));
  return result;
}

Status SqliteStore::migrate() {
  auto applied = writer_->run<int>([](SqliteDb& db) -> Result<int> {
    PREPARE(ver, db, "PRAGMA user_version");
    CADRE_ASSIGN_OR_RETURN(bool row, ver->step());
    int version = row ? static_cast<int>(ver->int_at(0)) : 0;
    const auto& all = sqlite_schema::migrations();
    if (version > static_cast<int>(all.size())) {
      return Status::FailedPrecondition(
          "the database has schema version " + std::to_string(version) +
          " but this cadre knows only up to " + std::to_string(all.size()) + "; use a newer cadre");
    }
    for (size_t i = static_cast<size_t>(version); i < all.size(); ++i) {
      CADRE_RETURN_IF_ERROR(db.exec(all[i]).with_context("migration " + std::to_string(i + 1)));
      CADRE_RETURN_IF_ERROR(db.exec("PRAGMA user_version = " + std::to_string(i + 1)));
    }
    return static_cast<int>(all.size());
  });
  return applied.status();
}

Status SqliteStore::put_definition(const DefinitionRecord& def) {
  return writer_
      ->run<bool>([&](SqliteDb& db) -> Result<bool> {
        PREPARE(ins, db,
                "INSERT INTO definitions (hash, kind, name, body, created_at) VALUES (?1, ?2, ?3, "
                "?4, ?5) "
                "ON CONFLICT (hash) DO NOTHING");
        ins->bind(1, def.hash)
            .bind(2, def.kind)
            .bind(3, def.name)
            .bind(4, def.body)
            .bind(5, def.created_at);
        CADRE_RETURN_IF_ERROR(ins->run());
        if (db.changes() == 0) return true;  // a version seen before
        // A new version: the audit log says which one it replaces.
        PREPARE(prev, db,
                "SELECT hash FROM definitions WHERE kind = ?1 AND name = ?2 AND hash <> ?3 "
                "ORDER BY rowid DESC LIMIT 1");
        prev->bind(1, def.kind).bind(2, def.name).bind(3, def.hash);
        CADRE_ASSIGN_OR_RETURN(bool had, prev->step());
        AuditEntry entry;
        entry.at = def.created_at > 0 ? def.created_at : SystemClock::instance().now_ms();
        entry.actor = "system";
        entry.action = had ? "definition.changed" : "definition.added";
        entry.subject = def.kind + ":" + def.name;
        entry.data = {{"version", def.hash}};
        if (had) entry.data["previous"] = prev->text_at(0);
        CADRE_RETURN_IF_ERROR(append_audit_entry(db, entry));
        return true;
      })
      .status();
}

Result<DefinitionRecord> SqliteStore::get_definition(const std::string& hash) {
  return read<DefinitionRecord>([&](SqliteDb& db) -> Result<DefinitionRecord> {
    PREPARE(sel, db, "SELECT hash, kind, name, body, created_at FROM definitions WHERE hash = ?1");
    sel->bind(1, hash);
    CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
    if (!row) return Status::NotFound("definition version " + hash + " is not stored");
    return DefinitionRecord{sel->text_at(0), sel->text_at(1), sel->text_at(2), sel->json_at(3),
                            sel->int_at(4)};
  });
}

Result<bool> SqliteStore::create_objective(const NewObjective& n, TimeMs now) {
  return writer_->run<bool>([&](SqliteDb& db) -> Result<bool> {
    const ObjectiveRecord& o = n.objective;
    if (!o.dedupe_key.empty()) {
      PREPARE(dup, db, "SELECT 1 FROM objectives WHERE dedupe_key = ?1");
      dup->bind(1, o.dedupe_key);
      CADRE_ASSIGN_OR_RETURN(bool exists, dup->step());
      if (exists) return false;
    }
    {
      PREPARE(ins, db,
              "INSERT INTO objectives (id, title, owner, source, playbook, inputs, versions, "
              "state, dedupe_key, "
              "tasks_total, tasks_left, created_at, updated_at) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULLIF(?9, ''), ?10, ?10, ?11, ?11)");
      ins->bind(1, o.id).bind(2, o.title).bind(3, o.owner).bind(4, o.source).bind(5, o.playbook);
      ins->bind(6, o.inputs.is_null() ? Json::object() : o.inputs);
      ins->bind(7, o.versions.is_null() ? Json::object() : o.versions);
      ins->bind(8, n.tasks.empty() ? "succeeded" : "running").bind(9, o.dedupe_key);
      ins->bind(10, static_cast<int64_t>(n.tasks.size())).bind(11, now);
      CADRE_RETURN_IF_ERROR(ins->run());
    }
    CADRE_RETURN_IF_ERROR(insert_tasks(db, o.id, n.tasks, now));
    return true;
  });
}

Result<ObjectiveRecord> SqliteStore::get_objective(const std::string& id) {
  return read<ObjectiveRecord>([&](SqliteDb& db) -> Result<ObjectiveRecord> {
    static const std::string kSql =
        sql_with("SELECT ", kObjectiveColumns, " FROM objectives WHERE id = ?1");
    PREPARE(sel, db, kSql);
    sel->bind(1, id);
    CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
    if (!row) return Status::NotFound("objective " + id + " does not exist");
    return objective_from_row(sel);
  });
}

Result<std::vector<ObjectiveRecord>> SqliteStore::list_objectives(const ObjectiveFilter& filter) {
  using Rows = std::vector<ObjectiveRecord>;
  return read<Rows>([&](SqliteDb& db) -> Result<Rows> {
    static const std::string kSql =
        sql_with("SELECT ", kObjectiveColumns,
                 " FROM objectives WHERE (?1 = '' OR state = ?1) ORDER BY id DESC LIMIT ?2");
    PREPARE(sel, db, kSql);
    sel->bind(1, filter.state ? std::string(to_string(*filter.state)) : std::string());
    sel->bind(2, filter.limit);
    Rows rows;
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
      if (!row) break;
      rows.push_back(objective_from_row(sel));
    }
    return rows;
  });
}

Result<TaskRecord> SqliteStore::get_task(const std::string& id) {
  return read<TaskRecord>([&](SqliteDb& db) { return load_task(db, id); });
}

Result<std::vector<TaskRecord>> SqliteStore::list_tasks(const TaskFilter& filter) {
  using Rows = std::vector<TaskRecord>;
  return read<Rows>([&](SqliteDb& db) -> Result<Rows> {
    // Within one objective, creation order (the plan's order); otherwise newest first.
    PREPARE(
        sel, db,
        sql_with(
            "SELECT ", kTaskColumns,
            filter.objective_id.empty()
                ? " FROM tasks WHERE ?1 = '' AND (?2 = '' OR state = ?2) AND (?4 = '' OR agent = ?4) "
                  "ORDER BY id DESC LIMIT ?3"
                : " FROM tasks WHERE objective_id = ?1 AND (?2 = '' OR state = ?2) AND (?4 = '' OR agent = ?4) "
                  "ORDER BY rowid LIMIT ?3"));
    sel->bind(1, filter.objective_id);
    sel->bind(2, filter.state ? std::string(to_string(*filter.state)) : std::string());
    sel->bind(3, filter.limit);
    sel->bind(4, filter.agent);
    Rows rows;
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
      if (!row) break;
      rows.push_back(task_from_row(sel));
    }
    return rows;
  });
}

Result<std::vector<StepRecord>> SqliteStore::get_steps(const std::string& task_id) {
  using Rows = std::vector<StepRecord>;
  return read<Rows>([&](SqliteDb& db) -> Result<Rows> {
    static const std::string kSql =
        sql_with("SELECT ", kStepColumns, " FROM steps WHERE task_id = ?1 ORDER BY seq");
    PREPARE(sel, db, kSql);
    sel->bind(1, task_id);
    Rows rows;
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
      if (!row) break;
      rows.push_back(step_from_row(sel));
    }
    return rows;
  });
}

Result<Json> SqliteStore::task_outputs(const std::string& objective_id) {
  return read<Json>([&](SqliteDb& db) -> Result<Json> {
    PREPARE(sel, db,
            "SELECT key, output, state FROM tasks WHERE objective_id = ?1 AND state IN "
            "('succeeded', 'skipped')");
    sel->bind(1, objective_id);
    Json out = Json::object();
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
      if (!row) break;
      out[sel->text_at(0)] = {{"output", sel->json_at(1)}, {"state", sel->text_at(2)}};
    }
    return out;
  });
}

Result<Json> SqliteStore::counts() {
  return read<Json>([&](SqliteDb& db) -> Result<Json> {
    Json out = {{"tasks", Json::object()}, {"objectives", Json::object()}};
    PREPARE(tasks, db, "SELECT state, count(*) FROM tasks GROUP BY state");
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, tasks->step());
      if (!row) break;
      out["tasks"][tasks->text_at(0)] = tasks->int_at(1);
    }
    PREPARE(objs, db, "SELECT state, count(*) FROM objectives GROUP BY state");
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, objs->step());
      if (!row) break;
      out["objectives"][objs->text_at(0)] = objs->int_at(1);
    }
    return out;
  });
}

Result<std::vector<TaskRecord>> SqliteStore::claim_tasks(const std::string& worker, int max,
                                                         TimeMs now, int64_t lease_ms,
                                                         const AgentLimits& agent_limits) {
  using Rows = std::vector<TaskRecord>;
  return writer_->run<Rows>([&](SqliteDb& db) -> Result<Rows> {
    // Per-agent limits count live leases only; a task whose lease expired
    // is being reclaimed, not running.
    std::map<std::string, int> running;
    if (!agent_limits.empty()) {
      PREPARE(count, db,
              "SELECT agent, count(*) FROM tasks WHERE run_at > ?1 AND state = 'running' AND agent "
              "!= '' "
              "GROUP BY agent");
      count->bind(1, now);
      while (true) {
        CADRE_ASSIGN_OR_RETURN(bool row, count->step());
        if (!row) break;
        running[count->text_at(0)] = static_cast<int>(count->int_at(1));
      }
    }
    // With limits, look at more candidates than needed and skip those whose
    // agent already runs its maximum.
    std::vector<std::string> chosen;
    {
      PREPARE(
          sel, db,
          "SELECT id, agent FROM tasks WHERE run_at > 0 AND run_at <= ?1 ORDER BY run_at LIMIT ?2");
      sel->bind(1, now).bind(2, agent_limits.empty() ? max : max * 4);
      while (static_cast<int>(chosen.size()) < max) {
        CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
        if (!row) break;
        std::string agent = sel->text_at(1);
        auto limit = agent_limits.find(agent);
        if (!agent.empty() && limit != agent_limits.end()) {
          if (running[agent] >= limit->second) continue;
          ++running[agent];
        }
        chosen.push_back(sel->text_at(0));
      }
    }
    Rows rows;
    for (const auto& id : chosen) {
      static const std::string kSql = claim_sql("id = ?4");
      PREPARE(upd, db, kSql);
      upd->bind(1, worker).bind(2, now + lease_ms).bind(3, now).bind(4, id);
      CADRE_RETURN_IF_ERROR(upd->run());
      CADRE_ASSIGN_OR_RETURN(TaskRecord task, load_task(db, id));
      rows.push_back(std::move(task));
    }
    return rows;
  });
}

Result<CommitResult> SqliteStore::commit(const TaskRef& ref, std::vector<Transition> transitions) {
  return writer_->run<CommitResult>([&](SqliteDb& db) -> Result<CommitResult> {
    CADRE_ASSIGN_OR_RETURN(LiveTask live, load_live_task(db, ref.task_id));
    if (live.fence != ref.fence) {
      return Status::Conflict("task " + ref.task_id + " was claimed again (fence " +
                              std::to_string(live.fence) + ", ours " + std::to_string(ref.fence) +
                              "); this worker's lease is void");
    }
    if (live.state != "running") {
      return Status::Conflict("task " + ref.task_id + " is " + live.state + ", not running");
    }
    CommitResult result;
    for (const auto& transition : transitions) {
      Status s = std::visit(
          [&](const auto& t) -> Status {
            using T = std::decay_t<decltype(t)>;
            if constexpr (std::is_same_v<T, StepStarted>) {
              PREPARE(ins, db,
                      "INSERT INTO steps (task_id, seq, name, kind, state, idempotency_key, input, "
                      "attempts, "
                      "started_at) VALUES (?1, ?2, ?3, ?4, 'started', ?5, ?6, ?7, ?8) "
                      "ON CONFLICT (task_id, seq) DO UPDATE SET state = 'started', attempts = "
                      "excluded.attempts, "
                      "started_at = excluded.started_at, input = excluded.input, finished_at = 0");
              ins->bind(1, ref.task_id)
                  .bind(2, t.seq)
                  .bind(3, t.name)
                  .bind(4, t.kind)
                  .bind(5, t.idempotency_key);
              ins->bind(6, t.input).bind(7, t.attempt).bind(8, t.at);
              return ins->run();
            } else if constexpr (std::is_same_v<T, StepFinished>) {
              PREPARE(
                  upd, db,
                  "UPDATE steps SET state = ?1, output = ?2, error = ?3, finished_at = ?4, "
                  "attempt_log = json_insert(attempt_log, '$[#]', json_object('attempt', attempts, "
                  "'started_at', started_at, 'finished_at', ?4, 'error', ?3)) "
                  "WHERE task_id = ?5 AND seq = ?6");
              upd->bind(1, to_string(t.state)).bind(2, t.output).bind(3, t.error).bind(4, t.at);
              upd->bind(5, ref.task_id).bind(6, t.seq);
              CADRE_RETURN_IF_ERROR(upd->run());
              if (db.changes() != 1)
                return Status::Internal("step " + std::to_string(t.seq) +
                                        " finished without being started");
              return Status::Ok();
            } else if constexpr (std::is_same_v<T, TaskFinished>) {
              CADRE_ASSIGN_OR_RETURN(int n, finish_task(db, ref.task_id, live.objective_id,
                                                        live.key, t, &result.next));
              result.tasks_made_ready += n;
              return Status::Ok();
            } else if constexpr (std::is_same_v<T, TaskParked>) {
              PREPARE(upd, db,
                      "UPDATE tasks SET state = 'waiting', wait_kind = ?1, wait_key = ?2, wait_seq "
                      "= ?3, "
                      "run_at = ?4, lease_owner = '' WHERE id = ?5");
              upd->bind(1, to_string(t.kind)).bind(2, t.key).bind(3, t.seq);
              const bool timed = t.kind == WaitKind::kTimer || (t.kind == WaitKind::kApproval && t.wake_at > 0);
              upd->bind(4, timed ? std::max<TimeMs>(t.wake_at, 1) : 0).bind(5, ref.task_id);
              CADRE_RETURN_IF_ERROR(upd->run());
              if (t.kind == WaitKind::kApproval) {
                // Answered before this task parked on it (a shared item, or an
                // answer that came while the task was running): deliver it now.
                CADRE_ASSIGN_OR_RETURN(ApprovalRecord a, load_approval(db, t.key));
                if (a.state != ApprovalState::kPending) {
                  CADRE_ASSIGN_OR_RETURN(int n, wake_waiters(db, "approval", a.id, approval_outcome(a), t.at));
                  result.tasks_made_ready += n;
                }
              }
              return Status::Ok();
            } else if constexpr (std::is_same_v<T, LockAcquire>) {
              PREPARE(ins, db,
                      "INSERT INTO locks (resource, task_id, acquired_at) VALUES (?1, ?2, ?3) "
                      "ON CONFLICT (resource) DO NOTHING");
              ins->bind(1, t.resource).bind(2, ref.task_id).bind(3, t.at);
              CADRE_RETURN_IF_ERROR(ins->run());
              PREPARE(sel, db, "SELECT task_id FROM locks WHERE resource = ?1");
              sel->bind(1, t.resource);
              CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
              if (row && sel->text_at(0) == ref.task_id) return Status::Ok();
              PREPARE(park, db,
                      "UPDATE tasks SET state = 'waiting', wait_kind = 'lock', wait_key = ?1, "
                      "run_at = 0, "
                      "lease_owner = '' WHERE id = ?2");
              park->bind(1, t.resource).bind(2, ref.task_id);
              CADRE_RETURN_IF_ERROR(park->run());
              result.lock_busy = true;
              return Status::Ok();
            } else if constexpr (std::is_same_v<T, EventRaised>) {
              CADRE_ASSIGN_OR_RETURN(int n, insert_event(db, t.event));
              result.tasks_made_ready += n;
              return Status::Ok();
            } else if constexpr (std::is_same_v<T, ChildrenSpawned>) {
              CADRE_RETURN_IF_ERROR(insert_tasks(db, live.objective_id, t.children, t.at));
              for (const auto& child : t.children) {
                // The edge runs child -> parent: a child's success counts down the parent's deps.
                PREPARE(edge, db, "INSERT INTO task_edges (parent, child) VALUES (?1, ?2)");
                edge->bind(1, child.id).bind(2, ref.task_id);
                CADRE_RETURN_IF_ERROR(edge->run());
              }
              const auto n = static_cast<int64_t>(t.children.size());
              PREPARE(park, db,
                      "UPDATE tasks SET state = 'waiting', wait_kind = 'children', wait_key = '', "
                      "run_at = 0, "
                      "lease_owner = '', deps_left = ?1 WHERE id = ?2");
              park->bind(1, n).bind(2, ref.task_id);
              CADRE_RETURN_IF_ERROR(park->run());
              PREPARE(obj, db,
                      "UPDATE objectives SET tasks_total = tasks_total + ?1, tasks_left = "
                      "tasks_left + ?1, "
                      "updated_at = ?2 WHERE id = ?3");
              obj->bind(1, n).bind(2, t.at).bind(3, live.objective_id);
              CADRE_RETURN_IF_ERROR(obj->run());
              result.tasks_made_ready += static_cast<int>(n);
              return Status::Ok();
            } else if constexpr (std::is_same_v<T, ApprovalRequested>) {
              return insert_approval(db, t.approval);
            } else if constexpr (std::is_same_v<T, AuditAppended>) {
              AuditEntry entry = t.entry;
              return append_audit_entry(db, entry);
            } else if constexpr (std::is_same_v<T, TaskReleased>) {
              PREPARE(
                  upd, db,
                  "UPDATE tasks SET state = 'ready', run_at = ?1, lease_owner = '' WHERE id = ?2");
              upd->bind(1, std::max<TimeMs>(t.at, 1)).bind(2, ref.task_id);
              return upd->run();
            }
          },
          transition);
      CADRE_RETURN_IF_ERROR(s);
      if (result.lock_busy) break;  // what followed the lock must wait for it
    }
    return result;
  });
}

Result<std::vector<std::string>> SqliteStore::renew_leases(const std::string& worker,
                                                           const std::vector<TaskRef>& tasks,
                                                           TimeMs expires) {
  using Ids = std::vector<std::string>;
  return writer_->run<Ids>([&](SqliteDb& db) -> Result<Ids> {
    Ids lost;
    for (const auto& ref : tasks) {
      PREPARE(upd, db,
              "UPDATE tasks SET run_at = ?1 WHERE id = ?2 AND fence = ?3 AND state = 'running' "
              "AND lease_owner = ?4");
      upd->bind(1, expires).bind(2, ref.task_id).bind(3, ref.fence).bind(4, worker);
      CADRE_RETURN_IF_ERROR(upd->run());
      if (db.changes() == 0) lost.push_back(ref.task_id);
    }
    return lost;
  });
}

Result<std::vector<std::string>> SqliteStore::lease_owners() {
  using Ids = std::vector<std::string>;
  return read<Ids>([&](SqliteDb& db) -> Result<Ids> {
    PREPARE(sel, db,
            "SELECT DISTINCT lease_owner FROM tasks WHERE run_at > 0 AND state = 'running'");
    Ids owners;
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
      if (!row) break;
      owners.push_back(sel->text_at(0));
    }
    return owners;
  });
}

Status SqliteStore::expire_leases(const std::string& worker, TimeMs now) {
  return writer_
      ->run<bool>([&](SqliteDb& db) -> Result<bool> {
        PREPARE(upd, db,
                "UPDATE tasks SET run_at = ?1 WHERE run_at > 0 AND state = 'running' AND "
                "lease_owner = ?2");
        upd->bind(1, std::max<TimeMs>(now, 1)).bind(2, worker);
        CADRE_RETURN_IF_ERROR(upd->run());
        return true;
      })
      .status();
}

Result<TimeMs> SqliteStore::next_wake_time(TimeMs after) {
  return read<TimeMs>([&](SqliteDb& db) -> Result<TimeMs> {
    PREPARE(sel, db, "SELECT coalesce(min(run_at), 0) FROM tasks WHERE run_at > ?1");
    sel->bind(1, std::max<TimeMs>(after, 0));
    CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
    return row ? sel->int_at(0) : 0;
  });
}

Status SqliteStore::emit_event(const EventRecord& event) {
  return writer_->run<int>([&](SqliteDb& db) { return insert_event(db, event); }).status();
}

Result<std::vector<EventRecord>> SqliteStore::unprocessed_events(int limit) {
  using Rows = std::vector<EventRecord>;
  return read<Rows>([&](SqliteDb& db) -> Result<Rows> {
    PREPARE(sel, db,
            "SELECT id, name, data, source, created_at FROM events WHERE processed = 0 ORDER BY id "
            "LIMIT ?1");
    sel->bind(1, limit);
    Rows rows;
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
      if (!row) break;
      rows.push_back({sel->text_at(0), sel->text_at(1), sel->json_at(2), sel->text_at(3),
                      sel->int_at(4), false, ""});
    }
    return rows;
  });
}

Result<std::vector<EventRecord>> SqliteStore::rejected_events(int limit) {
  using Rows = std::vector<EventRecord>;
  return read<Rows>([&](SqliteDb& db) -> Result<Rows> {
    PREPARE(sel, db,
            "SELECT id, name, data, source, created_at, error FROM events WHERE error != '' "
            "ORDER BY id DESC LIMIT ?1");
    sel->bind(1, limit);
    Rows rows;
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
      if (!row) break;
      rows.push_back({sel->text_at(0), sel->text_at(1), sel->json_at(2), sel->text_at(3),
                      sel->int_at(4), true, sel->text_at(5)});
    }
    return rows;
  });
}

Status SqliteStore::mark_event_processed(const std::string& id, const std::string& error) {
  return writer_
      ->run<bool>([&](SqliteDb& db) -> Result<bool> {
        PREPARE(upd, db, "UPDATE events SET processed = 1, error = ?2 WHERE id = ?1");
        upd->bind(1, id).bind(2, error);
        CADRE_RETURN_IF_ERROR(upd->run());
        return true;
      })
      .status();
}

Status SqliteStore::cancel_objective(const std::string& id, TimeMs now) {
  return writer_
      ->run<bool>([&](SqliteDb& db) -> Result<bool> {
        PREPARE(obj, db,
                "UPDATE objectives SET state = 'cancelled', error = 'cancelled by the operator', "
                "updated_at = ?1, "
                "finished_at = ?1 WHERE id = ?2 AND state IN ('running', 'uncertain')");
        obj->bind(1, now).bind(2, id);
        CADRE_RETURN_IF_ERROR(obj->run());
        if (db.changes() == 0) {
          PREPARE(exists, db, "SELECT state FROM objectives WHERE id = ?1");
          exists->bind(1, id);
          CADRE_ASSIGN_OR_RETURN(bool row, exists->step());
          if (!row) return Status::NotFound("objective " + id + " does not exist");
          return Status::FailedPrecondition("objective " + id + " is already " +
                                            exists->text_at(0));
        }
        // Running and uncertain tasks are cancelled too; bumping the fence
        // voids the lease of any worker still running one.
        std::vector<std::string> running;
        {
          PREPARE(upd, db,
                  "UPDATE tasks SET state = 'cancelled', fence = fence + 1, run_at = 0, "
                  "lease_owner = '', "
                  "error = 'cancelled by the operator', finished_at = ?1 "
                  "WHERE objective_id = ?2 AND state IN ('running', 'uncertain') RETURNING id");
          upd->bind(1, now).bind(2, id);
          while (true) {
            CADRE_ASSIGN_OR_RETURN(bool row, upd->step());
            if (!row) break;
            running.push_back(upd->text_at(0));
          }
        }
        for (const auto& task_id : running)
          CADRE_RETURN_IF_ERROR(release_locks(db, task_id, now).status());
        CADRE_RETURN_IF_ERROR(cancel_unstarted(db, id, "cancelled by the operator", now).status());
        return true;
      })
      .status();
}

Status SqliteStore::retry_task(const std::string& task_id, TimeMs now) {
  return writer_
      ->run<bool>([&](SqliteDb& db) -> Result<bool> {
        CADRE_ASSIGN_OR_RETURN(LiveTask live, load_live_task(db, task_id));
        if (live.state != "failed" && live.state != "cancelled") {
          return Status::FailedPrecondition("task " + task_id + " is " + live.state +
                                            "; only failed or cancelled tasks can be retried");
        }
        // Failed steps get a fresh set of attempts; their history stays in
        // attempt_log. A step still `started` (in flight when the run was
        // cancelled) stays so: on replay an idempotent one runs again with
        // its key and any other makes the task uncertain.
        PREPARE(
            steps, db,
            "UPDATE steps SET state = 'retrying', attempts = 0 WHERE task_id IN "
            "(SELECT id FROM tasks WHERE objective_id = ?1 AND state IN ('failed', 'cancelled')) "
            "AND state = 'failed'");
        steps->bind(1, live.objective_id);
        CADRE_RETURN_IF_ERROR(steps->run());
        PREPARE(tasks, db,
                "UPDATE tasks SET state = CASE WHEN deps_left = 0 THEN 'ready' ELSE 'pending' END, "
                "run_at = CASE WHEN deps_left = 0 THEN ?1 ELSE 0 END, error = '', finished_at = 0, "
                "output = NULL "
                "WHERE objective_id = ?2 AND state IN ('failed', 'cancelled')");
        tasks->bind(1, now).bind(2, live.objective_id);
        CADRE_RETURN_IF_ERROR(tasks->run());
        PREPARE(obj, db,
                "UPDATE objectives SET state = CASE WHEN EXISTS (SELECT 1 FROM tasks WHERE "
                "objective_id = ?2 "
                "AND state = 'uncertain') THEN 'uncertain' ELSE 'running' END, error = '', "
                "finished_at = 0, "
                "updated_at = ?1 WHERE id = ?2");
        obj->bind(1, now).bind(2, live.objective_id);
        CADRE_RETURN_IF_ERROR(obj->run());
        return true;
      })
      .status();
}

Status SqliteStore::resolve_task(const std::string& task_id, Resolution resolution,
                                 const std::string& note, TimeMs now) {
  return writer_
      ->run<bool>([&](SqliteDb& db) -> Result<bool> {
        CADRE_RETURN_IF_ERROR(resolve_uncertain(db, task_id, resolution, note, now));
        // The task's approval item is answered by this resolution.
        PREPARE(close, db,
                "UPDATE approvals SET state = ?1, answer = ?2, answered_by = 'operator (cadre resolve)', "
                "answered_at = ?3 WHERE task_id = ?4 AND kind = 'uncertain' AND state = 'pending'");
        const char* decision = resolution == Resolution::kDone ? "approve"
                               : resolution == Resolution::kRedo ? "redo" : "reject";
        close->bind(1, resolution == Resolution::kFail ? "rejected" : "approved")
            .bind(2, Json{{"decision", decision}, {"reason", note}})
            .bind(3, now)
            .bind(4, task_id);
        CADRE_RETURN_IF_ERROR(close->run());
        return true;
      })
      .status();
}

Result<ApprovalRecord> SqliteStore::get_approval(const std::string& id) {
  return read<ApprovalRecord>([&](SqliteDb& db) { return load_approval(db, id); });
}

Result<std::vector<ApprovalRecord>> SqliteStore::list_approvals(const ApprovalFilter& filter) {
  using Rows = std::vector<ApprovalRecord>;
  return read<Rows>([&](SqliteDb& db) -> Result<Rows> {
    std::string sql = std::string("SELECT ") + kApprovalColumns + " FROM approvals WHERE 1";
    if (filter.state) sql += " AND state = ?2";
    if (!filter.objective_id.empty()) sql += " AND objective_id = ?3";
    if (!filter.kind.empty()) sql += " AND kind = ?4";
    if (!filter.agent.empty()) sql += " AND agent = ?5";
    sql += " ORDER BY created_at DESC, id DESC LIMIT ?1";
    PREPARE(sel, db, sql);
    sel->bind(1, filter.limit);
    if (filter.state) sel->bind(2, to_string(*filter.state));
    if (!filter.objective_id.empty()) sel->bind(3, filter.objective_id);
    if (!filter.kind.empty()) sel->bind(4, filter.kind);
    if (!filter.agent.empty()) sel->bind(5, filter.agent);
    Rows rows;
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
      if (!row) break;
      rows.push_back(approval_from_row(sel));
    }
    return rows;
  });
}

Result<ApprovalRecord> SqliteStore::answer_approval(const std::string& id, const ApprovalAnswer& answer, TimeMs now,
                                                    const AuditEntry* audit) {
  return writer_->run<ApprovalRecord>([&](SqliteDb& db) -> Result<ApprovalRecord> {
    CADRE_ASSIGN_OR_RETURN(ApprovalRecord a, load_approval(db, id));
    if (a.state != ApprovalState::kPending) {
      return Status::Conflict(already_answered(a));
    }
    const bool approve = answer.decision == "approve" || answer.decision == "redo";
    if (!approve && answer.decision != "reject") {
      return Status::InvalidArgument("decision must be approve, reject or redo, not '" + answer.decision + "'");
    }
    if (answer.decision == "redo" && a.kind != "uncertain") {
      return Status::InvalidArgument("only an uncertain step can be redone; approve or reject " + id);
    }
    a.state = answer.by == "timeout" ? ApprovalState::kExpired
              : approve              ? ApprovalState::kApproved
                                     : ApprovalState::kRejected;
    a.answer = {{"decision", answer.decision}};
    if (!answer.args.is_null()) a.answer["args"] = answer.args;
    if (!answer.reason.empty()) a.answer["reason"] = answer.reason;
    a.answered_by = answer.by;
    a.answered_at = now;
    PREPARE(upd, db,
            "UPDATE approvals SET state = ?1, answer = ?2, answered_by = ?3, answered_at = ?4 "
            "WHERE id = ?5 AND state = 'pending'");
    upd->bind(1, to_string(a.state)).bind(2, a.answer).bind(3, a.answered_by).bind(4, now).bind(5, id);
    CADRE_RETURN_IF_ERROR(upd->run());
    if (a.kind == "uncertain") {
      Resolution r = answer.decision == "approve" ? Resolution::kDone
                     : answer.decision == "redo"  ? Resolution::kRedo
                                                  : Resolution::kFail;
      std::string note = answer.reason.empty() ? "answered by " + answer.by : answer.reason;
      CADRE_RETURN_IF_ERROR(resolve_uncertain(db, a.task_id, r, note, now));
    } else {
      CADRE_RETURN_IF_ERROR(wake_waiters(db, "approval", id, approval_outcome(a), now).status());
    }
    if (audit) {
      AuditEntry entry = *audit;
      CADRE_RETURN_IF_ERROR(append_audit_entry(db, entry));
    }
    return a;
  });
}

Result<Json> SqliteStore::budget_grants(const std::string& agent, const std::string& scope) {
  return read<Json>([&](SqliteDb& db) -> Result<Json> {
    PREPARE(sel, db,
            "SELECT request, answer FROM approvals WHERE agent = ?1 AND kind = 'budget' AND state = 'approved' "
            "AND json_extract(request, '$.scope') = ?2");
    sel->bind(1, agent).bind(2, scope);
    double usd = 0;
    int64_t tokens = 0;
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
      if (!row) break;
      Json request = sel->json_at(0), answer = sel->json_at(1);
      const Json& grant = answer.is_object() && answer.contains("args") ? answer["args"] : request;
      usd += grant.value("usd", 0.0);
      tokens += grant.value("tokens", int64_t{0});
    }
    return Json{{"usd", usd}, {"tokens", tokens}};
  });
}

Status SqliteStore::set_paused(const PauseRecord& pause, bool paused, const AuditEntry* audit) {
  return writer_
      ->run<bool>([&](SqliteDb& db) -> Result<bool> {
        if (paused) {
          PREPARE(ins, db,
                  "INSERT INTO pauses (target, paused_by, reason, paused_at) VALUES (?1, ?2, ?3, ?4) "
                  "ON CONFLICT (target) DO NOTHING");
          ins->bind(1, pause.target).bind(2, pause.by).bind(3, pause.reason).bind(4, pause.at);
          CADRE_RETURN_IF_ERROR(ins->run());
        } else {
          PREPARE(del, db, "DELETE FROM pauses WHERE target = ?1");
          del->bind(1, pause.target);
          CADRE_RETURN_IF_ERROR(del->run());
        }
        if (audit && db.changes() > 0) {
          AuditEntry entry = *audit;
          CADRE_RETURN_IF_ERROR(append_audit_entry(db, entry));
        }
        return true;
      })
      .status();
}

Result<std::vector<PauseRecord>> SqliteStore::pauses() {
  using Rows = std::vector<PauseRecord>;
  return read<Rows>([&](SqliteDb& db) -> Result<Rows> {
    PREPARE(sel, db, "SELECT target, paused_by, reason, paused_at FROM pauses ORDER BY target");
    Rows rows;
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
      if (!row) break;
      rows.push_back({sel->text_at(0), sel->text_at(1), sel->text_at(2), sel->int_at(3)});
    }
    return rows;
  });
}

Status SqliteStore::put_connector_state(const std::string& connector, const std::string& key,
                                        const Json& value, TimeMs at) {
  return writer_
      ->run<bool>([&](SqliteDb& db) -> Result<bool> {
        PREPARE(put, db,
                "INSERT INTO connector_state (connector, key, value, updated_at) VALUES (?1, ?2, ?3, ?4) "
                "ON CONFLICT (connector, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at");
        put->bind(1, connector).bind(2, key).bind(3, dump_json(value)).bind(4, at);
        CADRE_RETURN_IF_ERROR(put->run());
        return true;
      })
      .status();
}

Result<Json> SqliteStore::connector_state(const std::string& connector, const std::string& key) {
  return read<Json>([&](SqliteDb& db) -> Result<Json> {
    PREPARE(sel, db, "SELECT value FROM connector_state WHERE connector = ?1 AND key = ?2");
    sel->bind(1, connector).bind(2, key);
    CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
    if (!row) return Json();
    return parse_json(sel->text_at(0), "connector_state.value");
  });
}

Result<std::map<std::string, Json>> SqliteStore::connector_states(const std::string& key) {
  using Rows = std::map<std::string, Json>;
  return read<Rows>([&](SqliteDb& db) -> Result<Rows> {
    PREPARE(sel, db, "SELECT connector, value FROM connector_state WHERE key = ?1");
    sel->bind(1, key);
    Rows rows;
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
      if (!row) break;
      CADRE_ASSIGN_OR_RETURN(rows[sel->text_at(0)], parse_json(sel->text_at(1), "connector_state.value"));
    }
    return rows;
  });
}

Result<TimeMs> SqliteStore::trigger_last_fire(const std::string& trigger_id) {
  return read<TimeMs>([&](SqliteDb& db) -> Result<TimeMs> {
    PREPARE(sel, db, "SELECT last_fire FROM trigger_state WHERE trigger_id = ?1");
    sel->bind(1, trigger_id);
    CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
    return row ? sel->int_at(0) : 0;
  });
}

Status SqliteStore::set_trigger_last_fire(const std::string& trigger_id, TimeMs t) {
  return writer_
      ->run<bool>([&](SqliteDb& db) -> Result<bool> {
        PREPARE(up, db,
                "INSERT INTO trigger_state (trigger_id, last_fire) VALUES (?1, ?2) "
                "ON CONFLICT (trigger_id) DO UPDATE SET last_fire = max(last_fire, "
                "excluded.last_fire)");
        up->bind(1, trigger_id).bind(2, t);
        CADRE_RETURN_IF_ERROR(up->run());
        return true;
      })
      .status();
}

Status SqliteStore::heartbeat_worker(const std::string& worker, const Json& info, TimeMs now) {
  return writer_
      ->run<bool>([&](SqliteDb& db) -> Result<bool> {
        PREPARE(up, db,
                "INSERT INTO workers (id, info, heartbeat_at) VALUES (?1, ?2, ?3) "
                "ON CONFLICT (id) DO UPDATE SET info = excluded.info, heartbeat_at = "
                "excluded.heartbeat_at");
        up->bind(1, worker).bind(2, info).bind(3, now);
        CADRE_RETURN_IF_ERROR(up->run());
        return true;
      })
      .status();
}

Status SqliteStore::remove_worker(const std::string& worker) {
  return writer_
      ->run<bool>([&](SqliteDb& db) -> Result<bool> {
        PREPARE(del, db, "DELETE FROM workers WHERE id = ?1");
        del->bind(1, worker);
        CADRE_RETURN_IF_ERROR(del->run());
        return true;
      })
      .status();
}

Result<Json> SqliteStore::live_workers(TimeMs now, int64_t max_age_ms) {
  return read<Json>([&](SqliteDb& db) -> Result<Json> {
    PREPARE(sel, db,
            "SELECT id, info, heartbeat_at FROM workers WHERE heartbeat_at >= ?1 ORDER BY id");
    sel->bind(1, now - max_age_ms);
    Json out = Json::array();
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
      if (!row) break;
      out.push_back(
          {{"id", sel->text_at(0)}, {"info", sel->json_at(1)}, {"heartbeat_at", sel->int_at(2)}});
    }
    return out;
  });
}

Result<Json> SqliteStore::cache_get(const std::string& key, TimeMs now) {
  return read<Json>([&](SqliteDb& db) -> Result<Json> {
    PREPARE(sel, db, "SELECT value FROM model_cache WHERE key = ?1 AND expires_at > ?2");
    sel->bind(1, key).bind(2, now);
    CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
    return row ? sel->json_at(0) : Json();
  });
}

Status SqliteStore::cache_put(const std::string& key, const Json& value, TimeMs now, TimeMs expires_at) {
  return writer_->run<bool>([&](SqliteDb& db) -> Result<bool> {
    // Expired entries go as new ones come, a few at a time.
    PREPARE(purge, db,
            "DELETE FROM model_cache WHERE key IN "
            "(SELECT key FROM model_cache WHERE expires_at <= ?1 ORDER BY expires_at LIMIT 16)");
    purge->bind(1, now);
    CADRE_RETURN_IF_ERROR(purge->run());
    PREPARE(put, db,
            "INSERT INTO model_cache (key, value, created_at, expires_at) VALUES (?1, ?2, ?3, ?4) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, created_at = excluded.created_at, "
            "expires_at = excluded.expires_at");
    put->bind(1, key).bind(2, value).bind(3, now).bind(4, expires_at);
    CADRE_RETURN_IF_ERROR(put->run());
    return true;
  }).status();
}

Result<Json> SqliteStore::model_usage(TimeMs since, const std::string& agent) {
  return read<Json>([&](SqliteDb& db) -> Result<Json> {
    PREPARE(sel, db,
            "SELECT count(*), coalesce(sum(json_extract(s.output, '$.call.cached')), 0), "
            // A cached answer cost nothing: its tokens were spent by the call it repeats.
            "coalesce(sum(CASE WHEN json_extract(s.output, '$.call.cached') THEN 0 "
            "ELSE json_extract(s.output, '$.response.usage.input_tokens') END), 0), "
            "coalesce(sum(CASE WHEN json_extract(s.output, '$.call.cached') THEN 0 "
            "ELSE json_extract(s.output, '$.response.usage.output_tokens') END), 0), "
            "coalesce(sum(json_extract(s.output, '$.call.cost_usd')), 0.0) "
            "FROM steps s WHERE s.kind = 'model' AND s.started_at >= ?1 AND s.state = 'done' "
            "AND (?2 = '' OR s.task_id IN (SELECT id FROM tasks WHERE agent = ?2))");
    sel->bind(1, since).bind(2, agent);
    CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
    if (!row) return Status::Internal("model usage query returned no row");
    return Json{{"calls", sel->int_at(0)},
                {"cached", sel->int_at(1)},
                {"input_tokens", sel->int_at(2)},
                {"output_tokens", sel->int_at(3)},
                {"cost_usd", sel->double_at(4)}};
  });
}

StoreStats SqliteStore::stats() const {
  return {writer_->transactions(), writer_->operations()};
}

// --- API tokens and sessions ---

namespace {

constexpr std::string_view kApiTokenColumns =
    "name, token_hash, created_by, created_at, last_used_at, revoked_at";

ApiTokenRecord api_token_from_row(const Stmt& s, int first = 0) {
  ApiTokenRecord t;
  t.name = s.text_at(first);
  t.token_hash = s.text_at(first + 1);
  t.created_by = s.text_at(first + 2);
  t.created_at = s.int_at(first + 3);
  t.last_used_at = s.int_at(first + 4);
  t.revoked_at = s.int_at(first + 5);
  return t;
}

}  // namespace

Status SqliteStore::put_api_token(const ApiTokenRecord& token, const AuditEntry* audit) {
  return writer_
      ->run<bool>([&](SqliteDb& db) -> Result<bool> {
        // A revoked token's row gives way to the new one; an active one stays.
        PREPARE(
            put, db,
            "INSERT INTO api_tokens (name, token_hash, created_by, created_at, last_used_at, "
            "revoked_at) "
            "VALUES (?1, ?2, ?3, ?4, 0, 0) "
            "ON CONFLICT (name) DO UPDATE SET token_hash = excluded.token_hash, "
            "created_by = excluded.created_by, created_at = excluded.created_at, last_used_at = 0, "
            "revoked_at = 0 WHERE api_tokens.revoked_at > 0");
        put->bind(1, token.name)
            .bind(2, token.token_hash)
            .bind(3, token.created_by)
            .bind(4, token.created_at);
        CADRE_RETURN_IF_ERROR(put->run());
        if (db.changes() == 0) {
          return Status::AlreadyExists("token " + token.name +
                                       " exists (revoke it first: cadre token revoke " +
                                       token.name + ")");
        }
        if (audit) {
          AuditEntry entry = *audit;
          CADRE_RETURN_IF_ERROR(append_audit_entry(db, entry));
        }
        return true;
      })
      .status();
}

Result<std::optional<ApiTokenRecord>> SqliteStore::api_token_by_hash(
    const std::string& token_hash) {
  using Row = std::optional<ApiTokenRecord>;
  return read<Row>([&](SqliteDb& db) -> Result<Row> {
    PREPARE(sel, db,
            sql_with("SELECT ", kApiTokenColumns, " FROM api_tokens WHERE token_hash = ?1"));
    sel->bind(1, token_hash);
    CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
    if (!row) return Row();
    return Row(api_token_from_row(sel));
  });
}

Result<std::vector<ApiTokenRecord>> SqliteStore::api_tokens() {
  using Rows = std::vector<ApiTokenRecord>;
  return read<Rows>([&](SqliteDb& db) -> Result<Rows> {
    PREPARE(sel, db, sql_with("SELECT ", kApiTokenColumns, " FROM api_tokens ORDER BY name"));
    Rows rows;
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
      if (!row) break;
      rows.push_back(api_token_from_row(sel));
    }
    return rows;
  });
}

Result<int> SqliteStore::revoke_api_token(const std::string& name, TimeMs now,
                                          const AuditEntry* audit) {
  return writer_->run<int>([&](SqliteDb& db) -> Result<int> {
    PREPARE(revoke, db, "UPDATE api_tokens SET revoked_at = ?2 WHERE name = ?1 AND revoked_at = 0");
    revoke->bind(1, name).bind(2, std::max<TimeMs>(now, 1));
    CADRE_RETURN_IF_ERROR(revoke->run());
    if (db.changes() == 0) {
      PREPARE(known, db, "SELECT 1 FROM api_tokens WHERE name = ?1");
      known->bind(1, name);
      CADRE_ASSIGN_OR_RETURN(bool revoked_before, known->step());
      return Status::NotFound(revoked_before ? "token " + name + " is already revoked"
                                             : "there is no token " + name + " (cadre token ls)");
    }
    PREPARE(end, db,
            "DELETE FROM api_sessions WHERE token_hash = (SELECT token_hash FROM api_tokens WHERE "
            "name = ?1)");
    end->bind(1, name);
    CADRE_RETURN_IF_ERROR(end->run());
    const int ended = static_cast<int>(db.changes());
    if (audit) {
      AuditEntry entry = *audit;
      CADRE_RETURN_IF_ERROR(append_audit_entry(db, entry));
    }
    return ended;
  });
}

Status SqliteStore::touch_api_token(const std::string& token_hash, TimeMs at,
                                    int64_t min_interval_ms) {
  return writer_
      ->run<bool>([&](SqliteDb& db) -> Result<bool> {
        PREPARE(
            touch, db,
            "UPDATE api_tokens SET last_used_at = ?2 WHERE token_hash = ?1 AND last_used_at <= ?3");
        touch->bind(1, token_hash).bind(2, at).bind(3, at - min_interval_ms);
        CADRE_RETURN_IF_ERROR(touch->run());
        return true;
      })
      .status();
}

Status SqliteStore::put_api_session(const ApiSessionRecord& session, int max_per_token,
                                    const AuditEntry* audit) {
  return writer_
      ->run<bool>([&](SqliteDb& db) -> Result<bool> {
        // Expired sessions go as new ones come, a few at a time.
        PREPARE(
            purge, db,
            "DELETE FROM api_sessions WHERE session_hash IN (SELECT session_hash FROM api_sessions "
            "WHERE expires_at <= ?1 ORDER BY expires_at LIMIT 64)");
        purge->bind(1, session.created_at);
        CADRE_RETURN_IF_ERROR(purge->run());
        // Checked in the same transaction, so a revocation cannot slip in
        // between the caller's check of the token and this insert.
        PREPARE(put, db,
                "INSERT INTO api_sessions (session_hash, token_hash, csrf_hash, created_at, "
                "expires_at) "
                "SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS "
                "(SELECT 1 FROM api_tokens WHERE token_hash = ?2 AND revoked_at = 0)");
        put->bind(1, session.session_hash)
            .bind(2, session.token_hash)
            .bind(3, session.csrf_hash)
            .bind(4, session.created_at)
            .bind(5, session.expires_at);
        CADRE_RETURN_IF_ERROR(put->run());
        if (db.changes() == 0) return Status::FailedPrecondition("invalid token");
        PREPARE(oldest, db,
                "DELETE FROM api_sessions WHERE token_hash = ?1 AND session_hash NOT IN "
                "(SELECT session_hash FROM api_sessions WHERE token_hash = ?1 "
                "ORDER BY created_at DESC, session_hash LIMIT ?2)");
        oldest->bind(1, session.token_hash).bind(2, std::max(max_per_token, 1));
        CADRE_RETURN_IF_ERROR(oldest->run());
        if (audit) {
          AuditEntry entry = *audit;
          CADRE_RETURN_IF_ERROR(append_audit_entry(db, entry));
        }
        return true;
      })
      .status();
}

Result<std::optional<ApiSessionWithToken>> SqliteStore::api_session(
    const std::string& session_hash) {
  using Row = std::optional<ApiSessionWithToken>;
  return read<Row>([&](SqliteDb& db) -> Result<Row> {
    PREPARE(sel, db,
            "SELECT s.session_hash, s.token_hash, s.csrf_hash, s.created_at, s.expires_at, "
            "t.name, t.token_hash, t.created_by, t.created_at, t.last_used_at, t.revoked_at "
            "FROM api_sessions s JOIN api_tokens t ON t.token_hash = s.token_hash "
            "WHERE s.session_hash = ?1 AND t.revoked_at = 0");
    sel->bind(1, session_hash);
    CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
    if (!row) return Row();
    ApiSessionWithToken found;
    found.session.session_hash = sel->text_at(0);
    found.session.token_hash = sel->text_at(1);
    found.session.csrf_hash = sel->text_at(2);
    found.session.created_at = sel->int_at(3);
    found.session.expires_at = sel->int_at(4);
    found.token = api_token_from_row(sel, 5);
    return Row(std::move(found));
  });
}

Result<bool> SqliteStore::set_api_session_csrf(const std::string& session_hash,
                                               const std::string& csrf_hash) {
  return writer_->run<bool>([&](SqliteDb& db) -> Result<bool> {
    PREPARE(up, db, "UPDATE api_sessions SET csrf_hash = ?2 WHERE session_hash = ?1");
    up->bind(1, session_hash).bind(2, csrf_hash);
    CADRE_RETURN_IF_ERROR(up->run());
    return db.changes() > 0;
  });
}

Result<bool> SqliteStore::delete_api_session(const std::string& session_hash,
                                             const AuditEntry* audit) {
  return writer_->run<bool>([&](SqliteDb& db) -> Result<bool> {
    PREPARE(del, db, "DELETE FROM api_sessions WHERE session_hash = ?1");
    del->bind(1, session_hash);
    CADRE_RETURN_IF_ERROR(del->run());
    if (db.changes() == 0) return false;
    if (audit) {
      AuditEntry entry = *audit;
      CADRE_RETURN_IF_ERROR(append_audit_entry(db, entry));
    }
    return true;
  });
}

Result<int> SqliteStore::delete_expired_api_sessions(TimeMs now) {
  return writer_->run<int>([&](SqliteDb& db) -> Result<int> {
    PREPARE(del, db, "DELETE FROM api_sessions WHERE expires_at <= ?1");
    del->bind(1, now);
    CADRE_RETURN_IF_ERROR(del->run());
    return static_cast<int>(db.changes());
  });
}

// --- end of API tokens and sessions ---

// --- metrics: manual work, outcome checks, aggregates ---
// Each aggregate reads its window through an index (schema v7): objectives
// by created_at or finished_at, approvals by answered_at, manual work and
// retries by time, outcome checks by checked_at; the costs join the
// objectives of the window to their tasks and steps by primary key.

namespace {

// Objectives Cadre runs for itself are not the operator's work (store.h).
std::string not_system_owner(std::string_view column) {
  std::string c(column);
  return "(" + c + " <> 'memory' AND substr(" + c + ", 1, 11) <> 'revalidate:')";
}

ManualWorkRecord manual_work_from_row(const Stmt& s) {
  return {s.text_at(0), s.text_at(1), s.text_at(2), s.int_at(3), s.text_at(4), s.int_at(5)};
}

OutcomeCheckRecord outcome_check_from_row(const Stmt& s) {
  OutcomeCheckRecord c;
  c.objective_id = s.text_at(0);
  c.horizon = s.text_at(1);
  c.horizon_ms = s.int_at(2);
  c.agent = s.text_at(3);
  c.due_at = s.int_at(4);
  c.state = s.text_at(5);
  c.checked_at = s.int_at(6);
  c.detail = s.text_at(7);
  c.check_objective_id = s.text_at(8);
  return c;
}

// Nearest-rank p50 and p90 of the time to complete of succeeded objectives
// finished in [?1, ?2), by owner (or over all owners when `by_owner` is false):
// rows (owner, duration, rank), only those at the two ranks.
std::string duration_percentiles_sql(bool by_owner) {
  const std::string partition = by_owner ? "PARTITION BY owner " : "";
  return "SELECT owner, d, rn, n FROM (SELECT " + std::string(by_owner ? "owner" : "''") +
         " AS owner, finished_at - created_at AS d, "
         "row_number() OVER (" + partition + "ORDER BY finished_at - created_at) AS rn, "
         "count(*) OVER (" + partition + ") AS n FROM objectives "
         "WHERE finished_at > 0 AND finished_at >= ?1 AND finished_at < ?2 AND state = 'succeeded' AND " +
         not_system_owner("owner") + ") WHERE rn = (n * 50 + 99) / 100 OR rn = (n * 90 + 99) / 100";
}

}  // namespace

Status SqliteStore::log_manual_work(const ManualWorkRecord& work, const AuditEntry* audit) {
  return writer_
      ->run<bool>([&](SqliteDb& db) -> Result<bool> {
        PREPARE(ins, db,
                "INSERT INTO manual_work (id, description, agent, minutes, logged_by, at) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING");
        ins->bind(1, work.id).bind(2, work.description).bind(3, work.agent).bind(4, work.minutes);
        ins->bind(5, work.logged_by).bind(6, work.at);
        CADRE_RETURN_IF_ERROR(ins->run());
        if (db.changes() == 0) return Status::AlreadyExists("manual work " + work.id + " is already logged");
        if (audit) {
          AuditEntry entry = *audit;
          CADRE_RETURN_IF_ERROR(append_audit_entry(db, entry));
        }
        return true;
      })
      .status();
}

Result<std::vector<ManualWorkRecord>> SqliteStore::list_manual_work(TimeMs from, TimeMs to, int limit) {
  using Rows = std::vector<ManualWorkRecord>;
  return read<Rows>([&](SqliteDb& db) -> Result<Rows> {
    PREPARE(sel, db,
            "SELECT id, description, agent, minutes, logged_by, at FROM manual_work "
            "WHERE at >= ?1 AND at < ?2 ORDER BY at DESC, id DESC LIMIT ?3");
    sel->bind(1, from).bind(2, to).bind(3, limit);
    Rows rows;
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
      if (!row) break;
      rows.push_back(manual_work_from_row(sel));
    }
    return rows;
  });
}

Result<std::vector<ManualWorkTotals>> SqliteStore::manual_work_totals(TimeMs from, TimeMs to) {
  using Rows = std::vector<ManualWorkTotals>;
  return read<Rows>([&](SqliteDb& db) -> Result<Rows> {
    PREPARE(sel, db,
            "SELECT agent, count(*), coalesce(sum(minutes), 0) FROM manual_work "
            "WHERE at >= ?1 AND at < ?2 GROUP BY agent ORDER BY agent");
    sel->bind(1, from).bind(2, to);
    Rows rows;
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
      if (!row) break;
      rows.push_back({sel->text_at(0), sel->int_at(1), sel->int_at(2)});
    }
    return rows;
  });
}

Status SqliteStore::schedule_outcome_checks(const std::vector<OutcomeCheckRecord>& checks) {
  return writer_
      ->run<bool>([&](SqliteDb& db) -> Result<bool> {
        for (const auto& c : checks) {
          // Prepared again for each row: the cache hands it back reset.
          PREPARE(ins, db,
                  "INSERT INTO outcome_checks (objective_id, horizon, horizon_ms, agent, due_at, state, "
                  "checked_at, detail, check_objective_id) VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, '', ?6) "
                  "ON CONFLICT (objective_id, horizon) DO NOTHING");
          ins->bind(1, c.objective_id).bind(2, c.horizon).bind(3, c.horizon_ms).bind(4, c.agent);
          ins->bind(5, c.due_at).bind(6, c.check_objective_id);
          CADRE_RETURN_IF_ERROR(ins->run());
        }
        return true;
      })
      .status();
}

Status SqliteStore::record_outcome_check(const std::string& objective_id, const std::string& horizon,
                                         const std::string& state, const std::string& detail, TimeMs at) {
  if (state != "passed" && state != "failed" && state != "error") {
    return Status::InvalidArgument("an outcome check ends passed, failed or error, not '" + state + "'");
  }
  return writer_
      ->run<bool>([&](SqliteDb& db) -> Result<bool> {
        PREPARE(upd, db,
                "UPDATE outcome_checks SET state = ?1, detail = ?2, checked_at = ?3 "
                "WHERE objective_id = ?4 AND horizon = ?5 AND state = 'pending'");
        upd->bind(1, state).bind(2, detail).bind(3, at).bind(4, objective_id).bind(5, horizon);
        CADRE_RETURN_IF_ERROR(upd->run());
        if (db.changes() > 0) return true;
        // Already recorded (a replayed step): the first result stands.
        PREPARE(exists, db, "SELECT 1 FROM outcome_checks WHERE objective_id = ?1 AND horizon = ?2");
        exists->bind(1, objective_id).bind(2, horizon);
        CADRE_ASSIGN_OR_RETURN(bool row, exists->step());
        if (!row) {
          return Status::NotFound("no outcome check of " + objective_id + " at " + horizon + " was scheduled");
        }
        return true;
      })
      .status();
}

Result<std::vector<OutcomeCheckRecord>> SqliteStore::outcome_checks(const std::string& objective_id) {
  using Rows = std::vector<OutcomeCheckRecord>;
  return read<Rows>([&](SqliteDb& db) -> Result<Rows> {
    PREPARE(sel, db,
            "SELECT objective_id, horizon, horizon_ms, agent, due_at, state, checked_at, detail, "
            "check_objective_id FROM outcome_checks WHERE objective_id = ?1 ORDER BY due_at, horizon");
    sel->bind(1, objective_id);
    Rows rows;
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
      if (!row) break;
      rows.push_back(outcome_check_from_row(sel));
    }
    return rows;
  });
}

Result<std::vector<OutcomeCheckCounts>> SqliteStore::outcome_check_counts(TimeMs from, TimeMs to) {
  using Rows = std::vector<OutcomeCheckCounts>;
  return read<Rows>([&](SqliteDb& db) -> Result<Rows> {
    PREPARE(sel, db,
            "SELECT agent, horizon, max(horizon_ms), sum(state = 'passed'), sum(state = 'failed'), "
            "sum(state = 'error'), 0 FROM outcome_checks "
            "WHERE checked_at > 0 AND checked_at >= ?1 AND checked_at < ?2 GROUP BY agent, horizon "
            "UNION ALL "
            "SELECT agent, horizon, max(horizon_ms), 0, 0, 0, count(*) FROM outcome_checks "
            "WHERE state = 'pending' GROUP BY agent, horizon");
    sel->bind(1, from).bind(2, to);
    std::map<std::pair<std::string, std::string>, OutcomeCheckCounts> by_key;
    while (true) {
      CADRE_ASSIGN_OR_RETURN(bool row, sel->step());
      if (!row) break;
      OutcomeCheckCounts& c = by_key[{sel->text_at(0), sel->text_at(1)}];
      c.agent = sel->text_at(0);
      c.horizon = sel->text_at(1);
      c.horizon_ms = std::max(c.horizon_ms, sel->int_at(2));
      c.passed += sel->int_at(3);
      c.failed += sel->int_at(4);
      c.errors += sel->int_at(5);
      c.pending += sel->int_at(6);
    }
    Rows rows;
    for (auto& [key, counts] : by_key) rows.push_back(std::move(counts));
    return rows;
  });
}

Result<ObjectiveOutcomes> SqliteStore::objective_outcomes(TimeMs from, TimeMs to) {
  return read<ObjectiveOutcomes>([&](SqliteDb& db) -> Result<ObjectiveOutcomes> {
    std::map<std::string, OwnerOutcomes> by_owner;
    auto owner = [&](const std::string& name) -> OwnerOutcomes& {
      OwnerOutcomes& o = by_owner[name];
      o.owner = name;
      return o;
    };
    {
      PREPARE(started, db,
              "SELECT owner, count(*) FROM objectives WHERE created_at >= ?1 AND created_at < ?2 AND " +
                  not_system_owner("owner") + " GROUP BY owner");
      started->bind(1, from).bind(2, to);
      while (true) {
        CADRE_ASSIGN_OR_RETURN(bool row, started->step());
        if (!row) break;
        owner(started->text_at(0)).started = started->int_at(1);
      }
    }
    {
      PREPARE(finished, db,
              "SELECT owner, state, count(*), sum(finished_at - created_at), max(finished_at - created_at) "
              "FROM objectives WHERE finished_at > 0 AND finished_at >= ?1 AND finished_at < ?2 AND " +
                  not_system_owner("owner") + " GROUP BY owner, state");
      finished->bind(1, from).bind(2, to);
      while (true) {
        CADRE_ASSIGN_OR_RETURN(bool row, finished->step());
        if (!row) break;
        OwnerOutcomes& o = owner(finished->text_at(0));
        const std::string state = finished->text_at(1);
        if (state == "succeeded") {
          o.succeeded = finished->int_at(2);
          o.duration_sum_ms = finished->int_at(3);
          o.duration_max_ms = finished->int_at(4);
        } else if (state == "failed") {
          o.failed = finished->int_at(2);
        } else if (state == "cancelled") {
          o.cancelled = finished->int_at(2);
        }
      }
    }
    ObjectiveOutcomes out;
    for (bool by_owner_rank : {true, false}) {
      PREPARE(ranks, db, duration_percentiles_sql(by_owner_rank));
      ranks->bind(1, from).bind(2, to);
      while (true) {
        CADRE_ASSIGN_OR_RETURN(bool row, ranks->step());
        if (!row) break;
        OwnerOutcomes& o = by_owner_rank ? owner(ranks->text_at(0)) : out.overall;
        const int64_t d = ranks->int_at(1), rn = ranks->int_at(2), n = ranks->int_at(3);
        if (rn == (n * 50 + 99) / 100) o.duration_p50_ms = d;
        if (rn == (n * 90 + 99) / 100) o.duration_p90_ms = d;
      }
    }
    for (auto& [name, o] : by_owner) {
      out.overall.started += o.started;
      out.overall.succeeded += o.succeeded;
      out.overall.failed += o.failed;
      out.overall.cancelled += o.cancelled;
      out.overall.duration_sum_ms += o.duration_sum_ms;
      out.overall.duration_max_ms = std::max(out.overall.duration_max_ms, o.duration_max_ms);
      out.owners.push_back(std::move(o));
    }
    return out;
  });
}

Result<std::vector<OwnerInterventions>> SqliteStore::interventions(TimeMs from, TimeMs to) {
  using Rows = std::vector<OwnerInterventions>;
  return read<Rows>([&](SqliteDb& db) -> Result<Rows> {
    std::map<std::string, OwnerInterventions> by_owner;
    {
      PREPARE(answers, db,
              "SELECT coalesce(nullif(a.agent, ''), o.owner, '') AS who, "
              "sum(a.kind <> 'uncertain' AND NOT (a.state = 'approved' AND "
              "json_extract(a.answer, '$.args') IS NOT NULL)), "
              "sum(a.kind <> 'uncertain' AND a.state = 'approved' AND json_extract(a.answer, '$.args') IS NOT NULL), "
              "sum(a.kind = 'uncertain') "
              "FROM approvals a LEFT JOIN objectives o ON o.id = a.objective_id "
              "WHERE a.answered_at > 0 AND a.answered_at >= ?1 AND a.answered_at < ?2 "
              "AND a.state <> 'pending' AND a.answered_by <> 'timeout' AND (o.owner IS NULL OR " +
                  not_system_owner("o.owner") + ") GROUP BY who");
      answers->bind(1, from).bind(2, to);
      while (true) {
        CADRE_ASSIGN_OR_RETURN(bool row, answers->step());
        if (!row) break;
        OwnerInterventions& i = by_owner[answers->text_at(0)];
        i.owner = answers->text_at(0);
        i.approvals = answers->int_at(1);
        i.edits = answers->int_at(2);
        i.resolutions = answers->int_at(3);
      }
    }
    {
      PREPARE(retries, db,
              "SELECT owner, count(*) FROM objective_retries WHERE at >= ?1 AND at < ?2 AND " +
                  not_system_owner("owner") + " GROUP BY owner");
      retries->bind(1, from).bind(2, to);
      while (true) {
        CADRE_ASSIGN_OR_RETURN(bool row, retries->step());
        if (!row) break;
        OwnerInterventions& i = by_owner[retries->text_at(0)];
        i.owner = retries->text_at(0);
        i.retries = retries->int_at(1);
      }
    }
    Rows rows;
    for (auto& [name, i] : by_owner) rows.push_back(std::move(i));
    return rows;
  });
}

Result<std::vector<OwnerCosts>> SqliteStore::outcome_costs(TimeMs from, TimeMs to) {
  using Rows = std::vector<OwnerCosts>;
  return read<Rows>([&](SqliteDb& db) -> Result<Rows> {
    const std::string objectives_of_window =
        "FROM objectives o JOIN tasks t ON t.objective_id = o.id JOIN steps s ON s.task_id = t.id "
        "WHERE o.finished_at > 0 AND o.finished_at >= ?1 AND o.finished_at < ?2 AND " +
        not_system_owner("o.owner");
    std::map<std::string, OwnerCosts> by_owner;
    {
      PREPARE(sums, db,
              "SELECT o.owner, coalesce(sum(CASE WHEN s.kind = 'model' AND s.state = 'done' "
              "THEN json_extract(s.output, '$.call.cost_usd') END), 0.0), "
              "coalesce(sum(s.kind = 'model' AND s.state = 'done'), 0), "
              "coalesce(sum(coalesce(length(CAST(s.input AS BLOB)), 0) + "
              "coalesce(length(CAST(s.output AS BLOB)), 0)), 0) " +
                  objectives_of_window + " GROUP BY o.owner");
      sums->bind(1, from).bind(2, to);
      while (true) {
        CADRE_ASSIGN_OR_RETURN(bool row, sums->step());
        if (!row) break;
        OwnerCosts& c = by_owner[sums->text_at(0)];
        c.owner = sums->text_at(0);
        c.model_usd = sums->double_at(1);
        c.model_calls = sums->int_at(2);
        c.journal_bytes = sums->int_at(3);
      }
    }
    {
      PREPARE(tools, db,
              "SELECT o.owner, s.name, sum(max(s.attempts, 1)) " + objectives_of_window +
                  " AND s.kind = 'tool' GROUP BY o.owner, s.name");
      tools->bind(1, from).bind(2, to);
      while (true) {
        CADRE_ASSIGN_OR_RETURN(bool row, tools->step());
        if (!row) break;
        OwnerCosts& c = by_owner[tools->text_at(0)];
        c.owner = tools->text_at(0);
        c.tool_calls[tools->text_at(1)] = tools->int_at(2);
      }
    }
    Rows rows;
    for (auto& [name, c] : by_owner) rows.push_back(std::move(c));
    return rows;
  });
}

// --- end of metrics ---

}  // namespace cadre
