// The SQLite store as the kernel sees it: claims with leases and fences,
// atomic commits, the task state machine across an objective's DAG, locks,
// events, timers and the operator's overrides.
#include <gtest/gtest.h>

#include <fstream>

#include "core/id.h"
#include "store/store.h"
#include "test_support.h"

namespace cadre {
namespace {

using testing::TempDir;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions options;
    options.path = (dir_.path() / "cadre.db").string();
    auto opened = open_sqlite_store(options);
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    store_ = std::move(opened).value();
  }

  // An objective whose tasks are named by key with their needs.
  std::string make_objective(const std::vector<std::pair<std::string, std::vector<std::string>>>& plan,
                             const std::string& dedupe = "") {
    NewObjective n;
    n.objective.id = new_id("obj", now_);
    n.objective.title = "test";
    n.objective.owner = "test";
    n.objective.source = "manual";
    n.objective.dedupe_key = dedupe;
    for (const auto& [key, needs] : plan) {
      NewTask t;
      t.id = new_id("tsk", now_);
      t.key = key;
      t.kind = "test";
      t.needs = needs;
      ids_[key] = t.id;
      n.tasks.push_back(t);
    }
    auto created = store_->create_objective(n, now_);
    EXPECT_TRUE(created.ok()) << created.status().to_string();
    return n.objective.id;
  }

  std::vector<TaskRecord> claim(int max = 10, int64_t lease = 10000) {
    auto claimed = store_->claim_tasks("w1", max, now_, lease);
    EXPECT_TRUE(claimed.ok()) << claimed.status().to_string();
    return claimed.ok() ? *claimed : std::vector<TaskRecord>{};
  }

  TaskRef ref(const TaskRecord& t) { return {t.id, t.fence}; }

  Status succeed(const TaskRecord& t, Json output = Json("ok")) {
    return store_->commit(ref(t), {TaskFinished{TaskState::kSucceeded, output, "", now_}}).status();
  }

  TaskState state_of(const std::string& key) { return store_->get_task(ids_[key])->state; }
  ObjectiveState objective_state(const std::string& id) { return store_->get_objective(id)->state; }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  TimeMs now_ = 1'800'000'000'000;
  std::map<std::string, std::string> ids_;
};

TEST_F(StoreTest, OnlyTasksWithoutNeedsAreReadyAtFirst) {
  make_objective({{"a", {}}, {"b", {"a"}}, {"c", {}}});
  auto claimed = claim();
  ASSERT_EQ(claimed.size(), 2u);
  EXPECT_EQ(state_of("b"), TaskState::kPending);
  for (const auto& t : claimed) {
    EXPECT_EQ(t.state, TaskState::kRunning);
    EXPECT_EQ(t.fence, 1);
    EXPECT_EQ(t.lease_owner, "w1");
  }
  EXPECT_TRUE(claim().empty()) << "running tasks with live leases are not claimed again";
}

TEST_F(StoreTest, FinishingATaskReadiesDependentsAndCompletesTheObjective) {
  auto objective = make_objective({{"a", {}}, {"b", {"a"}}, {"c", {"a", "b"}}});
  auto first = claim();
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(succeed(first[0]).ok());
  EXPECT_EQ(state_of("b"), TaskState::kReady);
  EXPECT_EQ(state_of("c"), TaskState::kPending) << "c still needs b";
  auto second = claim();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].key, "b");
  ASSERT_TRUE(succeed(second[0]).ok());
  auto third = claim();
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(objective_state(objective), ObjectiveState::kRunning);
  ASSERT_TRUE(succeed(third[0], Json{{"n", 3}}).ok());
  auto o = store_->get_objective(objective);
  EXPECT_EQ(o->state, ObjectiveState::kSucceeded);
  EXPECT_EQ(o->tasks_left, 0);
  EXPECT_EQ(o->finished_at, now_);
  auto outputs = store_->task_outputs(objective);
  EXPECT_EQ((*outputs)["c"]["output"]["n"], 3);
}

