// The metrics that compound, computed from a real SQLite store whose
// objectives, tasks, steps, approvals, retries, manual work and outcome
// checks are made through the store's own API, the way the kernel and the
// operator make them. Every figure is checked against a hand count:
//   - automation coverage, interventions by kind and per week, outcomes,
//     success rate and time to complete (mean, nearest-rank p50/p90, max),
//     cost per successful outcome with priced storage and connector calls,
//     durability per horizon, per agent and overall;
//   - only what falls in the window counts; Cadre's own work (memory
//     compaction, outcome checks) never does; ratios over nothing are null;
//   - manual work is validated field by field and audited;
//   - drift compares the last 7 days with the 28 before, within bands;
//   - the Prometheus text is well formed line by line, escapes labels, and
//     carries the same figures.
#include "server/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <set>
#include <sstream>

#include "agents/agent.h"
#include "core/id.h"
#include "server/drift.h"
#include "server/prometheus.h"
#include "store/store.h"
#include "test_support.h"

namespace cadre {
namespace {

using testing::TempDir;

constexpr TimeMs kSecond = 1000;
constexpr TimeMs kMinute = 60 * kSecond;
constexpr TimeMs kHour = 60 * kMinute;
constexpr TimeMs kDay = 24 * kHour;

// A model step's output as AgentRunner journals it.
Json model_output(double cost) {
  return {{"response", {{"usage", {{"input_tokens", 10}, {"output_tokens", 5}}}}},
          {"call", {{"cost_usd", cost}, {"cached", false}}}};
}

struct StepPlan {
  std::string name;
  std::string kind;  // model | tool
  double cost = 0;
  int attempts = 1;
  bool failed = false;
};

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions options;
    options.path = (dir_.path() / "cadre.db").string();
    auto opened = open_sqlite_store(options);
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    store_ = std::move(opened).value();

    auto writer = std::make_shared<AgentDef>();
    writer->name = "writer";
    auto ops = std::make_shared<AgentDef>();
    ops->name = "ops";
    ops->revalidate =
        RevalidateDef{"crm.lookup", Json::object(), "{{ result.ok }}", {30 * kDay, 90 * kDay}};
    auto idle = std::make_shared<AgentDef>();
    idle->name = "idle";
    workspace_.agents = {{"writer", writer}, {"ops", ops}, {"idle", idle}};
    ConnectorDef crm;
    crm.name = "crm";
    crm.type = "http";
    workspace_.connectors.push_back(crm);
  }

  // An objective of `owner` created at `created` with one task, claimed at
  // once, whose steps are journaled; returns the objective and task ids.
  std::pair<std::string, std::string> start(const std::string& owner, TimeMs created,
                                            const std::vector<StepPlan>& steps = {}) {
    NewObjective n;
    n.objective.id = new_id("obj", created);
    n.objective.title = "work of " + owner;
    n.objective.owner = owner;
    n.objective.source = "manual";
    NewTask task;
    task.id = new_id("tsk", created);
    task.key = "main";
    task.kind = "test";
    task.agent = owner.find(':') == std::string::npos && owner != "memory" ? owner : "";
    n.tasks.push_back(task);
    auto created_ok = store_->create_objective(n, created);
    EXPECT_TRUE(created_ok.ok()) << created_ok.status().to_string();
    TaskRecord claimed = claim(created);
    EXPECT_EQ(claimed.id, task.id);
    int seq = 0;
    for (const auto& step : steps) {
      ++seq;
      Json input = {{"step", step.name}};
      Json output = step.kind == "model" ? model_output(step.cost) : Json{{"ok", true}};
      std::vector<Transition> started = {StepStarted{seq, step.name, step.kind,
                                                     task.id + "-" + std::to_string(seq), input,
                                                     step.attempts, created}};
      EXPECT_TRUE(store_->commit(ref(claimed), started).ok());
      if (step.failed) output = Json();
      EXPECT_TRUE(
          store_
              ->commit(ref(claimed),
                       {StepFinished{seq, step.failed ? StepState::kFailed : StepState::kDone,
                                     output, step.failed ? "unavailable: down" : "", created}})
              .ok());
      journal_bytes_[n.objective.id] += int64_t(dump_json(input).size()) +
                                        (output.is_null() ? 0 : int64_t(dump_json(output).size()));
    }
    running_[task.id] = claimed;
    return {n.objective.id, task.id};
  }

  TaskRecord claim(TimeMs at) {
    auto claimed = store_->claim_tasks("w1", 1, at, 10 * kMinute);
    EXPECT_TRUE(claimed.ok() && claimed->size() == 1) << "nothing to claim at " << at;
    return claimed.ok() && !claimed->empty() ? claimed->front() : TaskRecord{};
  }

  TaskRef ref(const TaskRecord& t) { return {t.id, t.fence}; }

