// SqliteStore: the embedded default Store. One database file in WAL mode;
// writes go through a GroupCommitWriter (one writer thread, many commits per
// transaction), reads use a small pool of read connections so they never
// wait for the writer, and a checkpointer thread folds the WAL back into the
// database file in the background.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "store/sqlite/group_commit_writer.h"
#include "store/sqlite/sqlite_audit_store.h"
#include "store/sqlite/sqlite_db.h"
#include "store/sqlite/sqlite_memory_store.h"
#include "store/store.h"

namespace cadre {

class SqliteStore final : public Store {
 public:
  static Result<std::unique_ptr<SqliteStore>> open(const StoreOptions& options);
  ~SqliteStore() override;

  Status migrate() override;
  Status put_definition(const DefinitionRecord& def) override;
  Result<DefinitionRecord> get_definition(const std::string& hash) override;
  Result<bool> create_objective(const NewObjective& objective, TimeMs now) override;
  Result<ObjectiveRecord> get_objective(const std::string& id) override;
  Result<std::vector<ObjectiveRecord>> list_objectives(const ObjectiveFilter& filter) override;
  Result<TaskRecord> get_task(const std::string& id) override;
  Result<std::vector<TaskRecord>> list_tasks(const TaskFilter& filter) override;
  Result<std::vector<StepRecord>> get_steps(const std::string& task_id) override;
  Result<Json> task_outputs(const std::string& objective_id) override;
  Result<Json> counts() override;
  Result<std::vector<TaskRecord>> claim_tasks(const std::string& worker, int max, TimeMs now,
                                              int64_t lease_ms,
                                              const AgentLimits& agent_limits = {}) override;
  Result<CommitResult> commit(const TaskRef& task, std::vector<Transition> transitions) override;
  Result<std::vector<std::string>> renew_leases(const std::string& worker,
                                                const std::vector<TaskRef>& tasks,
                                                TimeMs expires) override;
  Result<std::vector<std::string>> lease_owners() override;
  Status expire_leases(const std::string& worker, TimeMs now) override;
  Result<TimeMs> next_wake_time(TimeMs after = 0) override;
  Status emit_event(const EventRecord& event) override;
  Result<std::vector<EventRecord>> unprocessed_events(int limit) override;
  Status mark_event_processed(const std::string& id, const std::string& error = "") override;
  Result<std::vector<EventRecord>> rejected_events(int limit) override;
  Status cancel_objective(const std::string& id, TimeMs now) override;
  Status retry_task(const std::string& task_id, TimeMs now) override;
  Status resolve_task(const std::string& task_id, Resolution resolution, const std::string& note,
                      TimeMs now) override;
  Result<TimeMs> trigger_last_fire(const std::string& trigger_id) override;
  Status set_trigger_last_fire(const std::string& trigger_id, TimeMs t) override;
  Status heartbeat_worker(const std::string& worker, const Json& info, TimeMs now) override;
  Status remove_worker(const std::string& worker) override;
  Result<Json> live_workers(TimeMs now, int64_t max_age_ms) override;
  Result<Json> cache_get(const std::string& key, TimeMs now) override;
  Status cache_put(const std::string& key, const Json& value, TimeMs now, TimeMs expires_at) override;
  Result<Json> model_usage(TimeMs since, const std::string& agent) override;
  Result<ApprovalRecord> get_approval(const std::string& id) override;
  Result<std::vector<ApprovalRecord>> list_approvals(const ApprovalFilter& filter) override;
  Result<ApprovalRecord> answer_approval(const std::string& id, const ApprovalAnswer& answer, TimeMs now,
                                         const AuditEntry* audit = nullptr) override;
  Result<Json> budget_grants(const std::string& agent, const std::string& scope) override;
  Status set_paused(const PauseRecord& pause, bool paused, const AuditEntry* audit = nullptr) override;
  Result<std::vector<PauseRecord>> pauses() override;
  Status put_connector_state(const std::string& connector, const std::string& key, const Json& value,
                             TimeMs at) override;
  Result<Json> connector_state(const std::string& connector, const std::string& key) override;
  Result<std::map<std::string, Json>> connector_states(const std::string& key) override;
  MemoryStore& memory() override { return *memory_; }
  AuditStore& audit() override { return *audit_; }
  // --- API tokens and sessions ---
  Status put_api_token(const ApiTokenRecord& token, const AuditEntry* audit = nullptr) override;
  Result<std::optional<ApiTokenRecord>> api_token_by_hash(const std::string& token_hash) override;
  Result<std::vector<ApiTokenRecord>> api_tokens() override;
  Result<int> revoke_api_token(const std::string& name, TimeMs now,
                               const AuditEntry* audit = nullptr) override;
  Status touch_api_token(const std::string& token_hash, TimeMs at,
                         int64_t min_interval_ms) override;
  Status put_api_session(const ApiSessionRecord& session, int max_per_token,
                         const AuditEntry* audit = nullptr) override;
  Result<std::optional<ApiSessionWithToken>> api_session(const std::string& session_hash) override;
  Result<bool> set_api_session_csrf(const std::string& session_hash,
                                    const std::string& csrf_hash) override;
  Result<bool> delete_api_session(const std::string& session_hash,
                                  const AuditEntry* audit = nullptr) override;
  Result<int> delete_expired_api_sessions(TimeMs now) override;
  // --- end of API tokens and sessions ---
  // --- metrics: manual work, outcome checks, aggregates ---
  Status log_manual_work(const ManualWorkRecord& work, const AuditEntry* audit = nullptr) override;
  Result<std::vector<ManualWorkRecord>> list_manual_work(TimeMs from, TimeMs to, int limit) override;
  Result<std::vector<ManualWorkTotals>> manual_work_totals(TimeMs from, TimeMs to) override;
  Status schedule_outcome_checks(const std::vector<OutcomeCheckRecord>& checks) override;
  Status record_outcome_check(const std::string& objective_id, const std::string& horizon, const std::string& state,
                              const std::string& detail, TimeMs at) override;
  Result<std::vector<OutcomeCheckRecord>> outcome_checks(const std::string& objective_id) override;
  Result<std::vector<OutcomeCheckCounts>> outcome_check_counts(TimeMs from, TimeMs to) override;
  Result<ObjectiveOutcomes> objective_outcomes(TimeMs from, TimeMs to) override;
  Result<std::vector<OwnerInterventions>> interventions(TimeMs from, TimeMs to) override;
  Result<std::vector<OwnerCosts>> outcome_costs(TimeMs from, TimeMs to) override;
  // --- end of metrics ---
  StoreStats stats() const override;

 private:
  explicit SqliteStore(StoreOptions options) : options_(std::move(options)) {}

  // Borrows a read connection for the duration of `fn`.
  template <typename T>
  Result<T> read(const std::function<Result<T>(SqliteDb&)>& fn);

  void checkpoint_loop();

  StoreOptions options_;
  std::unique_ptr<GroupCommitWriter> writer_;
  std::unique_ptr<SqliteMemoryStore> memory_;  // shares writer_ and the read connections
  std::unique_ptr<SqliteAuditStore> audit_;    // likewise
  // Copies the WAL back into the database file off the writer's thread, so
  // commits never pay for checkpoints.
  std::thread checkpointer_;
  std::mutex checkpoint_mutex_;
  std::condition_variable checkpoint_wake_;
  bool closing_ = false;
  std::mutex readers_mutex_;
  std::vector<std::unique_ptr<SqliteDb>> idle_readers_;
};

}  // namespace cadre