TEST_F(StoreTest, AFailedTaskFailsTheObjectiveAndCancelsWhatCanNoLongerRun) {
  auto objective = make_objective({{"a", {}}, {"b", {"a"}}, {"side", {}}});
  auto claimed = claim(1);
  ASSERT_EQ(claimed[0].key, "a");
  ASSERT_TRUE(store_->commit(ref(claimed[0]), {TaskFinished{TaskState::kFailed, nullptr, "boom", now_}}).ok());
  auto o = store_->get_objective(objective);
  EXPECT_EQ(o->state, ObjectiveState::kFailed);
  EXPECT_NE(o->error.find("task 'a' failed: boom"), std::string::npos) << o->error;
  EXPECT_EQ(state_of("b"), TaskState::kCancelled);
  EXPECT_EQ(state_of("side"), TaskState::kCancelled);
  EXPECT_TRUE(claim().empty());
}

TEST_F(StoreTest, AStaleFenceIsRefusedAfterTheLeaseWasReclaimed) {
  make_objective({{"a", {}}});
  auto first = claim(1, /*lease=*/1000);
  ASSERT_EQ(first.size(), 1u);
  now_ += 1001;  // the first worker's lease expired
  auto second = claim(1, 1000);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].id, first[0].id);
  EXPECT_EQ(second[0].fence, first[0].fence + 1);
  EXPECT_EQ(second[0].claims, 2);
  Status stale = succeed(first[0]);
  EXPECT_TRUE(stale.is(StatusCode::kConflict)) << stale.to_string();
  EXPECT_EQ(state_of("a"), TaskState::kRunning) << "the refused commit changed nothing";
  EXPECT_TRUE(succeed(second[0]).ok());
}

TEST_F(StoreTest, RenewedLeasesAreNotReclaimedAndLostOnesAreReported) {
  make_objective({{"a", {}}, {"b", {}}});
  auto claimed = claim(2, 1000);
  ASSERT_EQ(claimed.size(), 2u);
  now_ += 900;
  auto lost = store_->renew_leases("w1", {ref(claimed[0])}, now_ + 1000);
  ASSERT_TRUE(lost.ok());
  EXPECT_TRUE(lost->empty());
  now_ += 200;  // claimed[1] expired, claimed[0] was renewed
  auto reclaimed = claim(2, 1000);
  ASSERT_EQ(reclaimed.size(), 1u);
  EXPECT_EQ(reclaimed[0].id, claimed[1].id);
  auto lost_now = store_->renew_leases("w1", {ref(claimed[1])}, now_ + 1000);
  ASSERT_EQ(lost_now->size(), 1u);
}

TEST_F(StoreTest, StepsAreJournaledIntentFirstWithAttempts) {
  make_objective({{"a", {}}});
  auto t = claim()[0];
  ASSERT_TRUE(store_->commit(ref(t), {StepStarted{1, "file.write", "tool", "k-1", Json{{"x", 1}}, 1, now_}}).ok());
  auto steps = store_->get_steps(t.id);
  ASSERT_EQ(steps->size(), 1u);
  EXPECT_EQ((*steps)[0].state, StepState::kStarted);
  EXPECT_EQ((*steps)[0].input["x"], 1);
  ASSERT_TRUE(store_->commit(ref(t), {StepFinished{1, StepState::kRetrying, nullptr, "unavailable: down", now_ + 5},
                                      StepStarted{1, "file.write", "tool", "k-1", Json{{"x", 1}}, 2, now_ + 10},
                                      StepFinished{1, StepState::kDone, Json("ok"), "", now_ + 12}})
                  .ok());
  steps = store_->get_steps(t.id);
  const StepRecord& s = (*steps)[0];
  EXPECT_EQ(s.state, StepState::kDone);
  EXPECT_EQ(s.attempts, 2);
  EXPECT_EQ(s.output, "ok");
  ASSERT_EQ(s.attempt_log.size(), 2u);
  EXPECT_EQ(s.attempt_log[0]["error"], "unavailable: down");
  EXPECT_EQ(s.attempt_log[1]["attempt"], 2);
}