  void finish(const std::string& task_id, TaskState state, TimeMs at) {
    auto committed = store_->commit(
        ref(running_[task_id]),
        {TaskFinished{state, Json{{"done", true}}, state == TaskState::kFailed ? "boom" : "", at}});
    ASSERT_TRUE(committed.ok()) << committed.status().to_string();
  }

  // An objective that runs from `created` to `finished` and ends in `state`.
  std::string run(const std::string& owner, TimeMs created, TimeMs finished, TaskState state,
                  const std::vector<StepPlan>& steps = {}) {
    auto [objective, task] = start(owner, created, steps);
    if (state == TaskState::kCancelled) {
      EXPECT_TRUE(store_->cancel_objective(objective, finished).ok());
    } else {
      finish(task, state, finished);
    }
    return objective;
  }

  // An approval item asked by the running task `task_id` and answered at `at`.
  void approval(const std::string& task_id, const std::string& agent, const std::string& decision,
                Json args, const std::string& by, TimeMs asked, TimeMs at) {
    const TaskRecord& t = running_[task_id];
    ApprovalRecord a;
    a.id = new_id("apr", asked);
    a.kind = "tool";
    a.objective_id = t.objective_id;
    a.task_id = t.id;
    a.agent = agent;
    a.title = "may I?";
    a.created_at = asked;
    ASSERT_TRUE(store_->commit(ref(t), {ApprovalRequested{a}}).ok());
    auto answered = store_->answer_approval(a.id, {decision, std::move(args), "", by}, at);
    ASSERT_TRUE(answered.ok()) << answered.status().to_string();
  }

  void check(const std::string& objective, const std::string& agent, DurationMs horizon,
             TimeMs succeeded) {
    OutcomeCheckRecord c;
    c.objective_id = objective;
    c.horizon = format_duration(horizon);
    c.horizon_ms = horizon;
    c.agent = agent;
    c.due_at = succeeded + horizon;
    checks_.push_back(c);
  }