TEST_F(StoreTest, ACommitIsAllOrNothing) {
  make_objective({{"a", {}}});
  auto t = claim()[0];
  // Finishing a step that never started is a bug; nothing of the commit may stay.
  auto bad = store_->commit(ref(t), {StepStarted{1, "x", "tool", "k", nullptr, 1, now_},
                                     StepFinished{2, StepState::kDone, nullptr, "", now_}});
  EXPECT_FALSE(bad.ok());
  EXPECT_TRUE(store_->get_steps(t.id)->empty());
}

TEST_F(StoreTest, TimersWakeOnlyWhenDue) {
  make_objective({{"a", {}}});
  auto t = claim()[0];
  ASSERT_TRUE(store_->commit(ref(t), {TaskParked{WaitKind::kTimer, now_ + 5000, "", 0, now_}}).ok());
  EXPECT_EQ(state_of("a"), TaskState::kWaiting);
  EXPECT_EQ(*store_->next_wake_time(), now_ + 5000);
  EXPECT_EQ(*store_->next_wake_time(now_ + 4999), now_ + 5000);
  EXPECT_EQ(*store_->next_wake_time(now_ + 5000), 0) << "only times after the one given count";
  now_ += 4999;
  EXPECT_TRUE(claim().empty());
  now_ += 1;
  auto woken = claim();
  ASSERT_EQ(woken.size(), 1u);
  EXPECT_EQ(woken[0].fence, 2);
}

TEST_F(StoreTest, EventsWakeTheTasksWaitingForThemWithTheirData) {
  make_objective({{"a", {}}});
  auto t = claim()[0];
  ASSERT_TRUE(store_->commit(ref(t), {StepStarted{1, "event:paid", "wait_event", "k", nullptr, 1, now_},
                                      TaskParked{WaitKind::kEvent, 0, "paid", 1, now_}})
                  .ok());
  EXPECT_TRUE(claim().empty());
  ASSERT_TRUE(store_->emit_event({"evt_1", "other", Json::object(), "test", now_, false}).ok());
  EXPECT_TRUE(claim().empty()) << "an event with another name does not wake it";
  ASSERT_TRUE(store_->emit_event({"evt_2", "paid", Json{{"amount", 42}}, "test", now_, false}).ok());
  auto woken = claim();
  ASSERT_EQ(woken.size(), 1u);
  auto steps = store_->get_steps(t.id);
  EXPECT_EQ((*steps)[0].state, StepState::kDone);
  EXPECT_EQ((*steps)[0].output["data"]["amount"], 42);
  // The same event id again is not a second event.
  ASSERT_TRUE(store_->emit_event({"evt_2", "paid", Json{{"amount", 42}}, "test", now_, false}).ok());
  EXPECT_EQ(store_->unprocessed_events(10)->size(), 2u);
}

TEST_F(StoreTest, ALockIsHeldByOneTaskAndPassedOnWhenItEnds) {
  make_objective({{"a", {}}, {"b", {}}});
  auto claimed = claim();
  ASSERT_EQ(claimed.size(), 2u);
  auto first = store_->commit(ref(claimed[0]), {LockAcquire{"customer:acme", now_}});
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->lock_busy);
  auto again = store_->commit(ref(claimed[0]), {LockAcquire{"customer:acme", now_}});
  EXPECT_FALSE(again->lock_busy) << "re-acquiring a lock one holds is a no-op";
  auto second = store_->commit(ref(claimed[1]),
                               {LockAcquire{"customer:acme", now_}, StepStarted{1, "x", "tool", "k", nullptr, 1, now_}});
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->lock_busy);
  EXPECT_TRUE(store_->get_steps(claimed[1].id)->empty()) << "what followed the busy lock was not applied";
  EXPECT_EQ(store_->get_task(claimed[1].id)->state, TaskState::kWaiting);
  EXPECT_TRUE(claim().empty());
  ASSERT_TRUE(succeed(claimed[0]).ok());
  auto woken = claim();
  ASSERT_EQ(woken.size(), 1u);
  EXPECT_EQ(woken[0].id, claimed[1].id);
  EXPECT_FALSE(store_->commit(ref(woken[0]), {LockAcquire{"customer:acme", now_}})->lock_busy);
}

TEST_F(StoreTest, ADedupeKeyCreatesOneObjectiveOnly) {
  make_objective({{"a", {}}}, "cron:x:1");
  NewObjective again;
  again.objective.id = new_id("obj", now_);
  again.objective.dedupe_key = "cron:x:1";
  again.tasks.push_back({new_id("tsk", now_), "a", "test", "", Json::object(), {}});
  auto created = store_->create_objective(again, now_);
  ASSERT_TRUE(created.ok());
  EXPECT_FALSE(*created);
  EXPECT_EQ(store_->list_objectives({})->size(), 1u);
}

TEST_F(StoreTest, AnUncertainTaskBlocksItsObjectiveUntilResolved) {
  auto objective = make_objective({{"a", {}}, {"b", {"a"}}});
  auto t = claim()[0];
  ASSERT_TRUE(store_->commit(ref(t), {StepStarted{1, "file.append", "tool", "k", nullptr, 1, now_}}).ok());
  ASSERT_TRUE(store_->commit(ref(t), {TaskFinished{TaskState::kUncertain, nullptr, "in flight", now_}}).ok());
  EXPECT_EQ(objective_state(objective), ObjectiveState::kUncertain);
  EXPECT_TRUE(claim().empty());
  EXPECT_TRUE(store_->resolve_task(ids_["b"], Resolution::kDone, "", now_).is(StatusCode::kFailedPrecondition));

  ASSERT_TRUE(store_->resolve_task(t.id, Resolution::kDone, "I checked the file", now_).ok());
  EXPECT_EQ(objective_state(objective), ObjectiveState::kRunning);
  auto steps = store_->get_steps(t.id);
  EXPECT_EQ((*steps)[0].state, StepState::kDone);
  EXPECT_EQ((*steps)[0].output["note"], "I checked the file");
  EXPECT_EQ(claim().size(), 1u);
}

TEST_F(StoreTest, ResolvingRedoRunsTheStepAgainAndFailEndsTheRun) {
  auto objective = make_objective({{"a", {}}});
  auto t = claim()[0];
  ASSERT_TRUE(store_->commit(ref(t), {StepStarted{1, "file.append", "tool", "k", nullptr, 1, now_},
                                      TaskFinished{TaskState::kUncertain, nullptr, "in flight", now_}})
                  .ok());
  ASSERT_TRUE(store_->resolve_task(t.id, Resolution::kRedo, "", now_).ok());
  EXPECT_EQ((*store_->get_steps(t.id))[0].state, StepState::kRetrying);
  auto again = claim()[0];
  ASSERT_TRUE(store_->commit(ref(again), {StepStarted{1, "file.append", "tool", "k", nullptr, 2, now_},
                                          TaskFinished{TaskState::kUncertain, nullptr, "in flight", now_}})
                  .ok());
  ASSERT_TRUE(store_->resolve_task(t.id, Resolution::kFail, "gave up", now_).ok());
  EXPECT_EQ(objective_state(objective), ObjectiveState::kFailed);
  EXPECT_EQ(store_->get_task(t.id)->state, TaskState::kFailed);
}