  // The scene every figure below is counted from (window: the 7 days up to now_).
  void build_scene() {
    const TimeMs now = now_;
    // writer: W1, W2 succeed, W3 fails, W4 started before the window and
    // succeeded in it, W5 entirely before it, W6 cancelled.
    w1_ = run("writer", now - 2 * kDay, now - 2 * kDay + 10 * kSecond, TaskState::kSucceeded,
              {{"model.small", "model", 0.01},
               {"crm.lookup", "tool", 0, 2},
               {"model.small", "model", 0.02},
               {"log", "tool"},
               {"model.small", "model", 0.5, 1, true}});
    w2_ = run("writer", now - 1 * kDay, now - 1 * kDay + 30 * kSecond, TaskState::kSucceeded,
              {{"model.small", "model", 0.03}});
    w3_ = run("writer", now - 3 * kDay, now - 3 * kDay + 5 * kSecond, TaskState::kFailed);
    w4_ = run("writer", now - 8 * kDay, now - 6 * kDay, TaskState::kSucceeded);
    run("writer", now - 10 * kDay, now - 9 * kDay, TaskState::kSucceeded,
        {{"model.small", "model", 7.0}});
    w6_ = run("writer", now - 1 * kHour, now - 30 * kMinute, TaskState::kCancelled);

    // ops: O1 with four answered approval items (one by timeout, one long
    // ago); O2 uncertain, resolved by a human, then succeeds; O3 fails, is
    // retried, then succeeds.
    auto [o1, o1_task] = start("ops", now - 5 * kDay);
    o1_ = o1;
    approval(o1_task, "ops", "approve", nullptr, "operator:ann", now - 5 * kDay, now - 4 * kDay);
    approval(o1_task, "ops", "approve", Json{{"to", "b@example.com"}}, "operator:ann",
             now - 5 * kDay, now - 4 * kDay);
    approval(o1_task, "ops", "reject", nullptr, "operator:ann", now - 5 * kDay, now - 3 * kDay);
    approval(o1_task, "ops", "reject", nullptr, "timeout", now - 5 * kDay, now - 3 * kDay);
    approval(o1_task, "ops", "approve", nullptr, "operator:ann", now - 10 * kDay, now - 9 * kDay);
    finish(o1_task, TaskState::kSucceeded, now - 5 * kDay + 20 * kSecond);

    auto [o2, o2_task] = start("ops", now - 2 * kDay);
    o2_ = o2;
    {
      const TaskRecord& t = running_[o2_task];
      ApprovalRecord a;
      a.id = new_id("apr", now);
      a.kind = "uncertain";
      a.objective_id = o2_;
      a.task_id = t.id;
      a.agent = "ops";
      a.title = "did it happen?";
      a.created_at = now - 2 * kDay;
      // A non-idempotent step in flight at a crash: the task is uncertain.
      ASSERT_TRUE(store_
                      ->commit(ref(t), {StepStarted{1, "email.send", "tool", t.id + "-1",
                                                    Json::object(), 1, now - 2 * kDay}})
                      .ok());
      ASSERT_TRUE(
          store_
              ->commit(ref(t), {ApprovalRequested{a}, TaskFinished{TaskState::kUncertain, Json(),
                                                                   "in doubt", now - 2 * kDay}})
              .ok());
      ASSERT_TRUE(
          store_->resolve_task(t.id, Resolution::kDone, "it did", now - 2 * kDay + kMinute).ok());
      running_[o2_task] = claim(now - 2 * kDay + kMinute);
      finish(o2_task, TaskState::kSucceeded, now - 2 * kDay + 2 * kMinute);
    }

    auto [o3, o3_task] = start("ops", now - 3 * kDay);
    o3_ = o3;
    finish(o3_task, TaskState::kFailed, now - 3 * kDay + kMinute);
    ASSERT_TRUE(store_->retry_task(o3_task, now - 3 * kDay + kHour).ok());
    running_[o3_task] = claim(now - 3 * kDay + kHour);
    finish(o3_task, TaskState::kSucceeded, now - 3 * kDay + 2 * kHour);

    // A playbook run with one approval (of no agent: it counts for the playbook).
    auto [p1, p1_task] = start("playbook:daily", now - 1 * kDay);
    approval(p1_task, "", "approve", nullptr, "operator:bob", now - 1 * kDay,
             now - 1 * kDay + kSecond);
    finish(p1_task, TaskState::kSucceeded, now - 1 * kDay + kSecond);

    // Cadre's own work, never counted.
    auto [memory, memory_task] = start("memory", now - 1 * kDay, {{"model.small", "model", 1.0}});
    approval(memory_task, "", "approve", nullptr, "operator:bob", now - 1 * kDay,
             now - 1 * kDay + kSecond);
    finish(memory_task, TaskState::kSucceeded, now - 1 * kDay + kSecond);
    run("revalidate:ops", now - 1 * kDay, now - 1 * kDay + kSecond, TaskState::kFailed);

    // Manual work: two in the window, one before it.
    ManualWorkRequest by_hand{"invoiced the Acme order by hand", "writer", 30, now - 1 * kDay};
    ASSERT_TRUE(record_manual_work(*store_, workspace_, by_hand, "operator:ann", now).ok());
    ASSERT_TRUE(record_manual_work(*store_, workspace_,
                                   {"answered support mail", "", 10, now - 2 * kDay},
                                   "operator:ann", now)
                    .ok());
    ASSERT_TRUE(record_manual_work(*store_, workspace_, {"old", "writer", 5, now - 10 * kDay},
                                   "operator:ann", now)
                    .ok());

    // Outcome checks: 30d passed, failed and error in the window; 90d pending.
    for (const auto& objective : {o1_, o2_, o3_}) {
      check(objective, "ops", 30 * kDay, now - 40 * kDay);
      check(objective, "ops", 90 * kDay, now - 40 * kDay);
    }
    check("obj_old", "ops", 30 * kDay, now - 50 * kDay);
    ASSERT_TRUE(store_->schedule_outcome_checks(checks_).ok());
    ASSERT_TRUE(store_->record_outcome_check(o1_, "30d", "passed", "", now - 1 * kDay).ok());
    Status recorded = store_->record_outcome_check(o2_, "30d", "failed", "gone", now - 1 * kDay);
    ASSERT_TRUE(recorded.ok()) << recorded.to_string();
    ASSERT_TRUE(store_->record_outcome_check(o3_, "30d", "error", "crm down", now - 1 * kDay).ok());
    ASSERT_TRUE(store_->record_outcome_check("obj_old", "30d", "passed", "", now - 20 * kDay).ok());
  }