TEST_F(StoreTest, RetryRunsFailedAndCancelledTasksAgain) {
  auto objective = make_objective({{"a", {}}, {"b", {"a"}}});
  auto t = claim()[0];
  ASSERT_TRUE(store_->commit(ref(t), {StepStarted{1, "x", "tool", "k", nullptr, 3, now_},
                                      StepFinished{1, StepState::kFailed, nullptr, "unavailable: no", now_},
                                      TaskFinished{TaskState::kFailed, nullptr, "no", now_}})
                  .ok());
  EXPECT_TRUE(store_->retry_task(ids_["a"], now_).ok());
  EXPECT_EQ(objective_state(objective), ObjectiveState::kRunning);
  EXPECT_EQ(state_of("a"), TaskState::kReady);
  EXPECT_EQ(state_of("b"), TaskState::kPending);
  auto step = (*store_->get_steps(t.id))[0];
  EXPECT_EQ(step.state, StepState::kRetrying);
  EXPECT_EQ(step.attempts, 0) << "a manual retry grants fresh attempts";
  EXPECT_TRUE(store_->retry_task(ids_["a"], now_).is(StatusCode::kFailedPrecondition));
}

TEST_F(StoreTest, RetryAfterCancelKeepsAStepThatWasInFlightUncertain) {
  auto objective = make_objective({{"a", {}}});
  auto t = claim()[0];
  ASSERT_TRUE(store_->commit(ref(t), {StepStarted{1, "file.append", "tool", "k", nullptr, 1, now_}}).ok());
  ASSERT_TRUE(store_->cancel_objective(objective, now_).ok());
  ASSERT_TRUE(store_->retry_task(t.id, now_).ok());
  EXPECT_EQ((*store_->get_steps(t.id))[0].state, StepState::kStarted)
      << "the replay must meet the in-flight step and apply the uncertain rule, not run it again";
}

TEST_F(StoreTest, CancelVoidsTheLeasesOfRunningTasks) {
  auto objective = make_objective({{"a", {}}, {"b", {"a"}}});
  auto t = claim()[0];
  ASSERT_TRUE(store_->cancel_objective(objective, now_).ok());
  EXPECT_EQ(objective_state(objective), ObjectiveState::kCancelled);
  EXPECT_TRUE(succeed(t).is(StatusCode::kConflict));
  EXPECT_EQ(state_of("b"), TaskState::kCancelled);
  EXPECT_TRUE(store_->cancel_objective(objective, now_).is(StatusCode::kFailedPrecondition));
  EXPECT_TRUE(store_->cancel_objective("obj_missing", now_).is(StatusCode::kNotFound));
}

TEST_F(StoreTest, DeadWorkersLeasesCanBeExpiredAtOnce) {
  make_objective({{"a", {}}});
  auto t = claim(1, /*lease=*/60000)[0];
  auto owners = store_->lease_owners();
  ASSERT_EQ(*owners, std::vector<std::string>{"w1"});
  ASSERT_TRUE(store_->expire_leases("w1", now_).ok());
  auto again = claim();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].fence, t.fence + 1);
}

TEST_F(StoreTest, AFanOutParksTheParentUntilEveryChildSucceeded) {
  auto objective = make_objective({{"each", {}}, {"after", {"each"}}});
  auto parent = claim()[0];
  std::vector<NewTask> children;
  for (int i = 0; i < 3; ++i) children.push_back({new_id("tsk", now_), "each[" + std::to_string(i) + "]", "test", "", Json::object(), {}});
  auto spawned = store_->commit(ref(parent), {ChildrenSpawned{children, now_}});
  ASSERT_TRUE(spawned.ok()) << spawned.status().to_string();
  EXPECT_EQ(spawned->tasks_made_ready, 3);
  EXPECT_EQ(state_of("each"), TaskState::kWaiting);
  EXPECT_EQ(store_->get_objective(objective)->tasks_total, 5);
  auto running = claim();
  ASSERT_EQ(running.size(), 3u) << "the children run in parallel";
  ASSERT_TRUE(succeed(running[0]).ok());
  ASSERT_TRUE(succeed(running[1]).ok());
  EXPECT_EQ(state_of("each"), TaskState::kWaiting) << "one child is still running";
  ASSERT_TRUE(succeed(running[2]).ok());
  auto woken = claim();
  ASSERT_EQ(woken.size(), 1u);
  EXPECT_EQ(woken[0].key, "each");
  ASSERT_TRUE(succeed(woken[0]).ok());
  ASSERT_TRUE(succeed(claim()[0]).ok());
  EXPECT_EQ(objective_state(objective), ObjectiveState::kSucceeded);
}

TEST_F(StoreTest, AFailedChildFailsTheRunAndCancelsTheWaitingParent) {
  auto objective = make_objective({{"each", {}}});
  auto parent = claim()[0];
  ASSERT_TRUE(store_->commit(ref(parent), {ChildrenSpawned{{{new_id("tsk", now_), "each[0]", "test", "", Json::object(), {}}}, now_}}).ok());
  auto child = claim()[0];
  ASSERT_TRUE(store_->commit(ref(child), {TaskFinished{TaskState::kFailed, nullptr, "disk full", now_}}).ok());
  EXPECT_EQ(objective_state(objective), ObjectiveState::kFailed);
  EXPECT_EQ(state_of("each"), TaskState::kCancelled);
}

TEST_F(StoreTest, AnAgentRunsNoMoreTasksAtOnceThanItsLimit) {
  NewObjective n;
  n.objective.id = new_id("obj", now_);
  for (int i = 0; i < 3; ++i) n.tasks.push_back({new_id("tsk", now_), "w" + std::to_string(i), "test", "writer", {}, {}});
  n.tasks.push_back({new_id("tsk", now_), "free", "test", "", {}, {}});
  ASSERT_TRUE(store_->create_objective(n, now_).ok());
  AgentLimits limits = {{"writer", 1}};
  auto first = store_->claim_tasks("w1", 10, now_, 1000, limits);
  ASSERT_EQ(first->size(), 2u) << "one writer task and the unlimited one";
  EXPECT_TRUE(store_->claim_tasks("w2", 10, now_, 1000, limits)->empty());
  const TaskRecord& writer = (*first)[0].agent == "writer" ? (*first)[0] : (*first)[1];
  ASSERT_TRUE(succeed(writer).ok());
  EXPECT_EQ(store_->claim_tasks("w2", 10, now_, 1000, limits)->size(), 1u);
  now_ += 1001;  // leases lapse: a reclaim is not blocked by the task's own stale lease
  EXPECT_EQ(store_->claim_tasks("w3", 10, now_, 1000, limits)->size(), 2u);
}

TEST_F(StoreTest, TriggerFireTimesOnlyMoveForward) {
  EXPECT_EQ(*store_->trigger_last_fire("pb#0"), 0);
  ASSERT_TRUE(store_->set_trigger_last_fire("pb#0", 2000).ok());
  ASSERT_TRUE(store_->set_trigger_last_fire("pb#0", 1000).ok());
  EXPECT_EQ(*store_->trigger_last_fire("pb#0"), 2000);
}

TEST(StoreFiles, ANewerSchemaIsRefused) {
  TempDir dir;
  std::string path = (dir.path() / "cadre.db").string();
  {
    StoreOptions options;
    options.path = path;
    ASSERT_TRUE(open_sqlite_store(options).ok());
  }
  ASSERT_EQ(system(("sqlite3 " + path + " 'PRAGMA user_version = 999'").c_str()), 0);
  StoreOptions options;
  options.path = path;
  auto reopened = open_sqlite_store(options);
  ASSERT_FALSE(reopened.ok());
  EXPECT_NE(reopened.status().message().find("schema version 999"), std::string::npos)
      << reopened.status().to_string();
}

TEST(StoreFiles, ACorruptFileGivesAClearErrorAndIsNotOverwritten) {
  TempDir dir;
  auto path = dir.path() / "cadre.db";
  std::string garbage(8192, 'x');
  testing::write_file(path, garbage);
  StoreOptions options;
  options.path = path.string();
  auto opened = open_sqlite_store(options);
  ASSERT_FALSE(opened.ok());
  EXPECT_TRUE(opened.status().is(StatusCode::kCorruption)) << opened.status().to_string();
  EXPECT_NE(opened.status().message().find("damaged or not a Cadre database"), std::string::npos);
  EXPECT_EQ(testing::read_file(path), garbage);
}

}  // namespace
}  // namespace cadre