  Json metrics(int days = 7, bool with_drift = false) {
    MetricsOptions options;
    options.days = days;
    options.storage_usd_per_gib = 1000;
    options.connector_usd_per_call = 0.5;
    options.with_drift = with_drift;
    auto m = compute_metrics(*store_, workspace_, now_, options);
    EXPECT_TRUE(m.ok()) << m.status().to_string();
    return m.ok() ? *m : Json();
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  Workspace workspace_;
  TimeMs now_ = 1'800'000'000'000;
  std::map<std::string, TaskRecord> running_;
  std::map<std::string, int64_t> journal_bytes_;
  std::vector<OutcomeCheckRecord> checks_;
  std::string w1_, w2_, w3_, w4_, w6_, o1_, o2_, o3_;
};

TEST_F(MetricsTest, AutomationCoverageIsRunsAgainstRunsPlusManualWorkInTheWindow) {
  build_scene();
  Json m = metrics();
  const Json& writer = m["agents"]["writer"]["automation"];
  EXPECT_EQ(writer["runs"], 4);  // W1, W2, W3, W6: W4 and W5 started before the window
  EXPECT_EQ(writer["manual"], 1);
  EXPECT_EQ(writer["manual_minutes"], 30);
  EXPECT_DOUBLE_EQ(writer["coverage"].get<double>(), 4.0 / 5.0);
  EXPECT_EQ(m["agents"]["ops"]["automation"]["runs"], 3);
  EXPECT_DOUBLE_EQ(m["agents"]["ops"]["automation"]["coverage"].get<double>(), 1.0);
  EXPECT_EQ(m["agents"]["playbook:daily"]["automation"]["runs"], 1);
  EXPECT_EQ(m["agents"]["playbook:daily"]["kind"], "playbook");
  const Json& overall = m["overall"]["automation"];
  EXPECT_EQ(overall["runs"], 8);  // memory and revalidate:ops are Cadre's own work
  EXPECT_EQ(overall["manual"], 2);
  EXPECT_EQ(overall["manual_minutes"], 40);
  EXPECT_DOUBLE_EQ(overall["coverage"].get<double>(), 0.8);
  EXPECT_FALSE(m["agents"].contains("memory"));
  EXPECT_FALSE(m["agents"].contains("revalidate:ops"));
}

TEST_F(MetricsTest, InterventionsCountHumansOnlyByKindAndPerWeek) {
  build_scene();
  Json m = metrics();
  const Json& ops = m["agents"]["ops"]["interventions"];
  EXPECT_EQ(ops["approvals"],
            2);  // approved as proposed, rejected; not the timeout, not the old one
  EXPECT_EQ(ops["edits"], 1);
  EXPECT_EQ(ops["resolutions"], 1);  // the uncertain step decided with `cadre resolve`
  EXPECT_EQ(ops["retries"], 1);
  EXPECT_EQ(ops["total"], 5);
  EXPECT_DOUBLE_EQ(ops["per_week"].get<double>(), 5.0);
  EXPECT_EQ(m["agents"]["playbook:daily"]["interventions"]["approvals"], 1);
  EXPECT_EQ(m["agents"]["writer"]["interventions"]["total"], 0);
  EXPECT_EQ(m["overall"]["interventions"]["total"],
            6);  // the memory objective's approval is not counted
  // Over 14 days the approval of 9 days ago joins them: 7, or 3.5 a week.
  Json two_weeks = metrics(14);
  EXPECT_DOUBLE_EQ(two_weeks["overall"]["interventions"]["per_week"].get<double>(), 7.0 / 2.0);
}

TEST_F(MetricsTest, SuccessRateAndTimeToCompleteCountObjectivesThatEndedInTheWindow) {
  build_scene();
  Json m = metrics();
  const Json& writer = m["agents"]["writer"]["outcomes"];
  EXPECT_EQ(writer["started"], 4);
  EXPECT_EQ(writer["succeeded"], 3);  // W1, W2, W4
  EXPECT_EQ(writer["failed"], 1);
  EXPECT_EQ(writer["cancelled"], 1);
  EXPECT_EQ(writer["finished"], 5);
  EXPECT_DOUBLE_EQ(writer["success_rate"].get<double>(), 0.75);
  const Json& ttc = writer["time_to_complete"];
  EXPECT_EQ(ttc["mean_ms"], std::llround((10.0 + 30.0 + 2 * 86400.0) * 1000 / 3));
  EXPECT_EQ(ttc["p50_ms"], 30 * kSecond);
  EXPECT_EQ(ttc["p90_ms"], 2 * kDay);
  EXPECT_EQ(ttc["max_ms"], 2 * kDay);
  const Json& ops = m["agents"]["ops"]["outcomes"];
  EXPECT_EQ(ops["succeeded"], 3);  // the retried O3 counts once, as it ended
  EXPECT_EQ(ops["failed"], 0);
  EXPECT_DOUBLE_EQ(ops["success_rate"].get<double>(), 1.0);
  EXPECT_EQ(ops["time_to_complete"]["p50_ms"], 2 * kMinute);
  const Json& all = m["overall"]["outcomes"];
  EXPECT_EQ(all["succeeded"], 7);
  EXPECT_EQ(all["failed"], 1);
  EXPECT_DOUBLE_EQ(all["success_rate"].get<double>(), 7.0 / 8.0);
  // 1 s, 10 s, 20 s, 30 s, 2 min, 2 h, 2 d: rank 4 and rank 7.
  EXPECT_EQ(all["time_to_complete"]["p50_ms"], 30 * kSecond);
  EXPECT_EQ(all["time_to_complete"]["p90_ms"], 2 * kDay);
  EXPECT_EQ(all["time_to_complete"]["mean_ms"],
            std::llround((1.0 + 10 + 20 + 30 + 120 + 7200 + 172800) * 1000 / 7));
}

TEST_F(MetricsTest, CostPerSuccessfulOutcomeAddsModelsStorageAndConnectorCalls) {
  build_scene();
  Json m = metrics();
  const Json& cost = m["agents"]["writer"]["cost"];
  EXPECT_NEAR(cost["model_usd"].get<double>(), 0.06,
              1e-12);  // the failed call and W5's are not counted
  EXPECT_EQ(cost["model_calls"], 3);
  EXPECT_EQ(cost["connector_calls"], 2);  // crm.lookup took two attempts; `log` is no connector
  const int64_t bytes = journal_bytes_[w1_] + journal_bytes_[w2_];
  EXPECT_EQ(cost["journal_bytes"], bytes);
  const double storage = double(bytes) / (1024.0 * 1024 * 1024) * 1000;
  EXPECT_NEAR(cost["storage_usd"].get<double>(), storage, 1e-12);
  EXPECT_NEAR(cost["connector_usd"].get<double>(), 1.0, 1e-12);
  EXPECT_NEAR(cost["total_usd"].get<double>(), 0.06 + storage + 1.0, 1e-12);
  EXPECT_NEAR(cost["per_success_usd"].get<double>(), (0.06 + storage + 1.0) / 3, 1e-12);
  EXPECT_NEAR(m["overall"]["cost"]["model_usd"].get<double>(), 0.06, 1e-12);  // not memory's 1.0
  // Overall adds ops' journal (its uncertain email.send step), priced the same way.
  const Json& all = m["overall"]["cost"];
  EXPECT_GT(all["journal_bytes"].get<int64_t>(), bytes);
  const double all_storage = all["journal_bytes"].get<double>() / (1024.0 * 1024 * 1024) * 1000;
  EXPECT_NEAR(all["per_success_usd"].get<double>(), (0.06 + all_storage + 1.0) / 7, 1e-12);
}

TEST_F(MetricsTest, DurabilityIsPassedAgainstPassedPlusFailedPerHorizon) {
  build_scene();
  Json m = metrics();
  const Json& ops = m["agents"]["ops"]["durability"];
  EXPECT_EQ(ops["30d"]["passed"], 1);
  EXPECT_EQ(ops["30d"]["failed"], 1);
  EXPECT_EQ(ops["30d"]["errors"], 1);
  EXPECT_EQ(ops["30d"]["pending"], 0);
  EXPECT_DOUBLE_EQ(ops["30d"]["rate"].get<double>(), 0.5);  // the error is left out
  EXPECT_EQ(ops["90d"]["pending"], 3);
  EXPECT_TRUE(ops["90d"]["rate"].is_null());
  EXPECT_EQ(m["overall"]["durability"]["30d"]["passed"],
            1);  // the one 20 days ago is outside the window
  Json month = metrics(28);
  EXPECT_EQ(month["overall"]["durability"]["30d"]["passed"], 2);
  EXPECT_DOUBLE_EQ(month["overall"]["durability"]["30d"]["rate"].get<double>(), 2.0 / 3.0);
  // Recording again keeps the first result; an unknown check is named.
  EXPECT_TRUE(store_->record_outcome_check(o1_, "30d", "failed", "", now_).ok());
  EXPECT_EQ(store_->outcome_checks(o1_)->front().state, "passed");
  Status missing = store_->record_outcome_check("obj_nope", "30d", "passed", "", now_);
  EXPECT_TRUE(missing.is(StatusCode::kNotFound)) << missing.to_string();
}

TEST_F(MetricsTest, AnAgentThatDidNothingHasZerosAndNullRatios) {
  build_scene();
  Json idle = metrics()["agents"]["idle"];
  EXPECT_EQ(idle["automation"]["runs"], 0);
  EXPECT_TRUE(idle["automation"]["coverage"].is_null());
  EXPECT_TRUE(idle["outcomes"]["success_rate"].is_null());
  EXPECT_TRUE(idle["outcomes"]["time_to_complete"]["mean_ms"].is_null());
  EXPECT_TRUE(idle["cost"]["per_success_usd"].is_null());
  EXPECT_EQ(idle["cost"]["total_usd"], 0.0);
  EXPECT_DOUBLE_EQ(idle["interventions"]["per_week"].get<double>(), 0.0);
  EXPECT_EQ(idle["durability"], Json::object());
  // An empty store: every ratio is null, nothing divides by zero.
  TempDir other;
  StoreOptions options;
  options.path = (other.path() / "cadre.db").string();
  auto empty = open_sqlite_store(options);
  ASSERT_TRUE(empty.ok());
  auto m = compute_metrics(**empty, workspace_, now_, {});
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_TRUE((*m)["overall"]["automation"]["coverage"].is_null());
  EXPECT_TRUE((*m)["overall"]["outcomes"]["success_rate"].is_null());
  EXPECT_TRUE((*m)["overall"]["durability"]["30d"]["rate"].is_null());
  EXPECT_TRUE((*m)["overall"]["durability"]["90d"]["rate"].is_null());
  EXPECT_EQ((*m)["drift"], Json::array());
}

TEST_F(MetricsTest, OptionsOutOfRangeAreRefusedNamingTheOption) {
  MetricsOptions options;
  options.days = 0;
  auto m = compute_metrics(*store_, workspace_, now_, options);
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(m.status().is(StatusCode::kInvalidArgument));
  EXPECT_NE(m.status().message().find("days"), std::string::npos);
  options.days = 7;
  options.drift.min_samples = 0;
  m = compute_metrics(*store_, workspace_, now_, options);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("drift.min_samples"), std::string::npos);
}

TEST_F(MetricsTest, ManualWorkIsValidatedFieldByFieldAndAudited) {
  auto bad = [&](ManualWorkRequest request, const std::string& field) {
    auto r = record_manual_work(*store_, workspace_, request, "operator:ann", now_);
    ASSERT_FALSE(r.ok()) << field;
    EXPECT_EQ(r.status().message().rfind(field + ":", 0), 0u) << r.status().to_string();
  };
  bad({"   ", "", 0, 0}, "description");
  bad({std::string(1001, 'x'), "", 0, 0}, "description");
  bad({"x", "writr", 0, 0}, "agent");
  bad({"x", "", -1, 0}, "minutes");
  bad({"x", "", 10081, 0}, "minutes");
  bad({"x", "", 0, now_ + kHour}, "at");
  auto unknown =
      record_manual_work(*store_, workspace_, {"x", "writr", 0, 0}, "operator:ann", now_);
  EXPECT_TRUE(unknown.status().is(StatusCode::kNotFound));
  EXPECT_NE(unknown.status().message().find("writer"), std::string::npos) << "did you mean";

  auto work = record_manual_work(*store_, workspace_, {"  sent the invoices  ", "writer", 15, 0},
                                 "operator:ann", now_);
  ASSERT_TRUE(work.ok()) << work.status().to_string();
  EXPECT_EQ(work->description, "sent the invoices");
  EXPECT_EQ(work->at, now_);
  auto listed = store_->list_manual_work(now_ - kDay, now_ + 1, 10);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().id, work->id);
  EXPECT_EQ(listed->front().logged_by, "operator:ann");
  auto head = store_->audit().head();
  ASSERT_TRUE(head.ok() && head->has_value());
  EXPECT_EQ((*head)->action, "manual_work.logged");
  EXPECT_EQ((*head)->subject, work->id);
  EXPECT_EQ((*head)->actor, "operator:ann");
  EXPECT_EQ(to_json(*work)["minutes"], 15);
}

// Figures of one owner as find_drift reads them.
Json owner_figures(int succeeded, int failed, double cost_per_success, double mean_ms) {
  return {{"outcomes",
           {{"succeeded", succeeded},
            {"failed", failed},
            {"success_rate",
             succeeded + failed > 0 ? Json(double(succeeded) / (succeeded + failed)) : Json()},
            {"time_to_complete", {{"mean_ms", succeeded > 0 ? Json(mean_ms) : Json()}}}}},
          {"cost", {{"per_success_usd", succeeded > 0 ? Json(cost_per_success) : Json()}}}};
}

TEST(Drift, FiguresBeyondTheirBandAlertBothWaysWithEnoughSamples) {
  Json baseline = {{"agents",
                    {{"ops", owner_figures(18, 2, 0.10, 10000)},
                     {"sales", owner_figures(10, 0, 0.10, 10000)},
                     {"rare", owner_figures(2, 0, 0.10, 10000)},
                     {"free", owner_figures(10, 0, 0.0, 10000)}}}};
  Json recent = {
      {"agents",
       {{"ops", owner_figures(6, 4, 0.30, 12000)},    // 0.90 -> 0.60; cost x3; latency +20%
        {"sales", owner_figures(10, 0, 0.04, 4000)},  // cheaper and faster
        {"rare", owner_figures(1, 4, 0.90, 90000)},   // too few samples
        {"free", owner_figures(10, 0, 0.5, 10000)},   // a baseline of 0 has no relative change
        {"new", owner_figures(10, 0, 0.1, 1000)}}}};  // no baseline
  Json alerts = find_drift(baseline, recent, DriftOptions{});
  std::set<std::string> seen;
  for (const auto& a : alerts)
    seen.insert(a["agent"].get<std::string>() + "/" + a["metric"].get<std::string>());
  EXPECT_EQ(seen, (std::set<std::string>{"ops/success_rate", "ops/cost_per_success_usd",
                                         "sales/cost_per_success_usd",
                                         "sales/time_to_complete_mean_ms"}));
  for (const auto& a : alerts) {
    if (a["agent"] == "ops" && a["metric"] == "success_rate") {
      EXPECT_NEAR(a["change"].get<double>(), -0.30, 1e-9);
      EXPECT_EQ(a["direction"], "down");
      EXPECT_EQ(a["worse"], true);
      EXPECT_EQ(a["samples"]["baseline"], 20);
      EXPECT_EQ(a["samples"]["recent"], 10);
      EXPECT_NE(a["message"].get<std::string>().find("ops: success rate 0.60"), std::string::npos)
          << a["message"];
    }
    if (a["agent"] == "sales") {
      EXPECT_EQ(a["direction"], "down");
      EXPECT_EQ(a["worse"], false);
    }
  }
  // Wider bands: nothing alerts.
  DriftOptions wide;
  wide.success_rate_band = 0.5;
  wide.cost_band = 5;
  wide.latency_band = 5;
  EXPECT_EQ(find_drift(baseline, recent, wide), Json::array());
}

TEST_F(MetricsTest, DriftComparesTheLastSevenDaysWithTheTwentyEightBefore) {
  for (int i = 0; i < 10; ++i) {  // baseline: 10 of 10 succeed in 10 s
    TimeMs at = now_ - 20 * kDay + i * kHour;
    run("ops", at, at + 10 * kSecond, TaskState::kSucceeded);
  }
  for (int i = 0; i < 10; ++i) {  // recent: 5 of 10 succeed, still in 10 s
    TimeMs at = now_ - 3 * kDay + i * kHour;
    run("ops", at, at + 10 * kSecond, i % 2 == 0 ? TaskState::kSucceeded : TaskState::kFailed);
  }
  auto alerts = detect_drift(*store_, workspace_, now_, {});
  ASSERT_TRUE(alerts.ok()) << alerts.status().to_string();
  ASSERT_EQ(alerts->size(), 1u) << alerts->dump(2);
  const Json& a = alerts->at(0);
  EXPECT_EQ(a["agent"], "ops");
  EXPECT_EQ(a["metric"], "success_rate");
  EXPECT_DOUBLE_EQ(a["baseline"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(a["recent"].get<double>(), 0.5);
  EXPECT_EQ(a["recent_window"]["from_ms"], now_ - 7 * kDay);
  EXPECT_EQ(a["baseline_window"]["from_ms"], now_ - 35 * kDay);
  Json m = metrics(7, true);
  EXPECT_EQ(m["drift"].size(), 1u);
}

// --- the Prometheus text ---

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Parses exposition format 0.0.4 strictly enough to catch malformed output:
// every family's HELP then TYPE before its samples, names and labels well
// formed, escapes only \\ \" \n, values numbers.
std::vector<Sample> parse_exposition(const std::string& text) {
  static const std::regex help(R"(^# HELP (cadre_[a-z_]+) \S.*$)");
  static const std::regex type(R"(^# TYPE (cadre_[a-z_]+) gauge$)");
  static const std::regex sample(R"(^(cadre_[a-z_]+)(\{(.*)\})? (\S+)$)");
  std::vector<Sample> samples;
  std::set<std::string> families;
  std::string described, typed;
  std::istringstream in(text);
  std::string line;
  EXPECT_EQ(text.back(), '\n');
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, help)) {
      EXPECT_TRUE(families.insert(m[1]).second) << "family twice: " << m[1];
      described = m[1];
      continue;
    }
    if (std::regex_match(line, m, type)) {
      EXPECT_EQ(m[1], described) << "TYPE without its HELP: " << line;
      typed = m[1];
      continue;
    }
    if (!std::regex_match(line, m, sample)) {
      ADD_FAILURE() << "not a sample: " << line;
      continue;
    }
    Sample s;
    s.name = m[1];
    EXPECT_EQ(s.name, typed) << "sample outside its family: " << line;
    const std::string labels = m[3];
    for (size_t i = 0; i < labels.size();) {
      const size_t eq = labels.find("=\"", i);
      if (eq == std::string::npos) {
        ADD_FAILURE() << "bad labels: " << labels;
        break;
      }
      std::string name = labels.substr(i, eq - i);
      EXPECT_TRUE(std::regex_match(name, std::regex("[a-z_]+"))) << name;
      std::string value;
      size_t j = eq + 2;
      for (; j < labels.size() && labels[j] != '"'; ++j) {
        if (labels[j] == '\\') {
          ++j;
          EXPECT_TRUE(labels[j] == '\\' || labels[j] == '"' || labels[j] == 'n') << labels;
          value += labels[j] == 'n' ? '\n' : labels[j];
        } else {
          value += labels[j];
        }
      }
      s.labels[name] = value;
      i = j + 1;
      if (i < labels.size()) {
        EXPECT_EQ(labels[i], ',') << labels;
        ++i;
      }
    }
    char* end = nullptr;
    s.value = std::strtod(m[4].str().c_str(), &end);
    EXPECT_EQ(*end, '\0') << "not a number: " << m[4];
    samples.push_back(std::move(s));
  }
  return samples;
}

const Sample* find_sample(const std::vector<Sample>& samples, const std::string& name,
                          const std::map<std::string, std::string>& labels = {}) {
  for (const auto& s : samples) {
    if (s.name == name && s.labels == labels) return &s;
  }
  return nullptr;
}

TEST_F(MetricsTest, PrometheusTextCarriesTheSameFiguresLineByLine) {
  build_scene();
  Json m = metrics(7, true);
  const std::string text = render_prometheus(m);
  auto samples = parse_exposition(text);
  ASSERT_FALSE(samples.empty());
  auto value = [&](const std::string& name, const std::map<std::string, std::string>& labels = {}) {
    const Sample* s = find_sample(samples, name, labels);
    EXPECT_NE(s, nullptr) << name;
    return s ? s->value : NAN;
  };
  EXPECT_DOUBLE_EQ(value("cadre_metrics_window_seconds"), 7 * 86400);
  EXPECT_DOUBLE_EQ(value("cadre_automation_coverage_ratio"), 0.8);
  EXPECT_DOUBLE_EQ(value("cadre_automation_runs"), 8);
  EXPECT_DOUBLE_EQ(value("cadre_agent_success_ratio", {{"agent", "writer"}}), 0.75);
  EXPECT_DOUBLE_EQ(value("cadre_agent_interventions", {{"agent", "ops"}, {"kind", "edit"}}), 1);
  EXPECT_DOUBLE_EQ(value("cadre_interventions", {{"kind", "approval"}}), 3);
  EXPECT_DOUBLE_EQ(value("cadre_objectives_finished", {{"state", "cancelled"}}), 1);
  EXPECT_DOUBLE_EQ(
      value("cadre_agent_time_to_complete_seconds", {{"agent", "writer"}, {"stat", "p50"}}), 30);
  EXPECT_DOUBLE_EQ(value("cadre_agent_cost_usd", {{"agent", "writer"}, {"kind", "connector"}}),
                   1.0);
  EXPECT_DOUBLE_EQ(value("cadre_agent_outcome_checks",
                         {{"agent", "ops"}, {"horizon", "90d"}, {"result", "pending"}}),
                   3);
  EXPECT_DOUBLE_EQ(
      value("cadre_agent_outcome_durability_ratio", {{"agent", "ops"}, {"horizon", "30d"}}), 0.5);
  EXPECT_DOUBLE_EQ(value("cadre_drift_alerts"), 0);
  // Null figures have no sample.
  EXPECT_EQ(find_sample(samples, "cadre_agent_automation_coverage_ratio", {{"agent", "idle"}}),
            nullptr);
  EXPECT_EQ(find_sample(samples, "cadre_agent_outcome_durability_ratio",
                        {{"agent", "ops"}, {"horizon", "90d"}}),
            nullptr);
  EXPECT_NE(find_sample(samples, "cadre_agent_automation_runs", {{"agent", "idle"}}), nullptr);
}

TEST(Prometheus, LabelValuesAndAlertsAreEscaped) {
  EXPECT_EQ(prometheus_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  const std::string odd = "we\"ird\\name\nx";
  Json figures = {{"automation", {{"runs", 2}, {"coverage", nullptr}}}};
  Json metrics = {
      {"window", {{"from_ms", 0}, {"to_ms", 3600000}}},
      {"overall", figures},
      {"agents", {{odd, figures}}},
      {"drift",
       Json::array({{{"agent", odd}, {"metric", "success_rate"}, {"direction", "down"}}})}};
  const std::string text = render_prometheus(metrics);
  EXPECT_NE(text.find("cadre_agent_automation_runs{agent=\"we\\\"ird\\\\name\\nx\"} 2\n"),
            std::string::npos)
      << text;
  auto samples = parse_exposition(text);
  const Sample* alert =
      find_sample(samples, "cadre_agent_drift",
                  {{"agent", odd}, {"metric", "success_rate"}, {"direction", "down"}});
  ASSERT_NE(alert, nullptr) << text;
  EXPECT_EQ(alert->value, 1);
  EXPECT_EQ(find_sample(samples, "cadre_drift_alerts")->value, 1);
  EXPECT_EQ(find_sample(samples, "cadre_metrics_window_seconds")->value, 3600);
}

}  // namespace
}  // namespace cadre
